//! HelixFold in Rust: AlphaFold2 training and inference on libtorch.
pub mod cli;
pub mod data;
pub mod device;
pub mod metrics;
pub mod residue_constants;
pub mod testing;
