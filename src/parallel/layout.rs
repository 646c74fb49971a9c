//! The rank layout of a multi-process run: HelixFold's hybrid parallelism
//! (Wang et al. (2022), "HelixFold: An Efficient Implementation of AlphaFold2 using
//! PaddlePaddle", Sec. 3.2), which combines data parallelism (DP, whole samples per device group),
//! dynamic axial parallelism (DAP, the Evoformer's activations sharded along one axis, as in
//! FastFold) and branch parallelism (BP, the Evoformer block's MSA and pair branches on two
//! devices; PaddleHelix's `scg.init_process_group` takes `('dp', None), ('dap', d), ('bp', b)`).
//!
//! Ranks are laid out row-major over `(dp, dap, bp)` with bp innermost, so the two ranks of a
//! BP pair are neighbours (on one node, sharing the fastest link), then DAP, then DP:
//! `rank = (dp_index · dap + dap_index) · bp + bp_index`. Each axis has one group per setting of
//! the other two coordinates; [`ParallelLayout::axis_groups`] lists them, in the same order on
//! every rank, so every process creates the same groups.
use anyhow::{ensure, Result};

/// Degrees of each kind of parallelism; the job needs `dp × dap × bp` devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParallelLayout {
    pub dp: u32,
    pub dap: u32,
    pub bp: u32,
}

impl Default for ParallelLayout {
    fn default() -> Self {
        Self { dp: 1, dap: 1, bp: 1 }
    }
}

impl ParallelLayout {
    /// A checked layout: every degree at least 1, and BP 1 or 2 since an Evoformer block has two
    /// branches to split.
    pub fn new(dp: u32, dap: u32, bp: u32) -> Result<Self> {
        ensure!(dp >= 1, "dp={dp}: the data-parallel degree must be at least 1");
        ensure!(dap >= 1, "dap={dap}: the DAP degree must be at least 1");
        ensure!(
            matches!(bp, 1 | 2),
            "bp={bp}: branch parallelism splits the Evoformer's two branches (MSA and pair), so bp is 1 or 2"
        );
        Ok(Self { dp, dap, bp })
    }

    /// Devices (processes) the layout needs.
    pub fn world_size(&self) -> u64 {
        u64::from(self.dp) * u64::from(self.dap) * u64::from(self.bp)
    }

    fn degree(&self, axis: Axis) -> usize {
        match axis {
            Axis::Dp => self.dp as usize,
            Axis::Dap => self.dap as usize,
            Axis::Bp => self.bp as usize,
        }
    }

    /// The coordinates of `rank`, which must be below [`ParallelLayout::world_size`].
    pub fn coordinates(&self, rank: usize) -> Result<Coordinates> {
        ensure!((rank as u64) < self.world_size(), "rank {rank} is outside a layout of {} ranks", self.world_size());
        let (dap, bp) = (self.dap as usize, self.bp as usize);
        Ok(Coordinates { dp: rank / (dap * bp), dap: rank / bp % dap, bp: rank % bp })
    }

    /// The rank at `coordinates` (each below its degree).
    pub fn rank(&self, coordinates: Coordinates) -> usize {
        (coordinates.dp * self.dap as usize + coordinates.dap) * self.bp as usize + coordinates.bp
    }

    /// Every group along `axis`: the ranks that differ only in that coordinate, each list in
    /// the order of that coordinate (a rank's position in its list is its rank in the group).
    pub fn axis_groups(&self, axis: Axis) -> Vec<Vec<usize>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for dp in 0..self.degree(Axis::Dp) {
            for dap in 0..self.degree(Axis::Dap) {
                for bp in 0..self.degree(Axis::Bp) {
                    let here = Coordinates { dp, dap, bp };
                    if here.along(axis) != 0 {
                        continue;
                    }
                    let group = (0..self.degree(axis)).map(|i| self.rank(here.with(axis, i))).collect();
                    groups.push(group);
                }
            }
        }
        groups
    }

    /// The group along `axis` that holds `rank`.
    pub fn group_of(&self, axis: Axis, rank: usize) -> Result<Vec<usize>> {
        let here = self.coordinates(rank)?;
        Ok((0..self.degree(axis)).map(|i| self.rank(here.with(axis, i))).collect())
    }

    /// `(setting, value)` rows for display.
    pub fn rows(&self) -> Vec<[String; 2]> {
        vec![
            ["dp".into(), self.dp.to_string()],
            ["dap".into(), self.dap.to_string()],
            ["bp".into(), self.bp.to_string()],
            ["world size".into(), self.world_size().to_string()],
        ]
    }
}

