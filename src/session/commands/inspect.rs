//! `inspect [WHAT] [module=M] [stack=S] [block=N] [head=H] [row=R|col=C] [recycle=R]`: look
//! inside the network for teaching. Alone it lists what the loaded model can record; with a
//! subject it runs `infer` with a capture (`model::capture`) — or reuses the last one when it
//! already holds what is asked — and summarises the recorded tensors: attention weights of one
//! module, block and row/column (Jumper et al. (2021) Suppl. Algs. 7, 8, 13, 14, 16), the pair
//! and MSA representations after each Evoformer block (Alg. 6), each recycling iteration's
//! change (Alg. 2), or the structure module's trajectory (Alg. 20). `plot` draws the same
//! captures without running the network again.
use super::inference::{inference_basis, run_inference, DEFAULT_NAME};
use crate::data::array::FeatureDict;
use crate::metrics::superposition::{superposed_rmsd, Vec3};
use crate::model::capture::{AttentionModule, AttentionRequest, CaptureRequest, Captured, Stack};
use crate::model::config::ModelConfig;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{anyhow, bail, ensure, Context as _, Result};
use tch::{Kind, Tensor};

/// What `inspect` (and `plot`'s network kinds) can look at.
pub const SUBJECTS: &[&str] = &["attention", "pair", "msa_rep", "recycles", "trajectory"];
/// `module=` values of `attention`.
pub const MODULES: &[&str] = &AttentionModule::NAMES;
/// `stack=` values of `attention`.
pub const STACKS: &[&str] = &Stack::NAMES;

/// A capture subject with its validated selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Subject {
    /// Attention weights of one module; `head` picks one head for details and plots.
    Attention { request: AttentionRequest, head: Option<i64> },
    /// Pair representation after each Evoformer block (or block `block`).
    Pair { block: Option<i64> },
    /// MSA representation after each Evoformer block (or block `block`).
    Msa { block: Option<i64> },
    Recycles,
    /// The structure module's frames after each layer.
    Structure,
}

impl Subject {
    /// The capture that records this subject from iteration `recycle`.
    fn request(&self, recycle: Option<i64>) -> CaptureRequest {
        let mut request = CaptureRequest { recycle, ..Default::default() };
        match self {
            Subject::Attention { request: attention, .. } => request.attention = Some(*attention),
            Subject::Pair { .. } | Subject::Msa { .. } => request.evoformer_blocks = true,
            Subject::Recycles => {
                request.recycles = true;
                request.recycle = None;
            }
            Subject::Structure => request.structure_layers = true,
        }
        request
    }
}

/// Sizes that bound the selections: the model's and the batch's.
struct Sizes {
    evoformer_blocks: i64,
    extra_msa_blocks: i64,
    /// `None` when the model embeds no templates.
    template_blocks: Option<i64>,
    structure_layers: i64,
    iterations: i64,
    /// `(N_res, N_seq including template rows, N_extra)` once a batch is built.
    batch: Option<(i64, i64, i64)>,
}

impl Sizes {
    fn of(session: &Session) -> Result<(Sizes, &ModelConfig)> {
        let config = session
            .model
            .config
            .as_ref()
            .ok_or_else(|| anyhow!("no model: choose one with `model PRESET` (e.g. `model tiny`)"))?;
        let e = &config.embeddings_and_evoformer;
        let shape = |name: &str| session.inputs.batch.as_ref().and_then(|b| copy_shape(&b.features, name));
        let batch = match (shape("aatype"), shape("msa_feat"), shape("extra_msa")) {
            (Some(aatype), Some(msa), Some(extra)) if aatype.len() == 1 && msa.len() == 3 && extra.len() == 2 => {
                let template_rows = match shape("template_aatype") {
                    Some(t) if e.template.enabled && e.template.embed_torsion_angles && t.len() == 2 => t[0] as i64,
                    _ => 0,
                };
                Some((aatype[0] as i64, msa[0] as i64 + template_rows, extra[0] as i64))
            }
            _ => None,
        };
        let iterations = session.model.prediction.as_ref().map_or(config.num_recycle, |p| p.num_recycle) + 1;
        let sizes = Sizes {
            evoformer_blocks: e.evoformer_num_block,
            extra_msa_blocks: e.extra_msa_stack_num_block,
            template_blocks: e.template.enabled.then_some(e.template.template_pair_stack.num_block),
            structure_layers: config.heads.structure_module.num_layer,
            iterations,
            batch,
        };
        Ok((sizes, config))
    }

