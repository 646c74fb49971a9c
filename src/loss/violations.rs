//! Structural violation losses, Jumper et al. (2021) Suppl. 1.9.11 (DeepMind's `all_atom.py`
//! `between_residue_bond_loss`, `between_residue_clash_loss`, `within_residue_violations`, and
//! `folding.py` `find_structural_violations` / `structural_violation_loss`): flat-bottom
//! penalties on the peptide bond length and the two angles around it (tolerance 12 standard
//! deviations; for the Cα–C–N angle, as in AlphaFold, those of the C–N bond length), on
//! non-bonded atoms of different residues closer than their van der Waals radii minus 1.5 Å,
//! and on within-residue distances outside `atom14_distance_bounds`.
//!
//! Positions are atom14 `[*, N, 14, 3]` in Å; slot 0 is N, 1 Cα, 2 C.
use crate::geometry::residue_tables::gather_by_restype;
use crate::residue_constants::atom14::RESTYPE_NAME_TO_ATOM14_NAMES;
use crate::residue_constants::stereo_chemistry::{
    atom14_distance_bounds, van_der_waals_radius, BETWEEN_RES_BOND_LENGTH_C_N,
    BETWEEN_RES_BOND_LENGTH_STDDEV_C_N, BETWEEN_RES_COS_ANGLES_CA_C_N, BETWEEN_RES_COS_ANGLES_C_N_CA,
};
use crate::residue_constants::{restype_index, ATOM14_NUM};
use tch::{Device, Kind, Tensor};

const N_SLOT: i64 = 0;
const CA_SLOT: i64 = 1;
const C_SLOT: i64 = 2;
/// atom14 slot of cysteine's Sγ; AlphaFold exempts every pair of atoms in this slot from the
/// clash loss (possible disulfide bonds).
const CYS_SG_SLOT: i64 = 5;

/// Peptide-bond geometry violations between consecutive residues.
#[derive(Debug)]
pub struct BondViolations {
    /// `[*]` mean flat-bottom loss of the C–N bond length.
    pub c_n_loss_mean: Tensor,
    /// `[*]` mean loss of the cosine of the Cα–C–N angle.
    pub ca_c_n_loss_mean: Tensor,
    /// `[*]` mean loss of the cosine of the C–N–Cα angle.
    pub c_n_ca_loss_mean: Tensor,
    /// `[*, N]` each residue's share (half) of the losses of the bonds at either side.
    pub per_residue_loss_sum: Tensor,
    /// `[*, N]` 1.0 where a bond at either side is violated.
    pub per_residue_violation_mask: Tensor,
}

/// `sqrt(1e-6 + |v|²)` over the last dimension.
fn length(v: &Tensor) -> Tensor {
    (v.square().sum_dim_intlist(-1, false, Kind::Float) + 1e-6).sqrt()
}

/// Flat-bottom loss `relu(sqrt(1e-6 + (x - mean)²) - factor·stddev)` `[*]`, its masked mean, and
/// the violation mask (error above `factor·stddev`).
fn flat_bottom(value: &Tensor, mean: &Tensor, stddev: &Tensor, factor: f64, mask: &Tensor) -> (Tensor, Tensor, Tensor) {
    let error = ((value - mean).square() + 1e-6).sqrt();
    let per_residue = (&error - stddev * factor).relu();
    let mean_loss = (mask * &per_residue).sum_dim_intlist(-1, false, Kind::Float)
        / (mask.sum_dim_intlist(-1, false, Kind::Float) + 1e-6);
    let violation = mask * error.gt_tensor(&(stddev * factor)).to_kind(Kind::Float);
    (per_residue, mean_loss, violation)
}

/// Residues' shares of values on the N - 1 links `[*, N-1]` between them: `[*, N]` with
/// `combine(link before, link after)` (zero padding at the chain ends).
fn to_residues(links: &Tensor, combine: impl Fn(Tensor, Tensor) -> Tensor) -> Tensor {
    let after = links.constant_pad_nd([0, 1]); // residue i gets link (i, i+1)
    let before = links.constant_pad_nd([1, 0]); // residue i gets link (i-1, i)
    combine(after, before)
}

