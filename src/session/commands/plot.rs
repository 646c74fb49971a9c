//! `plot KIND [key=value ...]`: figures of the session's data through [`crate::plot`] — the
//! last prediction's pLDDT, PAE, expected distance map, contact map (Jumper et al. (2021) Suppl.
//! 1.9.8), predicted against native Cα distances and its pLDDT-coloured Cα trace; a loaded MSA's
//! coverage or depth and the batch's template coverage; the inside of the network recorded as
//! `inspect` records it (`model::capture`: attention maps, pair and MSA representations per
//! block, recycling changes, the structure-module trajectory); the training run's curves; and
//! two structures compared. The figure is returned as SVG; `path=` writes it as `.svg` or `.png`.
use super::inference::prediction;
use super::inspect::{self, Subject};
use crate::model::alphafold::NamedOutputs;
use crate::model::capture::{AttentionModule, BlockCapture, Captured};
use crate::plot::network::{Panel, Scale};
use crate::plot::structure::Vec3;
use crate::plot::templates::TemplateRow;
use crate::plot::{self, Figure};
use crate::predict::output_f32;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{anyhow, bail, ensure, Context as _, Result};
use std::path::Path;
use tch::{Kind, Tensor};

/// The kinds of figure `plot` draws.
pub const KINDS: &[&str] = &[
    "plddt",
    "pae",
    "distogram",
    "contacts",
    "distances",
    "structure",
    "msa",
    "depth",
    "templates",
    "attention",
    "pair",
    "pair_pc",
    "msa_rep",
    "recycles",
    "trajectory",
    "loss",
    "lr",
    "grad_norm",
    "lddt",
    "step_time",
    "compare_plddt",
    "compare_pae",
];

/// The keys that only some kinds take, with those kinds.
const KEY_KINDS: &[(&str, &[&str])] = &[
    ("native", &["contacts", "distances"]),
    ("msa", &["msa", "depth"]),
    ("module", &["attention"]),
    ("stack", &["attention"]),
    ("head", &["attention"]),
    ("row", &["attention"]),
    ("col", &["attention"]),
    ("block", &["attention", "pair", "pair_pc", "msa_rep"]),
    ("recycle", &["attention", "pair", "pair_pc", "msa_rep", "trajectory"]),
    ("log", &["loss", "lr", "grad_norm"]),
    ("a", &["compare_plddt", "compare_pae"]),
    ("b", &["compare_plddt", "compare_pae"]),
];

/// Row-major `values` (`[n * n]`) as `n` rows.
fn square(values: Vec<f32>, what: &str) -> Result<Vec<Vec<f32>>> {
    let n = (values.len() as f64).sqrt().round() as usize;
    ensure!(n > 0 && n * n == values.len(), "{what}: {} values do not form a square matrix", values.len());
    Ok(values.chunks(n).map(<[f32]>::to_vec).collect())
}

fn floats(t: &Tensor) -> Result<Vec<f32>> {
    Ok(Vec::<f32>::try_from(t.to_kind(Kind::Float).flatten(0, -1))?)
}

