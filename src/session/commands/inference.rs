//! `infer [recycles=N] [name=NAME]`: runs the session's network on its batch (Jumper et al.
//! (2021) Suppl. Alg. 2, through [`crate::model::alphafold::AlphaFold::forward`], as
//! `helixfold predict` does), reports progress after each iteration, stops between iterations
//! when interrupted, and keeps the outputs and the predicted structure (pLDDT as B-factors, PAE
//! for `_ptm` models) in the session.
use crate::data::protein::Protein;
use crate::model::alphafold::NamedOutputs;
use crate::model::capture::{with_capture, CaptureRequest};
use crate::parallel::groups::ParallelGroups;
use crate::parallel::sharding::{run_sharded, ShardingGroups};
use crate::predict::{batch_tensors, confidence_summary, predicted_pae, predicted_protein};
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::model_state::{Prediction, SessionCapture};
use crate::session::output::Output;
use crate::session::state::Structure;
use crate::session::Session;
use anyhow::{anyhow, bail, Context as _, Result};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Instant;
use tch::Device;

/// The structure name a prediction is stored under unless `name=` says otherwise.
pub const DEFAULT_NAME: &str = "prediction";

/// Unwinds out of [`crate::model::alphafold::AlphaFold::forward`]'s per-iteration callback when
/// the interrupt flag is set: the forward pass has no early exit of its own, and an unwind
/// raised with `resume_unwind` skips the panic hook, so nothing is printed.
struct Interrupted {
    iterations_done: i64,
}

pub fn infer(session: &mut Session, args: &Args, context: &mut Context) -> Result<Vec<Output>> {
    let name = args.text("name").unwrap_or(DEFAULT_NAME).to_string();
    run_inference(session, name, args.int("recycles"), None, context)
}

/// What an inference's result depends on besides a capture: the parameters' source, the model
/// configuration, the batch's source, the runtime options and the data settings. Captures are
/// reused only while it is unchanged (training, which changes weights in place, drops the
/// prediction instead).
pub fn inference_basis(session: &Session) -> String {
    let model = &session.model;
    format!(
        "{:?} | {:?} | {:?} | {:?} | {:?}",
        model.network.as_ref().map(|n| &n.source),
        model.config,
        session.inputs.batch.as_ref().map(|b| &b.source),
        model.runtime,
        session.data_config
    )
}