/// Peptide bond length and angle violations (`between_residue_bond_loss`) of atom14 positions
/// `[*, N, 14, 3]` with mask `[*, N, 14]`, residue numbers `residue_index` `[*, N]` (a jump
/// other than 1 is a chain break) and residue types `aatype` `[*, N]`.
pub fn between_residue_bond_loss(
    positions: &Tensor,
    atom_mask: &Tensor,
    residue_index: &Tensor,
    aatype: &Tensor,
    tolerance_factor: f64,
) -> BondViolations {
    let n = positions.size()[positions.dim() - 3];
    let this = |slot: i64| positions.narrow(-3, 0, n - 1).select(-2, slot); // [*, N-1, 3]
    let next = |slot: i64| positions.narrow(-3, 1, n - 1).select(-2, slot);
    let this_mask = |slot: i64| atom_mask.to_kind(Kind::Float).narrow(-2, 0, n - 1).select(-1, slot); // [*, N-1]
    let next_mask = |slot: i64| atom_mask.to_kind(Kind::Float).narrow(-2, 1, n - 1).select(-1, slot);
    let residue_index = residue_index.to_kind(Kind::Float);
    let no_gap = (residue_index.narrow(-1, 1, n - 1) - residue_index.narrow(-1, 0, n - 1))
        .eq(1.0)
        .to_kind(Kind::Float);
    let (this_ca, this_c, next_n, next_ca) = (this(CA_SLOT), this(C_SLOT), next(N_SLOT), next(CA_SLOT));

    let c_n_length = length(&(&this_c - &next_n));
    let next_is_proline = aatype.narrow(-1, 1, n - 1).eq(restype_index('P') as i64).to_kind(Kind::Float);
    let by_proline = |[general, proline]: [f64; 2]| &next_is_proline * proline + (1.0 - &next_is_proline) * general;
    let c_n_mask = this_mask(C_SLOT) * next_mask(N_SLOT) * &no_gap;
    let (c_n_loss, c_n_loss_mean, c_n_violation) = flat_bottom(
        &c_n_length,
        &by_proline(BETWEEN_RES_BOND_LENGTH_C_N),
        &by_proline(BETWEEN_RES_BOND_LENGTH_STDDEV_C_N),
        tolerance_factor,
        &c_n_mask,
    );

    let c_ca_unit = (&this_ca - &this_c) / length(&(&this_ca - &this_c)).unsqueeze(-1);
    let c_n_unit = (&next_n - &this_c) / c_n_length.unsqueeze(-1);
    let n_ca_unit = (&next_ca - &next_n) / length(&(&next_ca - &next_n)).unsqueeze(-1);
    let constant = |value: f64| Tensor::full([1], value, (Kind::Float, positions.device()));

    let ca_c_n_cos = (&c_ca_unit * &c_n_unit).sum_dim_intlist(-1, false, Kind::Float);
    let ca_c_n_mask = this_mask(CA_SLOT) * this_mask(C_SLOT) * next_mask(N_SLOT) * &no_gap;
    let [cos_mean, _] = BETWEEN_RES_COS_ANGLES_CA_C_N;
    // AlphaFold 2.0.0 (`between_residue_bond_loss`) takes this angle's tolerance from the C–N bond
    // length's standard deviation (0.014), not from the angle's own (0.0311); trained weights
    // saw that tolerance, so it is kept.
    let [bond_stddev, _] = BETWEEN_RES_BOND_LENGTH_STDDEV_C_N;
    let (ca_c_n_loss, ca_c_n_loss_mean, ca_c_n_violation) =
        flat_bottom(&ca_c_n_cos, &constant(cos_mean), &constant(bond_stddev), tolerance_factor, &ca_c_n_mask);

    let c_n_ca_cos = (-c_n_unit * n_ca_unit).sum_dim_intlist(-1, false, Kind::Float);
    let c_n_ca_mask = this_mask(C_SLOT) * next_mask(N_SLOT) * next_mask(CA_SLOT) * &no_gap;
    let [cos_mean, cos_stddev] = BETWEEN_RES_COS_ANGLES_C_N_CA;
    let (c_n_ca_loss, c_n_ca_loss_mean, c_n_ca_violation) =
        flat_bottom(&c_n_ca_cos, &constant(cos_mean), &constant(cos_stddev), tolerance_factor, &c_n_ca_mask);

    // AlphaFold leaves the per-residue sums unmasked (masked links are penalised there too).
    let link_loss = c_n_loss + ca_c_n_loss + c_n_ca_loss;
    let per_residue_loss_sum = to_residues(&link_loss, |after, before| (after + before) * 0.5);
    let link_violation = c_n_violation.maximum(&ca_c_n_violation).maximum(&c_n_ca_violation);
    let per_residue_violation_mask = to_residues(&link_violation, |after, before| after.maximum(&before));
    BondViolations { c_n_loss_mean, ca_c_n_loss_mean, c_n_ca_loss_mean, per_residue_loss_sum, per_residue_violation_mask }
}