fn figure(session: &mut Session, args: &Args, kind: &str, context: &mut Context) -> Result<Figure> {
    for (key, kinds) in KEY_KINDS {
        if args.contains(key) && !kinds.contains(&kind) {
            bail!("{key}= applies to `plot {}` only", kinds.join("`, `plot "));
        }
    }
    match kind {
        "plddt" => plot::plddt(&output_f32(&prediction(session)?.outputs, "plddt")?),
        "pae" => {
            let outputs = &prediction(session)?.outputs;
            if !outputs.contains_key("predicted_aligned_error") {
                bail!("the prediction has no PAE: its model lacks the PAE head (use a _ptm preset, or `tiny`)");
            }
            let pae = square(output_f32(outputs, "predicted_aligned_error")?, "PAE")?;
            let max_pae = output_f32(outputs, "max_predicted_aligned_error")?.first().copied().unwrap_or(0.0);
            plot::pae(&pae, max_pae)
        }
        "distogram" | "contacts" => {
            let outputs = &prediction(session)?.outputs;
            let logits = output_f32(outputs, "distogram/logits")?;
            let edges = output_f32(outputs, "distogram/bin_edges")?;
            if kind == "distogram" {
                return plot::distance_map(&plot::expected_distances(&logits, &edges)?);
            }
            let probabilities = plot::contact_probabilities(&logits, &edges)?;
            let native = match args.text("native") {
                Some(name) => {
                    let protein = &session.inputs.structure(name)?.protein;
                    ensure!(
                        protein.len() == probabilities.len(),
                        "native '{name}' has {} residues but the prediction has {}",
                        protein.len(),
                        probabilities.len()
                    );
                    Some(plot::native_contacts(protein)?)
                }
                None => None,
            };
            plot::contact_map(&probabilities, native.as_deref())
        }
        "distances" => distances(session, args),
        "structure" => {
            let outputs = &prediction(session)?.outputs;
            let ca = predicted_ca(outputs)?;
            plot::structure::plddt_structure(&ca, &output_f32(outputs, "plddt")?)
        }
        "msa" | "depth" => {
            let msas = &session.inputs.msas;
            let loaded = match args.text("msa") {
                Some(name) => msas.iter().find(|m| m.name == name).ok_or_else(|| {
                    anyhow!("no MSA '{name}'; loaded: {}", msas.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", "))
                })?,
                None => msas.first().ok_or_else(|| anyhow!("no MSA loaded: `load FILE.a3m` (or .sto) first"))?,
            };
            if kind == "msa" {
                plot::msa_coverage(&loaded.msa)
            } else {
                plot::msa_depth(&loaded.msa)
            }
        }
        "templates" => templates(session),
        "attention" | "pair" | "pair_pc" | "msa_rep" | "recycles" | "trajectory" => network(session, args, kind, context),
        "loss" | "lr" | "grad_norm" | "lddt" | "step_time" => training(session, args, kind),
        "compare_plddt" | "compare_pae" => compare(session, args, kind),
        other => bail!("unknown plot '{other}'; expected one of {}", KINDS.join(", ")),
    }
}

/// The prediction's Cα positions: atom37 index 1 of `final_atom_positions [N_res, 37, 3]`.
fn predicted_ca(outputs: &NamedOutputs) -> Result<Vec<Vec3>> {
    let name = "structure_module/final_atom_positions";
    let positions = outputs.get(name).with_context(|| format!("the model gave no '{name}'"))?;
    ensure!(positions.dim() == 3, "'{name}' must be [N_res, 37, 3], got {:?}", positions.size());
    inspect::points(&positions.select(-2, 1))
}

fn distances(session: &Session, args: &Args) -> Result<Figure> {
    let name = args.text("native").ok_or_else(|| anyhow!("distances needs native=NAME, a loaded structure"))?;
    let predicted = predicted_ca(&prediction(session)?.outputs)?;
    let native = &session.inputs.structure(name)?.protein;
    ensure!(
        native.len() == predicted.len(),
        "native '{name}' has {} residues but the prediction has {}",
        native.len(),
        predicted.len()
    );
    // Residues whose native Cα was observed.
    let (kept_predicted, kept_native): (Vec<Vec3>, Vec<Vec3>) = (0..native.len())
        .filter(|&i| native.atom_mask[i][1] > 0.0)
        .map(|i| (predicted[i], native.atom_positions[i][1].map(f64::from)))
        .unzip();
    plot::structure::distance_scatter(&kept_predicted, &kept_native)
}

fn templates(session: &Session) -> Result<Figure> {
    let batch = session.inputs.batch.as_ref().ok_or_else(|| anyhow!("no batch: run `features` first"))?;
    let feature = |name: &str| batch.features.get(name).ok_or_else(|| anyhow!("the batch has no templates (no '{name}')"));
    let (aatype, template_aatype, masks) = (feature("aatype")?, feature("template_aatype")?, feature("template_all_atom_masks")?);
    let shape = |name: &str| inspect::copy_shape(&batch.features, name).unwrap_or_default();
    // One copy: aatype [N], template_aatype [T, N], template_all_atom_masks [T, N, 37]; the
    // values used are the first copy's (the leading ones in row-major order).
    let (n, t) = match (shape("aatype").as_slice(), shape("template_aatype").as_slice(), shape("template_all_atom_masks").as_slice()) {
        ([n], [t, n2], [t2, n3, 37]) if n == n2 && n == n3 && t == t2 => (*n, *t),
        (a, b, c) => bail!("template features of unexpected shapes: aatype {a:?}, template_aatype {b:?}, template_all_atom_masks {c:?}"),
    };
    let query = aatype.to_i64_vec()?[..n].to_vec();
    let residues = template_aatype.to_i64_vec()?;
    let mask = masks.to_f32_vec()?;
    // Padding templates (an empty search padded to the preset's count) have template_mask 0.
    let real = feature("template_mask")?.to_f32_vec()?;
    let rows: Vec<TemplateRow> = (0..t)
        .filter(|&k| real.get(k).is_some_and(|&m| m > 0.0))
        .map(|k| TemplateRow {
            aatype: residues[k * n..(k + 1) * n].to_vec(),
            covered: (0..n).map(|i| mask[(k * n + i) * 37 + 1] > 0.0).collect(),
        })
        .collect();
    plot::templates::template_coverage(&query, &rows)
}

