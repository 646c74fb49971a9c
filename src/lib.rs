//! HelixFold in Rust: AlphaFold2 training and inference on libtorch.
pub mod bench;
pub mod cli;
pub mod data;
pub mod device;
pub mod geometry;
pub mod kernel;
pub mod loss;
pub mod memory;
pub mod metrics;
pub mod model;
pub mod plot;
pub mod predict;
pub mod repl;
pub mod residue_constants;
pub mod session;
pub mod testing;
pub mod train;