    fn blocks(&self, stack: Stack) -> Result<i64> {
        match stack {
            Stack::Evoformer => Ok(self.evoformer_blocks),
            Stack::ExtraMsa => Ok(self.extra_msa_blocks),
            Stack::TemplatePair => self.template_blocks.ok_or_else(|| anyhow!("the model embeds no templates: stack=template needs a template model")),
        }
    }

    /// How many query rows/columns `module` has in `stack`, once a batch is built.
    fn queries(&self, module: AttentionModule, stack: Stack) -> Option<i64> {
        let (n_res, n_seq, n_extra) = self.batch?;
        Some(match (module, stack) {
            (AttentionModule::MsaRow, Stack::ExtraMsa) => n_extra,
            (AttentionModule::MsaRow, _) => n_seq,
            _ => n_res,
        })
    }
}

/// The shape of one batch copy of feature `name`: without the leading recycle axis that
/// processed batches carry (`aatype [R, N_res]`) and batches without it lack (`[N_res]`).
pub fn copy_shape(features: &FeatureDict, name: &str) -> Option<Vec<usize>> {
    let recycle_axis = features.get("aatype")?.shape.len() == 2;
    let shape = &features.get(name)?.shape;
    Some(if recycle_axis { shape.get(1..)?.to_vec() } else { shape.clone() })
}

fn heads(config: &ModelConfig, module: AttentionModule, stack: Stack) -> i64 {
    let e = &config.embeddings_and_evoformer;
    let t = &e.template.template_pair_stack;
    match (module, stack) {
        (AttentionModule::MsaRow, _) => e.evoformer.msa_row_attention_with_pair_bias.num_head,
        (AttentionModule::MsaColumn, _) => e.evoformer.msa_column_attention.num_head,
        (AttentionModule::TriangleStart, Stack::TemplatePair) => t.triangle_attention_starting_node.num_head,
        (AttentionModule::TriangleEnd, Stack::TemplatePair) => t.triangle_attention_ending_node.num_head,
        (AttentionModule::TriangleStart, _) => e.evoformer.triangle_attention_starting_node.num_head,
        (AttentionModule::TriangleEnd, _) => e.evoformer.triangle_attention_ending_node.num_head,
    }
}

fn in_range(key: &str, value: i64, count: i64, what: &str) -> Result<i64> {
    ensure!((0..count).contains(&value), "{key}={value} is out of range: {what} has {count} (0 to {})", count - 1);
    Ok(value)
}

fn parse_stack(name: &str) -> Result<Stack> {
    Stack::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(s, _)| *s)
        .ok_or_else(|| anyhow!("unknown stack '{name}'; expected one of {}", STACKS.join(", ")))
}

