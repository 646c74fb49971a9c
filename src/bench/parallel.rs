//! `helixfold bench parallel`: seconds per training step and peak memory per rank for several
//! hybrid-parallel layouts (dp × dap × bp, Wang et al. (2022) Sec. 3.2), each run through the
//! session's own machinery (`parallel`, `model`, `params init`, `load`, `train step`), so a
//! layout is measured exactly as a session runs it.
//!
//! Protocol, per layout: a fresh session whose `parallel` starts the layout's worker processes
//! on this machine (each with its share of the cores, or its own CUDA device), the preset's
//! random parameters, one untimed warm-up step, then `steps` timed steps; the figure is the
//! median of rank 0's step times (a step ends with the gradient all-reduce, so rank 0 waits for
//! the slowest rank). Memory is each rank's peak resident set (`VmHWM`, reset for rank 0 at the
//! start of the layout; the workers are fresh processes), the largest over the ranks; on CUDA,
//! rank 0's device memory in use. A layout needing more ranks than this machine has cores (or
//! CUDA devices) is skipped. When a layout has branch parallelism every layout runs HelixFold's
//! parallel Evoformer (`outer_product_mean=end`), whose branches BP overlaps, so that the rows
//! compare one network.
//!
//! `reductions` compares the two ways of launching the data-parallel all-reduce
//! (`crate::parallel::data_parallel`): every row then clips the step's averaged gradient
//! (`train clip=batch`, without which no reduction can overlap the backward pass), and each
//! layout with `dp > 1` runs once per reduction, as rows `DPxDAPxBP/after` (`overlap=false`)
//! and `DPxDAPxBP/overlapped`.
use super::infer::median;
use crate::memory::{peak_rss_bytes, peak_rss_bytes_of, reset_peak_rss};
use crate::parallel::layout::ParallelLayout;
use crate::session::Session;
use anyhow::{anyhow, bail, Context, Result};
use std::path::PathBuf;

/// What to run.
#[derive(Debug, Clone)]
pub struct ParallelBench {
    pub layouts: Vec<ParallelLayout>,
    pub preset: String,
    pub structure: PathBuf,
    pub msas: Vec<PathBuf>,
    /// `cpu` or `cuda` (each rank then takes its own device).
    pub device: String,
    /// Residues to crop and pad to instead of the preset's crop size.
    pub crop: Option<usize>,
    /// Timed steps per layout (at least 1).
    pub steps: usize,
    /// Seconds for the workers to start and for a collective.
    pub timeout_seconds: u64,
    /// The data-parallel reductions to compare; empty: AlphaFold's per-example clipping, whose
    /// reduction runs after the backward pass.
    pub reductions: Vec<Reduction>,
}

/// When a data-parallel step all-reduces its gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduction {
    /// After the last backward pass (`train overlap=false`).
    After,
    /// During the last backward pass (`train overlap=true`).
    Overlapped,
}

impl Reduction {
    pub fn parse(word: &str) -> Result<Self> {
        match word.trim() {
            "after" => Ok(Self::After),
            "overlapped" => Ok(Self::Overlapped),
            other => bail!("reduction '{other}': expected after or overlapped"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::After => "after",
            Self::Overlapped => "overlapped",
        }
    }

    /// The `train` settings that select it.
    fn train_settings(self) -> &'static str {
        match self {
            Self::After => "clip=batch overlap=false",
            Self::Overlapped => "clip=batch overlap=true",
        }
    }
}

