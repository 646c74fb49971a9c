//! `show inputs|config|params|outputs|parallel`: tables of what the session holds (the loaded
//! sequence, MSAs with their depths, template hits, structures; the parameters per module; the
//! last prediction's output arrays) and of its settings (device, threads, data settings, model,
//! runtime options, parallel layout).
use crate::data::features::summary::FeatureSummary;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{bail, Result};

pub fn show(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    match args.text("what") {
        Some("inputs") => Ok(vec![inputs_table(session)]),
        Some("config") => Ok(vec![config_table(session)]),
        Some("params") => Ok(vec![super::params::params_table(session)?]),
        Some("outputs") => Ok(vec![super::inference::outputs_table(session)?]),
        Some("parallel") => Ok(vec![super::parallel::layout_table(session)]),
        Some("training") => Ok(vec![super::training::training_table(session)?]),
        other => bail!("nothing to show for {other:?}"),
    }
}

fn inputs_table(session: &Session) -> Output {
    let inputs = session.inputs();
    let mut rows: Vec<[String; 5]> = Vec::new();
    if let Some(sequence) = &inputs.sequence {
        rows.push([
            "sequence".into(),
            sequence.record.description.clone(),
            sequence.record.sequence.chars().count().to_string(),
            "-".into(),
            sequence.source.display().to_string(),
        ]);
    }
    for loaded in &inputs.msas {
        rows.push([
            "msa".into(),
            loaded.name.clone(),
            loaded.msa.num_columns().to_string(),
            loaded.msa.len().to_string(),
            loaded.source.display().to_string(),
        ]);
    }
    if let Some(loaded) = &inputs.template_hits {
        rows.push([
            "templates".into(),
            format!("{} hits", loaded.hits.len()),
            "-".into(),
            "-".into(),
            loaded.source.display().to_string(),
        ]);
    }
    for (name, structure) in &inputs.structures {
        let pae = if structure.pae.is_some() { " (with PAE)" } else { "" };
        rows.push([
            "structure".into(),
            format!("{name}{pae}"),
            structure.protein.len().to_string(),
            "-".into(),
            structure.source.display().to_string(),
        ]);
    }
    if let Some(batch) = &inputs.batch {
        let summary = FeatureSummary::of(&batch.features);
        let show = |v: Option<usize>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
        rows.push([
            "batch".into(),
            format!("{} features", summary.features.len()),
            show(summary.num_res),
            show(summary.msa_depth),
            batch.source.clone(),
        ]);
    }
    if rows.is_empty() {
        return Output::Text("nothing loaded (`load FILE`)".into());
    }
    Output::table(&["kind", "name", "length", "depth", "source"], rows.into_iter().map(Vec::from).collect())
}

fn config_table(session: &Session) -> Output {
    let mut rows = vec![
        ["device".to_string(), super::general::describe_device(session.device())],
        ["threads".to_string(), tch::get_num_threads().to_string()],
    ];
    rows.extend(session.data_config().rows());
    match &session.model().config {
        Some(config) => rows.extend(super::model::config_rows(config)),
        None => rows.push(["model".to_string(), "none (`model PRESET`)".to_string()]),
    }
    let parameters = session.model().network.as_ref().map_or("none (`params init` or `params load FILE`)", |n| n.source.as_str());
    rows.push(["params".to_string(), parameters.to_string()]);
    rows.extend(super::model::runtime_rows(session));
    Output::table(&["setting", "value"], rows.into_iter().map(Vec::from).collect())
}
