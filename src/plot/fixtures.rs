//! Test fixtures: arrays read from AlphaFold/ColabFold `.npz` files through the project's
//! `.venv` numpy (the crate's own npz reader lives on another branch), passed back as JSON.
use std::path::Path;
use std::process::Command;

/// For each key, the array flattened to `f32` (C order) and its shape.
pub(crate) fn read_npz_f32(path: &Path, keys: &[&str]) -> Vec<(Vec<f32>, Vec<usize>)> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let script = "import json, sys, numpy as np\n\
                  d = np.load(sys.argv[1])\n\
                  print(json.dumps([[d[k].astype(np.float64).ravel().tolist(), list(d[k].shape)] \
                  for k in sys.argv[2:]]))";
    let output = Command::new(&python)
        .arg("-c")
        .arg(script)
        .arg(path)
        .args(keys)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let arrays: Vec<(Vec<f64>, Vec<usize>)> = serde_json::from_slice(&output.stdout).unwrap();
    arrays
        .into_iter()
        .map(|(values, shape)| (values.into_iter().map(|v| v as f32).collect(), shape))
        .collect()
}
