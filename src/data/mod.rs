//! Data layer: parsers for the files structural biologists have, AlphaFold's feature files,
//! and the feature pipeline that turns them into the model's batch.
pub mod array;
pub mod fasta;
pub mod feature_file;
pub mod features;
pub mod global_alignment;
pub mod hhr;
pub mod msa;
pub mod npy_dtype;
pub mod npz;
pub mod pickle;
pub mod protein;
pub mod release_date;
pub mod text_file;