/// How one layout went.
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutOutcome {
    Measured {
        /// Rank 0's timed steps.
        step_seconds: Vec<f64>,
        /// The largest peak over the ranks, MiB.
        peak_mib_per_rank: f64,
    },
    /// The layout does not fit this machine.
    Skipped(String),
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutResult {
    pub layout: ParallelLayout,
    /// The reduction compared on this row (`None`: not a comparison row).
    pub reduction: Option<Reduction>,
    pub outcome: LayoutOutcome,
}

impl LayoutResult {
    /// `2x1x1`, or `2x1x1/overlapped` on a comparison row.
    fn name(&self) -> String {
        match self.reduction {
            Some(reduction) => format!("{}/{}", layout_name(&self.layout), reduction.name()),
            None => layout_name(&self.layout),
        }
    }

    pub fn seconds_per_step(&self) -> Option<f64> {
        match &self.outcome {
            LayoutOutcome::Measured { step_seconds, .. } => Some(median(step_seconds)),
            _ => None,
        }
    }
}

/// `2x1x1` (dp × dap × bp) as a layout.
pub fn parse_layout(text: &str) -> Result<ParallelLayout> {
    let degrees = text
        .split(['x', 'X'])
        .map(|d| d.trim().parse::<u32>().with_context(|| format!("layout '{text}': '{d}' is not a degree")))
        .collect::<Result<Vec<_>>>()?;
    let [dp, dap, bp] = degrees[..] else {
        bail!("layout '{text}': expected DPxDAPxBP, e.g. 2x1x1");
    };
    ParallelLayout::new(dp, dap, bp).with_context(|| format!("layout '{text}'"))
}

fn layout_name(layout: &ParallelLayout) -> String {
    format!("{}x{}x{}", layout.dp, layout.dap, layout.bp)
}

/// Ranks this machine runs at once: its CUDA devices for `cuda`, else its cores.
fn capacity(device: &str) -> (usize, &'static str) {
    if device.starts_with("cuda") {
        crate::device::ensure_cuda_backend();
        (usize::try_from(tch::Cuda::device_count()).unwrap_or(0), "CUDA devices")
    } else {
        (std::thread::available_parallelism().map_or(1, usize::from), "cores")
    }
}

/// Runs every layout in turn.
pub fn bench_parallel(bench: &ParallelBench) -> Result<Vec<LayoutResult>> {
    if bench.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if bench.layouts.is_empty() {
        bail!("--layouts names no layout");
    }
    let (available, what) = capacity(&bench.device);
    let rows = bench.layouts.iter().flat_map(|&layout| {
        let compared: Vec<Option<Reduction>> = if layout.dp > 1 && !bench.reductions.is_empty() {
            bench.reductions.iter().copied().map(Some).collect()
        } else {
            vec![None]
        };
        compared.into_iter().map(move |reduction| (layout, reduction))
    });
    rows.map(|(layout, reduction)| {
        let ranks = usize::try_from(layout.world_size())?;
        let outcome = if ranks > available {
            LayoutOutcome::Skipped(format!("needs {ranks} {what}, this machine has {available}"))
        } else {
            run_layout(bench, layout, reduction).with_context(|| format!("layout {}", layout_name(&layout)))?
        };
        Ok(LayoutResult { layout, reduction, outcome })
    })
    .collect()
}

/// The `train` settings of a row: the compared reduction's, batch clipping on every row of a
/// comparison, AlphaFold's defaults otherwise.
fn train_settings(bench: &ParallelBench, reduction: Option<Reduction>) -> &'static str {
    match (reduction, bench.reductions.is_empty()) {
        (Some(reduction), _) => reduction.train_settings(),
        (None, false) => "clip=batch",
        (None, true) => "",
    }
}

/// Runs `line` in `session`; its error names the command.
fn execute(session: &mut Session, line: &str) -> Result<()> {
    session.execute(line).map(drop).map_err(|(_, error)| anyhow!("{error}"))
}

/// Where the blocks add the outer product mean: HelixFold's `end` when some layout has BP.
fn block_order(bench: &ParallelBench) -> &'static str {
    if bench.layouts.iter().any(|layout| layout.bp > 1) {
        "end"
    } else {
        "origin"
    }
}

fn run_layout(bench: &ParallelBench, layout: ParallelLayout, reduction: Option<Reduction>) -> Result<LayoutOutcome> {
    reset_peak_rss()?;
    let mut session = Session::new();
    execute(
        &mut session,
        &format!("parallel dp={} dap={} bp={} timeout={}", layout.dp, layout.dap, layout.bp, bench.timeout_seconds),
    )?;
    let crop = bench.crop.map(|n| format!(" crop_size={n}")).unwrap_or_default();
    let mut setup = vec![
        format!("device {}", bench.device),
        format!("model {}{crop} outer_product_mean={}", bench.preset, block_order(bench)),
        "params init".to_string(),
        format!("load '{}' name=bench", bench.structure.display()),
    ];
    setup.extend(bench.msas.iter().map(|msa| format!("load '{}'", msa.display())));
    for line in &setup {
        execute(&mut session, line)?;
    }
    execute(&mut session, &format!("train step 1 warmup=0 max_recycle=0 structure=bench {}", train_settings(bench, reduction)))?;
    execute(&mut session, &format!("train step {}", bench.steps))?;
    let history = &session.model().training.as_ref().context("the session kept no training run")?.history;
    // The first report is the warm-up step's.
    let step_seconds: Vec<f64> = history.iter().skip(1).map(|report| report.seconds).collect();
    let peak_bytes = match history.last().and_then(|report| report.peak_memory_bytes) {
        Some(bytes) if bench.device.starts_with("cuda") => bytes,
        _ => {
            let mut peak = peak_rss_bytes()?;
            for info in session.parallel_groups().map(|groups| groups.ranks()).unwrap_or_default().iter().skip(1) {
                peak = peak.max(peak_rss_bytes_of(info.pid)?);
            }
            peak
        }
    };
    execute(&mut session, "parallel off")?;
    Ok(LayoutOutcome::Measured { step_seconds, peak_mib_per_rank: peak_bytes as f64 / (1024.0 * 1024.0) })
}

