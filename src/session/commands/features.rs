//! `features`: builds the model's processed batch (Jumper et al. (2021) Suppl. 1.2) from what is
//! loaded — the query sequence (or a loaded structure's sequence) with its MSAs — or reads a
//! feature file (`features.pkl[.gz]`, `.npz`; raw features are processed, a processed batch is
//! kept as is), stores it in the session and prints its summary.
use crate::data::array::FeatureDict;
use crate::data::feature_file::read_feature_file;
use crate::data::features::sequence_features::make_raw_features;
use crate::data::features::summary::FeatureSummary;
use crate::data::features::{process_features, DataConfig as PipelineConfig};
use crate::data::msa::Msa;
use crate::residue_constants::RESTYPES;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::state::Batch;
use crate::session::Session;
use anyhow::{bail, Context as _, Result};

pub fn features(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let (source, raw) = match (args.path("file"), args.text("from")) {
        (Some(_), Some(_)) => bail!("give either a feature file or from=STRUCTURE, not both"),
        (Some(path), None) => (path.display().to_string(), read_feature_file(path)?),
        (None, from) => raw_from_inputs(session, from)?,
    };
    let preset = args.text("preset").unwrap_or("model_1");
    let mut config = PipelineConfig::for_model(preset)?;
    let settings = session.data_config();
    config.max_msa_clusters = settings.msa_depth;
    config.max_extra_msa = settings.extra_msa;
    config.num_recycle = args.int("recycles").map_or(config.num_recycle, |r| r as usize);
    let processed = if raw.contains_key("msa_feat") {
        raw
    } else {
        process_features(&raw, &config, settings.seed).with_context(|| format!("processing the features of {source}"))?
    };
    let summary = FeatureSummary::of(&processed);
    let numbered_like = args.text("from").map(str::to_string);
    session.inputs.batch = Some(Batch { source, features: processed, numbered_like });
    Ok(vec![Output::Text(summary.to_string().trim_end().to_string())])
}

/// Raw features of the loaded sequence and MSAs, or of structure `from`'s sequence alone.
fn raw_from_inputs(session: &Session, from: Option<&str>) -> Result<(String, FeatureDict)> {
    let inputs = session.inputs();
    if let Some(name) = from {
        let protein = &inputs.structure(name)?.protein;
        let sequence: String = protein.aatype.iter().map(|&a| RESTYPES.get(a).copied().unwrap_or('X')).collect();
        let query = Msa::single_sequence(&sequence, name);
        return Ok((format!("structure {name}"), make_raw_features(&sequence, name, &[&query])?));
    }
    let Some(loaded) = &inputs.sequence else {
        bail!("nothing to build features from: `load` a FASTA (and MSAs), pass from=STRUCTURE, or give a feature file");
    };
    let sequence = &loaded.record.sequence;
    let single;
    let msas: Vec<&Msa> = if inputs.msas.is_empty() {
        single = Msa::single_sequence(sequence, &loaded.record.description);
        vec![&single]
    } else {
        inputs.msas.iter().map(|m| &m.msa).collect()
    };
    let raw = make_raw_features(sequence, &loaded.record.description, &msas)?;
    Ok((loaded.source.display().to_string(), raw))
}