/// Runs the network on the session's batch as `infer` does, recording `capture` when given
/// (`model::capture`), and keeps the prediction (with what was captured) under `name`.
pub fn run_inference(
    session: &mut Session,
    name: String,
    recycles: Option<i64>,
    capture: Option<CaptureRequest>,
    context: &mut Context,
) -> Result<Vec<Output>> {
    let basis = inference_basis(session);
    if let Some(existing) = session.inputs.structures.get(&name) {
        let is_ours = session.model.prediction.as_ref().is_some_and(|p| p.structure == name);
        if !is_ours {
            bail!("'{name}' is a loaded structure ({}); choose another name=", existing.source.display());
        }
    }
    let batch = session.inputs.batch.as_ref().ok_or_else(|| anyhow!("no batch: run `features` first (from loaded inputs or a features file)"))?;
    let config = session.model.config.as_ref().ok_or_else(|| anyhow!("no model: choose one with `model PRESET` (e.g. `model tiny`)"))?;
    let network = session.model.network.as_ref().ok_or_else(|| anyhow!("no parameters: `params init` or `params load FILE` first"))?;
    // A batch's templates are ignored by a model that does not embed them (as in AlphaFold); a
    // model that embeds them needs them.
    if config.embeddings_and_evoformer.template.enabled && !batch.features.contains_key("template_aatype") {
        bail!(
            "model '{}' embeds templates but the batch has no template features: `model {} templates=false`, or a features file with templates",
            config.name,
            config.name
        );
    }
    let device = network.vs.device();
    let requested = recycles.unwrap_or(config.num_recycle);
    let (tensors, num_recycle) = batch_tensors(&batch.features, device, Some(requested), config.num_recycle)
        .with_context(|| format!("the batch from {}", batch.source))?;
    let copies = tensors.get("aatype").map_or(0, |t| t.size()[0]);
    if copies < num_recycle + 1 {
        bail!(
            "recycles={num_recycle} needs {} batch copies but the batch has {copies}: rebuild it with `features ... recycles={num_recycle}`",
            num_recycle + 1
        );
    }

    // Under DAP or BP the ranks shard the pass; they cannot stop between iterations on their own
    // (the others would wait in the next collective), so a sharded inference runs to its end.
    let sharding = session.parallel_groups().map(ParallelGroups::sharding).filter(ShardingGroups::is_sharded);
    let interrupt = session.interrupt_flag();
    let total = (num_recycle + 1) as u64;
    let mut iteration_seconds = Vec::new();
    let mut last = Instant::now();
    let runtime = session.model.runtime;
    let mut forward = || {
        tch::no_grad(|| {
            network.model.forward(&tensors, num_recycle, &runtime, |r| {
                let seconds = last.elapsed().as_secs_f64();
                last = Instant::now();
                iteration_seconds.push(seconds);
                context.progress("infer", r as u64 + 1, total, format!("iteration {} of {total}: {seconds:.2} s", r + 1));
                if r < num_recycle && sharding.is_none() && interrupt.load(Ordering::SeqCst) {
                    resume_unwind(Box::new(Interrupted { iterations_done: r + 1 }));
                }
            })
        })
    };
    let mut captured = None;
    let run = catch_unwind(AssertUnwindSafe(|| match (&capture, &sharding) {
        (Some(request), _) => {
            let (outputs, recorded) = with_capture(request, forward);
            captured = Some(SessionCapture { request: *request, captured: recorded, basis });
            outputs
        }
        (None, Some(groups)) => run_sharded(groups, forward).and_then(|(outputs, _)| outputs),
        (None, None) => forward(),
    }));
    let outputs = match run {
        Ok(outputs) => outputs.context("running the model")?,
        Err(payload) => match payload.downcast::<Interrupted>() {
            Ok(stopped) => bail!("interrupted after iteration {} of {total}; the session is unchanged", stopped.iterations_done),
            Err(other) => resume_unwind(other),
        },
    };
    let outputs: NamedOutputs = outputs.into_iter().map(|(k, t)| (k, t.to_device(Device::Cpu))).collect();
    let mut protein = predicted_protein(&tensors, &outputs)?;
    if let Some(numbering) = batch.numbered_like.as_ref().and_then(|n| session.inputs.structures.get(n)) {
        renumber_like(&mut protein, &numbering.protein);
    }
    let pae = predicted_pae(&outputs)?;
    let (mean_plddt, ptm) = confidence_summary(&outputs)?;
    let num_residues = protein.len();
    let source = PathBuf::from(format!("infer ({}, {})", config.name, network.source));

    session.inputs.structures.insert(name.clone(), Structure { source, protein, pae });
    let total_seconds: f64 = iteration_seconds.iter().sum();
    let rows = vec![
        vec!["structure".to_string(), name.clone()],
        vec!["residues".to_string(), num_residues.to_string()],
        vec!["recycles".to_string(), num_recycle.to_string()],
        vec!["mean pLDDT".to_string(), format!("{mean_plddt:.2}")],
        vec!["pTM".to_string(), ptm.map_or_else(|| "-".to_string(), |p| format!("{p:.4}"))],
        vec!["s per iteration".to_string(), format!("{:.3}", total_seconds / total as f64)],
        vec!["total s".to_string(), format!("{total_seconds:.3}")],
    ];
    session.model.prediction =
        Some(Prediction { structure: name, outputs, num_recycle, mean_plddt, ptm, iteration_seconds, capture: captured });
    Ok(vec![Output::table(&["result", "value"], rows)])
}

