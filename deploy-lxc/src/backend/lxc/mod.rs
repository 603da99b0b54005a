//! The `lxc` engine: real containers on this host, driven with `lxc-start`, `lxc-stop`,
//! `lxc-attach`, `lxc-info` and `lxc-destroy` on a config file deploy-lxc writes itself.
//!
//! Under the state folder (`--state-dir`, default `/var/lib/lastmile`):
//! - `images/<sha256>/`: each image unpacked once, read-only to nodes;
//! - `nodes/<container>/upper`: a node's own writes, over the image (`overlay:LOWER:UPPER`), or
//!   `nodes/<container>/rootfs`, a copy, where overlay is unavailable;
//! - `lxc/<container>/config`: the containers (the `lxcpath`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use lastmile_fs::Sha256;

use super::{ContainerId, Engine, Inspection, NodeFiles, Running};
use crate::env::{LxcSettings, Network, Node, RootfsKind};

mod config;
mod host;
mod inspect;
mod monitor;

pub use config::{container_name, network_config};
#[cfg(test)]
use monitor::monitor_title;
use monitor::monitors;

const PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Containers of one environment on this host.
pub struct Lxc {
    state_dir: PathBuf,
    environment: String,
    settings: LxcSettings,
    lxcpath: PathBuf,
    overlay: bool,
    cgroup2: bool,
    /// Held shared from the first image this run provides until it exits, so no other
    /// environment's prune removes an image before this run's state records it.
    in_use: std::sync::Mutex<Option<crate::lock::Lock>>,
}

impl Lxc {
    pub fn new(state_dir: &Path, environment: &str, settings: &LxcSettings) -> anyhow::Result<Self> {
        // The folders are made on the first write (`plan` and `status` leave no trace).
        let lxcpath = state_dir.join("lxc");
        let overlay = settings.rootfs == RootfsKind::Overlay
            && std::fs::read_to_string("/proc/filesystems").is_ok_and(|t| t.contains("\toverlay\n"));
        Ok(Self {
            state_dir: state_dir.to_owned(),
            environment: environment.to_owned(),
            settings: settings.clone(),
            lxcpath,
            overlay,
            cgroup2: Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            in_use: std::sync::Mutex::new(None),
        })
    }

    fn images(&self) -> PathBuf {
        self.state_dir.join("images")
    }

    /// This run's shared hold on the store's images, taken once.
    fn hold_images(&self) -> anyhow::Result<std::sync::MutexGuard<'_, Option<crate::lock::Lock>>> {
        let mut held = self
            .in_use
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.is_none() {
            for dir in [&self.lxcpath, &self.images(), &self.state_dir.join("nodes")] {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            *held = Some(crate::lock::shared(&self.images().join(".in-use"))?);
        }
        Ok(held)
    }

    fn image_dir(&self, digest: &Sha256) -> PathBuf {
        self.state_dir.join("images").join(digest.to_string())
    }

    fn node_dir(&self, container: &str) -> PathBuf {
        self.state_dir.join("nodes").join(container)
    }

    fn container_dir(&self, container: &str) -> PathBuf {
        self.lxcpath.join(container)
    }

    /// The LXC name of a container of this engine.
    fn name(container: &ContainerId) -> anyhow::Result<&str> {
        match container {
            ContainerId::Lxc(name) => Ok(name),
            ContainerId::Proxmox { .. } => bail!("{container} is a Proxmox container, not one of this host"),
        }
    }

    fn marker(&self) -> String {
        format!("# lastmile-environment = {}", self.environment)
    }

