//! `load FILE [kind=...] [name=...] [chain=...] [clusters=...]`: reads a prediction input, a
//! structure or a training set into the session. The file type comes from the extension (a
//! trailing `.gz` ignored) unless `kind=` names it: FASTA (the query sequence), A3M and Stockholm
//! (MSAs, as DeepMind's `alphafold/data/parsers.py` reads them), HHR (HHsearch template hits),
//! PDB and mmCIF (structures), and AlphaFold DB PAE JSON (attached to a loaded structure). A
//! folder is a training set in OpenFold's or HelixFold's layout (`data::datasets::layout`).
use crate::data::datasets::open_dataset;
use crate::data::fasta::read_fasta;
use crate::data::hhr::read_hhr;
use crate::data::mmcif::{mmcif_chain_to_protein, read_mmcif, ResidueAtPosition, ResiduePosition};
use crate::data::msa::{read_a3m, read_stockholm};
use crate::data::pae_json::read_pae_json;
use crate::data::pdb::read_pdb;
use crate::data::protein::Protein;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::state::{LoadedDataset, LoadedMsa, LoadedSequence, LoadedTemplateHits, Structure};
use crate::session::Session;
use anyhow::{anyhow, bail, Context as _, Result};
use std::path::Path;

/// The `kind=` words, in the order help lists them.
pub const KINDS: &[&str] = &["fasta", "a3m", "sto", "hhr", "pdb", "cif", "pae", "dataset"];

/// The file kind named by `path`'s extension.
fn kind_from_extension(path: &Path) -> Result<&'static str> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let extension = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    Ok(match extension {
        "fasta" | "fa" | "faa" | "fas" => "fasta",
        "a3m" => "a3m",
        "sto" | "stockholm" => "sto",
        "hhr" => "hhr",
        "pdb" | "ent" => "pdb",
        "cif" | "mmcif" => "cif",
        "json" => "pae",
        _ => bail!(
            "cannot tell the file type of {} from its extension; name it with kind={}",
            path.display(),
            KINDS.join("|")
        ),
    })
}

/// The name a file is stored under when `name=` is not given: its file name up to the first dot.
fn default_name(path: &Path) -> String {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("structure");
    file_name.split('.').next().filter(|s| !s.is_empty()).unwrap_or(file_name).to_string()
}

/// Reads a PDB or mmCIF file as a protein: every chain of a PDB file, or the one chain `chain`.
/// An mmCIF file is read one protein chain at a time (AlphaFold's `mmcif_parsing.py` view: MSE
/// as MET, one alternate location), its observed residues under author numbering, so `chain`
/// may only be left out when the file has a single protein chain.
pub fn read_structure(path: &Path, kind: &str, chain: Option<&str>) -> Result<Protein> {
    match kind {
        "pdb" => {
            let protein = read_pdb(path)?;
            match chain {
                Some(chain) => protein.chain(chain).with_context(|| format!("in {}", path.display())),
                None => Ok(protein),
            }
        }
        "cif" => {
            let mmcif = read_mmcif(path)?;
            let chains: Vec<&String> = mmcif.chain_to_seqres.keys().collect();
            let chain = match (chain, chains.as_slice()) {
                (Some(chain), _) => chain.to_string(),
                (None, [only]) => only.to_string(),
                (None, _) => bail!(
                    "{} has {} protein chains ({}); choose one with chain=",
                    path.display(),
                    chains.len(),
                    chains.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                ),
            };
            let seqres_chain = mmcif_chain_to_protein(&mmcif, &chain)?;
            let observed = mmcif.seqres_to_structure.get(&chain).map(Vec::as_slice).unwrap_or_default();
            Ok(observed_with_author_numbers(&seqres_chain, observed))
        }
        other => bail!("{} is a {other} file, not a structure (pdb or cif)", path.display()),
    }
}

/// The observed residues of a SEQRES-indexed chain, numbered as the file's authors number them
/// (as a PDB file is read), so that a structure scores against the same structure read from PDB.
fn observed_with_author_numbers(seqres_chain: &Protein, observed: &[ResidueAtPosition]) -> Protein {
    let kept: Vec<(usize, &ResiduePosition)> = observed
        .iter()
        .enumerate()
        .filter(|(i, _)| *i < seqres_chain.len())
        .filter_map(|(i, at)| Some((i, at.position.as_ref()?)))
        .filter(|(i, _)| seqres_chain.atom_mask[*i].iter().any(|&m| m > 0.5))
        .collect();
    Protein {
        aatype: kept.iter().map(|&(i, _)| seqres_chain.aatype[i]).collect(),
        atom_positions: kept.iter().map(|&(i, _)| seqres_chain.atom_positions[i]).collect(),
        atom_mask: kept.iter().map(|&(i, _)| seqres_chain.atom_mask[i]).collect(),
        residue_index: kept.iter().map(|(_, at)| at.residue_number).collect(),
        insertion_code: kept.iter().map(|(_, at)| at.insertion_code).collect(),
        chain_index: vec![0; kept.len()],
        chain_ids: seqres_chain.chain_ids.clone(),
        b_factors: kept.iter().map(|&(i, _)| seqres_chain.b_factors[i]).collect(),
    }
}