/// The subject `what` with the selection keys of `args`, validated against the model and batch;
/// returns it with the requested recycle.
pub fn subject(session: &Session, args: &Args, what: &str) -> Result<(Subject, Option<i64>)> {
    let (sizes, config) = Sizes::of(session)?;
    let attention_only = ["module", "stack", "head", "row", "col"];
    if what != "attention" {
        if let Some(key) = attention_only.iter().find(|k| args.contains(k)) {
            bail!("{key}= applies to `attention` only");
        }
    }
    if matches!(what, "recycles" | "trajectory") && args.contains("block") {
        bail!("block= applies to attention, pair and msa_rep");
    }
    let recycle = match args.int("recycle") {
        Some(_) if what == "recycles" => bail!("recycle= picks one iteration; `recycles` shows them all"),
        Some(r) => Some(in_range("recycle", r, sizes.iterations, "the inference's iterations")?),
        None => None,
    };
    let block_of = |stack: Stack| -> Result<Option<i64>> {
        let count = sizes.blocks(stack)?;
        args.int("block").map(|b| in_range("block", b, count, "the stack's blocks")).transpose()
    };
    let subject = match what {
        "attention" => {
            let module_name = args
                .text("module")
                .ok_or_else(|| anyhow!("attention needs module= (one of {})", MODULES.join(", ")))?;
            let module = AttentionModule::ALL
                .iter()
                .find(|(_, name)| *name == module_name)
                .map(|(m, _)| *m)
                .ok_or_else(|| anyhow!("unknown module '{module_name}'; expected one of {}", MODULES.join(", ")))?;
            let stack = parse_stack(args.text("stack").unwrap_or("evoformer"))?;
            ensure!(module.in_stack(stack), "the {} stack has no {module} attention", stack.name());
            let block = block_of(stack)?.unwrap_or(0);
            let other_key = if module.index_key() == "row" { "col" } else { "row" };
            ensure!(!args.contains(other_key), "module={module} selects a {} (use {}=)", module.index_key(), module.index_key());
            let index = match (args.int(module.index_key()), sizes.queries(module, stack)) {
                (Some(i), Some(count)) => Some(in_range(module.index_key(), i, count, "the batch")?),
                (Some(_), None) => bail!("no batch: run `features` first"),
                (None, _) => None,
            };
            let head = args
                .int("head")
                .map(|h| in_range("head", h, heads(config, module, stack), "the module's heads"))
                .transpose()?;
            Subject::Attention { request: AttentionRequest { stack, module, block, index }, head }
        }
        "pair" => Subject::Pair { block: block_of(Stack::Evoformer)? },
        "msa_rep" => Subject::Msa { block: block_of(Stack::Evoformer)? },
        "recycles" => Subject::Recycles,
        "trajectory" => Subject::Structure,
        other => bail!("unknown subject '{other}'; expected one of {}", SUBJECTS.join(", ")),
    };
    Ok((subject, recycle))
}

/// Whether `held` already recorded everything `wanted` asks for.
fn covers(held: &CaptureRequest, wanted: &CaptureRequest) -> bool {
    let per_iteration = wanted.attention.is_some() || wanted.evoformer_blocks || wanted.structure_layers;
    (!per_iteration || held.recycle == wanted.recycle)
        && (wanted.attention.is_none() || held.attention == wanted.attention)
        && (!wanted.evoformer_blocks || held.evoformer_blocks)
        && (!wanted.structure_layers || held.structure_layers)
        && (!wanted.recycles || held.recycles)
}

/// The captures of the session's prediction when they hold `subject` and the parameters, model,
/// batch and settings they came from are unchanged; otherwise runs `infer`
/// again (same structure name and recycles as the last prediction) recording it, together with
/// what the last capture held for the same iteration. Returns the captures and whether the
/// network ran.
pub fn captured<'s>(
    session: &'s mut Session,
    subject: &Subject,
    recycle: Option<i64>,
    context: &mut Context,
) -> Result<(&'s Captured, bool)> {
    let wanted = subject.request(recycle);
    let basis = inference_basis(session);
    let held = session.model.prediction.as_ref().and_then(|p| p.capture.as_ref()).filter(|c| c.basis == basis).map(|c| c.request);
    let ran = !held.is_some_and(|held| covers(&held, &wanted));
    if ran {
        let mut request = wanted;
        if let Some(held) = held.filter(|h| h.recycle == wanted.recycle) {
            request.attention = wanted.attention.or(held.attention);
            request.evoformer_blocks |= held.evoformer_blocks;
            request.structure_layers |= held.structure_layers;
            request.recycles |= held.recycles;
        }
        let prediction = session.model.prediction.as_ref();
        let name = prediction.map_or(DEFAULT_NAME.to_string(), |p| p.structure.clone());
        let recycles = prediction.map(|p| p.num_recycle);
        run_inference(session, name, recycles, Some(request), context)?;
    }
    let capture = session
        .model
        .prediction
        .as_ref()
        .and_then(|p| p.capture.as_ref())
        .context("the inference recorded nothing")?;
    Ok((&capture.captured, ran))
}

