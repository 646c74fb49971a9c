//! `params init [seed=N] | load FILE | save FILE`: the network's parameter values — seeded
//! random values (AlphaFold's initialisers), DeepMind's `params_model_*.npz` (translated by
//! [`crate::model::weights`]) or an own `.safetensors` checkpoint — and `show params`, the
//! parameter counts per top-level haiku scope.
use crate::model::weights::{parameter_count, save_checkpoint};
use crate::predict::build_model;
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::model_state::Network;
use crate::session::output::Output;
use crate::session::Session;
use anyhow::{anyhow, bail, Context as _, Result};
use std::collections::BTreeMap;
use std::path::Path;

pub fn params(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let action = args.text("action").ok_or_else(|| anyhow!("missing action"))?;
    let file = args.path("file");
    if action != "init" && args.contains("seed") {
        bail!("seed= applies to `params init` only");
    }
    match (action, file) {
        ("init", Some(file)) => bail!("`params init` takes no file (got {}); `params load FILE` reads one", file.display()),
        ("init", None) => {
            let seed = args.int("seed").map_or(Ok(0), u64::try_from).context("seed")?;
            install(session, None, seed)
        }
        ("load", Some(file)) => {
            check_extension(file, &["npz", "safetensors"])?;
            if !file.is_file() {
                bail!("no parameter file {}", file.display());
            }
            install(session, Some(file), 0)
        }
        ("save", Some(file)) => save(session, file),
        (action, None) => bail!("`params {action}` needs a FILE"),
        (other, _) => bail!("unknown action '{other}'"),
    }
}

fn check_extension(file: &Path, allowed: &[&str]) -> Result<()> {
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    if !allowed.contains(&extension.as_str()) {
        bail!(
            "{}: expected a {} file (AlphaFold's params_model_*.npz or our .safetensors checkpoints)",
            file.display(),
            allowed.iter().map(|e| format!(".{e}")).collect::<Vec<_>>().join(" or ")
        );
    }
    Ok(())
}

/// Builds the chosen model with parameters from `file` (random, seeded, without) and installs
/// it only when everything succeeded.
fn install(session: &mut Session, file: Option<&Path>, seed: u64) -> Result<Vec<Output>> {
    let config = session.model.config.as_ref().ok_or_else(|| anyhow!("no model chosen: `model PRESET` first (e.g. `model tiny`)"))?;
    let (vs, model) = build_model(config, session.device, file, seed)?;
    let source = file.map_or_else(|| format!("random (seed {seed})"), |f| f.display().to_string());
    let summary = format!("{} parameters of {}: {source}", group_digits(parameter_count(&vs)), config.name);
    session.model.network = Some(Network { vs, model, source });
    session.model.training = None;
    Ok(vec![Output::Text(summary)])
}

fn save(session: &Session, file: &Path) -> Result<Vec<Output>> {
    check_extension(file, &["safetensors"])?;
    let network = session.model.network.as_ref().ok_or_else(|| anyhow!("no parameters to save: `params init` or `params load FILE` first"))?;
    if let Some(left) = super::parallel::left_to_rank_zero(session, "saving the parameters") {
        return Ok(vec![left]);
    }
    if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).with_context(|| format!("cannot create folder {}", folder.display()))?;
    }
    save_checkpoint(&network.vs, file)?;
    Ok(vec![Output::Text(format!("wrote {} parameters to {}", group_digits(parameter_count(&network.vs)), file.display()))])
}

/// `93237338` → `93,237,338`.
pub fn group_digits(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if n < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// Tensors and scalars per top-level scope (`evoformer`, `structure_module`, the heads), with a
/// total row.
pub fn params_table(session: &Session) -> Result<Output> {
    let network = session.model.network.as_ref().ok_or_else(|| anyhow!("no parameters: `params init` or `params load FILE` first"))?;
    let mut by_scope: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for (name, tensor) in network.vs.variables() {
        let scope = name.split('.').next().unwrap_or(&name).to_string();
        let entry = by_scope.entry(scope).or_default();
        entry.0 += 1;
        entry.1 += tensor.numel() as i64;
    }
    let mut rows: Vec<Vec<String>> =
        by_scope.iter().map(|(scope, (tensors, count))| vec![scope.clone(), tensors.to_string(), group_digits(*count)]).collect();
    let tensors: usize = by_scope.values().map(|(t, _)| t).sum();
    rows.push(vec!["total".into(), tensors.to_string(), group_digits(parameter_count(&network.vs))]);
    Ok(Output::table(&["module", "tensors", "parameters"], rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_grouped_by_thousands() {
        assert_eq!(group_digits(93_237_338), "93,237,338");
        assert_eq!(group_digits(999), "999");
        assert_eq!(group_digits(1000), "1,000");
    }

    #[test]
    fn init_save_and_load_round_trip_and_failures_keep_the_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let mut session = Session::new();
        let (_, error) = session.execute("params init").unwrap_err();
        assert!(error.to_string().contains("no model chosen"), "{error}");
        session.execute("model tiny; params init seed=3").unwrap();
        let shown = session.execute("show params").unwrap()[0].to_text();
        assert!(shown.contains("evoformer") && shown.contains("structure_module") && shown.contains("total"), "{shown}");
        let total = {
            let vs = &session.model().network.as_ref().unwrap().vs;
            parameter_count(vs)
        };
        assert!(shown.contains(&group_digits(total)), "{shown}");
        let checkpoint = dir.path().join("out/tiny.safetensors");
        session.execute(&format!("params save {}", checkpoint.display())).unwrap();

        let value = |session: &Session| {
            let vs = &session.model().network.as_ref().unwrap().vs;
            vs.variables().values().map(|t| t.sum(tch::Kind::Double).double_value(&[])).sum::<f64>()
        };
        let saved = value(&session);
        session.execute("params init seed=4").unwrap();
        assert_ne!(value(&session), saved);
        let bogus = dir.path().join("bogus.safetensors");
        std::fs::write(&bogus, b"not a checkpoint").unwrap();
        for line in [
            format!("params load {}", bogus.display()),
            format!("params load {}", dir.path().join("missing.npz").display()),
            format!("params load {}", dir.path().join("weights.bin").display()),
            "params save".to_string(),
            "params init seed=-1".to_string(),
        ] {
            let before = value(&session);
            assert!(session.execute(&line).is_err(), "{line} should fail");
            assert_eq!(value(&session), before, "{line} changed the parameters");
        }
        session.execute(&format!("params load {}", checkpoint.display())).unwrap();
        assert_eq!(value(&session), saved);
    }
}