/// The results as a text table: per-step time against the first 1×1×1 row of the same run.
pub fn to_text(bench: &ParallelBench, results: &[LayoutResult]) -> String {
    let baseline = results.iter().find(|r| r.layout == ParallelLayout::default()).and_then(LayoutResult::seconds_per_step);
    let mut text = format!(
        "preset {} (outer_product_mean={}), {} on {}, {} timed step(s) per layout, median of rank 0{}\n",
        bench.preset,
        block_order(bench),
        bench.structure.display(),
        bench.device,
        bench.steps,
        if bench.reductions.is_empty() { "" } else { ", clip=batch" }
    );
    let width = results.iter().map(|result| result.name().len()).max().unwrap_or(0).max(8);
    text.push_str(&format!("{:<width$} {:>5} {:>10} {:>14} {:>10}\n", "layout", "ranks", "s/step", "peak MiB/rank", "vs 1x1x1"));
    for result in results {
        let name = result.name();
        let ranks = result.layout.world_size();
        match &result.outcome {
            LayoutOutcome::Measured { peak_mib_per_rank, .. } => {
                let seconds = result.seconds_per_step().unwrap_or(f64::NAN);
                let ratio = baseline.map_or_else(|| "-".to_string(), |b| format!("{:.2}x", seconds / b));
                text.push_str(&format!("{name:<width$} {ranks:>5} {seconds:>10.3} {peak_mib_per_rank:>14.0} {ratio:>10}\n"));
            }
            LayoutOutcome::Skipped(why) => text.push_str(&format!("{name:<width$} {ranks:>5} skipped: {why}\n")),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_parse_as_dp_by_dap_by_bp() {
        assert_eq!(parse_layout("2x1x1").unwrap(), ParallelLayout::new(2, 1, 1).unwrap());
        assert_eq!(parse_layout("1X2x2").unwrap(), ParallelLayout::new(1, 2, 2).unwrap());
        assert!(parse_layout("2x1").unwrap_err().to_string().contains("DPxDAPxBP"));
        assert!(format!("{:#}", parse_layout("1x1x3").unwrap_err()).contains("bp=3"));
        assert!(parse_layout("axbxc").is_err());
    }

    /// A bench for the table's tests: only `steps` and `reductions` show in the table.
    fn table_bench(steps: usize, reductions: Vec<Reduction>) -> ParallelBench {
        ParallelBench {
            layouts: Vec::new(),
            preset: "tiny".into(),
            structure: PathBuf::from("x.pdb"),
            msas: Vec::new(),
            device: "cpu".into(),
            crop: None,
            steps,
            timeout_seconds: 10,
            reductions,
        }
    }

    #[test]
    fn the_table_compares_with_the_single_process_row() {
        let bench = table_bench(2, Vec::new());
        let measured = |dp, seconds: f64| LayoutResult {
            layout: ParallelLayout::new(dp, 1, 1).unwrap(),
            reduction: None,
            outcome: LayoutOutcome::Measured { step_seconds: vec![seconds, seconds * 3.0, seconds], peak_mib_per_rank: 100.0 },
        };
        let results = [
            measured(1, 2.0),
            measured(2, 3.0),
            LayoutResult { layout: ParallelLayout::new(4, 1, 1).unwrap(), reduction: None, outcome: LayoutOutcome::Skipped("needs 4 cores".into()) },
        ];
        let text = to_text(&bench, &results);
        // Medians 2 s and 3 s: 3 / 2 = 1.50.
        assert!(text.contains("2x1x1        2      3.000            100      1.50x"), "{text}");
        assert!(text.contains("4x1x1        4 skipped: needs 4 cores"), "{text}");
    }

    /// Comparison rows carry their reduction in the name, the columns widen to fit, and every
    /// row of a comparison clips the step's average (the rows train alike).
    #[test]
    fn comparison_rows_name_their_reduction() {
        assert_eq!(Reduction::parse("overlapped").unwrap(), Reduction::Overlapped);
        assert!(Reduction::parse("during").unwrap_err().to_string().contains("after or overlapped"));
        let bench = table_bench(1, vec![Reduction::After, Reduction::Overlapped]);
        assert_eq!(train_settings(&bench, None), "clip=batch");
        assert_eq!(train_settings(&bench, Some(Reduction::Overlapped)), "clip=batch overlap=true");
        let row = |dp, reduction, seconds| LayoutResult {
            layout: ParallelLayout::new(dp, 1, 1).unwrap(),
            reduction,
            outcome: LayoutOutcome::Measured { step_seconds: vec![seconds], peak_mib_per_rank: 10.0 },
        };
        let text = to_text(&bench, &[row(1, None, 2.0), row(2, Some(Reduction::After), 3.0), row(2, Some(Reduction::Overlapped), 2.5)]);
        assert!(text.contains(", clip=batch\n"), "{text}");
        // 2.5 / 2 = 1.25.
        assert!(text.contains("2x1x1/overlapped     2      2.500             10      1.25x"), "{text}");
        assert!(text.contains("1x1x1                1      2.000"), "{text}");
    }
}
