//! Ctrl-C, SIGTERM and SIGHUP. A tool that is making something (a staging tree, a half-written
//! image, a container being switched) installs the handler, calls [`check`] between steps and
//! runs children through [`output`]; on a signal the current step fails with [`Interrupted`], the
//! error unwinds through the `Drop`s that remove temporary files, and `exit::main_with` exits 130.
//! A second signal exits at once, without cleaning up.

use std::io::Write;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// Run a child process with its output captured (whatever its exit status), killing it when the
/// run is interrupted.
pub fn output(expression: &duct::Expression) -> anyhow::Result<std::process::Output> {
    let handle = expression.stdout_capture().stderr_capture().unchecked().start()?;
    loop {
        if interrupted() {
            let _ = handle.kill();
            return Err(Interrupted.into());
        }
        if let Some(output) = handle.try_wait()? {
            return Ok(output.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_runs_to_the_end_with_its_output() {
        let out = output(&duct::cmd!("sh", "-c", "echo out; echo err >&2; exit 3")).unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.code(), Some(3));
    }
}