/// One kind of parallelism, i.e. one axis of the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Dp,
    Dap,
    Bp,
}

impl Axis {
    pub const ALL: [Axis; 3] = [Axis::Dp, Axis::Dap, Axis::Bp];

    pub fn name(self) -> &'static str {
        match self {
            Axis::Dp => "dp",
            Axis::Dap => "dap",
            Axis::Bp => "bp",
        }
    }
}

/// Where a rank sits in the layout: its index along each axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coordinates {
    pub dp: usize,
    pub dap: usize,
    pub bp: usize,
}

impl Coordinates {
    pub fn along(&self, axis: Axis) -> usize {
        match axis {
            Axis::Dp => self.dp,
            Axis::Dap => self.dap,
            Axis::Bp => self.bp,
        }
    }

    fn with(mut self, axis: Axis, index: usize) -> Self {
        match axis {
            Axis::Dp => self.dp = index,
            Axis::Dap => self.dap = index,
            Axis::Bp => self.bp = index,
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layout up to 3×3×2: ranks and coordinates are inverse bijections with bp innermost,
    /// and each axis's groups partition the ranks into sets that differ only along that axis.
    #[test]
    fn coordinates_and_groups_are_consistent() {
        for dp in 1..=3 {
            for dap in 1..=3 {
                for bp in 1..=2 {
                    let layout = ParallelLayout::new(dp, dap, bp).unwrap();
                    let world = layout.world_size() as usize;
                    for rank in 0..world {
                        let c = layout.coordinates(rank).unwrap();
                        assert_eq!(layout.rank(c), rank);
                        // Definition: bp innermost, dp outermost.
                        assert_eq!(rank, c.bp + bp as usize * (c.dap + dap as usize * c.dp));
                        assert!(c.dp < dp as usize && c.dap < dap as usize && c.bp < bp as usize);
                    }
                    assert!(layout.coordinates(world).is_err());
                    for axis in Axis::ALL {
                        let groups = layout.axis_groups(axis);
                        assert_eq!(groups.len() * layout.degree(axis), world, "{axis:?}");
                        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
                        seen.sort_unstable();
                        assert_eq!(seen, (0..world).collect::<Vec<_>>(), "{axis:?} groups partition the ranks");
                        for group in &groups {
                            let first = layout.coordinates(group[0]).unwrap();
                            for (index, &member) in group.iter().enumerate() {
                                let c = layout.coordinates(member).unwrap();
                                assert_eq!(c.along(axis), index);
                                for other in Axis::ALL.into_iter().filter(|&a| a != axis) {
                                    assert_eq!(c.along(other), first.along(other));
                                }
                                assert_eq!(&layout.group_of(axis, member).unwrap(), group);
                            }
                        }
                    }
                }
            }
        }
    }

    /// HelixFold's 8-rank hybrid example dp=2 × dap=2 × bp=2, written out by hand.
    #[test]
    fn two_by_two_by_two_groups() {
        let layout = ParallelLayout::new(2, 2, 2).unwrap();
        assert_eq!(layout.axis_groups(Axis::Bp), [[0, 1], [2, 3], [4, 5], [6, 7]]);
        assert_eq!(layout.axis_groups(Axis::Dap), [[0, 2], [1, 3], [4, 6], [5, 7]]);
        assert_eq!(layout.axis_groups(Axis::Dp), [[0, 4], [1, 5], [2, 6], [3, 7]]);
    }

    #[test]
    fn validates_every_degree() {
        let layout = ParallelLayout::new(2, 4, 2).unwrap();
        assert_eq!(layout.world_size(), 16);
        assert!(ParallelLayout::new(1, 1, 3).unwrap_err().to_string().contains("bp=3"));
        assert!(ParallelLayout::new(0, 1, 1).unwrap_err().to_string().contains("dp=0"));
        assert!(ParallelLayout::new(1, 0, 1).unwrap_err().to_string().contains("dap=0"));
    }
}
