//! Every process a child started, even those that left its process group (`setsid`, a daemon's
//! double fork). While the child runs, [`Tree::scan`] walks `/proc` from the child and from every
//! descendant already seen, and holds a pidfd on each new one, so that [`Tree::kill`] signals
//! exactly those processes, never a later process that reused a pid.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::OwnedFd;

use rustix::process::{Pid, PidfdFlags, Signal, pidfd_open, pidfd_send_signal};

/// At most this many descendants are held (each is an open pidfd); a fork bomb past it is still
/// stopped by the process group kill.
const MAX_HELD: usize = 4096;

/// The descendants of one child.
pub(crate) struct Tree {
    root: i32,
    held: BTreeMap<i32, Held>,
}

struct Held {
    start: u64,
    fd: OwnedFd,
}

/// The fields of `/proc/PID/stat` a tree needs.
#[derive(Debug, PartialEq, Eq)]
struct Stat {
    parent: i32,
    start: u64,
}

impl Tree {
    pub(crate) fn new(root: i32) -> Self {
        Self {
            root,
            held: BTreeMap::new(),
        }
    }

    /// Find and hold the descendants started since the last scan.
    pub(crate) fn scan(&mut self) {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return;
        };
        let mut children: BTreeMap<i32, Vec<(i32, u64)>> = BTreeMap::new();
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(stat) = stat_of(pid) {
                children.entry(stat.parent).or_default().push((pid, stat.start));
            }
        }
        let mut parents: Vec<i32> = std::iter::once(self.root)
            .chain(self.held.keys().copied())
            .collect();
        let mut visited = BTreeSet::new();
        while let Some(parent) = parents.pop() {
            if !visited.insert(parent) {
                continue;
            }
            for &(pid, start) in children.get(&parent).into_iter().flatten() {
                parents.push(pid);
                if self.held.get(&pid).is_some_and(|h| h.start == start) || self.held.len() >= MAX_HELD {
                    continue;
                }
                if let Some(held) = hold(pid, start) {
                    self.held.insert(pid, held);
                }
            }
        }
    }

    /// Send SIGKILL to every descendant held; how many were still there.
    pub(crate) fn kill(&self) -> usize {
        self.held
            .values()
            .filter(|held| pidfd_send_signal(&held.fd, Signal::KILL).is_ok())
            .count()
    }
}

/// A pidfd on `pid`, if it is still the process that started at `start`: the pid may have been
/// reused between reading `/proc` and opening it, so the start time is read again after.
fn hold(pid: i32, start: u64) -> Option<Held> {
    let fd = pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?;
    (stat_of(pid)?.start == start).then_some(Held { start, fd })
}

fn stat_of(pid: i32) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// `pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
/// cutime cstime priority nice threads itrealvalue starttime ...`; comm may hold spaces and
/// parentheses, so fields are counted after its last `)`.
fn parse_stat(text: &str) -> Option<Stat> {
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    Some(Stat {
        parent: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_are_read_after_the_command_name() {
        let line = "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 99 0 0 0 0 0 0 0 20 0 1 0 123456 2 3";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                parent: 17,
                start: 123_456
            })
        );
        assert_eq!(parse_stat("4242 (x) S 17"), None);
    }
}
