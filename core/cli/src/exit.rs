//! The exit codes every lastmile tool uses, and the one place errors are mapped onto them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a well-formed negative answer (no resolution, a cycle, a failed gate or health check) |
//! | 2 | usage error, bad input, I/O or unexpected error |
//! | 130 | interrupted |

use std::io::{self, Write};

use lastmile_process::Interrupted;

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

/// A well-formed negative answer returned as an error (a failed health check, a refused
/// promotion): printed like any error, but the exit code is 1, not 2.
#[derive(Debug)]
pub struct Negative(pub String);

impl std::fmt::Display for Negative {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Negative {}

/// The exit code of an error: 130 when a signal caused it, 0 for a broken pipe (the reader went
/// away, as with `| head`), 1 for a [`Negative`] answer, else 2.
pub fn exit_code(error: &anyhow::Error) -> Exit {
    if lastmile_process::interrupt::interrupted() || error.chain().any(|c| c.is::<Interrupted>()) {
        return Exit::Interrupted;
    }
    if error.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    }) {
        return Exit::Success;
    }
    if error.chain().any(|c| c.is::<Negative>()) {
        return Exit::Negative;
    }
    Exit::Error
}

/// Run a tool's `run` function: print an error once as `tool: message: cause`, and turn the outcome
/// into the process exit code.
pub fn main_with(tool: &str, run: impl FnOnce() -> anyhow::Result<Exit>) -> std::process::ExitCode {
    match run() {
        Ok(exit) => exit.into(),
        Err(err) => {
            let exit = exit_code(&err);
            // Nothing useful can be done if stderr itself is gone.
            let mut stderr = io::stderr().lock();
            match exit {
                Exit::Success => {}
                Exit::Interrupted => {
                    let _ = writeln!(stderr, "{tool}: interrupted");
                }
                Exit::Negative | Exit::Error => {
                    let _ = writeln!(stderr, "{tool}: {err:#}");
                }
            }
            exit.into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_the_readme_table() {
        let pipe = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe)).context("writing output");
        assert_eq!(exit_code(&pipe), Exit::Success);
        assert_eq!(exit_code(&anyhow::anyhow!("other")), Exit::Error);
        let negative = anyhow::Error::new(Negative("2 of 3 nodes unhealthy".into())).context("deploying lab");
        assert_eq!(exit_code(&negative), Exit::Negative);
        let interrupted = anyhow::Error::new(Interrupted).context("baking");
        assert_eq!(exit_code(&interrupted), Exit::Interrupted);
    }
}