pub fn inspect(session: &mut Session, args: &Args, context: &mut Context) -> Result<Vec<Output>> {
    let Some(what) = args.text("what") else {
        if let Some(key) = ["module", "stack", "block", "head", "row", "col", "recycle"].iter().find(|k| args.contains(k)) {
            bail!("{key}= needs a subject: `inspect {} {key}=...`", SUBJECTS.join("|"));
        }
        return listing(session);
    };
    let (subject, recycle) = subject(session, args, what)?;
    let (captured, ran) = captured(session, &subject, recycle, context)?;
    let mut outputs = summary(captured, &subject, recycle)?;
    let source = if ran { "ran `infer` with this capture" } else { "reused the last inference's capture" };
    outputs.push(Output::Text(format!("({source}; `plot {what} ...` with the same keys draws it)")));
    Ok(outputs)
}

/// What the loaded model can record, with the ranges of every key.
fn listing(session: &Session) -> Result<Vec<Output>> {
    let (sizes, config) = Sizes::of(session)?;
    let range = |count: i64| if count > 0 { format!("0-{}", count - 1) } else { "none".to_string() };
    let queries = |module, stack| sizes.queries(module, stack).map_or_else(|| "(after `features`)".to_string(), range);
    let mut rows = Vec::new();
    for (module, name) in AttentionModule::ALL {
        for (stack, stack_name) in Stack::ALL {
            let Ok(blocks) = sizes.blocks(stack) else { continue };
            if !module.in_stack(stack) || blocks == 0 {
                continue;
            }
            rows.push(vec![
                format!("attention module={name}"),
                format!("stack={stack_name}"),
                format!("block={}", range(blocks)),
                format!("head={}", range(heads(config, module, stack))),
                format!("{}={}", module.index_key(), queries(module, stack)),
            ]);
        }
    }
    let blocks = format!("block={}", range(sizes.evoformer_blocks));
    rows.push(vec!["pair".into(), "stack=evoformer".into(), blocks.clone(), "-".into(), "-".into()]);
    rows.push(vec!["msa_rep".into(), "stack=evoformer".into(), blocks, "-".into(), "-".into()]);
    rows.push(vec!["recycles".into(), format!("{} iterations", sizes.iterations), "-".into(), "-".into(), "-".into()]);
    rows.push(vec![
        "trajectory".into(),
        format!("{} structure-module layers", sizes.structure_layers),
        "-".into(),
        "-".into(),
        "-".into(),
    ]);
    Ok(vec![
        Output::Text(format!(
            "Model '{}': what `inspect WHAT ...` and `plot WHAT ...` can record. recycle={} picks the iteration of attention, pair, msa and structure (default: the last).",
            config.name,
            range(sizes.iterations)
        )),
        Output::table(&["what", "where", "block", "head", "row / col"], rows),
    ])
}

/// `(mean, std, min, max)` of a tensor.
fn statistics(t: &Tensor) -> (f64, f64, f64, f64) {
    let t = t.to_kind(Kind::Float);
    (
        t.mean(Kind::Float).double_value(&[]),
        t.std(false).double_value(&[]),
        t.min().double_value(&[]),
        t.max().double_value(&[]),
    )
}

fn fmt(value: f64) -> String {
    format!("{value:.4}")
}

/// Root-mean-square of `a - b`.
fn rms_change(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).square().mean(Kind::Float).sqrt().double_value(&[])
}

fn module_explanation(module: AttentionModule) -> &'static str {
    match module {
        AttentionModule::MsaRow => "MSA row attention with pair bias (Jumper et al. 2021, Suppl. Alg. 7): within one sequence of the MSA, every residue i \
            attends to every residue j, and the pair representation adds a per-head bias b_ij: this is how the pair representation steers the MSA. \
            Weights [H, N_res, N_res]: query residue i (rows) to key residue j (columns); each row sums to 1.",
        AttentionModule::MsaColumn => "MSA column attention (Alg. 8): within one residue column, every sequence s attends to every sequence t, so \
            homologues exchange what they know about that position. Weights [H, N_seq, N_seq]: query sequence (rows) to key sequence (columns).",
        AttentionModule::TriangleStart => "Triangle attention around the starting node (Alg. 13): the pair edge ij attends to every edge ik that \
            shares its starting node i, biased by the third edge jk of the triangle ijk. Weights for one row i: [H, N_res (j), N_res (k)].",
        AttentionModule::TriangleEnd => "Triangle attention around the ending node (Alg. 14): the pair edge ij attends to every edge kj that shares \
            its ending node j, biased by the third edge ki. Weights for one column j: [H, N_res (i), N_res (k)].",
    }
}

