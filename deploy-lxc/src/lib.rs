//! `deploy-lxc`: a release candidate onto the nodes of an environment: every node gets its own
//! root filesystem over the one image, its own `node.env` and roles; the environment switches
//! generation as a whole, or goes back.
//!
//! Where to start: [`deploy::apply`] (the generation logic), [`switch`] (one node's stop, start,
//! check; revert), [`backend`] (the engines: [`backend::lxc`] on this host,
//! [`backend::proxmox`] through the Proxmox VE API), [`env`] (the environment file),
//! [`node`] (what a node gets outside the image), [`health`], [`state`] (generations, the lock,
//! recovery after a kill), [`store`] (the image checked and unpacked). [`run`] is the command
//! line's thin shell over them.

pub mod backend;
pub mod cli;
pub mod deploy;
pub mod env;
pub mod health;
pub mod node;
pub mod ops;
pub mod state;
pub mod store;
pub mod switch;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use lastmile_cli::{Exit, Negative, Reporter};
use lastmile_documents::Document;
use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::DeploymentDocument;
use lastmile_fs::Sha256;

use crate::backend::Engine;
use crate::cli::{CandidateArgs, Cli, Command, Target};
use crate::deploy::Candidate;
use crate::env::{Backend, Environment};

/// One run's environment, engine, state and options.
pub struct Context<'a> {
    pub env: &'a Environment,
    pub engine: Box<dyn Engine + 'a>,
    pub store: state::Store,
    pub state_dir: PathBuf,
    pub reporter: Reporter,
    /// Nodes switched at once.
    pub parallel: usize,
}

impl<'a> Context<'a> {
    pub fn new(
        env: &'a Environment,
        state_dir: &Path,
        reporter: Reporter,
        parallel: Option<usize>,
    ) -> anyhow::Result<Self> {
        // Absolute: the paths go into LXC configs, read from another working folder.
        let state_dir = &std::path::absolute(state_dir)
            .with_context(|| format!("--state-dir {}", state_dir.display()))?;
        let engine: Box<dyn Engine> = match &env.backend {
            Backend::Lxc(settings) => Box::new(backend::lxc::Lxc::new(state_dir, &env.name, settings)?),
            Backend::Proxmox(settings) => Box::new(backend::proxmox::Proxmox::new(env, settings)?),
        };
        Ok(Self {
            env,
            engine,
            store: state::Store::new(state_dir, &env.name)?,
            state_dir: state_dir.to_owned(),
            reporter,
            parallel: parallel.filter(|&n| n > 0).unwrap_or(env.nodes.len()),
        })
    }
}

/// Run `deploy-lxc` from its command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_cli::logging::init("deploy-lxc", &cli.global);
    lastmile_process::interrupt::install("deploy-lxc");
    let reporter = Reporter::new("deploy-lxc", &cli.global);
    let output = cli.global.output.as_deref();
    let quiet = cli.global.quiet;
    let open = |target: &Target| -> anyhow::Result<(Environment, PathBuf)> {
        Ok((env::load(&target.env)?, target.state_dir.clone()))
    };
    match &cli.command {
        Command::Plan { target, candidate } => {
            let (env, dir) = open(target)?;
            let ctx = Context::new(&env, &dir, reporter, None)?;
            let candidate = load_candidate(candidate)?;
            let plan = ops::plan(&ctx, &candidate)?;
            lastmile_cli::emit(output, lastmile_documents::to_string(&plan).as_bytes())?;
            Ok(Exit::Success)
        }
        Command::Apply {
            target,
            candidate,
            parallel,
        } => {
            let (env, dir) = open(target)?;
            let ctx = Context::new(&env, &dir, reporter, *parallel)?;
            let candidate = load_candidate(candidate)?;
            finish(deploy::apply(&ctx, &candidate), output, quiet)
        }
        Command::Rollback { target, parallel } => {
            let (env, dir) = open(target)?;
            let ctx = Context::new(&env, &dir, reporter, *parallel)?;
            finish(deploy::rollback(&ctx), output, quiet)
        }
        Command::Status { target } => {
            let (env, dir) = open(target)?;
            let ctx = Context::new(&env, &dir, reporter, None)?;
            let (doc, differences) = ops::status(&ctx)?;
            lastmile_cli::emit(output, doc.to_json().as_bytes())?;
            if !quiet {
                summary(&doc);
            }
            if differences.is_empty() {
                return Ok(Exit::Success);
            }
            Err(Negative(format!(
                "{}: the state and what runs differ:\n  {}",
                env.name,
                differences.join("\n  ")
            ))
            .into())
        }
        Command::Destroy { target } => {
            let (env, dir) = open(target)?;
            let ctx = Context::new(&env, &dir, reporter, None)?;
            let doc = ops::destroy(&ctx)?;
            lastmile_cli::emit(output, doc.to_json().as_bytes())?;
            Ok(Exit::Success)
        }
    }
}

