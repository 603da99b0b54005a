//! aqf-run's own integration tests, without root: the nodes of the deployment are this host
//! (a stand-in `lxc-attach`, each node at its own loopback address), so suites run for real (commands,
//! built-in checks, time limits that kill what a test started, retries, partitions) and reports
//! and promotions are checked end to end. The same on real LXC nodes is in `tests/tests/qualify/`.

mod cases;
mod checks;
mod gate;
mod promote;
mod reliability;
mod runner;
mod slices;
mod testenv;
