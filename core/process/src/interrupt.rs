//! Ctrl-C, SIGTERM and SIGHUP. After [`install`], a signal sets a flag that [`check`] turns into
//! the error [`Interrupted`] at the next step; the CLI layer maps it to exit code 130. A second
//! signal exits at once, without cleaning up.

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The error a step returns when the run was interrupted.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Catch SIGINT, SIGTERM and SIGHUP for the rest of the process. `tool` names the messages.
pub fn install(tool: &'static str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let installed = ctrlc::set_handler(move || {
            let mut err = std::io::stderr().lock();
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                let _ = writeln!(err, "{tool}: interrupted again: exiting without cleaning up");
                std::process::exit(130);
            }
            let _ = writeln!(
                err,
                "{tool}: interrupted: stopping and removing what this run made (again to exit at once)"
            );
        });
        if let Err(e) = installed {
            tracing::debug!("no signal handler: {e}");
        }
    });
}

/// Whether a signal has arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `Err(Interrupted)` once a signal has arrived.
pub fn check() -> Result<(), Interrupted> {
    if interrupted() { Err(Interrupted) } else { Ok(()) }
}

/// [`check`] as an `io::Error`, for loops that report I/O errors.
pub fn check_io() -> std::io::Result<()> {
    check().map_err(std::io::Error::other)
}
