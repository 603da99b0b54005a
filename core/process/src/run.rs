//! Children with a time limit: each runs in its own process group, its output captured as it
//! comes (head and tail, within a bound), and when it ends, the limit passes or the run is
//! interrupted, everything it started is killed: its process group and every descendant seen,
//! also those that left the group.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::ProcessError;
use crate::capture::spawn_reader;
use crate::interrupt::{Interrupted, interrupted};
use crate::tree::Tree;

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

/// How long the output pipes are read after the child and its tree are gone: a process that
/// escaped the tree (it double-forked faster than a scan) may hold them open for ever.
const GRACE: Duration = Duration::from_secs(2);

/// Run `command` (stdin from `input`, or nothing) for at most `limit`, capturing its output (the
/// first and last [`KEEP`](crate::capture::KEEP) bytes of each stream).
pub fn run(
    command: &mut Command,
    input: Option<&[u8]>,
    limit: Option<Duration>,
) -> Result<Finished, ProcessError> {
    run_keeping(command, input, limit, crate::capture::KEEP, Leftovers::Kill)
}

/// Run `command`, whose job is to start something that outlives it (a daemon that forks away, as
/// `lxc-start -d` starts a container's monitor and its init), for at most `limit`. Unlike
/// [`run`], what it leaves running when it exits on its own is what it was run for, and stays;
/// everything it started is killed only when the limit passes or the run is interrupted.
pub fn run_starting(command: &mut Command, limit: Duration) -> Result<Finished, ProcessError> {
    run_keeping(command, None, Some(limit), crate::capture::KEEP, Leftovers::Keep)
}

/// What happens to the processes a child leaves behind when it exits on its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Leftovers {
    Kill,
    Keep,
}

fn run_keeping(
    command: &mut Command,
    input: Option<&[u8]>,
    limit: Option<Duration>,
    keep: usize,
    leftovers: Leftovers,
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
    let mut tree = Tree::new(group.as_raw_nonzero().get());
    let stdout = spawn_reader(child.stdout.take().expect("piped"), keep);
    let stderr = spawn_reader(child.stderr.take().expect("piped"), keep);
    if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut stdin, &bytes);
        });
    }
    // The group first (one signal stops what stayed in it), then every descendant seen, even
    // those that left the group; new ones may have been forked meanwhile, so a few rounds.
    let kill_all = |tree: &mut Tree| {
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        for _ in 0..3 {
            tree.scan();
            if tree.kill() == 0 {
                break;
            }
        }
    };
    let status = loop {
        tree.scan();
        if interrupted() {
            kill_all(&mut tree);
            let _ = child.wait();
            return Err(Interrupted.into());
        }
        if let Some(status) = child.try_wait().map_err(spawn)? {
            // Whatever it started and left running goes too, unless that was the point.
            if leftovers == Leftovers::Kill {
                kill_all(&mut tree);
            }
            break Some(status);
        }
        if limit.is_some_and(|limit| started.elapsed() >= limit) {
            kill_all(&mut tree);
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (stdout, out_ended) = stdout.finish(GRACE);
    let (mut stderr, err_ended) = stderr.finish(GRACE);
    if !(out_ended && err_ended) {
        stderr.extend_from_slice(
            b"\n[lastmile: a process outside the child's tree held its output open; stopped reading]\n",
        );
    }
    Ok(Finished {
        status,
        stdout,
        stderr,
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

    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|stat| stat.split_whitespace().nth(2).is_none_or(|state| state != "Z"))
    }

    #[test]
    fn a_flood_of_output_is_kept_to_its_head_and_tail() {
        // 300 MB on stdout, then a last line on stderr: the memory held is the bound, the end of
        // the output (what a failure quotes) is still there.
        let done = run(
            Command::new("sh").args([
                "-c",
                "head -c 300000000 /dev/zero; echo tail-line; echo failed >&2",
            ]),
            None,
            None,
        )
        .unwrap();
        assert!(
            done.stdout.len() < 2 * crate::KEEP + 100,
            "{} bytes kept",
            done.stdout.len()
        );
        let text = String::from_utf8_lossy(&done.stdout);
        let cut = 300_000_010 - 2 * crate::KEEP as u64;
        assert!(
            text.contains(&format!("[lastmile: {cut} bytes of output cut here]")),
            "no cut line"
        );
        assert!(text.ends_with("tail-line\n"));
        assert_eq!(done.last_line(), "failed");
    }

    #[test]
    fn a_process_that_left_the_group_is_killed_too_and_does_not_hold_the_run() {
        // A server started with setsid leaves the process group and keeps stdout open: the run
        // ends when the child does, and the server is gone.
        let marker = tempfile::tempdir().unwrap();
        let pidfile = marker.path().join("server");
        let script = format!(
            "setsid sleep 30 & echo $! > {}; sleep 0.3; exit 0",
            pidfile.display()
        );
        let done = run(Command::new("sh").args(["-c", &script]), None, None).unwrap();
        assert!(done.success());
        assert!(done.elapsed < Duration::from_secs(5), "took {:?}", done.elapsed);
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(pid), "the server {pid} outlived the run");
    }

    #[test]
    fn an_escaped_process_past_the_limit_is_killed() {
        let marker = tempfile::tempdir().unwrap();
        let pidfile = marker.path().join("server");
        let script = format!("setsid sleep 30 & echo $! > {}; sleep 30", pidfile.display());
        let done = run(
            Command::new("sh").args(["-c", &script]),
            None,
            Some(Duration::from_millis(500)),
        )
        .unwrap();
        assert!(done.timed_out());
        assert!(done.elapsed < Duration::from_secs(5), "took {:?}", done.elapsed);
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(pid), "the server {pid} outlived the limit");
    }

    #[test]
    fn a_daemon_started_stays_after_the_starter_exits() {
        // As `lxc-start -d`: the starter forks a daemon that closes its output and lives on; the
        // scan sees the daemon (the starter waits a moment), and it must not be killed for that.
        let marker = tempfile::tempdir().unwrap();
        let pidfile = marker.path().join("daemon");
        let script = format!(
            "setsid sleep 30 >/dev/null 2>&1 </dev/null & echo $! > {}; sleep 0.3",
            pidfile.display()
        );
        let done = run_starting(Command::new("sh").args(["-c", &script]), Duration::from_secs(10)).unwrap();
        assert!(done.success());
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let stayed = alive(pid);
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::KILL,
        );
        assert!(stayed, "the daemon {pid} was killed when its starter exited");
    }

    #[test]
    fn a_starter_past_its_limit_is_killed_with_its_daemon() {
        let marker = tempfile::tempdir().unwrap();
        let pidfile = marker.path().join("daemon");
        let script = format!(
            "setsid sleep 30 >/dev/null 2>&1 </dev/null & echo $! > {}; sleep 30",
            pidfile.display()
        );
        let done = run_starting(
            Command::new("sh").args(["-c", &script]),
            Duration::from_millis(500),
        )
        .unwrap();
        assert!(done.timed_out());
        let pid: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(!alive(pid), "the daemon {pid} outlived its starter's limit");
    }

    #[test]
    fn small_bounds_cut_both_streams() {
        let done = run_keeping(
            Command::new("sh").args(["-c", "printf 0123456789; printf abcdefghij >&2"]),
            None,
            None,
            3,
            Leftovers::Kill,
        )
        .unwrap();
        assert_eq!(done.stdout, b"012\n[lastmile: 4 bytes of output cut here]\n789");
        assert_eq!(done.stderr, b"abc\n[lastmile: 4 bytes of output cut here]\nhij");
    }
}
