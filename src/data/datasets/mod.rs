//! Training sets: loaders of HelixFold's and OpenFold's on-disk layouts, a cluster-balanced
//! sampler with AlphaFold's length-based acceptance, and a background prefetcher that loads
//! and processes examples while the model trains.
pub mod clusters;
pub mod example;
pub mod helixfold;
pub mod layout;
pub mod openfold;
pub mod prefetch;
pub mod sampler;

pub use clusters::ClusterList;
pub use example::{Dataset, TrainingExample, Warning};
pub use helixfold::HelixFoldDataset;
pub use layout::{open_dataset, Layout};
pub use openfold::OpenFoldDataset;
pub use prefetch::{Prefetched, Prefetcher};
pub use sampler::TrainingSampler;