/// Gives a prediction made from `template`'s sequence that structure's chain and residue
/// numbers, so that `eval` pairs their residues.
fn renumber_like(protein: &mut Protein, template: &Protein) {
    if template.len() != protein.len() {
        return;
    }
    protein.residue_index = template.residue_index.clone();
    protein.insertion_code = template.insertion_code.clone();
    protein.chain_index = template.chain_index.clone();
    protein.chain_ids = template.chain_ids.clone();
}

/// The outputs of the last prediction, or the error every consumer gives without one.
pub fn prediction(session: &Session) -> Result<&Prediction> {
    session.model.prediction.as_ref().ok_or_else(|| anyhow!("no prediction yet: run `infer` first"))
}

/// Output arrays with their shapes and types, for `show outputs`.
pub fn outputs_table(session: &Session) -> Result<Output> {
    let prediction = prediction(session)?;
    let rows = prediction
        .outputs
        .iter()
        .map(|(name, t)| vec![name.clone(), format!("{:?}", t.size()), format!("{:?}", t.kind())])
        .collect();
    Ok(Output::table(&["output", "shape", "dtype"], rows))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    const DEMO_PDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb");

    /// A session with the demo protein's single-sequence batch (2 copies) and a tiny random model.
    pub(crate) fn ready_session() -> Session {
        let mut session = Session::new();
        let setup = format!("load {DEMO_PDB} name=native chain=A; features from=native recycles=1; model tiny templates=false; params init seed=2");
        session.execute(&setup).unwrap_or_else(|(_, e)| panic!("{e}"));
        session
    }

    #[test]
    fn infer_reports_each_iteration_and_stores_outputs_and_structure() {
        let mut session = ready_session();
        let mut reports = Vec::new();
        let outputs = session.execute_streaming("infer", &mut |o| reports.push(o.clone())).unwrap();
        let done: Vec<(u64, u64)> = reports
            .iter()
            .map(|r| match r {
                Output::Progress { done, total, .. } => (*done, *total),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(done, [(1, 2), (2, 2)]);
        let table = outputs[0].to_text();
        assert!(table.contains("residues         70") && table.contains("recycles         1"), "{table}");
        let prediction = session.model().prediction.as_ref().unwrap();
        assert_eq!(prediction.iteration_seconds.len(), 2);
        assert_eq!(prediction.outputs["plddt"].size(), [70]);
        let structure = session.inputs().structure(DEFAULT_NAME).unwrap();
        let native = session.inputs().structure("native").unwrap();
        assert_eq!(structure.protein.residue_index, native.protein.residue_index);
        assert_eq!(structure.pae.as_ref().map(|p| p.num_res), Some(70));
        let shown = session.execute("show outputs").unwrap()[0].to_text();
        assert!(shown.contains("distogram/logits") && shown.contains("[70, 70, 64]"), "{shown}");
        session.execute("eval prediction native").unwrap();

        let id_of = |report: &Output| match report {
            Output::Progress { id, .. } => id.clone(),
            other => panic!("unexpected {other:?}"),
        };
        let mut again = Vec::new();
        session.execute_streaming("infer recycles=0", &mut |o| again.push(id_of(o))).unwrap();
        assert_eq!(id_of(&reports[0]), id_of(&reports[1]), "one id per invocation");
        assert_ne!(again[0], id_of(&reports[0]), "a new invocation has a new id");

        session.execute(&format!("load {DEMO_PDB} name={DEFAULT_NAME}")).unwrap();
        assert!(session.model().prediction.is_none(), "outputs outlived the structure they belong to");
    }

    /// The session's path (model overrides, DeepMind's parameter file, a processed batch file,
    /// `infer`) reproduces DeepMind's AlphaFold 2.0.0 on the `model_1_ptm_small` reference case
    /// (tests/reference/make_reference.py: 2 Evoformer blocks, 1 extra-MSA block, 2 recycles) to
    /// the tolerance tests/parity_alphafold.rs holds the network to: pLDDT within 1e-4 of the
    /// reference's standard deviation, pTM within 1e-4 relative.
    #[test]
    fn the_session_reproduces_alphafold_on_the_small_reference_case() {
        let Some(dir) = crate::testing::reference_case("model_1_ptm_small") else { return };
        let mut session = Session::new();
        let line = format!(
            "model model_1_ptm evoformer_num_block=2 extra_msa_num_block=1 num_recycle=2; params load {}; features {}; infer",
            dir.join("params.npz").display(),
            dir.join("inputs.npz").display()
        );
        session.execute(&line).unwrap_or_else(|(_, e)| panic!("{e}"));
        let reference = crate::data::npz::read_npz(&dir.join("outputs.npz")).unwrap();
        let want = reference["plddt"].to_f32_vec().unwrap();
        let prediction = session.model().prediction.as_ref().unwrap();
        let got = crate::predict::output_f32(&prediction.outputs, "plddt").unwrap();
        assert_eq!(got.len(), want.len());
        let mean = want.iter().map(|&v| v as f64).sum::<f64>() / want.len() as f64;
        let std = (want.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / want.len() as f64).sqrt();
        let worst = got.iter().zip(&want).map(|(a, b)| (a - b).abs() as f64).fold(0.0, f64::max);
        assert!(worst <= 1e-4 * std.max(1e-12), "pLDDT differs by {worst} (reference std {std})");
        let want_ptm = reference["ptm"].to_f32_vec().unwrap()[0] as f64;
        let got_ptm = prediction.ptm.unwrap();
        assert!((got_ptm - want_ptm).abs() <= 1e-4 * want_ptm.abs(), "pTM {got_ptm} vs {want_ptm}");
    }

    #[test]
    fn recycles_default_to_the_models_and_are_bounded_by_the_batch() {
        let mut session = ready_session();
        session.execute("model tiny templates=false num_recycle=0; params init").unwrap();
        session.execute("infer").unwrap();
        assert_eq!(session.model().prediction.as_ref().unwrap().iteration_seconds.len(), 1);
        session.execute("infer recycles=1").unwrap();
        assert_eq!(session.model().prediction.as_ref().unwrap().num_recycle, 1);
    }

    #[test]
    fn an_interrupt_between_iterations_leaves_the_session_unchanged() {
        let mut session = ready_session();
        let flag = session.interrupt_flag();
        let (_, error) = session.execute_streaming("infer", &mut |_| flag.store(true, Ordering::SeqCst)).unwrap_err();
        assert!(error.to_string().contains("interrupted after iteration 1 of 2"), "{error}");
        assert!(session.model().prediction.is_none());
        assert!(session.inputs().structure(DEFAULT_NAME).is_err());
    }

    #[test]
    fn infer_names_what_is_missing_or_inconsistent() {
        let mut session = Session::new();
        let error = |session: &mut Session, line: &str| session.execute(line).unwrap_err().1.to_string();
        assert!(error(&mut session, "infer").contains("no batch: run `features` first"));
        session.execute(&format!("load {DEMO_PDB} name=native; features from=native recycles=1")).unwrap();
        assert!(error(&mut session, "infer").contains("no model"));
        session.execute("model tiny").unwrap();
        assert!(error(&mut session, "infer").contains("no parameters"));
        session.execute("params init").unwrap();
        // A template-embedding model runs on a batch built without template hits: the pipeline
        // gives it AlphaFold's empty template set.
        session.execute("infer recycles=0 name=with_templates").unwrap();
        session.execute("model tiny templates=false; params init").unwrap();
        assert!(error(&mut session, "infer recycles=2").contains("needs 3 batch copies but the batch has 2"));
        assert!(error(&mut session, "infer name=native").contains("'native' is a loaded structure"));
        assert_eq!(session.model().prediction.as_ref().map(|p| p.structure.as_str()), Some("with_templates"));
    }
}