/// Steric clashes between atoms of different residues.
#[derive(Debug)]
pub struct ClashViolations {
    /// `[*]` clash loss summed over atom pairs / number of pairs considered.
    pub mean_loss: Tensor,
    /// `[*, N, 14]` each atom's summed clash loss.
    pub per_atom_loss_sum: Tensor,
    /// `[*, N, 14]` 1.0 where the atom clashes.
    pub per_atom_clash_mask: Tensor,
}

/// `[21, 14]` van der Waals radius of each atom14 slot's element (0 for empty slots).
fn atom14_radius_table(device: Device) -> Tensor {
    let radii: Vec<f32> = RESTYPE_NAME_TO_ATOM14_NAMES
        .iter()
        .flat_map(|names| names.iter().map(|name| van_der_waals_radius(name).unwrap_or(0.0) as f32))
        .collect();
    Tensor::from_slice(&radii).reshape([-1, ATOM14_NUM as i64]).to_device(device)
}

/// Pair values `[*, N, N, 14, 14]` from per-atom values `[*, N, 14]` (residue i, residue j,
/// atom of i, atom of j).
fn atom_pairs(first: &Tensor, second: &Tensor) -> Tensor {
    first.unsqueeze(-2).unsqueeze(-1) * second.unsqueeze(-3).unsqueeze(-2)
}

/// Sums (or maxima) of pair values `[*, N, N, 14, 14]` onto either atom: `[*, N, 14]`.
fn onto_atoms(pairs: &Tensor, reduce_max: bool) -> Tensor {
    if reduce_max {
        let first = pairs.amax([-3i64, -1].as_slice(), false);
        let second = pairs.amax([-4i64, -2].as_slice(), false);
        first.maximum(&second)
    } else {
        pairs.sum_dim_intlist([-3i64, -1].as_slice(), false, Kind::Float)
            + pairs.sum_dim_intlist([-4i64, -2].as_slice(), false, Kind::Float)
    }
}

/// Clash loss (`between_residue_clash_loss`) of atom14 positions `[*, N, 14, 3]` with mask
/// `[*, N, 14]` of residues `aatype` `[*, N]` numbered `residue_index` `[*, N]`. Each pair of
/// residues i < j counts once; the peptide C–N bond and Sγ–Sγ pairs are exempt.
pub fn between_residue_clash_loss(
    positions: &Tensor,
    atom_mask: &Tensor,
    residue_index: &Tensor,
    aatype: &Tensor,
    overlap_tolerance: f64,
) -> ClashViolations {
    let device = positions.device();
    let exists = atom_mask.to_kind(Kind::Float);
    let radius = gather_by_restype(&atom14_radius_table(device), aatype) * &exists; // [*, N, 14]
    let a = positions.unsqueeze(-3).unsqueeze(-2); // [*, N, 1, 14, 1, 3]
    let b = positions.unsqueeze(-4).unsqueeze(-3); // [*, 1, N, 1, 14, 3]
    let distances = ((a - b).square().sum_dim_intlist(-1, false, Kind::Float) + 1e-10).sqrt(); // [*, N, N, 14, 14]

    let residue_index = residue_index.to_kind(Kind::Float);
    let index_i = residue_index.unsqueeze(-1).unsqueeze(-1).unsqueeze(-1); // [*, N, 1, 1, 1]
    let index_j = residue_index.unsqueeze(-2).unsqueeze(-1).unsqueeze(-1); // [*, 1, N, 1, 1]
    let slot = |index: i64| Tensor::arange(ATOM14_NUM as i64, (Kind::Int64, device)).eq(index).to_kind(Kind::Float);
    let c_n_bond = (&index_i + 1.0).eq_tensor(&index_j).to_kind(Kind::Float)
        * slot(C_SLOT).unsqueeze(-1)
        * slot(N_SLOT).unsqueeze(0); // [*, N, N, 14, 14]
    let disulfide = slot(CYS_SG_SLOT).unsqueeze(-1) * slot(CYS_SG_SLOT).unsqueeze(0); // [14, 14]
    let mask = atom_pairs(&exists, &exists)
        * index_i.lt_tensor(&index_j).to_kind(Kind::Float)
        * (1.0 - c_n_bond)
        * (1.0 - disulfide);
    let lower_bound = &mask * (radius.unsqueeze(-2).unsqueeze(-1) + radius.unsqueeze(-3).unsqueeze(-2));
    let error = &mask * (&lower_bound - overlap_tolerance - &distances).relu();
    let dims = [-4i64, -3, -2, -1];
    let mean_loss = error.sum_dim_intlist(dims.as_slice(), false, Kind::Float)
        / (mask.sum_dim_intlist(dims.as_slice(), false, Kind::Float) + 1e-6);
    let clash = &mask * distances.lt_tensor(&(lower_bound - overlap_tolerance)).to_kind(Kind::Float);
    ClashViolations {
        mean_loss,
        per_atom_loss_sum: onto_atoms(&error, false),
        per_atom_clash_mask: onto_atoms(&clash, true),
    }
}

