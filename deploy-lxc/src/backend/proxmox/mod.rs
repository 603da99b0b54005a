//! The `proxmox` engine: containers on a Proxmox VE cluster, driven through its REST API
//! (`/api2/json`) with an API token. The image is uploaded once per Proxmox node as a template
//! (`content=vztmpl`, with its sha256 for the server to check); each node of a generation is a
//! container made from it (`POST /nodes/{node}/lxc`), given its per-node values as the
//! container's environment (`env`), which the image's `lastmile-node` generator turns into
//! `/run/lastmile/node.env` and enabled roles at boot. Every asynchronous call's task (UPID) is
//! waited for and its exit status checked.
//!
//! Tested against a server that validates every call against the API's own definitions, not
//! against a live cluster.

mod api;

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::bail;
use lastmile_documents::candidate::ImageName;
use lastmile_fs::Sha256;
use serde_json::Value;

pub use api::call_text;
use api::{Api, Refused, encode};

use super::{ContainerId, Engine, NodeFiles, Running};
use crate::env::{Environment, Network, Node, ProxmoxSettings};

/// Containers of one environment on a cluster.
pub struct Proxmox {
    settings: ProxmoxSettings,
    environment: String,
    api: Api,
    /// Which Proxmox node each environment node goes on.
    hosts: Vec<(String, String)>,
    /// `lastmile-owner-HASH`: the state folder (on this machine) that made a container. The same
    /// environment deployed from another state folder is someone else's.
    owner: String,
}

/// The owner tag of a state folder: a hash of this machine's id and the folder's path.
fn owner_tag(state_dir: &Path) -> String {
    let machine = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
    let dir = std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let hash = Sha256::of(format!("{}\0{}", machine.trim(), dir.display())).short(12);
    format!("lastmile-owner-{hash}")
}