/// The teaching summary of `subject` from `captured`.
pub fn summary(captured: &Captured, subject: &Subject, recycle: Option<i64>) -> Result<Vec<Output>> {
    let iteration = recycle.map_or_else(|| "the last iteration".to_string(), |r| format!("iteration {r}"));
    match subject {
        Subject::Attention { request, head } => attention_summary(captured, request, *head, &iteration),
        Subject::Pair { block } => block_summary(captured, *block, &iteration, true),
        Subject::Msa { block } => block_summary(captured, *block, &iteration, false),
        Subject::Recycles => recycles_summary(captured),
        Subject::Structure => structure_summary(captured, &iteration),
    }
}

/// The recorded attention `[H, Q, K]` of a capture, or why there is none.
pub fn attention_weights<'c>(captured: &'c Captured, request: &AttentionRequest) -> Result<&'c Tensor> {
    captured.attention.as_ref().ok_or_else(|| {
        anyhow!("no {} attention was recorded in block {}: the network did not run that module", request.module, request.block)
    })
}

fn attention_summary(captured: &Captured, request: &AttentionRequest, head: Option<i64>, iteration: &str) -> Result<Vec<Output>> {
    let weights = attention_weights(captured, request)?;
    let (h, q, k) = weights.size3().context("attention weights are [H, Q, K]")?;
    let selection = match request.index {
        Some(i) => format!("{} {i}", request.module.index_key()),
        None => format!("mean over every {}", request.module.index_key()),
    };
    let mut outputs = vec![Output::Text(format!(
        "{}\nRecorded: stack {}, block {}, {selection}, {iteration}: weights [{h}, {q}, {k}].",
        module_explanation(request.module),
        request.stack.name(),
        request.block
    ))];
    // Entropy per query, nats: ln K for uniform attention, 0 for attention on one key.
    let entropy = -(weights * weights.clamp_min(1e-12).log()).sum_dim_intlist(-1, false, Kind::Float);
    let uniform = (k as f64).ln();
    let heads: Vec<i64> = head.map_or_else(|| (0..h).collect(), |one| vec![one]);
    let mut rows = Vec::new();
    for &hd in &heads {
        let w = weights.get(hd);
        let received = w.mean_dim(0, false, Kind::Float);
        let (top_weights, top_keys) = received.topk(3.min(k), 0, true, true);
        let top_weights = Vec::<f32>::try_from(&top_weights)?;
        let top_keys = Vec::<i64>::try_from(&top_keys)?;
        let top = top_keys.iter().zip(&top_weights).map(|(key, w)| format!("{key} ({w:.3})")).collect::<Vec<_>>().join(", ");
        rows.push(vec![
            hd.to_string(),
            format!("{:.3}", entropy.get(hd).mean(Kind::Float).double_value(&[])),
            format!("{:.3}", w.max_dim(-1, false).0.mean(Kind::Float).double_value(&[])),
            top,
        ]);
    }
    outputs.push(Output::table(
        &["head", "mean entropy (nats)", "mean max weight", "most attended keys (mean weight)"],
        rows,
    ));
    let mut notes = format!(
        "Uniform attention over {k} keys has entropy {uniform:.3} nats; lower entropy means a head focuses on few keys."
    );
    if let Some(hd) = head {
        let (values, flat) = weights.get(hd).flatten(0, -1).topk(5.min(q * k), 0, true, true);
        let values = Vec::<f32>::try_from(&values)?;
        let flat = Vec::<i64>::try_from(&flat)?;
        let pairs: Vec<Vec<String>> =
            flat.iter().zip(&values).map(|(f, w)| vec![(f / k).to_string(), (f % k).to_string(), format!("{w:.4}")]).collect();
        outputs.push(Output::table(&["query", "key", "weight"], pairs));
        notes.push_str(&format!(" The table above lists head {hd}'s strongest query-to-key weights."));
    }
    outputs.push(Output::Text(notes));
    Ok(outputs)
}