/// Within-residue distance violations.
#[derive(Debug)]
pub struct WithinResidueViolations {
    /// `[*, N, 14]` each atom's summed violation of the distance bounds.
    pub per_atom_loss_sum: Tensor,
    /// `[*, N, 14]` 1.0 where one of the atom's distances is out of bounds.
    pub per_atom_violations: Tensor,
}

/// `[21, 14, 14]` tensor of one of the bound tables.
fn bounds_table(table: &[[[f32; ATOM14_NUM]; ATOM14_NUM]], device: Device) -> Tensor {
    Tensor::from_slice(table.as_flattened().as_flattened())
        .reshape([-1, ATOM14_NUM as i64, ATOM14_NUM as i64])
        .to_device(device)
}

/// Within-residue violations (`within_residue_violations`, bounds of
/// `atom14_distance_bounds(overlap_tolerance, tolerance_factor)`) of atom14 positions
/// `[*, N, 14, 3]` with mask `[*, N, 14]` of residues `aatype` `[*, N]`.
pub fn within_residue_violations(
    positions: &Tensor,
    atom_mask: &Tensor,
    aatype: &Tensor,
    overlap_tolerance: f64,
    tolerance_factor: f64,
) -> WithinResidueViolations {
    let device = positions.device();
    let bounds = atom14_distance_bounds(overlap_tolerance, tolerance_factor);
    let lower = gather_by_restype(&bounds_table(&bounds.lower_bound, device), aatype); // [*, N, 14, 14]
    let upper = gather_by_restype(&bounds_table(&bounds.upper_bound, device), aatype);
    let exists = atom_mask.to_kind(Kind::Float);
    let off_diagonal = 1.0 - Tensor::eye(ATOM14_NUM as i64, (Kind::Float, device));
    let mask = exists.unsqueeze(-1) * exists.unsqueeze(-2) * off_diagonal; // [*, N, 14, 14]
    let distances =
        ((positions.unsqueeze(-2) - positions.unsqueeze(-3)).square().sum_dim_intlist(-1, false, Kind::Float) + 1e-10).sqrt();
    let loss = &mask * ((&lower - &distances).relu() + (&distances - &upper).relu());
    let per_atom_loss_sum = loss.sum_dim_intlist(-2, false, Kind::Float) + loss.sum_dim_intlist(-1, false, Kind::Float);
    let outside = distances.lt_tensor(&lower).logical_or(&distances.gt_tensor(&upper)).to_kind(Kind::Float);
    let violations = mask * outside;
    let per_atom_violations = violations.amax(-2, false).maximum(&violations.amax(-1, false));
    WithinResidueViolations { per_atom_loss_sum, per_atom_violations }
}

/// All violations of a predicted structure (`find_structural_violations`).
#[derive(Debug)]
pub struct StructuralViolations {
    pub bonds: BondViolations,
    pub clashes: ClashViolations,
    pub within_residues: WithinResidueViolations,
    /// `[*, N]` 1.0 where the residue has any violation.
    pub per_residue_violations_mask: Tensor,
}

