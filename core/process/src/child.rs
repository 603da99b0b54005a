//! Child processes that stop when the run is interrupted.

use std::time::Duration;

use crate::interrupt::{Interrupted, interrupted};

/// A child process could not be run to the end.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Interrupted(#[from] Interrupted),
}

/// Run a child process with its output captured (whatever its exit status), killing it when the
/// run is interrupted.
pub fn output(expression: &duct::Expression) -> Result<std::process::Output, ProcessError> {
    let spawn = |source| ProcessError::Spawn {
        program: program_of(expression),
        source,
    };
    let handle = expression
        .stdout_capture()
        .stderr_capture()
        .unchecked()
        .start()
        .map_err(spawn)?;
    loop {
        if interrupted() {
            let _ = handle.kill();
            return Err(Interrupted.into());
        }
        if let Some(output) = handle.try_wait().map_err(spawn)? {
            return Ok(output.clone());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first word of a duct expression's debug form, for messages.
fn program_of(expression: &duct::Expression) -> String {
    let shown = format!("{expression:?}");
    shown
        .split('"')
        .nth(1)
        .map_or_else(|| shown.clone(), str::to_owned)
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

    #[test]
    fn a_missing_program_is_named() {
        let err = output(&duct::cmd!("lastmile-surely-missing", "x")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot run lastmile-surely-missing: "),
            "{err}"
        );
    }
}