fn attention_axes(module: AttentionModule) -> (&'static str, &'static str) {
    match module {
        AttentionModule::MsaRow => ("Key residue j", "Query residue i"),
        AttentionModule::MsaColumn => ("Key sequence t", "Query sequence s"),
        AttentionModule::TriangleStart => ("Key edge ik: residue k", "Query edge ij: residue j"),
        AttentionModule::TriangleEnd => ("Key edge kj: residue k", "Query edge ij: residue i"),
    }
}

fn network(session: &mut Session, args: &Args, kind: &str, context: &mut Context) -> Result<Figure> {
    let what = match kind {
        "pair" | "pair_pc" => "pair",
        other => other,
    };
    let (subject, recycle) = inspect::subject(session, args, what)?;
    let (captured, _) = inspect::captured(session, &subject, recycle, context)?;
    let iteration = recycle.map_or_else(String::new, |r| format!(", iteration {r}"));
    match subject {
        Subject::Attention { request, head } => {
            let weights = inspect::attention_weights(captured, &request)?;
            let (_, q, k) = weights.size3().context("attention weights are [H, Q, K]")?;
            let head = head.unwrap_or(0);
            let selection = match request.index {
                Some(i) => format!("{} {i}", request.module.index_key()),
                None => format!("mean over {}s", request.module.index_key()),
            };
            let title = format!("{}, {} block {}, head {head}, {selection}{iteration}", request.module.title(), request.stack.name(), request.block);
            plot::network::attention_map(&title, &floats(&weights.get(head))?, (q as usize, k as usize), attention_axes(request.module))
        }
        Subject::Pair { block } if kind == "pair" => {
            let panels = block_panels(captured, block, |b| (channel_norm(&b.pair), String::new()))?;
            let n = captured.evoformer_blocks[0].pair.size()[0] as usize;
            plot::network::matrices(&format!("Pair representation channel norm{iteration}"), &panels, (n, n), ("Residue j", "Residue i"), Scale::FromZero, "‖z_ij‖ (channel norm)")
        }
        Subject::Pair { block } => {
            let panels = block_panels(captured, block, |b| {
                let (scores, explained) = first_principal_component(&b.pair);
                (scores, format!(", PC1 {:.0}% of variance", 100.0 * explained))
            })?;
            let n = captured.evoformer_blocks[0].pair.size()[0] as usize;
            plot::network::matrices(&format!("Pair representation, first principal component{iteration}"), &panels, (n, n), ("Residue j", "Residue i"), Scale::Symmetric, "PC1 score")
        }
        Subject::Msa { block } => {
            let panels = block_panels(captured, block, |b| (channel_norm(&b.msa), String::new()))?;
            let size = captured.evoformer_blocks[0].msa.size();
            plot::network::matrices(&format!("MSA representation channel norm{iteration}"), &panels, (size[0] as usize, size[1] as usize), ("Residue", "MSA row (sequence)"), Scale::FromZero, "‖m_si‖ (channel norm)")
        }
        Subject::Recycles => {
            let changes: Vec<(usize, f64, f64, f64)> = inspect::recycle_changes(captured)?
                .into_iter()
                .filter_map(|c| Some((c.iteration, c.pair_rms_change?, c.single_rms_change?, c.ca_rmsd_to_previous?)))
                .collect();
            plot::network::recycle_changes(&changes)
        }
        Subject::Structure => {
            let layers = captured.structure_layers.as_ref().context("no structure-module layers were recorded")?;
            let count = layers.ca_positions.size()[0];
            let traces = (0..count).map(|l| inspect::points(&layers.ca_positions.get(l))).collect::<Result<Vec<_>>>()?;
            plot::structure::trajectory(&traces)
        }
    }
}