impl Proxmox {
    pub fn new(env: &Environment, settings: &ProxmoxSettings, state_dir: &Path) -> anyhow::Result<Self> {
        let hosts = env
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| {
                let host = node
                    .host
                    .clone()
                    .unwrap_or_else(|| settings.hosts[i % settings.hosts.len()].clone());
                (node.name.clone(), host)
            })
            .collect();
        Ok(Self {
            settings: settings.clone(),
            environment: env.name.clone(),
            api: Api::new(&settings.url, &settings.token, &settings.token_secret_env),
            hosts,
            owner: owner_tag(state_dir),
        })
    }

    fn host_of(&self, node: &str) -> &str {
        self.hosts
            .iter()
            .find(|(n, _)| n == node)
            .map_or(self.settings.hosts[0].as_str(), |(_, h)| h.as_str())
    }

    fn tag(&self) -> String {
        format!("lastmile-{}", self.environment)
    }

    /// Whether a resource's tags say it is this environment's, from this state folder.
    fn ours(&self, resource: &Value) -> bool {
        let tags = resource["tags"].as_str().unwrap_or_default();
        let has = |wanted: &str| tags.split([';', ',', ' ']).any(|t| t == wanted);
        resource["type"] == "lxc" && has(&self.tag()) && has(&self.owner)
    }

    fn template_name(digest: &Sha256) -> String {
        ImageName::of(digest).to_string()
    }

    fn call(&self, method: &str, path: &str, params: &[(String, String)]) -> anyhow::Result<Value> {
        self.api.call(method, path, params)
    }

    fn wait_task(&self, host: &str, upid: &Value) -> anyhow::Result<()> {
        self.api.wait_task(host, upid)
    }

    /// The tag a generation's containers carry beside the environment's.
    fn generation_tag(generation: u64) -> String {
        format!("lastmile-gen-{generation}")
    }

    /// The cluster's record of a container (`/cluster/resources`), if it exists.
    fn resource(&self, host: &str, vmid: u32) -> anyhow::Result<Option<Value>> {
        let listed = self.call(
            "GET",
            "/cluster/resources",
            &[("type".to_owned(), "vm".to_owned())],
        )?;
        Ok(listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["vmid"].as_u64() == Some(u64::from(vmid)) && (host.is_empty() || r["node"] == host))
            .cloned())
    }

    /// Who a container belongs to, as its tags say.
    fn owner(resource: &Value) -> String {
        let tags = resource["tags"].as_str().unwrap_or_default();
        let environment = tags.split([';', ',', ' ']).find_map(|t| {
            t.strip_prefix("lastmile-")
                .filter(|e| !e.starts_with("gen-") && !e.starts_with("owner-"))
        });
        let kind = resource["type"].as_str().unwrap_or("guest");
        match environment {
            Some(environment) => format!("{kind} of environment {environment} (tags {tags:?})"),
            None if tags.is_empty() => format!("{kind} without lastmile tags"),
            None => format!("{kind} without lastmile tags (tags {tags:?})"),
        }
    }

    /// The container's state if it is this environment's, as its tags say; `None` (and a
    /// warning) for anyone else's: nothing is stopped or destroyed unless its tags say it is ours.
    /// A generation's record can name a VMID that was never this environment's (its create
    /// was refused because the VMID was taken): forgetting it is right, touching it is not.
    fn owned(&self, container: &ContainerId) -> anyhow::Result<Option<Running>> {
        let (host, vmid) = Self::vm(container)?;
        let Some(resource) = self.resource(host, vmid)? else {
            return Ok(Some(Running::Missing));
        };
        if !self.ours(&resource) {
            tracing::warn!(
                "{container} is a {}, not a container of environment {} from this state folder; left alone",
                Self::owner(&resource),
                self.environment
            );
            return Ok(None);
        }
        self.running(container).map(Some)
    }

    /// Refuse a VMID the cluster already uses, naming what holds it.
    fn ensure_free(&self, host: &str, vmid: u32) -> anyhow::Result<()> {
        let asked = self.call("GET", "/cluster/nextid", &[("vmid".to_owned(), vmid.to_string())]);
        match asked {
            Ok(_) => Ok(()),
            Err(error) if error.downcast_ref::<Refused>().is_some_and(|r| r.status == 400) => {
                let holder = self.resource("", vmid)?.map_or_else(
                    || "something the cluster does not list".to_owned(),
                    |r| format!("a {} on {}", Self::owner(&r), r["node"].as_str().unwrap_or("?")),
                );
                bail!(
                    "VMID {vmid} (for {host}) is taken by {holder}; nothing was changed. \
                     Give environment {} its own range: proxmox.vmid_base (now {})",
                    self.environment,
                    self.settings.vmid_base
                )
            }
            Err(error) => Err(error),
        }
    }

    /// The host and VMID of a container of this engine.
    fn vm(container: &ContainerId) -> anyhow::Result<(&str, u32)> {
        match container {
            ContainerId::Proxmox { host, vmid } => Ok((host, *vmid)),
            ContainerId::Lxc(_) => bail!("{container} is an LXC container of this host, not a Proxmox one"),
        }
    }

    /// The parameters that create a node's container.
    pub fn create_params(
        &self,
        node: &Node,
        vmid: u32,
        generation: u64,
        digest: &Sha256,
        files: &NodeFiles,
    ) -> Vec<(String, String)> {
        let mut params = vec![
            ("vmid".to_owned(), vmid.to_string()),
            (
                "ostemplate".to_owned(),
                format!(
                    "{}:vztmpl/{}",
                    self.settings.template_storage,
                    Self::template_name(digest)
                ),
            ),
            ("hostname".to_owned(), node.name.clone()),
            ("ostype".to_owned(), "debian".to_owned()),
            ("unprivileged".to_owned(), "1".to_owned()),
            ("features".to_owned(), "nesting=1".to_owned()),
            (
                "rootfs".to_owned(),
                format!("{}:{}", self.settings.rootfs_storage, self.settings.disk_gb),
            ),
            (
                "tags".to_owned(),
                format!(
                    "{};{};{}",
                    self.tag(),
                    Self::generation_tag(generation),
                    self.owner
                ),
            ),
        ];
        if let Some(memory) = node.memory {
            params.push(("memory".to_owned(), (memory >> 20).to_string()));
        }
        if let Some(cpus) = node.cpus {
            params.push(("cores".to_owned(), cpus.to_string()));
        }
        if let Network::Veth { link, ipv4, gateway } = &node.network {
            let mut net = format!("name=eth0,bridge={link},ip={ipv4}");
            if let Some(gateway) = gateway {
                net.push_str(&format!(",gw={gateway}"));
            }
            params.push(("net0".to_owned(), net));
        }
        let mut environment: Vec<String> = files
            .environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let names: Vec<&str> = files.environment.iter().map(|(k, _)| k.as_str()).collect();
        environment.push(format!("LASTMILE_VARS={}", names.join(" ")));
        params.push(("env".to_owned(), environment.join("\0")));
        params
    }
}

