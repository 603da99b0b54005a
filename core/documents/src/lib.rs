//! The JSON documents the lastmile tools exchange, each a typed struct with its version string and
//! its JSON Schema under `schemas/`:
//!
//! | document | written by | read by |
//! |---|---|---|
//! | `lastmile.graph/v1` ([`graph`]) | depgraph | pin-deps `--from-graph`, CI scripts |
//! | `lastmile.affected/v1` ([`affected`]) | depgraph `affected` | CI scripts, aqf-run `--affected` |
//! | `lastmile.lock/v1` ([`lock`]) | pin-deps `--format json` | bake-image |
//! | `lastmile.oslock/v1` ([`oslock`]) | pin-deps `os-lock` | `scripts/base-from-lock`, bake-image `--os-lock` |
//! | `lastmile.base/v1` ([`base`]) | `scripts/base-from-lock` (inside the base) | bake-image `--os-lock` |
//! | `lastmile.candidate/v1` ([`candidate`]) | bake-image | deploy-lxc, aqf-run |
//! | `lastmile.deployment/v1` ([`deployment`]) | deploy-lxc | aqf-run |
//! | `lastmile.report/v1` ([`report`]) | aqf-run | aqf-run `promote` |
//! | `lastmile.promotion/v2` ([`promotion`]; v1 lines read) | aqf-run `promote` (a channel's log) | people, CI |
//!
//! Every document has a top-level `"schema"` field that readers check before anything else, so a
//! newer or different document is refused with a message naming both versions; output is
//! deterministic (sorted maps and lists, no timestamps unless asked for).
//!
//! [`intoto`] holds the in-toto statements about an image: bake-image's SLSA provenance and the
//! promotion's verification summary.
//!
//! The contracts between the tools that are not documents live here too: the image's file name
//! ([`candidate::ImageName`]), where the candidate document sits inside it
//! ([`candidate::CANDIDATE_PATH`]), the variables a node is given
//! ([`deployment::DeploymentDocument::variables`]), `/etc/lastmile/node.env` ([`node_env`]), the names those carry ([`names`]) and the
//! command that runs a program inside a node ([`exec`]).
//!
//! Depends only on `lastmile-fs` and `lastmile-python` (the value types); no I/O beyond
//! parsing and printing.

pub mod affected;
pub mod base;
pub mod candidate;
pub mod changes;
pub mod deployment;
pub mod exec;
pub mod graph;
pub mod intoto;
pub mod lock;
pub mod names;
pub mod node_env;
pub mod oslock;
pub mod promotion;
pub mod report;

mod document;

pub use document::{Document, DocumentError, read, to_string, write};
