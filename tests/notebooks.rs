//! Every teaching notebook in `notebooks/` executed top to bottom by a real notebook client:
//! nbclient (the Jupyter project's runner behind `jupyter nbconvert --execute`) through the
//! kernelspec installed into a temporary prefix. Any cell error, `error` output or stderr text
//! fails the test. The executed notebooks, outputs included, are kept in
//! `target/test-artifacts/notebooks/`. Notebook 02 reads the shared test data
//! (`../shared/data/openfold_mini`, `casp14_demo`).
#[path = "support/jupyter.rs"]
mod jupyter;

use std::path::PathBuf;
use std::time::Instant;

#[test]
fn every_notebook_runs_without_error_output() {
    if helixfold::testing::shared_data("openfold_mini/query").is_none() || helixfold::testing::shared_data("casp14_demo/T1026").is_none() {
        return;
    }
    let Some(jupyter) = jupyter::Jupyter::install("helixfold-notebooks") else { return };
    let mut notebooks: Vec<PathBuf> = std::fs::read_dir(jupyter::root().join("notebooks"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "ipynb"))
        .collect();
    notebooks.sort();
    assert!(notebooks.len() >= 6, "expected the six teaching notebooks, found {notebooks:?}");
    let out = jupyter::artifacts("notebooks");
    let started = Instant::now();
    let (clean, report) = jupyter::execute_notebooks(&jupyter, &notebooks, &out);
    eprintln!("{report}executed {} notebooks in {:.0} s", notebooks.len(), started.elapsed().as_secs_f64());
    assert!(clean, "a notebook failed:\n{report}");
    for notebook in &notebooks {
        let executed = std::fs::read_to_string(out.join(notebook.file_name().unwrap())).unwrap();
        assert!(executed.contains("\"output_type\""), "{} has no outputs after execution", notebook.display());
    }
}