impl Engine for Proxmox {
    fn provide_image(
        &self,
        image: &Path,
        digest: &Sha256,
        reporter: &lastmile_cli::Reporter,
    ) -> anyhow::Result<()> {
        let name = Self::template_name(digest);
        let storage = &self.settings.template_storage;
        let volid = format!("{storage}:vztmpl/{name}");
        let hosts: BTreeSet<&str> = self.hosts.iter().map(|(_, h)| h.as_str()).collect();
        for host in hosts {
            let listed = self.call(
                "GET",
                &format!("/nodes/{host}/storage/{storage}/content"),
                &[("content".to_owned(), "vztmpl".to_owned())],
            )?;
            if listed
                .as_array()
                .is_some_and(|l| l.iter().any(|v| v["volid"] == volid.as_str()))
            {
                continue;
            }
            let bar = reporter.spinner("uploading");
            bar.set_message(format!("{name} to {host}"));
            let upid = self.api.upload(host, storage, image, &name, digest)?;
            self.wait_task(host, &upid)?;
            bar.finish_and_clear();
        }
        Ok(())
    }

    fn container_id(&self, node: &Node, index: usize, generation: u64) -> ContainerId {
        let vmid = u64::from(self.settings.vmid_base) + generation * 100 + index as u64;
        ContainerId::Proxmox {
            host: self.host_of(&node.name).to_owned(),
            vmid: u32::try_from(vmid).unwrap_or(u32::MAX),
        }
    }

    fn create(
        &self,
        node: &Node,
        container: &ContainerId,
        generation: u64,
        digest: &Sha256,
        files: &NodeFiles,
    ) -> anyhow::Result<()> {
        let (host, vmid) = Self::vm(container)?;
        self.ensure_free(host, vmid)?;
        let params = self.create_params(node, vmid, generation, digest, files);
        let upid = self.call("POST", &format!("/nodes/{host}/lxc"), &params)?;
        self.wait_task(host, &upid)
    }

    fn start(&self, container: &ContainerId) -> anyhow::Result<()> {
        let (host, vmid) = Self::vm(container)?;
        let upid = self.call("POST", &format!("/nodes/{host}/lxc/{vmid}/status/start"), &[])?;
        self.wait_task(host, &upid)
    }

    fn stop(&self, container: &ContainerId) -> anyhow::Result<()> {
        if self.owned(container)? != Some(Running::Running) {
            return Ok(());
        }
        let (host, vmid) = Self::vm(container)?;
        let params = [
            ("timeout".to_owned(), "10".to_owned()),
            ("forceStop".to_owned(), "1".to_owned()),
        ];
        let upid = self.call(
            "POST",
            &format!("/nodes/{host}/lxc/{vmid}/status/shutdown"),
            &params,
        )?;
        self.wait_task(host, &upid)
    }

    fn destroy(&self, container: &ContainerId) -> anyhow::Result<()> {
        match self.owned(container)? {
            None | Some(Running::Missing) => return Ok(()),
            Some(Running::Running) => self.stop(container)?,
            Some(Running::Stopped) => {}
        }
        let (host, vmid) = Self::vm(container)?;
        let params = [
            ("purge".to_owned(), "1".to_owned()),
            ("force".to_owned(), "1".to_owned()),
        ];
        let upid = self.call("DELETE", &format!("/nodes/{host}/lxc/{vmid}"), &params)?;
        self.wait_task(host, &upid)
    }

