//! Children with a time limit: each runs in its own process group, its output captured as it
//! comes, and when the limit passes or the run is interrupted the whole group is killed (the
//! child and everything it started), never just the first process.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::ProcessError;
use crate::interrupt::{Interrupted, interrupted};

/// How a child ended.
#[derive(Debug)]
pub struct Finished {
    /// `None` when it was killed for its time limit.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Finished {
    /// Whether it was killed for running past its time limit.
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// Whether it exited with status 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// The last non-empty line of stderr (else of stdout): what a failure message quotes.
    pub fn last_line(&self) -> String {
        [&self.stderr, &self.stdout]
            .iter()
            .find_map(|bytes| {
                String::from_utf8_lossy(bytes)
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .map(|l| l.trim().to_owned())
            })
            .unwrap_or_else(|| "no output".to_owned())
    }
}

/// Run `command` (stdin from `input`, or nothing) for at most `limit`, capturing its output.
pub fn run(
    command: &mut Command,
    input: Option<&[u8]>,
    limit: Option<Duration>,
) -> Result<Finished, ProcessError> {
    let program = command.get_program().to_string_lossy().into_owned();
    let spawn = |source| ProcessError::Spawn {
        program: program.clone(),
        source,
    };
    let started = Instant::now();
    let mut child = command
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(spawn)?;
    let group = rustix::process::Pid::from_child(&child);
    let reader = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped")));
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &bytes);
        });
    }
    let kill_group = || {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    };
    let status = loop {
        if interrupted() {
            kill_group();
            let _ = child.wait();
            return Err(Interrupted.into());
        }
        if let Some(status) = child.try_wait().map_err(spawn)? {
            // Whatever it started in its group and left running goes too.
            kill_group();
            break Some(status);
        }
        if limit.is_some_and(|limit| started.elapsed() >= limit) {
            kill_group();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Finished {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_captured_and_the_status_kept() {
        let done = run(
            Command::new("sh").args(["-c", "cat; echo err >&2; exit 3"]),
            Some(b"in\n"),
            None,
        )
        .unwrap();
        assert_eq!(done.stdout, b"in\n");
        assert_eq!(done.stderr, b"err\n");
        assert_eq!(done.status.unwrap().code(), Some(3));
        assert_eq!(done.last_line(), "err");
    }

    #[test]
    fn a_child_past_its_limit_is_killed_with_everything_it_started() {
        let marker = tempfile::tempdir().unwrap();
        let pidfile = marker.path().join("grandchild");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let done = run(
            Command::new("sh").args(["-c", &script]),
            None,
            Some(Duration::from_millis(300)),
        )
        .unwrap();
        assert!(done.timed_out());
        assert!(done.elapsed < Duration::from_secs(5));
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        // The grandchild (sleep) is gone too, not left behind.
        std::thread::sleep(Duration::from_millis(100));
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split_whitespace().nth(2).is_none_or(|state| state != "Z"));
        assert!(!alive, "the grandchild {pid} outlived the limit");
    }
}