/// Finds every violation of predicted atom14 positions `[*, N, 14, 3]` of residues `aatype`
/// `[*, N]` numbered `residue_index` `[*, N]`, over the atoms the types have
/// (`atom14_atom_exists` `[*, N, 14]`). AlphaFold: tolerance factor 12, overlap tolerance 1.5 Å.
pub fn find_structural_violations(
    positions: &Tensor,
    atom14_atom_exists: &Tensor,
    residue_index: &Tensor,
    aatype: &Tensor,
    violation_tolerance_factor: f64,
    clash_overlap_tolerance: f64,
) -> StructuralViolations {
    let bonds = between_residue_bond_loss(positions, atom14_atom_exists, residue_index, aatype, violation_tolerance_factor);
    let clashes = between_residue_clash_loss(positions, atom14_atom_exists, residue_index, aatype, clash_overlap_tolerance);
    let within_residues = within_residue_violations(
        positions,
        atom14_atom_exists,
        aatype,
        clash_overlap_tolerance,
        violation_tolerance_factor,
    );
    let per_residue_violations_mask = bonds
        .per_residue_violation_mask
        .maximum(&clashes.per_atom_clash_mask.amax(-1, false))
        .maximum(&within_residues.per_atom_violations.amax(-1, false));
    StructuralViolations { bonds, clashes, within_residues, per_residue_violations_mask }
}

