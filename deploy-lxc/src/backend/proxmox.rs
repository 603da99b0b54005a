//! The `proxmox` engine (being written).
use super::{Engine, NodeFiles, Running};
use crate::env::{Environment, Node, ProxmoxSettings};
use lastmile_fs::Sha256;
use std::path::Path;

pub struct Proxmox;

impl Proxmox {
    pub fn new(_env: &Environment, _settings: &ProxmoxSettings) -> anyhow::Result<Self> {
        anyhow::bail!("the proxmox backend is not ready")
    }
}

impl Engine for Proxmox {
    fn provide_image(&self, _: &Path, _: &Sha256, _: &lastmile_cli::Reporter) -> anyhow::Result<()> {
        unreachable!()
    }
    fn container_name(&self, _: &Node, _: usize, _: u64) -> String {
        unreachable!()
    }
    fn create(&self, _: &Node, _: &str, _: u64, _: &Sha256, _: &NodeFiles) -> anyhow::Result<()> {
        unreachable!()
    }
    fn start(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    fn stop(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    fn destroy(&self, _: &str) -> anyhow::Result<()> {
        unreachable!()
    }
    fn running(&self, _: &str) -> anyhow::Result<Running> {
        unreachable!()
    }
    fn exec_prefix(&self, _: &str) -> Vec<String> {
        unreachable!()
    }
    fn can_exec(&self) -> bool {
        false
    }
    fn containers(&self) -> anyhow::Result<Vec<String>> {
        unreachable!()
    }
    fn prune_images(&self, _: &std::collections::BTreeSet<Sha256>) -> anyhow::Result<()> {
        unreachable!()
    }
    fn describe_create(&self, _: &Node, _: &str, _: &Sha256) -> Vec<String> {
        unreachable!()
    }
}
