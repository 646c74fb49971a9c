//! `data [crop_size=N] [msa_depth=N] [extra_msa=N] [seed=N]`: sets the data pipeline's settings
//! ([`DataConfig`]); with no argument it shows them. Every value is checked before any is set.
use crate::session::args::Args;
use crate::session::context::Context;
use crate::session::output::Output;
use crate::session::state::DataConfig;
use crate::session::Session;
use anyhow::{Context as _, Result};

/// `args[key]` as a count, or `current` when not given.
fn count(args: &Args, key: &str, current: usize) -> Result<usize> {
    match args.int(key) {
        Some(n) => usize::try_from(n).with_context(|| format!("{key}={n} is out of range")),
        None => Ok(current),
    }
}

pub fn data(session: &mut Session, args: &Args, _context: &mut Context) -> Result<Vec<Output>> {
    let current = session.data_config;
    let updated = DataConfig {
        crop_size: count(args, "crop_size", current.crop_size)?,
        msa_depth: count(args, "msa_depth", current.msa_depth)?,
        extra_msa: count(args, "extra_msa", current.extra_msa)?,
        seed: match args.int("seed") {
            Some(n) => u64::try_from(n).with_context(|| format!("seed={n} is out of range"))?,
            None => current.seed,
        },
    };
    session.data_config = updated;
    Ok(vec![Output::table(&["setting", "value"], updated.rows().into_iter().map(Vec::from).collect())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_change_together_or_not_at_all() {
        let mut session = Session::new();
        session.execute("data crop_size=64 seed=9").unwrap();
        let set = DataConfig { crop_size: 64, seed: 9, ..DataConfig::default() };
        assert_eq!(session.data_config(), &set);
        assert!(session.execute("data crop_size=128 msa_depth=0").is_err());
        assert_eq!(session.data_config(), &set);
    }
}
