//! `plot KIND [native=NAME] [msa=NAME] [path=FILE]`: figures of the session's data through
//! [`crate::plot`] — pLDDT per residue and the PAE matrix of the last prediction, the expected
//! distance map and the contact map (optionally against a loaded native) from its distogram
//! (Jumper et al. (2021) Suppl. 1.9.8), and the coverage or depth of a loaded MSA. The figure is
//! returned as SVG; `path=` writes it as `.svg` or `.png`.
use super::inference::prediction;
use crate::plot::{self, Figure};
use crate::predict::output_f32;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{anyhow, bail, ensure, Context as _, Result};
use std::path::Path;

/// The kinds of figure `plot` draws.
pub const KINDS: &[&str] = &["plddt", "pae", "distogram", "contacts", "msa", "depth"];

/// Row-major `values` (`[n * n]`) as `n` rows.
fn square(values: Vec<f32>, what: &str) -> Result<Vec<Vec<f32>>> {
    let n = (values.len() as f64).sqrt().round() as usize;
    ensure!(n > 0 && n * n == values.len(), "{what}: {} values do not form a square matrix", values.len());
    Ok(values.chunks(n).map(<[f32]>::to_vec).collect())
}

fn figure(session: &Session, args: &Args, kind: &str) -> Result<Figure> {
    if kind != "contacts" && args.contains("native") {
        bail!("native= applies to `plot contacts` only");
    }
    if !matches!(kind, "msa" | "depth") && args.contains("msa") {
        bail!("msa= applies to `plot msa` and `plot depth` only");
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
        other => bail!("unknown plot '{other}'; expected one of {}", KINDS.join(", ")),
    }
}

pub fn plot(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let kind = args.text("kind").ok_or_else(|| anyhow!("missing kind"))?;
    let path = args.path("path");
    let format = match path {
        Some(path) => Some(image_format(path)?),
        None => None,
    };
    let figure = figure(session, args, kind)?;
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
            ("plot plddt native=native", "native= applies to `plot contacts` only"),
            ("plot plddt path=out.jpg", "a figure is written as .svg or .png"),
            ("plot ramachandran", "expected one of plddt, pae"),
        ] {
            let (_, error) = session.execute(line).unwrap_err();
            assert!(error.to_string().contains(cause), "{line}: {error}");
        }
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