/// One panel per recorded Evoformer block (or only `block`): `map` gives its `[rows, cols]`
/// values, `note` extends its caption.
fn block_panels(
    captured: &Captured,
    block: Option<i64>,
    map: impl Fn(&BlockCapture) -> (Tensor, String),
) -> Result<Vec<Panel>> {
    ensure!(!captured.evoformer_blocks.is_empty(), "no Evoformer block outputs were recorded");
    captured
        .evoformer_blocks
        .iter()
        .enumerate()
        .filter(|(i, _)| block.is_none_or(|b| b == *i as i64))
        .map(|(i, b)| {
            let (values, note) = map(b);
            Ok(Panel { caption: format!("block {i}{note}"), values: floats(&values)? })
        })
        .collect()
}

/// `[..., c]` -> the channel norm `[...]`.
fn channel_norm(t: &Tensor) -> Tensor {
    t.square().sum_dim_intlist(-1, false, Kind::Float).sqrt()
}

/// The first principal component of the channels of `pair [N, N, c]`: each pair's score `[N, N]`
/// and the fraction of the variance it explains. The component's sign is fixed so that its
/// largest loading is positive.
fn first_principal_component(pair: &Tensor) -> (Tensor, f64) {
    let size = pair.size();
    let x = pair.to_kind(Kind::Double).reshape([-1, size[2]]);
    let x = &x - x.mean_dim(0, true, Kind::Double);
    let covariance = x.transpose(0, 1).matmul(&x) / (x.size()[0].max(1) as f64);
    // Eigenvalues ascending: the last column is the leading component.
    let (values, vectors) = covariance.linalg_eigh("L");
    let leading = vectors.select(1, size[2] - 1);
    let largest = leading.get(leading.abs().argmax(0, false).int64_value(&[]));
    let leading = if largest.double_value(&[]) < 0.0 { -leading } else { leading };
    let total = values.sum(Kind::Double).double_value(&[]);
    let explained = if total > 0.0 { values.get(size[2] - 1).double_value(&[]) / total } else { 0.0 };
    ((x.matmul(&leading)).reshape([size[0], size[1]]).to_kind(Kind::Float), explained)
}

fn training(session: &Session, args: &Args, kind: &str) -> Result<Figure> {
    let run = session.model.training.as_ref().ok_or_else(|| anyhow!("no training run: `train step` first"))?;
    ensure!(!run.history.is_empty(), "the training run has no steps yet: `train step` first");
    let log_y = args.flag("log").unwrap_or(false);
    let points = |value: fn(&crate::train::trainer::StepReport) -> f64| -> Vec<(u64, f64)> {
        run.history.iter().map(|r| (r.step, value(r))).collect()
    };
    match kind {
        "loss" => {
            let mut named: Vec<(String, Vec<(u64, f64)>)> = vec![("total".to_string(), points(|r| r.loss))];
            let terms: std::collections::BTreeSet<&String> = run.history.iter().flat_map(|r| r.terms.keys()).collect();
            for term in terms {
                named.push((term.clone(), run.history.iter().filter_map(|r| r.terms.get(term).map(|v| (r.step, *v))).collect()));
            }
            let series: Vec<plot::training::NamedSeries> = named.iter().map(|(n, p)| (n.as_str(), p.as_slice())).collect();
            plot::training::losses(&series, log_y)
        }
        "lr" => plot::training::learning_rate(&points(|r| r.lr), log_y),
        "grad_norm" => plot::training::grad_norm(&points(|r| r.grad_norm), log_y),
        "lddt" => plot::training::structure_scores(&[("lDDT-Cα", &points(|r| r.lddt_ca)), ("TM-score", &points(|r| r.tm_score))]),
        _ => plot::training::step_time(&points(|r| r.seconds)),
    }
}

