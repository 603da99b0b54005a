//! The exit codes every lastmile tool uses, and the `main` glue that maps errors onto them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a well-formed negative answer (no resolution, a cycle, a failed gate or health check) |
//! | 2 | usage error, bad input, I/O or unexpected error |
//! | 130 | interrupted |

use std::io::{self, Write};

/// How a tool run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    /// A well-formed negative answer; the tool has already said why.
    Negative,
    /// Bad input or an unexpected failure.
    Error,
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Negative => 1,
            Exit::Error => 2,
            Exit::Interrupted => 130,
        }
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// Run a tool's `run` function: print an error once as `tool: message: cause`, and turn the outcome
/// into the process exit code. A broken pipe (the reader went away, as with `| head`) exits 0 quietly.
pub fn main_with(tool: &str, run: impl FnOnce() -> anyhow::Result<Exit>) -> std::process::ExitCode {
    match run() {
        Ok(exit) => exit.into(),
        Err(err) if is_broken_pipe(&err) => Exit::Success.into(),
        // Whatever failed after a signal failed because of it.
        Err(_) if crate::interrupt::interrupted() => {
            let _ = writeln!(io::stderr().lock(), "{tool}: interrupted");
            Exit::Interrupted.into()
        }
        Err(err) => {
            // Nothing useful can be done if stderr itself is gone.
            let _ = writeln!(io::stderr().lock(), "{tool}: {err:#}");
            Exit::Error.into()
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_found_anywhere_in_the_chain() {
        let err = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing output");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