    /// Refuse to touch a container that another environment owns: its config's first line, or
    /// the `owner` file of its node folder (written first, so a create killed half-way leaves
    /// it), names another environment. The name already holds a hash of environment and node,
    /// so this is the second lock on the door: a folder made by hand, or renamed, is not removed.
    fn refuse_foreign(&self, container: &str) -> anyhow::Result<()> {
        let config = self.container_dir(container).join("config");
        let owner = self.node_dir(container).join("owner");
        let mine = self.environment.as_str();
        let mut claims = Vec::new();
        if config.exists() {
            let text = lastmile_fs::read_text_limited_path(&config, 64 * 1024)
                .with_context(|| format!("reading {}", config.display()))?;
            let first = text.lines().next().unwrap_or_default();
            claims.push((
                config,
                first.strip_prefix("# lastmile-environment = ").map(str::to_owned),
            ));
        }
        if owner.exists() {
            let text = lastmile_fs::read_text_limited_path(&owner, 1024)
                .with_context(|| format!("reading {}", owner.display()))?;
            claims.push((owner, Some(text.trim_end().to_owned())));
        }
        for (file, claim) in claims {
            if claim.as_deref() != Some(mine) {
                let who = claim.map_or_else(
                    || "no lastmile environment".to_owned(),
                    |e| format!("environment {e}"),
                );
                bail!(
                    "{container} belongs to {who}, not {mine} ({}); not touched",
                    file.display()
                );
            }
        }
        Ok(())
    }

    /// Run an `lxc-*` tool on one container.
    fn lxc(
        &self,
        tool: &str,
        container: &str,
        args: &[&str],
        limit: Duration,
    ) -> anyhow::Result<lastmile_process::Finished> {
        let mut command = Command::new(tool);
        command
            .arg("-P")
            .arg(&self.lxcpath)
            .args(["-n", container])
            .args(args);
        lastmile_process::run(&mut command, None, Some(limit)).with_context(|| format!("running {tool}"))
    }
}

