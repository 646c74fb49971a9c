//! `%%rust` cells in a real kernel (`src/kernel/rust_cells.rs`, evaluated by evcxr in the helper
//! `kernel/rust-cells`): a cell reads a tensor of the session through `session_tensors()`,
//! variables live from cell to cell, a compile error comes back as an `error` with rustc's
//! diagnostics while the kernel keeps answering, and without cargo on PATH or without the helper
//! the cell says what is missing.
//!
//! The helper is built before the tests (`make test` runs `cargo build --profile rust-cells -p
//! helixfold-rust-cells`); without it the evcxr test is skipped locally and fails when `CI` is
//! set. Its first cell compiles helixfold, tch and torch-sys into `target/rust-cells-cache`
//! (minutes; later runs reuse it).
#[path = "support/kernel.rs"]
mod kernel_process;

use helixfold::kernel::client::{Channel, KernelClient};
use kernel_process::{start_kernel_from, start_kernel_with};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// PDB 1A8O, the demo protein (examples/data/README.md): 70 residues in chain A.
const DEMO_PDB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb");

/// What one cell sent on IOPub, and its reply.
#[derive(Debug, Default)]
struct CellRun {
    reply: Value,
    stdout: String,
    stderr: String,
    /// `text/plain` of every display and result.
    shown: String,
    errors: Vec<Value>,
}

fn run(client: &KernelClient, code: &str) -> CellRun {
    let mut cell = CellRun::default();
    let reply = client
        .execute(code, |event| {
            if !event.mine || event.channel != Channel::Iopub {
                return;
            }
            let content = &event.message.content;
            let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
            match event.message.msg_type() {
                "stream" if content["name"] == "stdout" => cell.stdout += &text(&content["text"]),
                "stream" => cell.stderr += &text(&content["text"]),
                "display_data" | "execute_result" => cell.shown += &(text(&content["data"]["text/plain"]) + "\n"),
                "error" => cell.errors.push(content.clone()),
                _ => {}
            }
        })
        .unwrap();
    cell.reply = reply;
    cell
}

/// The value of the row `name` in a table's text.
fn table_value<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(name).filter(|rest| rest.starts_with("  ")).map(str::trim))
        .unwrap_or_else(|| panic!("no row {name} in:\n{text}"))
}

/// The number after `label ` on a printed line.
fn printed_number(text: &str, label: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(label)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no line '{label} NUMBER' in:\n{text}"))
}

/// The helper next to the test's kernel (`target/rust-cells/`), where the kernel looks for it.
fn built_helper() -> Option<PathBuf> {
    let kernel = Path::new(env!("CARGO_BIN_EXE_helixfold"));
    let helper = kernel.parent().unwrap().join("../rust-cells/helixfold-rust-cells");
    if helper.is_file() {
        return Some(helper);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing (CI is set, so this is a failure): `cargo build --profile rust-cells -p helixfold-rust-cells`",
        helper.display()
    );
    eprintln!("SKIPPED: {} is not built", helper.display());
    None
}

