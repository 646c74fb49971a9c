//! Rigid-body geometry: tensors of rotations and of rigid transforms (frames), and
//! quaternion conversions (Jumper et al. (2021) Suppl. Sec. 1.8); the residue-type tables as tensors,
//! atom14/atom37 maps, and the frames and torsions derived from atom coordinates.
pub mod all_atom;
pub mod atom_maps;
pub mod frames;
pub mod quaternion;
pub mod residue_tables;
pub mod rigid;
pub mod rotation;
#[cfg(test)]
pub(crate) mod test_structures;
pub mod torsions;

pub use rigid::Rigid;
pub use rotation::Rotation;
