//! Data layer: parsers for the files structural biologists have, AlphaFold's feature files,
//! and the feature pipeline that turns them into the model's batch.
pub mod array;
pub mod protein;
