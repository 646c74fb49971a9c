//! The per-residue-type tables of [`crate::residue_constants`] as tch tensors (first dimension:
//! the 21 residue types), and their per-residue lookup by `aatype`, AlphaFold's
//! `utils.batched_gather(table, aatype)`.
use tch::{Device, Kind, Tensor};

use crate::residue_constants::atom14::atom14_tables;
use crate::residue_constants::rigid_groups::{
    rigid_group_tables, CHI_ANGLES_MASK, CHI_PI_PERIODIC,
};
use crate::residue_constants::UNKNOWN_RESTYPE;

fn float_table(values: &[f32], shape: &[i64], device: Device) -> Tensor {
    Tensor::from_slice(values).reshape(shape).to_device(device)
}

fn index_table(values: &[usize], shape: &[i64], device: Device) -> Tensor {
    let values: Vec<i64> = values.iter().map(|v| *v as i64).collect();
    Tensor::from_slice(&values).reshape(shape).to_device(device)
}

/// Rows of `table` `[21, ...]` for each residue of `aatype` `[*]` (integer): `[*, ...]`.
/// Types above 20 (and below 0) read the unknown type's row, as `atom37_to_torsion_angles`'s
/// `jnp.minimum(aatype, 20)` does.
pub fn gather_by_restype(table: &Tensor, aatype: &Tensor) -> Tensor {
    let restypes = aatype
        .to_kind(Kind::Int64)
        .clamp(0, UNKNOWN_RESTYPE as i64)
        .to_device(table.device());
    let mut shape = restypes.size();
    shape.extend_from_slice(&table.size()[1..]);
    table
        .index_select(0, &restypes.reshape([-1]))
        .reshape(shape)
}

/// `[21, 14]` atom37 index of each atom14 slot (int64).
pub fn restype_atom14_to_atom37(device: Device) -> Tensor {
    index_table(
        atom14_tables().atom14_to_atom37.as_flattened(),
        &[21, 14],
        device,
    )
}

/// `[21, 37]` atom14 slot of each atom37 atom (int64).
pub fn restype_atom37_to_atom14(device: Device) -> Tensor {
    index_table(
        atom14_tables().atom37_to_atom14.as_flattened(),
        &[21, 37],
        device,
    )
}

/// `[21, 14]` 1.0 where the residue type fills the atom14 slot (f32).
pub fn restype_atom14_mask(device: Device) -> Tensor {
    float_table(
        atom14_tables().atom14_mask.as_flattened(),
        &[21, 14],
        device,
    )
}

/// `[21, 37]` 1.0 where the residue type has the atom37 atom (f32).
pub fn restype_atom37_mask(device: Device) -> Tensor {
    float_table(
        atom14_tables().atom37_mask.as_flattened(),
        &[21, 37],
        device,
    )
}

/// `[21, 14]` atom14 slot each slot swaps with under the renaming of ambiguous atoms (int64).
pub fn restype_atom14_swap_index(device: Device) -> Tensor {
    index_table(
        atom14_tables().atom14_swap_index.as_flattened(),
        &[21, 14],
        device,
    )
}

/// `[21, 14]` 1.0 for atoms with an ambiguous name (f32).
pub fn restype_atom14_is_ambiguous(device: Device) -> Tensor {
    float_table(
        atom14_tables().atom14_is_ambiguous.as_flattened(),
        &[21, 14],
        device,
    )
}

/// `[21, 4, 4]` atom37 indices of the four atoms of each chi angle (int64).
pub fn chi_angles_atom37_indices(device: Device) -> Tensor {
    let table = &rigid_group_tables().chi_angles_atom37_indices;
    index_table(table.as_flattened().as_flattened(), &[21, 4, 4], device)
}

/// `[21, 4]` 1.0 where the residue type has the chi angle (f32).
pub fn chi_angles_mask(device: Device) -> Tensor {
    float_table(CHI_ANGLES_MASK.as_flattened(), &[21, 4], device)
}

