//! The AlphaFold2 network (Jumper et al. (2021)) on libtorch: configuration, primitives, the
//! Evoformer trunk with its embedders, the output heads and confidence metrics.
pub mod alphafold;
pub mod axial_parallel;
pub mod branch_parallel;
pub mod capture;
pub mod chunking;
pub mod confidence;
pub mod config;
pub mod embedders;
pub mod evoformer;
pub mod heads;
pub mod invariant_point_attention;
pub mod msa_column_attention;
pub mod msa_column_global_attention;
pub mod msa_row_attention;
pub mod outer_product_mean;
pub mod primitives;
pub mod recompute;
pub mod rigid_sidechain;
pub mod structure_module;
pub mod transition;
pub mod template_embedder;
pub mod triangle_attention;
pub mod trunk;
pub mod triangle_multiplication;
pub mod weights;