impl Engine for Lxc {
    fn provide_image(
        &self,
        image: &Path,
        digest: &Sha256,
        reporter: &lastmile_cli::Reporter,
    ) -> anyhow::Result<()> {
        let target = self.image_dir(digest);
        let images = self.images();
        drop(self.hold_images()?);
        let _lock = crate::lock::wait_for(&images.join(".lock"))?;
        if target.is_dir() {
            return Ok(());
        }
        // A kill during an earlier unpack leaves only a temporary folder: removed here.
        for entry in std::fs::read_dir(&images)? {
            let path = entry?.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".tmp-"))
            {
                std::fs::remove_dir_all(&path).ok();
            }
        }
        let temporary = images.join(format!(".tmp-{digest}"));
        let spinner = reporter.spinner("unpacking");
        spinner.set_message(image.display().to_string());
        lastmile_image::unpack(image, &temporary, digest)?;
        std::fs::rename(&temporary, &target)?;
        lastmile_fs::sync_dir(&images)?;
        spinner.finish_and_clear();
        Ok(())
    }

    fn container_id(&self, node: &Node, _index: usize, generation: u64) -> ContainerId {
        ContainerId::Lxc(container_name(
            &self.settings.prefix,
            &self.environment,
            &node.name,
            generation,
        ))
    }

    fn create(
        &self,
        node: &Node,
        container: &ContainerId,
        _generation: u64,
        digest: &Sha256,
        files: &NodeFiles,
    ) -> anyhow::Result<()> {
        let container = Self::name(container)?;
        self.refuse_foreign(container)?;
        let node_dir = self.node_dir(container);
        if node_dir.exists() {
            std::fs::remove_dir_all(&node_dir)?;
        }
        let writable = if self.overlay {
            node_dir.join("upper")
        } else {
            node_dir.join("rootfs")
        };
        std::fs::create_dir_all(&node_dir)?;
        lastmile_fs::write_atomic(
            &node_dir.join("owner"),
            format!("{}\n", self.environment).as_bytes(),
        )?;
        if self.overlay {
            std::fs::create_dir(&writable)?;
        } else {
            let copied = lastmile_process::run(
                Command::new("cp")
                    .arg("-a")
                    .arg(self.image_dir(digest))
                    .arg(&writable),
                None,
                None,
            )?;
            if !copied.success() {
                bail!("copying the image for {container}: {}", copied.last_line());
            }
        }
        let root = lastmile_fs::Root::open(&writable)?;
        for (path, contents) in &files.files {
            root.create_parents(Path::new(path))?;
            root.write(Path::new(path), contents.as_bytes(), 0o644)?;
        }
        for (path, target) in &files.links {
            root.create_parents(Path::new(path))?;
            root.symlink(Path::new(target), Path::new(path))?;
        }
        let dir = self.container_dir(container);
        std::fs::create_dir_all(&dir)?;
        lastmile_fs::write_atomic(
            &dir.join("config"),
            self.config(node, container, digest).as_bytes(),
        )?;
        Ok(())
    }

    fn start(&self, container: &ContainerId) -> anyhow::Result<()> {
        let container = Self::name(container)?;
        let log = self.container_dir(container).join("lxc.log");
        let log = log.display().to_string();
        // `-d`: lxc-start forks the container's monitor and init and exits; they are what it
        // was run for, so they stay (a plain run would kill them with the rest of its tree).
        let mut command = Command::new("lxc-start");
        command
            .arg("-P")
            .arg(&self.lxcpath)
            .args(["-n", container, "-d", "-o", &log, "-l", "NOTICE"]);
        let started = lastmile_process::run_starting(&mut command, Duration::from_secs(60))
            .context("running lxc-start")?;
        if !started.success() {
            let tail = lastmile_fs::read_tail(Path::new(&log), 64 << 10)
                .unwrap_or_default()
                .1;
            let tail = String::from_utf8_lossy(&tail);
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            bail!(
                "lxc-start {container}: {}\n{}",
                started.last_line(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    fn stop(&self, id: &ContainerId) -> anyhow::Result<()> {
        if self.running(id)? != Running::Running {
            return Ok(());
        }
        let container = Self::name(id)?;
        // A clean shutdown (systemd stops the services) for up to 10 s, then killed.
        let stopped = self.lxc("lxc-stop", container, &["-t", "10"], Duration::from_secs(30))?;
        if !stopped.success() && self.running(id)? == Running::Running {
            bail!("lxc-stop {container}: {}", stopped.last_line());
        }
        Ok(())
    }

    fn destroy(&self, id: &ContainerId) -> anyhow::Result<()> {
        let container = Self::name(id)?;
        if let Err(foreign) = self.refuse_foreign(container) {
            // Never ours (a create refused for it), or taken since: forgotten, not touched.
            tracing::warn!("{foreign:#}");
            return Ok(());
        }
        if self.container_dir(container).join("config").exists() {
            self.stop(id)?;
            let destroyed = self.lxc("lxc-destroy", container, &["-f"], Duration::from_secs(60))?;
            if !destroyed.success() && self.container_dir(container).exists() {
                bail!("lxc-destroy {container}: {}", destroyed.last_line());
            }
        }
        for dir in [self.container_dir(container), self.node_dir(container)] {
            if dir.exists() {
                std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
            }
        }
        Ok(())
    }

    fn console_tail(&self, container: &ContainerId) -> Option<String> {
        let container = Self::name(container).ok()?;
        let (_, tail) =
            lastmile_fs::read_tail(&self.container_dir(container).join("console.log"), 16 << 10).ok()?;
        let tail = String::from_utf8_lossy(&tail);
        let lines: Vec<&str> = tail.lines().filter(|l| !l.trim().is_empty()).collect();
        let mut said = lines[lines.len().saturating_sub(10)..].join("\n");
        // And what LXC itself said went wrong (its log is kept at NOTICE).
        if let Ok((_, log)) = lastmile_fs::read_tail(&self.container_dir(container).join("lxc.log"), 64 << 10)
        {
            let log = String::from_utf8_lossy(&log);
            let errors: Vec<&str> = log.lines().filter(|l| l.contains(" ERROR ")).collect();
            if !errors.is_empty() {
                said.push_str(&format!(
                    "\nLXC said:\n{}",
                    errors[errors.len().saturating_sub(5)..].join("\n")
                ));
            }
        }
        // The usual reason systemd gives up at once in one of many containers.
        if let Some(hint) = host::inotify_exhausted(0) {
            said.push_str(&format!("\n{hint}"));
        }
        (!said.is_empty()).then_some(said)
    }

    fn preflight(&self, starting: usize) -> Vec<String> {
        host::inotify_exhausted(starting).into_iter().collect()
    }

    fn inspect(&self, container: &ContainerId) -> anyhow::Result<Option<Inspection>> {
        let container = Self::name(container)?;
        let path = self.container_dir(container).join("config");
        let Ok(config) = lastmile_fs::read_text_limited_path(&path, 64 * 1024) else {
            return Ok(None);
        };
        let Some((image, layers)) = inspect::layers_of(&config) else {
            return Ok(None);
        };
        inspect::inspect(image, &layers).map(Some)
    }

    fn running(&self, container: &ContainerId) -> anyhow::Result<Running> {
        let container = Self::name(container)?;
        if !self.container_dir(container).join("config").exists() {
            return Ok(Running::Missing);
        }
        let info = self.lxc("lxc-info", container, &["-s", "-H"], Duration::from_secs(10))?;
        // Only what lxc-info says: under load (many containers starting) it can fail to ask a
        // container's monitor, which is not the container stopping.
        match info.stdout.trim_ascii() {
            b"RUNNING" | b"STARTING" | b"STOPPING" | b"ABORTING" => Ok(Running::Running),
            b"STOPPED" => Ok(Running::Stopped),
            other => bail!(
                "lxc-info {container} could not tell its state ({}): {}",
                String::from_utf8_lossy(other),
                info.last_line()
            ),
        }
    }

    fn exec_prefix(&self, container: &ContainerId) -> Vec<String> {
        [
            "lxc-attach",
            "-P",
            &self.lxcpath.display().to_string(),
            "-n",
            &container.to_string(),
            "--clear-env",
            "--set-var",
            PATH,
            "--",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn can_exec(&self) -> bool {
        true
    }

    fn containers(&self) -> anyhow::Result<Vec<ContainerId>> {
        let mut found = Vec::new();
        let marker = self.marker();
        let entries = match std::fs::read_dir(&self.lxcpath) {
            Ok(entries) => entries,
            // Nothing was ever made here.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(found),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.lxcpath.display())),
        };
        for entry in entries {
            let entry = entry?;
            let config = lastmile_fs::read_text_limited_path(&entry.path().join("config"), 1 << 20)
                .unwrap_or_default();
            if config.lines().next() == Some(marker.as_str())
                && let Some(name) = entry.file_name().to_str()
            {
                found.push(ContainerId::Lxc(name.to_owned()));
            }
        }
        found.sort();
        Ok(found)
    }

    fn running_elsewhere(&self, stems: &[String]) -> Vec<(String, PathBuf)> {
        monitors()
            .into_iter()
            .filter(|(name, lxcpath)| {
                *lxcpath != self.lxcpath && stems.iter().any(|s| name.starts_with(s.as_str()))
            })
            .collect()
    }

    fn listing_hint(&self) -> Option<String> {
        Some(format!(
            "the containers live under {0}, not LXC's default folder: lxc-ls -P {0} -f",
            self.lxcpath.display()
        ))
    }

    fn prune_images(&self, used: &BTreeSet<Sha256>) -> anyhow::Result<()> {
        let images = self.images();
        let held = self.hold_images()?;
        if !held.as_ref().is_some_and(|l| l.try_exclusive().unwrap_or(false)) {
            tracing::info!(
                "another deploy-lxc is using the image store; unused images are left for a later prune"
            );
            return Ok(());
        }
        let _lock = crate::lock::wait_for(&images.join(".lock"))?;
        for entry in std::fs::read_dir(&images)? {
            let path = entry?.path();
            let Some(digest) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.parse::<Sha256>().ok())
            else {
                continue;
            };
            if !used.contains(&digest) {
                std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
            }
        }
        Ok(())
    }

    fn describe_create(
        &self,
        node: &Node,
        container: &ContainerId,
        _generation: u64,
        digest: &Sha256,
    ) -> Vec<String> {
        let rootfs = if self.overlay { "overlay on" } else { "a copy of" };
        vec![format!(
            "create {container}: rootfs {rootfs} {}, {} network, node.env for {}",
            self.image_dir(digest).display(),
            match node.network {
                Network::None => "host (none)",
                Network::Empty => "empty",
                Network::Veth { .. } => "veth",
            },
            node.name
        )]
    }
}

#[cfg(test)]
mod tests;
