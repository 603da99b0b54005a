//! Fault points: where the crash-safety tests kill a tool half-way. With the `fault` feature (the
//! tests build with it; release binaries do not have it), `LASTMILE_FAULT=STEP` in a tool's
//! environment makes [`point`]`(STEP)` kill the process with SIGKILL, as `kill -9` or a power cut
//! would: no destructor runs. Without the feature, [`point`] does nothing and reads nothing.

/// Kill this process here if the tests asked for a fault at `step`.
#[inline]
pub fn point(step: &str) {
    #[cfg(feature = "fault")]
    if std::env::var_os("LASTMILE_FAULT").is_some_and(|s| s == step) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
    #[cfg(not(feature = "fault"))]
    let _ = step;
}

/// Whether this build has fault points (the crash-safety tests need it).
pub const ENABLED: bool = cfg!(feature = "fault");