    fn running(&self, container: &ContainerId) -> anyhow::Result<Running> {
        let (host, vmid) = Self::vm(container)?;
        if self.resource(host, vmid)?.is_none() {
            return Ok(Running::Missing);
        }
        let status = self.call("GET", &format!("/nodes/{host}/lxc/{vmid}/status/current"), &[])?;
        Ok(if status["status"] == "running" {
            Running::Running
        } else {
            Running::Stopped
        })
    }

    fn exec_prefix(&self, container: &ContainerId) -> Vec<String> {
        let (host, vmid) = Self::vm(container).map_or((String::new(), String::new()), |(h, v)| {
            (h.to_owned(), v.to_string())
        });
        // Each word of the setting is one argument; the values fill whole words, never a shell.
        self.settings
            .exec
            .split_whitespace()
            .map(|word| word.replace("{host}", &host).replace("{vmid}", &vmid))
            .collect()
    }

    fn can_exec(&self) -> bool {
        false
    }

    fn containers(&self) -> anyhow::Result<Vec<ContainerId>> {
        let listed = self.call(
            "GET",
            "/cluster/resources",
            &[("type".to_owned(), "vm".to_owned())],
        )?;
        let mut found: Vec<ContainerId> = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| self.ours(r))
            .filter_map(|r| {
                Some(ContainerId::Proxmox {
                    host: r["node"].as_str()?.to_owned(),
                    vmid: u32::try_from(r["vmid"].as_u64()?).ok()?,
                })
            })
            .collect();
        found.sort();
        Ok(found)
    }

    fn prune_images(&self, used: &BTreeSet<Sha256>) -> anyhow::Result<()> {
        let keep: BTreeSet<String> = used.iter().map(Self::template_name).collect();
        let storage = &self.settings.template_storage;
        for host in self.settings.hosts.iter() {
            let listed = self.call(
                "GET",
                &format!("/nodes/{host}/storage/{storage}/content"),
                &[("content".to_owned(), "vztmpl".to_owned())],
            )?;
            for volume in listed.as_array().into_iter().flatten() {
                let Some(volid) = volume["volid"].as_str() else {
                    continue;
                };
                let file = volid.rsplit('/').next().unwrap_or("");
                if file.parse::<ImageName>().is_ok() && !keep.contains(file) {
                    self.call(
                        "DELETE",
                        &format!("/nodes/{host}/storage/{storage}/content/{}", encode(volid)),
                        &[],
                    )?;
                }
            }
        }
        Ok(())
    }

    fn describe_create(
        &self,
        node: &Node,
        container: &ContainerId,
        generation: u64,
        digest: &Sha256,
    ) -> Vec<String> {
        let (host, vmid) = Self::vm(container).unwrap_or(("", 0));
        let files = NodeFiles {
            environment: vec![("LASTMILE_NODE".to_owned(), node.name.clone())],
            ..NodeFiles::default()
        };
        let params: Vec<(String, String)> = self
            .create_params(node, vmid, generation, digest, &files)
            .into_iter()
            .map(|(k, v)| {
                if k == "env" {
                    (k, "LASTMILE_...".to_owned())
                } else {
                    (k, v)
                }
            })
            .collect();
        vec![
            call_text(
                "POST",
                &format!("/nodes/{host}/storage/{}/upload", self.settings.template_storage),
                &[
                    ("content".to_owned(), "vztmpl".to_owned()),
                    ("filename".to_owned(), Self::template_name(digest)),
                    ("checksum-algorithm".to_owned(), "sha256".to_owned()),
                    ("checksum".to_owned(), digest.to_string()),
                ],
            ) + " (if not there yet)",
            call_text("POST", &format!("/nodes/{host}/lxc"), &params),
        ]
    }
}
