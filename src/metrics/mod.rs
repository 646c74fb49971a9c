//! Structure comparison metrics: superposition and RMSD, TM-score, GDT and lDDT, as the
//! reference programs compute them (the TM-score program, AlphaFold's `lddt.py`), and their
//! application to two [`crate::data::protein::Protein`]s.
pub mod correspondence;
pub mod gdt;
pub mod lddt;
pub mod structure_scores;
pub mod superposition;
pub mod tm_score;
