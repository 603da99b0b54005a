//! The fault points the tests kill a run at.

/// For the tests that kill a deploy half-way (built with the `fault` feature):
/// `LASTMILE_FAULT=STEP` kills deploy-lxc with SIGKILL when it reaches STEP (`recorded`,
/// `prepared`, `switched-one`, `switched`), as `kill -9` or a power cut would.
pub fn fault(step: &str) {
    lastmile_process::fault::point(step);
}
