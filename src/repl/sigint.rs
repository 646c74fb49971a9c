//! Ctrl-C while a command runs. rustyline takes SIGINT over while it reads a line (Ctrl-C at
//! the prompt is a key to it), so a handler installed once at start-up is gone by the time a
//! command runs. [`claim`] installs ours again before each command: it only raises a flag (all
//! a signal handler may safely do); the session polls that flag at its step boundaries.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

extern "C" fn raise_flag(_signal: libc::c_int) {
    if let Some(flag) = FLAG.get() {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Makes SIGINT set `flag` from now until the next line is read. The first flag given stays
/// the one raised for the life of the process (one REPL per process).
pub fn claim(flag: &Arc<AtomicBool>) {
    let _ = FLAG.set(Arc::clone(flag));
    // SAFETY: installs an async-signal-safe handler (one atomic store) for SIGINT.
    unsafe {
        libc::signal(libc::SIGINT, raise_flag as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}