#[test]
fn rust_cells_read_session_tensors_keep_state_and_report_compile_errors() {
    if built_helper().is_none() {
        return;
    }
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rust-cells-cache");
    let kernel = start_kernel_with(&[("HELIXFOLD_RUST_CELLS_CACHE", cache.as_os_str())]);
    let client = KernelClient::connect(&kernel.info).unwrap();

    let infer = run(
        &client,
        &format!("load {DEMO_PDB} name=native chain=A\nfeatures from=native recycles=1\nmodel tiny templates=false\nparams init seed=1\ninfer"),
    );
    assert_eq!(infer.reply["status"], "ok", "{infer:?}");
    let session_mean: f64 = table_value(&infer.shown, "mean pLDDT").parse().unwrap();

    let started = std::time::Instant::now();
    let first = run(
        &client,
        "%%rust tensors=plddt\n\
         let tensors: std::collections::BTreeMap<String, tch::Tensor> = session_tensors().unwrap();\n\
         let plddt: tch::Tensor = tensors[\"plddt\"].shallow_clone();\n\
         println!(\"shape {:?}\", plddt.size());\n\
         println!(\"mean {:.4}\", plddt.mean(tch::Kind::Double).double_value(&[]));\n",
    );
    eprintln!("first Rust cell (compiles helixfold, tch, torch-sys when the cache is cold): {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(first.reply["status"], "ok", "{first:?}");
    assert!(first.stdout.contains("shape [70]"), "{first:?}");
    // `infer` shows the mean to 2 decimals.
    let mean = printed_number(&first.stdout, "mean");
    assert!((mean - session_mean).abs() <= 0.005 + 1e-9, "cell mean {mean}, session mean {session_mean}");

    let started = std::time::Instant::now();
    let second = run(&client, "%%rust\nlet doubled: tch::Tensor = &plddt * 2.0;\nprintln!(\"twice {:.4}\", doubled.mean(tch::Kind::Double).double_value(&[]));\n");
    eprintln!("second Rust cell: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(second.reply["status"], "ok", "{second:?}");
    assert!((printed_number(&second.stdout, "twice") - 2.0 * mean).abs() < 2e-4, "{second:?} vs mean {mean}");

    let broken = run(&client, "%%rust\nlet count: u32 = \"seventy\";\n");
    assert_eq!(broken.reply["status"], "error", "{broken:?}");
    assert_eq!(broken.reply["ename"], "CompilationError", "{broken:?}");
    let diagnostics = broken.errors.first().map(|e| e["traceback"].to_string()).unwrap_or_default();
    assert!(diagnostics.contains("mismatched types"), "{broken:?}");

    // The kernel, its session and the Rust context all outlive the failed cell.
    let commands = run(&client, "echo \"still here\"");
    assert_eq!(commands.reply["status"], "ok", "{commands:?}");
    let after = run(&client, "%%rust\nprintln!(\"residues {}\", plddt.size()[0]);\n");
    assert_eq!(after.reply["status"], "ok", "{after:?}");
    assert_eq!(printed_number(&after.stdout, "residues"), 70.0, "{after:?}");
}

#[test]
fn rust_cells_without_cargo_or_without_the_helper_say_what_is_missing() {
    let empty = tempfile::tempdir().unwrap();
    let kernel = start_kernel_with(&[("PATH", empty.path().as_os_str())]);
    let client = KernelClient::connect(&kernel.info).unwrap();
    let cell = run(&client, "%%rust\nprintln!(\"never\");\n");
    assert_eq!(cell.reply["status"], "error", "{cell:?}");
    let message = cell.reply["evalue"].as_str().unwrap_or_default();
    assert!(message.contains("need cargo and rustc on PATH") && message.contains("https://rustup.rs"), "{message}");
    let still = run(&client, "echo \"still here\"");
    assert!(still.stdout.contains("still here"), "{still:?}");

    // A kernel executable with no helper beside it (nor in target/rust-cells/).
    let lone = tempfile::tempdir().unwrap();
    let program = lone.path().join("bin/helixfold");
    std::fs::create_dir_all(program.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_helixfold"), &program).unwrap();
    let kernel = start_kernel_from(&program, &[]);
    let client = KernelClient::connect(&kernel.info).unwrap();
    let cell = run(&client, "%%rust tensors=plddt\n1\n");
    let message = cell.reply["evalue"].as_str().unwrap_or_default();
    assert_eq!(cell.reply["status"], "error", "{cell:?}");
    assert!(message.contains("no prediction yet"), "{message}");
    let cell = run(&client, "%%rust\n1\n");
    let message = cell.reply["evalue"].as_str().unwrap_or_default();
    assert!(message.contains("`helixfold-rust-cells` is not built") && message.contains("cargo build --profile rust-cells"), "{message}");
    assert!(run(&client, "echo \"still here\"").stdout.contains("still here"));
}
