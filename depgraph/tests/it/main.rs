//! Integration tests: they run the `depgraph` binary on real inputs.

mod archives;
mod bad_input;
mod changes;
mod example;
mod git_versions;
mod installed;
mod schemas;
mod sources;
mod subcommands;
mod testenv;
mod versions;
