//! Data layer: parsers for the files structural biologists have, AlphaFold's feature files,
//! and the feature pipeline that turns them into the model's batch.
pub mod array;
pub mod protein;
pub mod cif;
pub mod mmcif;
pub mod mmcif_writer;
pub mod pdb;
pub mod text_file;
pub mod pae_json;