/// Print the document (also after a revert, so a pipeline keeps it) and the summary.
fn finish(
    result: anyhow::Result<DeploymentDocument>,
    output: Option<&Path>,
    quiet: bool,
) -> anyhow::Result<Exit> {
    match result {
        Ok(doc) => {
            lastmile_cli::emit(output, doc.to_json().as_bytes())?;
            if !quiet {
                summary(&doc);
            }
            Ok(Exit::Success)
        }
        Err(error) => {
            if let Some(reverted) = error.downcast_ref::<deploy::Reverted>() {
                lastmile_cli::emit(output, reverted.0.to_json().as_bytes())?;
                if !quiet {
                    summary(&reverted.0);
                }
            }
            Err(error)
        }
    }
}

/// One line per node on stderr.
fn summary(doc: &DeploymentDocument) {
    let mut err = std::io::stderr().lock();
    let serving = match (&doc.candidate, doc.generation) {
        (Some(c), Some(g)) => format!("generation {g}, candidate {}", c.digest.short(12)),
        _ => "nothing serving".to_owned(),
    };
    let total = doc.timings_ms.get("total").copied().unwrap_or(0);
    let _ = writeln!(
        err,
        "deploy-lxc: {} ({}): {}: {serving}, in {:.1} s",
        doc.environment,
        doc.backend,
        serde_json::to_value(doc.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        total as f64 / 1000.0
    );
    for node in &doc.nodes {
        let passed = node.health.iter().filter(|h| h.ok).count();
        let downtime = node
            .downtime_ms
            .map(|ms| format!(", down {:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let _ = writeln!(
            err,
            "  {:<12} {:<28} {:<15} {:<8} checks {passed}/{}{downtime}  [{}]",
            node.name,
            node.container,
            node.address,
            node.state,
            node.health.len(),
            node.roles.join(",")
        );
    }
}

/// The candidate named on the command line: a document (file or stdin) and its image, or an
/// image whose document is read from inside it.
pub fn load_candidate(args: &CandidateArgs) -> anyhow::Result<Candidate> {
    let path = &args.candidate;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with("autobuild-") && name.ends_with(".tar.gz") {
        return candidate_from_image(path);
    }
    if path == Path::new("-") && lastmile_cli::input::stdin_is_terminal() {
        bail!("no candidate: give candidate.json, the image, or pipe bake-image's output in");
    }
    let (text, source) = lastmile_cli::input::read_path_or_stdin(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let document = CandidateDocument::from_json(&text, &source)?;
    let Some(info) = document.image.clone() else {
        bail!("{source}: names no image (this is the manifest from inside an image); give the image itself");
    };
    let image = match &args.image {
        Some(image) => image.clone(),
        None => {
            let named = PathBuf::from(&info.path);
            let beside = path
                .parent()
                .map(|dir| dir.join(named.file_name().unwrap_or_default()));
            match beside {
                Some(beside) if !named.exists() && path != Path::new("-") && beside.exists() => beside,
                _ => named,
            }
        }
    };
    if !image.is_file() {
        bail!(
            "{source}: the image {} is not there (give --image FILE)",
            image.display()
        );
    }
    Ok(Candidate {
        document,
        image,
        digest: info.sha256,
    })
}

/// An image given directly: its digest is its own sha256, which its name must start with, and
/// its document is `/etc/lastmile/candidate.json` inside it.
fn candidate_from_image(image: &Path) -> anyhow::Result<Candidate> {
    let shown = image.display().to_string();
    let digest = Sha256::of_file(image).with_context(|| format!("reading {shown}"))?;
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if !name.starts_with(&format!("autobuild-{}", digest.short(12))) {
        bail!(
            "{shown}: its sha256 is {digest}, which its name does not start with: not the image it says it is"
        );
    }
    let file = std::fs::File::open(image)?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let mut archive = tar::Archive::new(gz);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        if path.strip_prefix("./").unwrap_or(&path) == Path::new("etc/lastmile/candidate.json") {
            let text = lastmile_fs::read_text_limited(&mut entry, 16 << 20)?;
            let document =
                CandidateDocument::from_json(&text, &format!("{shown}!etc/lastmile/candidate.json"))?;
            return Ok(Candidate {
                document,
                image: image.to_owned(),
                digest,
            });
        }
    }
    bail!("{shown}: no /etc/lastmile/candidate.json inside: not an image bake-image made")
}
