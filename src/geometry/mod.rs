//! Rigid-body geometry: tensors of rotations and of rigid transforms (frames), and
//! quaternion conversions (Jumper et al. (2021) Suppl. Sec. 1.8).
pub mod quaternion;
pub mod rigid;
pub mod rotation;

pub use rigid::Rigid;
pub use rotation::Rotation;
