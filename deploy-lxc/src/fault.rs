//! The fault points the tests kill a run at.

/// For the tests that kill a deploy half-way: with `LASTMILE_FAULT=STEP` in its environment,
/// deploy-lxc kills itself with SIGKILL when it reaches STEP (`recorded`, `prepared`,
/// `switched-one`, `switched`), as `kill -9` or a power cut would: no destructor runs.
pub fn fault(step: &str) {
    if std::env::var_os("LASTMILE_FAULT").is_some_and(|s| s == step) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}
