//! The reference side of a benchmark: DeepMind's AlphaFold 2.0.0 (JAX, CPU) timed by
//! `tests/reference/bench_reference.py` on the very batch this program times, in a child Python
//! process (the project's reference venv, built by `scripts/setup.sh`).
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the reference script and its interpreter are.
#[derive(Debug, Clone)]
pub struct JaxReference {
    pub python: PathBuf,
    pub script: PathBuf,
}

/// What the script reports (its JSON line).
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceTiming {
    pub seconds_per_recycle: f64,
    pub compile_seconds: f64,
    pub peak_rss_mib: f64,
    pub device: String,
}

const SCRIPT: &str = "tests/reference/bench_reference.py";

impl JaxReference {
    /// The script under the current directory or this crate's source tree, run by
    /// `$HELIXFOLD_PYTHON`, else the project venv's interpreter, else `python3`.
    pub fn locate(python: Option<&Path>) -> Result<Self> {
        let roots = [PathBuf::from("."), PathBuf::from(env!("CARGO_MANIFEST_DIR"))];
        let root = roots
            .iter()
            .find(|root| root.join(SCRIPT).is_file())
            .with_context(|| format!("cannot find {SCRIPT} (run from the helixfold checkout)"))?;
        let python = match python {
            Some(path) => path.to_path_buf(),
            None => std::env::var_os("HELIXFOLD_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
                let venv = root.join(".venv/bin/python");
                if venv.is_file() {
                    venv
                } else {
                    PathBuf::from("python3")
                }
            }),
        };
        Ok(JaxReference { python, script: root.join(SCRIPT) })
    }

    /// Times `preset` on the processed batch in `batch_npz` with `repeats` passes.
    pub fn time(&self, preset: &str, batch_npz: &Path, repeats: usize) -> Result<ReferenceTiming> {
        if !is_deepmind_preset(preset) {
            bail!("preset '{preset}': the JAX reference runs only DeepMind's presets (model_1..model_5, with or without _ptm)");
        }
        let output = Command::new(&self.python)
            .arg(&self.script)
            .args(["--preset", preset, "--repeats", &repeats.to_string()])
            .arg("--batch")
            .arg(batch_npz)
            .output()
            .with_context(|| format!("cannot run {} {}", self.python.display(), self.script.display()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!("the JAX reference failed ({}):\n{}", output.status, tail.join("\n"));
        }
        parse_timing(&String::from_utf8_lossy(&output.stdout))
    }
}

fn is_deepmind_preset(preset: &str) -> bool {
    let base = preset.strip_suffix("_ptm").unwrap_or(preset);
    matches!(base, "model_1" | "model_2" | "model_3" | "model_4" | "model_5")
}

/// The last JSON line of the script's standard output.
fn parse_timing(stdout: &str) -> Result<ReferenceTiming> {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .context("the JAX reference printed no JSON line")?;
    serde_json::from_str(line).with_context(|| format!("unreadable JAX reference line: {line}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scripts_json_line_after_other_output() {
        let stdout = "some warning\n{\"seconds_per_recycle\": 1.5, \"compile_seconds\": 30.0, \"peak_rss_mib\": 900.0, \"device\": \"cpu\", \"length\": 80}\n";
        let timing = parse_timing(stdout).unwrap();
        assert_eq!(timing.seconds_per_recycle, 1.5);
        assert_eq!(timing.device, "cpu");
        assert!(parse_timing("no json").unwrap_err().to_string().contains("no JSON line"));
    }

    #[test]
    fn only_deepmind_presets_have_a_reference() {
        assert!(is_deepmind_preset("model_3_ptm") && is_deepmind_preset("model_5"));
        assert!(!is_deepmind_preset("tiny") && !is_deepmind_preset("model_6") && !is_deepmind_preset("finetune"));
    }
}
