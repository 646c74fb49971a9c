//! `parallel [dp=N] [dap=M] [bp=K]`: records HelixFold's hybrid-parallel layout
//! ([`ParallelLayout`]); alone, shows it. Execution stays in one process for now, which the
//! output says.
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::parallel::layout::ParallelLayout;
use crate::session::Session;
use anyhow::{Context as _, Result};

fn degree(args: &Args, key: &str, current: u32) -> Result<u32> {
    match args.int(key) {
        Some(n) => u32::try_from(n).with_context(|| format!("{key}={n} is out of range")),
        None => Ok(current),
    }
}

/// The layout as a table.
pub fn layout_table(layout: &ParallelLayout) -> Output {
    Output::table(&["setting", "value"], layout.rows().into_iter().map(Vec::from).collect())
}

pub fn parallel(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let current = session.model.parallel;
    let layout = ParallelLayout::new(
        degree(args, "dp", current.dp)?,
        degree(args, "dap", current.dap)?,
        degree(args, "bp", current.bp)?,
    )?;
    session.model.parallel = layout;
    let mut outputs = vec![layout_table(&layout)];
    if layout.world_size() > 1 {
        outputs.push(Output::Warning(format!(
            "layout recorded for {} devices, but multi-process execution is not active yet: commands run in this one process",
            layout.world_size()
        )));
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_a_valid_layout_and_keeps_it_on_error() {
        let mut session = Session::new();
        let outputs = session.execute("parallel dp=2 dap=2 bp=2").unwrap();
        assert!(outputs[1].to_text().contains("not active yet"), "{outputs:?}");
        let set = ParallelLayout::new(2, 2, 2).unwrap();
        assert_eq!(session.model().parallel, set);
        for line in ["parallel bp=3", "parallel dap=0", "parallel dp=x"] {
            assert!(session.execute(line).is_err(), "{line}");
            assert_eq!(session.model().parallel, set, "{line}");
        }
        let shown = session.execute("show parallel").unwrap()[0].to_text();
        assert!(shown.contains("world size  8"), "{shown}");
    }
}