fn block_summary(captured: &Captured, block: Option<i64>, iteration: &str, pair: bool) -> Result<Vec<Output>> {
    let blocks = &captured.evoformer_blocks;
    ensure!(!blocks.is_empty(), "no Evoformer block outputs were recorded");
    let pick = |b: &crate::model::capture::BlockCapture| if pair { b.pair.shallow_clone() } else { b.msa.shallow_clone() };
    let mut rows = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        if block.is_some_and(|chosen| chosen != i as i64) {
            continue;
        }
        let t = pick(b);
        let (mean, std, min, max) = statistics(&t);
        let norm = t.square().sum_dim_intlist(-1, false, Kind::Float).sqrt().mean(Kind::Float).double_value(&[]);
        let change = match i.checked_sub(1).and_then(|p| blocks.get(p)) {
            Some(previous) => fmt(rms_change(&t, &pick(previous))),
            None => "-".to_string(),
        };
        let mut row = vec![i.to_string(), format!("{:?}", t.size()), fmt(mean), fmt(std), fmt(min), fmt(max), fmt(norm), change];
        if !pair {
            let first = t.get(0).square().sum_dim_intlist(-1, false, Kind::Float).sqrt().mean(Kind::Float).double_value(&[]);
            row.push(fmt(first));
        }
        rows.push(row);
    }
    let explanation = if pair {
        format!(
            "The pair representation z [N_res, N_res, c_z] after each Evoformer block (Jumper et al. 2021, Suppl. Alg. 6), {iteration}. \
             Each block adds the outer product mean of the MSA, two triangle multiplicative updates, two triangle attentions and a transition; \
             the channel norm ‖z_ij‖ shows where the network has written the most about a residue pair (`plot pair` draws it)."
        )
    } else {
        format!(
            "The MSA representation m [N_seq, N_res, c_m] after each Evoformer block (Alg. 6), {iteration}. Its first row becomes the single \
             representation s = Linear(m_1i) that feeds the structure module (`plot msa_rep` draws channel norms)."
        )
    };
    let mut headers = vec!["block", "shape", "mean", "std", "min", "max", "mean channel norm", "RMS change from previous block"];
    if !pair {
        headers.push("first row (single) mean norm");
    }
    Ok(vec![Output::Text(explanation), Output::table(&headers, rows)])
}

/// Per recycling iteration: RMS change of the pair and single representations and Cα RMSD
/// (after optimal superposition, Å) from the previous iteration, and Cα RMSD to the last.
#[derive(Debug, Clone, PartialEq)]
pub struct RecycleChange {
    pub iteration: usize,
    pub pair_rms_change: Option<f64>,
    pub single_rms_change: Option<f64>,
    pub ca_rmsd_to_previous: Option<f64>,
    pub ca_rmsd_to_last: f64,
}

/// `[N, 3]` positions as points.
pub fn points(t: &Tensor) -> Result<Vec<Vec3>> {
    let flat = Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1))?;
    ensure!(flat.len() % 3 == 0, "positions must be [N, 3], got {:?}", t.size());
    Ok(flat.chunks(3).map(|c| [c[0] as f64, c[1] as f64, c[2] as f64]).collect())
}

