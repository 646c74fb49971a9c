//! The parallel layout a session records for multi-device runs: HelixFold's hybrid parallelism
//! (Wang et al. (2022), "HelixFold: An Efficient Implementation of AlphaFold2 using
//! PaddlePaddle", Sec. 3.2), which combines data parallelism (DP, whole samples per device group),
//! dynamic axial parallelism (DAP, the Evoformer's activations sharded along one axis, as in
//! FastFold) and branch parallelism (BP, the Evoformer block's MSA and pair branches on two
//! devices; PaddleHelix's `scg.init_process_group` takes `('dp', None), ('dap', d), ('bp', b)`).
//! Recorded and validated only: execution is still one process.
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

    /// `(setting, value)` rows for display.
    pub fn rows(&self) -> Vec<[String; 2]> {
        vec![
            ["dp".into(), self.dp.to_string()],
            ["dap".into(), self.dap.to_string()],
            ["bp".into(), self.bp.to_string()],
            ["world size".into(), self.world_size().to_string()],
            ["execution".into(), "single process (multi-process execution is not active yet)".into()],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_every_degree() {
        let layout = ParallelLayout::new(2, 4, 2).unwrap();
        assert_eq!(layout.world_size(), 16);
        assert!(ParallelLayout::new(1, 1, 3).unwrap_err().to_string().contains("bp=3"));
        assert!(ParallelLayout::new(0, 1, 1).unwrap_err().to_string().contains("dp=0"));
        assert!(ParallelLayout::new(1, 0, 1).unwrap_err().to_string().contains("dap=0"));
    }
}
