//! `helixfold bench parallel` from the command line with tiny settings: the single-process row
//! is its own baseline, the data-parallel, DAP and BP rows run when the machine has the cores
//! (each with the parallel Evoformer, since a BP layout is asked for), and a layout larger than
//! the machine is skipped.
use std::process::Command;

#[test]
fn bench_parallel_tiny_reports_every_layout() {
    let structure = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/1a8o.pdb");
    let output = Command::new(env!("CARGO_BIN_EXE_helixfold"))
        .args(["bench", "parallel", "--layouts", "1x1x1,2x1x1,1x2x1,1x1x2,4096x1x1", "--steps", "1"])
        .args(["--preset", "tiny", "--crop", "16", "--timeout", "60", "--structure", structure])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let row = |layout: &str| -> Vec<String> {
        let line = stdout.lines().find(|line| line.starts_with(layout)).unwrap_or_else(|| panic!("no row {layout}:\n{stdout}"));
        line.split_whitespace().map(str::to_string).collect()
    };
    let single = row("1x1x1 ");
    assert_eq!(single[1], "1");
    assert!(single[2].parse::<f64>().unwrap() > 0.0 && single[3].parse::<f64>().unwrap() > 0.0, "{stdout}");
    assert_eq!(single[4], "1.00x", "the baseline against itself");
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(stdout.contains("outer_product_mean=end"), "{stdout}");
    for layout in ["2x1x1 ", "1x2x1 ", "1x1x2 "] {
        let measured = row(layout);
        if cores >= 2 {
            assert!(measured[2].parse::<f64>().unwrap() > 0.0 && measured[4].ends_with('x'), "{stdout}");
        } else {
            assert_eq!(measured[2], "skipped:", "{stdout}");
        }
    }
    assert!(row("4096x1x1 ").join(" ").contains("skipped: needs 4096 cores"), "{stdout}");
}