pub fn recycle_changes(captured: &Captured) -> Result<Vec<RecycleChange>> {
    let recycles = &captured.recycles;
    let last = recycles.last().context("no recycling iterations were recorded")?;
    let last_ca = points(&last.ca_positions)?;
    let mut changes = Vec::new();
    for (i, r) in recycles.iter().enumerate() {
        let ca = points(&r.ca_positions)?;
        let previous = i.checked_sub(1).and_then(|p| recycles.get(p));
        changes.push(RecycleChange {
            iteration: i,
            pair_rms_change: previous.map(|p| rms_change(&r.pair, &p.pair)),
            single_rms_change: previous.map(|p| rms_change(&r.single, &p.single)),
            ca_rmsd_to_previous: previous.map(|p| points(&p.ca_positions).map(|prev| superposed_rmsd(&ca, &prev).0)).transpose()?,
            ca_rmsd_to_last: superposed_rmsd(&ca, &last_ca).0,
        });
    }
    Ok(changes)
}

fn recycles_summary(captured: &Captured) -> Result<Vec<Output>> {
    let optional = |v: Option<f64>| v.map_or_else(|| "-".to_string(), fmt);
    let rows = recycle_changes(captured)?
        .into_iter()
        .map(|c| {
            vec![
                c.iteration.to_string(),
                optional(c.pair_rms_change),
                optional(c.single_rms_change),
                optional(c.ca_rmsd_to_previous),
                fmt(c.ca_rmsd_to_last),
            ]
        })
        .collect();
    Ok(vec![
        Output::Text(
            "Recycling (Jumper et al. 2021, Suppl. Alg. 2): each iteration re-embeds the previous iteration's pair representation, first MSA row \
             and Cα-Cα distances, then runs the whole trunk and structure module again. Shrinking changes mean the prediction has converged \
             (`plot recycles` draws them)."
                .to_string(),
        ),
        Output::table(
            &["iteration", "pair RMS change", "single RMS change", "Cα RMSD to previous (Å)", "Cα RMSD to last (Å)"],
            rows,
        ),
    ])
}

/// Radius of gyration of points, Å.
fn radius_of_gyration(points: &[Vec3]) -> f64 {
    let n = points.len().max(1) as f64;
    let centre: Vec3 = [0, 1, 2].map(|d| points.iter().map(|p| p[d]).sum::<f64>() / n);
    (points.iter().map(|p| (0..3).map(|d| (p[d] - centre[d]).powi(2)).sum::<f64>()).sum::<f64>() / n).sqrt()
}

fn structure_summary(captured: &Captured, iteration: &str) -> Result<Vec<Output>> {
    let layers = captured.structure_layers.as_ref().context("no structure-module layers were recorded")?;
    let count = layers.ca_positions.size()[0];
    let all: Vec<Vec<Vec3>> = (0..count).map(|l| points(&layers.ca_positions.get(l))).collect::<Result<_>>()?;
    let last = all.last().context("the structure module ran no layer")?;
    let mut rows = Vec::new();
    for (l, ca) in all.iter().enumerate() {
        let moved = match l.checked_sub(1).and_then(|p| all.get(p)) {
            Some(previous) => {
                let total: f64 = ca.iter().zip(previous).map(|(a, b)| (0..3).map(|d| (a[d] - b[d]).powi(2)).sum::<f64>().sqrt()).sum();
                fmt(total / ca.len().max(1) as f64)
            }
            None => "-".to_string(),
        };
        rows.push(vec![(l + 1).to_string(), fmt(superposed_rmsd(ca, last).0), fmt(radius_of_gyration(ca)), moved]);
    }
    Ok(vec![
        Output::Text(format!(
            "The structure module (Jumper et al. 2021, Suppl. Alg. 20), {iteration}: every residue starts as a frame at the origin \
             (the 'black hole' initialisation); each of its {count} layers (shared weights) runs invariant point attention and moves every \
             frame. Frames [{count}, N_res, 7] (quaternion, translation); Cα is each frame's origin (`plot trajectory` draws the layers)."
        )),
        Output::table(&["layer", "Cα RMSD to final layer (Å)", "radius of gyration (Å)", "mean Cα displacement from previous layer (Å)"], rows),
    ])
}

#[cfg(test)]
mod tests {
    use crate::session::commands::inference::tests::ready_session;
    use crate::session::output::Output;

