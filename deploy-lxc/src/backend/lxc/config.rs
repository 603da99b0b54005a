//! The LXC config deploy-lxc writes for a node, and the names of its containers.

use lastmile_fs::Sha256;

use super::Lxc;
use crate::env::{Network, Node};

impl Lxc {
    /// The LXC config of a node.
    pub fn config(&self, node: &Node, container: &str, digest: &Sha256) -> String {
        let dir = self.container_dir(container);
        let rootfs = if self.overlay {
            format!(
                "overlay:{}:{}",
                self.image_dir(digest).display(),
                self.node_dir(container).join("upper").display()
            )
        } else {
            format!("dir:{}", self.node_dir(container).join("rootfs").display())
        };
        let mut text = format!(
            "{}\n# Written by deploy-lxc: node {} of environment {}, image {digest}.\n\
             lxc.uts.name = {}\n\
             lxc.arch = linux64\n\
             lxc.include = /usr/share/lxc/config/common.conf\n\
             lxc.rootfs.path = {rootfs}\n\
             lxc.apparmor.profile = unconfined\n\
             lxc.autodev = 1\n\
             lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n\
             lxc.console.logfile = {}\n",
            self.marker(),
            node.name,
            self.environment,
            node.name,
            dir.join("console.log").display(),
        );
        text.push_str(&network_config(&node.network));
        if let Some(memory) = node.memory {
            text.push_str(&if self.cgroup2 {
                format!("lxc.cgroup2.memory.max = {memory}\n")
            } else {
                format!("lxc.cgroup.memory.limit_in_bytes = {memory}\n")
            });
        }
        if let Some(cpus) = node.cpus {
            let quota = u64::from(cpus) * 100_000;
            text.push_str(&if self.cgroup2 {
                format!("lxc.cgroup2.cpu.max = {quota} 100000\n")
            } else {
                format!("lxc.cgroup.cpu.cfs_period_us = 100000\nlxc.cgroup.cpu.cfs_quota_us = {quota}\n")
            });
        }
        text
    }
}

/// The LXC name of a node's container in one generation: `PREFIXENV-NODE-HASH-GENERATION`, where
/// HASH is the first 8 hex digits of the sha256 of `ENV\0NODE`. Environment and node names may
/// hold `-`, so the readable part alone is ambiguous (`lab` + `x-1` and `lab-x` + `1`); the hash
/// tells them apart.
pub fn container_name(prefix: &str, environment: &str, node: &str, generation: u64) -> String {
    let hash = Sha256::of(format!("{environment}\0{node}")).short(8);
    format!("{prefix}{environment}-{node}-{hash}-{generation}")
}

/// The `lxc.net.0.*` lines of a network.
pub fn network_config(network: &Network) -> String {
    match network {
        Network::None => "lxc.net.0.type = none\n".to_owned(),
        Network::Empty => "lxc.net.0.type = empty\n".to_owned(),
        Network::Veth { link, ipv4, gateway } => {
            let mut text = format!(
                "lxc.net.0.type = veth\nlxc.net.0.link = {link}\nlxc.net.0.flags = up\nlxc.net.0.name = eth0\nlxc.net.0.ipv4.address = {ipv4}\n"
            );
            if let Some(gateway) = gateway {
                text.push_str(&format!("lxc.net.0.ipv4.gateway = {gateway}\n"));
            }
            text
        }
    }
}
