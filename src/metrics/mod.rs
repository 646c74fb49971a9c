//! Structure comparison metrics: superposition and RMSD, TM-score, GDT and lDDT, as the
//! reference programs compute them (the TM-score program, AlphaFold's `lddt.py`).
pub mod gdt;
pub mod lddt;
pub mod superposition;
pub mod tm_score;