fn compare(session: &Session, args: &Args, kind: &str) -> Result<Figure> {
    let name = |key: &str| args.text(key).ok_or_else(|| anyhow!("{kind} needs a= and b=, two structures (e.g. `infer name=before`)"));
    let (a, b) = (name("a")?, name("b")?);
    let (first, second) = (session.inputs.structure(a)?, session.inputs.structure(b)?);
    if kind == "compare_plddt" {
        // Predictions carry pLDDT as every atom's B-factor; Cα's stands for the residue.
        let plddt = |s: &crate::session::state::Structure| -> Vec<f32> { s.protein.b_factors.iter().map(|b| b[1]).collect() };
        return plot::plddt_comparison((a, &plddt(first)), (b, &plddt(second)));
    }
    let pae = |name: &str, s: &crate::session::state::Structure| {
        let pae = s.pae.as_ref().ok_or_else(|| anyhow!("'{name}' has no PAE (a prediction of a model with the PAE head, or `load pae.json name={name}`)"))?;
        Ok::<_, anyhow::Error>((square(pae.values.clone(), "PAE")?, pae.max_predicted_aligned_error))
    };
    let ((pae_a, max_a), (pae_b, max_b)) = (pae(a, first)?, pae(b, second)?);
    plot::pae_comparison((a, &pae_a), (b, &pae_b), max_a.max(max_b))
}

pub fn plot(session: &mut Session, args: &Args, context: &mut Context) -> Result<Vec<Output>> {
    let kind = args.text("kind").ok_or_else(|| anyhow!("missing kind"))?;
    let path = args.path("path");
    let format = match path {
        Some(path) => Some(image_format(path)?),
        None => None,
    };
    let figure = figure(session, args, kind, context)?;
    let png = match (path, format) {
        (Some(path), Some(format)) => {
            if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder).with_context(|| format!("cannot create folder {}", folder.display()))?;
            }
            let bytes: &[u8] = if format == "png" { &figure.png } else { figure.svg.as_bytes() };
            std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
            (format == "png").then(|| figure.png.clone())
        }
        _ => None,
    };
    Ok(vec![Output::Image {
        title: figure.title,
        svg: Some(figure.svg),
        png,
        path: path.map(|p| p.display().to_string()),
    }])
}

