//! `helixfold score MODEL NATIVE [--json]`: compares a model with its native structure and
//! prints the scores in the TM-score program's layout (`TMscore.f`, Zhang & Skolnick 2004), or
//! as one JSON object of [`StructureScores`].
use crate::data::pdb::read_pdb;
use crate::metrics::structure_scores::{score_structures, StructureScores};
use anyhow::{Context, Result};
use clap::Args;
use std::fmt;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The model (predicted) structure, PDB format.
    pub model: PathBuf,
    /// The native (reference) structure, PDB format; TM-score and GDT are normalised by its
    /// length.
    pub native: PathBuf,
    /// Print one JSON object (tm_score, gdt_ts, gdt_ha, rmsd, lddt_ca, common_residues, d0, ...)
    /// instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    let model = read_pdb(&args.model).context("cannot read the model structure")?;
    let native = read_pdb(&args.native).context("cannot read the native structure")?;
    let scores = score_structures(&model, &native).with_context(|| {
        format!("cannot score {} against {}", args.model.display(), args.native.display())
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&scores)?);
    } else {
        print!("{}", TextReport { args, scores: &scores });
    }
    Ok(())
}

/// The scores laid out as the TM-score program prints them, plus lDDT-Cα.
struct TextReport<'a> {
    args: &'a ScoreArgs,
    scores: &'a StructureScores,
}

impl fmt::Display for TextReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.scores;
        let [under_05, under_1, under_2, under_4, under_8] = s.gdt_fractions;
        writeln!(f, "Structure1: {}  Length= {:4}", self.args.model.display(), s.model_length)?;
        writeln!(
            f,
            "Structure2: {}  Length= {:4} (by which all scores are normalized)",
            self.args.native.display(),
            s.native_length
        )?;
        writeln!(f, "Number of residues in common= {:4}", s.common_residues)?;
        writeln!(f, "RMSD of  the common residues= {:8.3}", s.rmsd)?;
        writeln!(f)?;
        writeln!(f, "TM-score    = {:6.4}  (d0={:5.2})", s.tm_score, s.d0)?;
        writeln!(
            f,
            "GDT-TS-score= {:6.4} %(d<1)={under_1:6.4} %(d<2)={under_2:6.4} %(d<4)={under_4:6.4} \
             %(d<8)={under_8:6.4}",
            s.gdt_ts
        )?;
        writeln!(
            f,
            "GDT-HA-score= {:6.4} %(d<0.5)={under_05:6.4} %(d<1)={under_1:6.4} \
             %(d<2)={under_2:6.4} %(d<4)={under_4:6.4}",
            s.gdt_ha
        )?;
        writeln!(f, "lDDT-Ca     = {:6.4}", s.lddt_ca)
    }
}
