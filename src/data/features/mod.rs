//! AlphaFold2's feature pipeline (Jumper et al. (2021) Suppl. 1.2): raw per-protein features
//! (`features.pkl`: sequence, MSA, templates) to the processed batch the model takes, with the
//! leading ensemble/recycling axis.
pub mod atom14_masks;
pub mod config;
pub mod fixed_size;
pub mod inputs;
pub mod labels;
pub mod msa_clusters;
pub mod msa_feat;
pub mod msa_rows;
pub mod msa_sampling;
pub mod pipeline;
pub mod sequence_features;
pub mod summary;
pub mod templates;

pub use config::DataConfig;
pub use pipeline::{process_features, process_training_features};
pub use summary::FeatureSummary;
