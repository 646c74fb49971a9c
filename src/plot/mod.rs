//! Plots of predictions, alignments and training runs, rendered with `plotters` to SVG (for
//! notebooks) and PNG (for files and terminals) from one drawing path per plot.
//!
//! Every entry point takes plain slices and returns a [`Figure`] or an error for empty or
//! mismatched input.
pub mod bench;
mod colour;
pub mod confidence;
pub mod distogram;
mod figure;
#[cfg(test)]
mod fixtures;
mod heatmap;
mod line;
pub mod msa;
pub mod network;
mod scatter;
pub mod structure;
pub mod templates;
pub mod training;

pub use bench::bench_plots;
pub use confidence::{pae, pae_comparison, plddt, plddt_comparison};
pub use distogram::{
    contact_map, contact_probabilities, distance_map, expected_distances, native_contacts,
};
pub use figure::Figure;
pub use msa::{msa_coverage, msa_depth};