    fn text(outputs: &[Output]) -> String {
        outputs.iter().map(Output::to_text).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn inspect_lists_what_the_model_records() {
        let mut session = ready_session();
        let listing = text(&session.execute("inspect").unwrap()).split_whitespace().collect::<Vec<_>>().join(" ");
        // tiny: 2 Evoformer blocks, 1 extra-MSA block, 2 heads, no templates (templates=false);
        // the demo protein 1a8o has 70 residues; the batch has 2 copies (recycles=1).
        assert!(listing.contains("attention module=msa_row stack=evoformer block=0-1 head=0-1 row=0-"), "{listing}");
        assert!(listing.contains("attention module=msa_col stack=evoformer block=0-1 head=0-1 col=0-69"), "{listing}");
        assert!(listing.contains("attention module=tri_end stack=extra_msa block=0-0"), "{listing}");
        assert!(!listing.contains("stack=template"), "{listing}");
        assert!(listing.contains("recycles 2 iterations"), "{listing}");
    }

    #[test]
    fn inspect_summarises_captures_and_reuses_them() {
        let mut session = ready_session();
        let out = text(&session.execute("inspect attention module=tri_start block=1 head=1 row=5").unwrap());
        assert!(out.contains("Triangle attention around the starting node"), "{out}");
        assert!(out.contains("weights [2, 70, 70]"), "{out}");
        assert!(out.contains("ran `infer` with this capture"), "{out}");
        assert!(out.contains("query  key  weight"), "{out}");
        let again = text(&session.execute("inspect attention module=tri_start block=1 head=0 row=5").unwrap());
        assert!(again.contains("reused the last inference's capture"), "{again}");
        let pair = text(&session.execute("inspect pair").unwrap());
        assert!(pair.contains("[70, 70, ") && pair.contains("RMS change from previous block"), "{pair}");
        let msa = text(&session.execute("inspect msa_rep block=1").unwrap());
        assert!(msa.contains("first row (single) mean norm"), "{msa}");
        // The pair capture kept the attention request, so this reuses it.
        let tri = text(&session.execute("inspect attention module=tri_start block=1 row=5").unwrap());
        assert!(tri.contains("reused"), "{tri}");
        let recycles = text(&session.execute("inspect recycles").unwrap());
        assert!(recycles.contains("Cα RMSD to previous (Å)"), "{recycles}");
        assert_eq!(session.model().prediction.as_ref().unwrap().capture.as_ref().unwrap().captured.recycles.len(), 2);
        let structure = text(&session.execute("inspect trajectory recycle=0").unwrap());
        assert!(structure.contains("iteration 0") && structure.contains("radius of gyration"), "{structure}");
        session.execute("params init seed=5").unwrap();
        let changed = text(&session.execute("inspect trajectory recycle=0").unwrap());
        assert!(changed.contains("ran `infer` with this capture"), "new parameters, new capture: {changed}");
        let column = text(&session.execute("inspect attention module=msa_col col=3").unwrap());
        assert!(column.contains("MSA column attention") && column.contains("col 3"), "{column}");
    }

    #[test]
    fn bad_inspect_requests_name_the_problem() {
        let mut session = ready_session();
        for (line, cause) in [
            ("inspect attention", "attention needs module="),
            ("inspect attention module=msa_row row=100000", "row=100000 is out of range"),
            ("inspect attention module=tri_end row=1", "module=tri_end selects a col"),
            ("inspect attention module=msa_col stack=extra_msa", "the extra_msa stack has no msa_col attention"),
            ("inspect attention module=tri_start stack=template", "the model embeds no templates"),
            ("inspect attention module=msa_row block=2", "block=2 is out of range"),
            ("inspect attention module=msa_row head=2", "head=2 is out of range"),
            ("inspect pair head=0", "head= applies to `attention` only"),
            ("inspect recycles recycle=1", "`recycles` shows them all"),
            ("inspect trajectory recycle=2", "recycle=2 is out of range"),
            ("inspect block=1", "block= needs a subject"),
        ] {
            let (_, error) = session.execute(line).unwrap_err();
            assert!(error.to_string().contains(cause), "{line}: {error}");
        }
        let (_, error) = crate::session::Session::new().execute("inspect").unwrap_err();
        assert!(error.to_string().contains("no model"), "{error}");
    }
}