/// The violation loss (`structural_violation_loss`, before its weight): the three bond means plus
/// the clash and within-residue per-atom sums over the number of existing atoms. Returns `[*]`.
pub fn structural_violation_loss(violations: &StructuralViolations, atom14_atom_exists: &Tensor) -> Tensor {
    let dims = [-2i64, -1];
    let num_atoms = atom14_atom_exists.to_kind(Kind::Float).sum_dim_intlist(dims.as_slice(), false, Kind::Float);
    let atom_losses = (&violations.clashes.per_atom_loss_sum + &violations.within_residues.per_atom_loss_sum)
        .sum_dim_intlist(dims.as_slice(), false, Kind::Float);
    &violations.bonds.c_n_loss_mean
        + &violations.bonds.ca_c_n_loss_mean
        + &violations.bonds.c_n_ca_loss_mean
        + atom_losses / (num_atoms + 1e-6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::atom_maps::make_atom14_positions;
    use crate::geometry::test_structures::glucagon;

    #[test]
    fn collapsed_structure_violates_far_more_than_the_crystal() {
        // 1GCN (glucagon, /work/shared/data) is a refined crystal structure with few violations.
        // Squeezing it to a tenth of its
        // size breaks bonds and packs atoms on top of each other.
        let Some(chain) = glucagon() else { return };
        let truth = make_atom14_positions(&chain.aatype, &chain.positions, &chain.mask);
        let n = chain.aatype.size()[0];
        let residue_index = Tensor::arange(n, (Kind::Int64, Device::Cpu));
        let exists = &truth.atom14_gt_exists;
        let violations_of = |positions: &Tensor| {
            find_structural_violations(positions, exists, &residue_index, &chain.aatype, 12.0, 1.5)
        };
        let crystal = violations_of(&truth.atom14_gt_positions);
        let collapsed = violations_of(&(&truth.atom14_gt_positions * 0.1));
        let flagged = |v: &StructuralViolations| v.per_residue_violations_mask.sum(Kind::Float).double_value(&[]);
        assert!(flagged(&crystal) < flagged(&collapsed));
        assert_eq!(flagged(&collapsed), n as f64);
        let crystal_loss = structural_violation_loss(&crystal, exists).double_value(&[]);
        assert!(100.0 * crystal_loss < structural_violation_loss(&collapsed, exists).double_value(&[]));
    }

    #[test]
    fn squashed_crystal_violations_match_alphafold() {
        // 1GCN's atom14 coordinates with x scaled by 0.4 (bonds, angles and contacts all
        // distorted). Expected values: DeepMind's `folding.find_structural_violations` (alphafold
        // 2.0.0, model_1_ptm's structure-module config) on the same coordinates, built with
        // tests/reference/make_reference.py's `glucagon_crop(29)` and `atom_masks`, printed in
        // float64 from float32 results. The C–N–Cα term is zero here (its tolerance is wide);
        // the parity case `model_1_ptm_loss` covers it. Relative tolerance 1e-4, as there.
        let Some(chain) = glucagon() else { return };
        let truth = make_atom14_positions(&chain.aatype, &chain.positions, &chain.mask);
        let squash = Tensor::from_slice(&[0.4f32, 1.0, 1.0]);
        let positions = &truth.atom14_gt_positions * squash;
        let exists = &truth.atom14_gt_exists;
        let residue_index = Tensor::arange(chain.aatype.size()[0], (Kind::Int64, Device::Cpu));
        let violations = find_structural_violations(&positions, exists, &residue_index, &chain.aatype, 12.0, 1.5);
        let sum = |t: &Tensor| t.sum(Kind::Double);
        for (name, ours, alphafold) in [
            ("bonds_c_n_loss_mean", &violations.bonds.c_n_loss_mean, 0.0011953732464462519),
            ("angles_ca_c_n_loss_mean", &violations.bonds.ca_c_n_loss_mean, 0.11328072100877762),
            ("clashes_mean_loss", &violations.clashes.mean_loss, 0.00013352613314054906),
            ("Σ clashes_per_atom_loss_sum", &sum(&violations.clashes.per_atom_loss_sum), 7.617132186889648),
            ("Σ within per_atom_loss_sum", &sum(&violations.within_residues.per_atom_loss_sum), 267.4729919433594),
            ("violation loss", &structural_violation_loss(&violations, exists), 1.237293004989624),
        ] {
            let ours = ours.double_value(&[]);
            assert!((ours - alphafold).abs() < 1e-4 * alphafold, "{name}: ours {ours}, AlphaFold {alphafold}");
        }
        assert_eq!(violations.bonds.c_n_ca_loss_mean.double_value(&[]), 0.0);
        // DeepMind's `total_per_residue_violations_mask` flags all 29 residues.
        assert_eq!(violations.per_residue_violations_mask.sum(Kind::Double).double_value(&[]), 29.0);
    }

    #[test]
    fn stretched_peptide_bond_costs_its_excess_over_tolerance() {
        // Two glycines with only N, Cα, C, laid out so that the C(0)–N(1) bond is 2.0 Å: error
        // sqrt(1e-6 + (2.0 - 1.329)²) beyond 12 · 0.014 Å.
        let gly = restype_index('G') as i64;
        let aatype = Tensor::from_slice(&[gly, gly]);
        let mut coordinates = vec![0.0f32; 2 * 14 * 3];
        let mut place = |residue: usize, slot: usize, xyz: [f32; 3]| {
            coordinates[(residue * 14 + slot) * 3..(residue * 14 + slot) * 3 + 3].copy_from_slice(&xyz);
        };
        place(0, 0, [-2.0, 1.0, 0.0]);
        place(0, 1, [-1.5, 0.0, 0.0]);
        place(0, 2, [0.0, 0.0, 0.0]);
        place(1, 0, [2.0, 0.0, 0.0]);
        place(1, 1, [2.5, 1.4, 0.0]);
        place(1, 2, [4.0, 1.4, 0.0]);
        let positions = Tensor::from_slice(&coordinates).reshape([2, 14, 3]);
        let mask = Tensor::zeros([2, 14], (Kind::Float, Device::Cpu));
        let _ = mask.narrow(-1, 0, 3).fill_(1.0);
        let bonds = between_residue_bond_loss(&positions, &mask, &Tensor::from_slice(&[1i64, 2]), &aatype, 12.0);
        let expected = ((2.0f64 - 1.329).powi(2) + 1e-6).sqrt() - 12.0 * 0.014;
        assert!((bonds.c_n_loss_mean.double_value(&[]) - expected / (1.0 + 1e-6)).abs() < 1e-5);
        // Cα(0), C(0) and N(1) lie on the x axis: the Cα–C–N angle is 180° (cosine -1), beyond
        // the mean cosine -0.4473 by 0.5527, with AlphaFold's tolerance 12 · 0.014.
        let angle_expected = ((-1.0f64 + 0.4473).powi(2) + 1e-6).sqrt() - 12.0 * 0.014;
        assert!((bonds.ca_c_n_loss_mean.double_value(&[]) - angle_expected / (1.0 + 1e-6)).abs() < 1e-5);
        assert_eq!(Vec::<f32>::try_from(&bonds.per_residue_violation_mask).unwrap(), vec![1.0, 1.0]);
        // A chain break (residue numbers 1 and 3) removes the bond from the loss.
        let broken = between_residue_bond_loss(&positions, &mask, &Tensor::from_slice(&[1i64, 3]), &aatype, 12.0);
        assert_eq!(broken.c_n_loss_mean.double_value(&[]), 0.0);
    }
}
