//! HelixFold in Rust: AlphaFold2 training and inference on libtorch.
pub mod data;
pub mod device;
pub mod geometry;
pub mod model;
pub mod residue_constants;
pub mod testing;
