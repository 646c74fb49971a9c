//! Commands on structures: `eval` scores a model against a native with
//! [`score_structures`] (TM-score and GDT as the TM-score program, Zhang & Skolnick 2004;
//! lDDT-Cα as DeepMind's `lddt.py`), and `save` writes a structure as PDB or mmCIF, its PAE as
//! AlphaFold DB JSON, or — for a prediction — every model output as `.npz` by AlphaFold's names
//! (what `helixfold predict` writes as `outputs.npz`).
use super::load::read_structure;
use crate::data::array::FeatureDict;
use crate::data::mmcif_writer::to_mmcif_string;
use crate::data::pae_json::pae_to_json;
use crate::data::npz::write_npz;
use crate::data::pdb::to_pdb_string;
use crate::data::protein::Protein;
use crate::metrics::structure_scores::score_structures;
use crate::predict::output_arrays;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{anyhow, bail, Context as _, Result};
use std::borrow::Cow;
use std::path::Path;

/// A loaded structure by name, else a PDB/mmCIF file by path (read, not loaded).
fn structure_or_file<'a>(session: &'a Session, word: &str) -> Result<Cow<'a, Protein>> {
    let missing = match session.inputs().structure(word) {
        Ok(structure) => return Ok(Cow::Borrowed(&structure.protein)),
        Err(missing) => missing,
    };
    let path = Path::new(word);
    if !path.exists() {
        bail!("{missing}; and there is no file {word}");
    }
    let name = word.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let kind = if name.ends_with(".cif") || name.ends_with(".mmcif") { "cif" } else { "pdb" };
    Ok(Cow::Owned(read_structure(path, kind, None)?))
}

pub fn eval(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    // Path-typed so that the REPL completes file names; a loaded structure's name is tried first.
    let word = |key: &str| args.path(key).map(|p| p.to_string_lossy().into_owned()).ok_or_else(|| anyhow!("missing {key}"));
    let (model_word, native_word) = (word("model")?, word("native")?);
    let model = structure_or_file(session, &model_word).context("model")?;
    let native = structure_or_file(session, &native_word).context("native")?;
    let scores = score_structures(&model, &native)
        .with_context(|| format!("cannot score {model_word} against {native_word}"))?;
    let rows = vec![
        vec!["TM-score".to_string(), format!("{:.4}", scores.tm_score)],
        vec!["GDT-TS".to_string(), format!("{:.4}", scores.gdt_ts)],
        vec!["GDT-HA".to_string(), format!("{:.4}", scores.gdt_ha)],
        vec!["RMSD (Å)".to_string(), format!("{:.3}", scores.rmsd)],
        vec!["lDDT-Cα".to_string(), format!("{:.4}", scores.lddt_ca)],
        vec!["common residues".to_string(), scores.common_residues.to_string()],
    ];
    Ok(vec![Output::table(&["metric", "value"], rows)])
}

/// The output format named by `format=` or by the path's extension.
fn save_format<'a>(args: &'a Args, path: &Path) -> Result<&'a str> {
    if let Some(format) = args.text("format") {
        return Ok(format);
    }
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    Ok(match extension.as_str() {
        "pdb" => "pdb",
        "cif" | "mmcif" => "cif",
        "json" => "pae",
        "npz" => "outputs",
        _ => bail!("cannot tell the format of {} from its extension; use .pdb, .cif, .json or .npz, or format=", path.display()),
    })
}

/// What `save` writes: a text format, or arrays as `.npz`.
enum Payload {
    Text(String),
    Arrays(FeatureDict),
}

pub fn save(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let name = args.text("name").ok_or_else(|| anyhow!("missing name"))?;
    let path = args.path("path").ok_or_else(|| anyhow!("missing path"))?;
    let structure = session.inputs().structure(name)?;
    let format = save_format(args, path)?;
    let (payload, what) = match format {
        "pdb" => (Payload::Text(to_pdb_string(&structure.protein)?), "PDB"),
        "cif" => (Payload::Text(to_mmcif_string(&structure.protein)?), "mmCIF"),
        "pae" => match &structure.pae {
            Some(pae) => (Payload::Text(pae_to_json(pae)?), "PAE JSON"),
            None => bail!("structure '{name}' has no PAE (only predictions and `load FILE.json kind=pae name={name}` give one)"),
        },
        "outputs" => match session.model().prediction.as_ref().filter(|p| p.structure == name) {
            Some(prediction) => (Payload::Arrays(output_arrays(&prediction.outputs)?), "model outputs (npz)"),
            None => bail!("structure '{name}' has no model outputs (only the structure of the last `infer` has)"),
        },
        other => bail!("unknown format '{other}'"),
    };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).with_context(|| format!("cannot create folder {}", folder.display()))?;
    }
    match payload {
        Payload::Text(text) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        Payload::Arrays(arrays) => write_npz(path, &arrays)?,
    }
    Ok(vec![Output::Text(format!(
        "wrote '{name}' ({} residues) as {what} to {}",
        structure.protein.len(),
        path.display()
    ))])
}