/// `svg` or `png`, from the extension of the file to write.
fn image_format(path: &Path) -> Result<&'static str> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("svg") => Ok("svg"),
        Some("png") => Ok("png"),
        _ => bail!("path={}: a figure is written as .svg or .png", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::commands::inference::tests::ready_session;

    fn image(outputs: &[Output]) -> (&str, &str, bool) {
        match &outputs[0] {
            Output::Image { title, svg: Some(svg), png, .. } => (title, svg, png.is_some()),
            other => panic!("not an image: {other:?}"),
        }
    }

    #[test]
    fn every_prediction_plot_draws_and_writes_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut session = ready_session();
        let (_, error) = session.execute("plot plddt").unwrap_err();
        assert!(error.to_string().contains("no prediction yet: run `infer` first"), "{error}");
        session.execute("infer").unwrap();
        for (line, title) in [
            ("plot plddt", "Predicted lDDT per residue"),
            ("plot pae", "Predicted aligned error"),
            ("plot distogram", "Expected distance (distogram)"),
            ("plot contacts native=native", "Contacts: predicted (upper) vs native (lower)"),
        ] {
            let outputs = session.execute(line).unwrap_or_else(|(_, e)| panic!("{line}: {e}"));
            let (shown, svg, png) = image(&outputs);
            assert_eq!(shown, title);
            assert!(svg.starts_with("<svg") && !png, "{line}");
        }
        let png_path = dir.path().join("figures/pae.png");
        let outputs = session.execute(&format!("plot pae path={}", png_path.display())).unwrap();
        assert!(image(&outputs).2);
        assert_eq!(&std::fs::read(&png_path).unwrap()[..4], b"\x89PNG");
        let svg_path = dir.path().join("plddt.svg");
        session.execute(&format!("plot plddt path={}", svg_path.display())).unwrap();
        assert!(std::fs::read_to_string(&svg_path).unwrap().starts_with("<svg"));
    }

    #[test]
    fn bad_plot_requests_name_the_problem() {
        let mut session = ready_session();
        session.execute("infer").unwrap();
        for (line, cause) in [
            ("plot msa", "no MSA loaded"),
            ("plot contacts native=nosuch", "no structure 'nosuch'"),
            ("plot plddt native=native", "native= applies to `plot contacts`, `plot distances` only"),
            ("plot plddt path=out.jpg", "a figure is written as .svg or .png"),
            ("plot ramachandran", "expected one of plddt, pae"),
        ] {
            let (_, error) = session.execute(line).unwrap_err();
            assert!(error.to_string().contains(cause), "{line}: {error}");
        }
    }

    /// Every figure of the inside of the network draws from one captured inference per request,
    /// reusing what `inspect` recorded.
    #[test]
    fn network_plots_draw_captures() {
        let mut session = ready_session();
        session.execute("inspect pair").unwrap();
        for (line, title) in [
            ("plot pair", "Pair representation channel norm"),
            ("plot pair block=1", "Pair representation channel norm: block 1"),
            ("plot pair_pc", "Pair representation, first principal component"),
            ("plot msa_rep block=0", "MSA representation channel norm: block 0"),
            ("plot attention module=tri_end block=1 head=1 col=4", "Triangle attention (ending node), evoformer block 1, head 1, col 4"),
            ("plot attention module=msa_row stack=extra_msa", "MSA row attention, extra_msa block 0, head 0, mean over rows"),
            ("plot recycles", "Change from the previous recycling iteration"),
            ("plot trajectory recycle=0", "Structure-module trajectory (Cα per layer)"),
            ("plot structure", "Predicted structure coloured by pLDDT (Cα trace)"),
            ("plot distances native=native", "Cα–Cα distances: predicted vs native"),
        ] {
            let outputs = session.execute(line).unwrap_or_else(|(_, e)| panic!("{line}: {e}"));
            let (shown, svg, _) = image(&outputs);
            assert_eq!(shown, title, "{line}");
            assert!(svg.starts_with("<svg"), "{line}");
        }
        let capture = &session.model().prediction.as_ref().unwrap().capture.as_ref().unwrap().request;
        assert_eq!(capture.recycle, Some(0), "the last plot asked for iteration 0");
        let (_, error) = session.execute("plot distances").unwrap_err();
        assert!(error.to_string().contains("distances needs native=NAME"), "{error}");
        let (_, error) = session.execute("plot templates").unwrap_err();
        assert!(error.to_string().contains("the batch has no templates"), "{error}");
    }

    #[test]
    fn comparison_and_training_plots_draw() {
        let mut session = ready_session();
        session.execute("infer name=first; params init seed=9; infer name=second").unwrap();
        for (line, title) in [
            ("plot compare_plddt a=first b=second", "Predicted lDDT: first vs second"),
            ("plot compare_pae a=first b=second", "Predicted aligned error: first vs second"),
        ] {
            let outputs = session.execute(line).unwrap_or_else(|(_, e)| panic!("{line}: {e}"));
            assert_eq!(image(&outputs).0, title);
        }
        let (_, error) = session.execute("plot compare_pae a=first b=native").unwrap_err();
        assert!(error.to_string().contains("'native' has no PAE"), "{error}");
        let (_, error) = session.execute("plot loss").unwrap_err();
        assert!(error.to_string().contains("no training run"), "{error}");
        session.execute("train step 2 warmup=0 structure=native").unwrap();
        for (line, title) in [
            ("plot loss", "Training loss"),
            ("plot lr log=true", "Learning rate"),
            ("plot grad_norm", "Gradient norm"),
            ("plot lddt", "lDDT-Cα and TM-score"),
            ("plot step_time", "Step time"),
        ] {
            let outputs = session.execute(line).unwrap_or_else(|(_, e)| panic!("{line}: {e}"));
            assert_eq!(image(&outputs).0, title);
        }
        let (_, error) = session.execute("plot lr a=first").unwrap_err();
        assert!(error.to_string().contains("a= applies to `plot compare_plddt`, `plot compare_pae` only"), "{error}");
    }

    #[test]
    fn msa_plots_draw_a_loaded_alignment() {
        let dir = tempfile::tempdir().unwrap();
        let a3m = dir.path().join("small.a3m");
        std::fs::write(&a3m, ">query\nMKVLA\n>hit1\nMK-LA\n>hit2\n--VLA\n").unwrap();
        let mut session = Session::new();
        session.execute(&format!("load {}", a3m.display())).unwrap();
        for line in ["plot msa", "plot depth msa=small"] {
            let outputs = session.execute(line).unwrap_or_else(|(_, e)| panic!("{line}: {e}"));
            assert!(image(&outputs).1.starts_with("<svg"), "{line}");
        }
        let (_, error) = session.execute("plot msa msa=bfd").unwrap_err();
        assert!(error.to_string().contains("no MSA 'bfd'; loaded: small"), "{error}");
    }
}
