//! `show inputs|batch|config|params|outputs|parallel|training|memory|timing`: tables of what the
//! session holds (the loaded sequence, MSAs with their depths, template hits, structures; the
//! processed batch's feature shapes; the parameters per module; the last prediction's output
//! arrays), of its settings (device, threads, data settings, model, runtime options, parallel
//! layout) and of what it costs (memory, time per command).
use crate::data::features::summary::FeatureSummary;
use crate::data::npy_dtype::Dtype;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{bail, Result};

pub fn show(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    match args.text("what") {
        Some("inputs") => Ok(vec![inputs_table(session)]),
        Some("batch") => Ok(vec![batch_table(session)?]),
        Some("config") => Ok(vec![config_table(session)]),
        Some("params") => Ok(vec![super::params::params_table(session)?]),
        Some("outputs") => Ok(vec![super::inference::outputs_table(session)?]),
        Some("parallel") => Ok(super::parallel::layout_tables(session)),
        Some("training") => Ok(vec![super::training::training_table(session)?]),
        Some("memory") => Ok(vec![memory_table(session)]),
        Some("timing") => Ok(vec![timing_table(session, args)]),
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
    if let Some(loaded) = &inputs.dataset {
        rows.push([
            "dataset".into(),
            format!("{} layout, {} clusters", loaded.layout.name(), loaded.dataset.clusters().len()),
            "-".into(),
            format!("{} chains", loaded.num_chains()),
            loaded.source.display().to_string(),
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

/// Every feature of the processed batch with its shape and type.
fn batch_table(session: &Session) -> Result<Output> {
    let Some(batch) = &session.inputs().batch else {
        bail!("no batch: build one with `features`");
    };
    let summary = FeatureSummary::of(&batch.features);
    let rows = summary
        .features
        .iter()
        .map(|(name, shape, dtype)| {
            let dims = shape.iter().map(ToString::to_string).collect::<Vec<_>>().join(" × ");
            vec![name.clone(), format!("[{dims}]"), dtype.to_string()]
        })
        .collect();
    Ok(Output::table(&["feature", "shape", "dtype"], rows))
}

fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

fn tensor_bytes(tensor: &tch::Tensor) -> u64 {
    (tensor.numel() * tensor.kind().elt_size_in_bytes()) as u64
}

/// The process's memory, and the share of it the session's big holdings account for.
fn memory_table(session: &Session) -> Output {
    let mut rows: Vec<[String; 2]> = Vec::new();
    let measured = |value: anyhow::Result<u64>| value.map_or_else(|e| format!("unknown ({e})"), mebibytes);
    rows.push(["process resident now".into(), measured(crate::memory::current_rss_bytes())]);
    rows.push(["process resident peak".into(), measured(crate::memory::peak_rss_bytes())]);
    if let Some(available) = crate::memory::available_bytes() {
        rows.push(["host memory available".into(), mebibytes(available)]);
    }
    if session.device().is_cuda() {
        let in_use = crate::memory::cuda_memory_in_use_bytes().map_or_else(|| "unknown".to_string(), mebibytes);
        rows.push(["CUDA device in use (all processes)".into(), in_use]);
    }
    let model = session.model();
    if let Some(network) = &model.network {
        let bytes: u64 = network.vs.trainable_variables().iter().map(tensor_bytes).sum();
        rows.push(["parameters".into(), mebibytes(bytes)]);
    }
    if let Some(run) = &model.training {
        let parameters: u64 = run.trainer.var_store().trainable_variables().iter().map(tensor_bytes).sum();
        // The trainer's own weights plus the flat gradient, Adam's two moments and the fp32 weight
        // average: five parameter-sized buffers.
        rows.push(["training run (weights, gradient, Adam, average)".into(), mebibytes(5 * parameters)]);
    }
    if let Some(batch) = &session.inputs().batch {
        // As the arrays are laid out in a `.npy` file (byte strings padded to the longest).
        let bytes: u64 = batch
            .features
            .values()
            .map(|array| (array.data.len() * Dtype::of(&array.data).item_size().unwrap_or(0)) as u64)
            .sum();
        rows.push(["batch".into(), mebibytes(bytes)]);
    }
    if let Some(prediction) = &model.prediction {
        let bytes: u64 = prediction.outputs.values().map(tensor_bytes).sum();
        rows.push(["last prediction's outputs".into(), mebibytes(bytes)]);
    }
    Output::table(&["what", "memory"], rows.into_iter().map(Vec::from).collect())
}

/// The last commands with their wall-clock time, then the total per command name.
fn timing_table(session: &Session, args: &Args) -> Output {
    let timings = session.timings();
    let shown = args.int("last").map_or(20, |n| n as usize).min(timings.len());
    let first = timings.len() - shown;
    let mut rows: Vec<Vec<String>> = timings[first..]
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let status = if t.succeeded { "ok" } else { "failed" };
            vec![(first + i + 1).to_string(), t.command.clone(), format!("{:.3}", t.elapsed.as_secs_f64()), status.into()]
        })
        .collect();
    let mut totals: std::collections::BTreeMap<&str, (usize, f64)> = Default::default();
    for t in timings {
        let name = t.command.split_whitespace().next().unwrap_or_default();
        let entry = totals.entry(name).or_default();
        entry.0 += 1;
        entry.1 += t.elapsed.as_secs_f64();
    }
    rows.extend(totals.into_iter().map(|(name, (count, seconds))| {
        vec!["total".into(), format!("{name} ×{count}"), format!("{seconds:.3}"), String::new()]
    }));
    Output::table(&["#", "command", "seconds", "status"], rows)
}

#[cfg(test)]
mod tests {
    use crate::session::{Output, Session};

    fn run(session: &mut Session, line: &str) -> Vec<Output> {
        session.execute(line).unwrap_or_else(|(_, e)| panic!("{line}: {e}"))
    }

    fn table(output: &Output) -> (&[String], &[Vec<String>]) {
        match output {
            Output::Table { headers, rows } => (headers, rows),
            other => panic!("not a table: {other:?}"),
        }
    }

    #[test]
    fn batch_lists_every_feature_with_its_shape() {
        let mut session = Session::new();
        let err = session.execute("show batch").unwrap_err().1.to_string();
        assert!(err.contains("no batch"), "{err}");
        run(&mut session, "load examples/data/1a8o.pdb name=1a8o; features from=1a8o recycles=0");
        let outputs = run(&mut session, "show batch");
        let (_, rows) = table(&outputs[0]);
        let aatype = rows.iter().find(|r| r[0] == "aatype").expect("aatype row");
        // 1A8O's chain A has 70 observed residues (examples/data/README.md); one copy at recycles=0.
        assert_eq!((aatype[1].as_str(), aatype[2].as_str()), ("[1 × 70]", "int32"));
    }

    #[test]
    fn memory_counts_the_batch_and_the_process() {
        let mut session = Session::new();
        run(&mut session, "load examples/data/1a8o.pdb name=1a8o; features from=1a8o recycles=0");
        let outputs = run(&mut session, "show memory");
        let (_, rows) = table(&outputs[0]);
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        for expected in ["process resident now", "process resident peak", "batch"] {
            assert!(names.contains(&expected), "{names:?}");
        }
        assert!(rows.iter().all(|r| r[1].ends_with(" MiB")), "{rows:?}");
    }

    #[test]
    fn timing_lists_commands_and_totals_per_name() {
        let mut session = Session::new();
        run(&mut session, "echo a; echo b");
        assert!(session.execute("nosuch").is_err());
        let outputs = run(&mut session, "show timing last=2");
        let (_, rows) = table(&outputs[0]);
        // The running `show timing` is not finished, so the last two are `echo b` and `nosuch`.
        assert_eq!((rows[0][1].as_str(), rows[0][3].as_str()), ("echo b", "ok"));
        assert_eq!((rows[1][1].as_str(), rows[1][3].as_str()), ("nosuch", "failed"));
        assert!(rows.iter().any(|r| r[0] == "total" && r[1] == "echo ×2"), "{rows:?}");
    }
}