/// `[21, 4]` 1.0 for π-periodic chi angles (f32).
pub fn chi_pi_periodic(device: Device) -> Tensor {
    float_table(CHI_PI_PERIODIC.as_flattened(), &[21, 4], device)
}

/// `[21, 8, 3]` atom37 indices of the (negative-x, origin, xy-plane) atoms of each rigid group
/// (int64).
pub fn rigid_group_base_atom37_indices(device: Device) -> Tensor {
    let table = &rigid_group_tables().group_base_atom37_indices;
    index_table(table.as_flattened().as_flattened(), &[21, 8, 3], device)
}

/// `[21, 8]` 1.0 for the rigid groups the residue type has (f32).
pub fn rigid_group_exists(device: Device) -> Tensor {
    float_table(
        rigid_group_tables().group_exists.as_flattened(),
        &[21, 8],
        device,
    )
}

/// `[21, 8]` 1.0 for the rigid group whose frame is ambiguous up to a 180° x-rotation (f32).
pub fn rigid_group_is_ambiguous(device: Device) -> Tensor {
    float_table(
        rigid_group_tables().group_is_ambiguous.as_flattened(),
        &[21, 8],
        device,
    )
}

/// `[21, 8, 4, 4]` default group-to-parent frames (`restype_rigid_group_default_frame`, f32).
pub fn restype_rigid_group_default_frame(device: Device) -> Tensor {
    let table = &rigid_group_tables().default_frame;
    float_table(
        table.as_flattened().as_flattened().as_flattened(),
        &[21, 8, 4, 4],
        device,
    )
}

/// `[21, 14]` rigid group of each atom14 slot (int64).
pub fn restype_atom14_to_rigid_group(device: Device) -> Tensor {
    index_table(
        rigid_group_tables().atom14_to_rigid_group.as_flattened(),
        &[21, 14],
        device,
    )
}

/// `[21, 14, 3]` literature position of each atom14 atom in its rigid group's frame (f32).
pub fn restype_atom14_rigid_group_positions(device: Device) -> Tensor {
    let table = &rigid_group_tables().atom14_rigid_group_positions;
    float_table(table.as_flattened().as_flattened(), &[21, 14, 3], device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_keep_their_values_as_tensors() {
        let cpu = Device::Cpu;
        let frames = restype_rigid_group_default_frame(cpu);
        assert_eq!(frames.size(), [21, 8, 4, 4]);
        // ALA psi frame translation: C at (1.526, 0, 0) (residue_constants.py ALA row).
        assert!((frames.double_value(&[0, 3, 0, 3]) - 1.526).abs() < 1e-6);
        // ALA CB literature position, residue_constants.py `['CB', 0, (-0.529, -0.774, -1.205)]`.
        let positions = restype_atom14_rigid_group_positions(cpu);
        assert!((positions.double_value(&[0, 4, 2]) + 1.205).abs() < 1e-6);
        // ARG atom14 slot 9 (NH1) is atom37 29.
        assert_eq!(restype_atom14_to_atom37(cpu).int64_value(&[1, 9]), 29);
        assert_eq!(restype_atom14_to_atom37(cpu).kind(), Kind::Int64);
        assert_eq!(chi_angles_atom37_indices(cpu).int64_value(&[1, 3, 3]), 32);
    }

    #[test]
    fn gather_by_restype_clamps_unknown_types() {
        let mask = restype_atom14_mask(Device::Cpu);
        // GLY (7) has 4 atoms, TRP (17) 14; type 25 reads the UNK row (no atoms).
        let aatype = Tensor::from_slice(&[7i64, 17, 25, 20]).reshape([2, 2]);
        let rows = gather_by_restype(&mask, &aatype);
        assert_eq!(rows.size(), [2, 2, 14]);
        let counts = rows.sum_dim_intlist(-1, false, Kind::Float);
        assert_eq!(
            Vec::<f32>::try_from(counts.reshape([-1])).unwrap(),
            [4.0, 14.0, 0.0, 0.0]
        );
    }
}