pub fn load(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let path = args.path("file").ok_or_else(|| anyhow!("missing file"))?;
    let kind = match args.text("kind") {
        Some(kind) => kind,
        None if path.is_dir() => "dataset",
        None => kind_from_extension(path)?,
    };
    if args.contains("clusters") && kind != "dataset" {
        bail!("clusters= applies to training sets (a folder), not to a {kind} file");
    }
    if args.contains("chain") && !matches!(kind, "pdb" | "cif") {
        bail!("chain= applies to structures (pdb, cif), not to a {kind} file");
    }
    if args.contains("name") && matches!(kind, "fasta" | "hhr" | "dataset") {
        bail!("name= applies to MSAs, structures and PAE files, not to a {kind} file");
    }
    let name = args.text("name").map_or_else(|| default_name(path), str::to_string);
    let inputs = &session.inputs;
    let summary = match kind {
        "fasta" => {
            let mut records = read_fasta(path)?;
            if records.len() != 1 {
                bail!(
                    "{} holds {} sequences; load a FASTA file with exactly one (the query)",
                    path.display(),
                    records.len()
                );
            }
            let record = records.remove(0);
            inputs.check_sequence(&record.sequence)?;
            let summary = format!(
                "sequence '{}': {} residues",
                record.description,
                record.sequence.chars().count()
            );
            session.inputs.sequence = Some(LoadedSequence { source: path.to_path_buf(), record });
            summary
        }
        "a3m" | "sto" => {
            let msa = if kind == "a3m" { read_a3m(path)? } else { read_stockholm(path)? };
            inputs.check_msa(&name, &msa)?;
            let summary = format!("MSA '{name}': {} sequences × {} columns", msa.len(), msa.num_columns());
            let loaded = LoadedMsa { name: name.clone(), source: path.to_path_buf(), msa };
            match session.inputs.msas.iter_mut().find(|m| m.name == name) {
                Some(slot) => *slot = loaded,
                None => session.inputs.msas.push(loaded),
            }
            summary
        }
        "dataset" => {
            let (layout, dataset) = open_dataset(path, args.path("clusters"))?;
            let loaded = LoadedDataset { source: path.to_path_buf(), layout, dataset };
            let summary = format!(
                "training set ({} layout): {} chains in {} clusters",
                layout.name(),
                loaded.num_chains(),
                loaded.dataset.clusters().len()
            );
            session.inputs.dataset = Some(loaded);
            summary
        }
        "hhr" => {
            let hits = read_hhr(path)?;
            let summary = format!("template hits: {}", hits.len());
            session.inputs.template_hits = Some(LoadedTemplateHits { source: path.to_path_buf(), hits });
            summary
        }
        "pdb" | "cif" => {
            let protein = read_structure(path, kind, args.text("chain"))?;
            let summary = format!(
                "structure '{name}': {} residues, chains {}",
                protein.len(),
                protein.chain_ids.join(",")
            );
            let structure = Structure { source: path.to_path_buf(), protein, pae: None };
            // The outputs of a prediction belong to its structure, not to one loaded over it.
            if session.model.prediction.as_ref().is_some_and(|p| p.structure == name) {
                session.model.prediction = None;
            }
            session.inputs.structures.insert(name, structure);
            summary
        }
        "pae" => {
            let structure = inputs.structure(&name).context("a PAE file attaches to a loaded structure (name=)")?;
            let pae = read_pae_json(path)?;
            if pae.num_res != structure.protein.len() {
                bail!(
                    "the PAE in {} covers {} residues but structure '{name}' has {}",
                    path.display(),
                    pae.num_res,
                    structure.protein.len()
                );
            }
            let summary = format!("PAE of '{name}': {0} × {0}", pae.num_res);
            if let Some(structure) = session.inputs.structures.get_mut(&name) {
                structure.pae = Some(pae);
            }
            summary
        }
        other => bail!("unknown kind '{other}'"),
    };
    Ok(vec![Output::Text(format!("loaded {summary} from {}", path.display()))])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_extensions_with_or_without_gzip() {
        assert_eq!(kind_from_extension(Path::new("q.fasta")).unwrap(), "fasta");
        assert_eq!(kind_from_extension(Path::new("dir.v2/1abc.cif.gz")).unwrap(), "cif");
        assert_eq!(kind_from_extension(Path::new("bfd.A3M")).unwrap(), "a3m");
        let error = kind_from_extension(Path::new("notes.txt")).unwrap_err().to_string();
        assert!(error.contains("kind=fasta|a3m|sto|hhr|pdb|cif|pae"), "{error}");
        assert_eq!(default_name(Path::new("out/1a8o.pdb.gz")), "1a8o");
    }

    #[test]
    fn a_failed_load_leaves_the_inputs_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path.display().to_string()
        };
        let sequence = file("seq.fasta", ">q\nMKV\n");
        let wide_msa = file("wide.a3m", ">q\nMKVL\n");
        let other_sequence = file("long.fasta", ">p\nMKVLA\n");
        let msa = file("ok.a3m", ">q\nMKV\n>h\nMK-\n");
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb");
        let mut session = Session::new();
        session.execute(&format!("load {sequence}; load {msa}; load {demo}")).unwrap();
        let before = session.inputs().clone();
        for line in [
            format!("load {wide_msa}"),
            format!("load {other_sequence}"),
            format!("load {demo} chain=Z"),
            format!("load {msa} name=1a8o kind=pae"),
        ] {
            assert!(session.execute(&line).is_err(), "{line} should fail");
            assert_eq!(session.inputs(), &before, "{line} changed the session");
        }
    }
}
