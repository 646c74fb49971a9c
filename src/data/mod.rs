//! Data layer: parsers for the files structural biologists have, AlphaFold's feature files,
//! and the feature pipeline that turns them into the model's batch.
pub mod array;
pub mod cif;
pub mod datasets;
pub mod fasta;
pub mod feature_file;
pub mod features;
pub mod global_alignment;
pub mod hhr;
pub mod mmcif;
pub mod mmcif_writer;
pub mod msa;
pub mod npy_dtype;
pub mod npz;
pub mod pae_json;
pub mod pdb;
pub mod pickle;
pub mod protein;
pub mod release_date;
pub mod templates;
pub mod text_file;
