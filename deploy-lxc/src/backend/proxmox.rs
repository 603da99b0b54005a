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

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lastmile_documents::candidate::ImageName;
use lastmile_fs::Sha256;
use serde_json::Value;

use super::{ContainerId, Engine, NodeFiles, Running};
use crate::env::{Environment, Network, Node, ProxmoxSettings};

/// Containers of one environment on a cluster.
pub struct Proxmox {
    settings: ProxmoxSettings,
    environment: String,
    api: String,
    authorization: String,
    agent: ureq::Agent,
    /// Which Proxmox node each environment node goes on.
    hosts: Vec<(String, String)>,
}

/// A call to the API, as `plan` shows it.
pub fn call_text(method: &str, path: &str, params: &[(String, String)]) -> String {
    let shown: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{method} /api2/json{path} {}", shown.join(" "))
        .trim_end()
        .to_owned()
}

impl Proxmox {
    pub fn new(env: &Environment, settings: &ProxmoxSettings) -> anyhow::Result<Self> {
        let secret = std::env::var(&settings.token_secret_env).unwrap_or_default();
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
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Ok(Self {
            settings: settings.clone(),
            environment: env.name.clone(),
            api: format!("{}/api2/json", settings.url.trim_end_matches('/')),
            authorization: if secret.is_empty() {
                String::new()
            } else {
                format!("PVEAPIToken={}={secret}", settings.token)
            },
            agent,
            hosts,
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

    fn template_name(digest: &Sha256) -> String {
        ImageName::of(digest).to_string()
    }

    /// Call the API; the `data` of the answer. A token is needed: its absence is said here,
    /// not as a 401 from the server.
    fn call(&self, method: &str, path: &str, params: &[(String, String)]) -> anyhow::Result<Value> {
        if self.authorization.is_empty() {
            bail!(
                "no API token secret: set ${} (the secret of token {})",
                self.settings.token_secret_env,
                self.settings.token
            );
        }
        let url = format!("{}{path}", self.api);
        let pairs = params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let response = match method {
            "GET" => self
                .agent
                .get(&url)
                .header("Authorization", &self.authorization)
                .query_pairs(pairs)
                .call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("Authorization", &self.authorization)
                .query_pairs(pairs)
                .call(),
            "POST" => self
                .agent
                .post(&url)
                .header("Authorization", &self.authorization)
                .send_form(pairs),
            other => bail!("unsupported method {other}"),
        };
        answer(method, path, response)
    }

    /// Wait for a task to end; its exit status must be `OK`.
    fn wait_task(&self, host: &str, upid: &Value) -> anyhow::Result<()> {
        let Some(upid) = upid.as_str() else {
            bail!("expected a task id (UPID), got {upid}");
        };
        let path = format!("/nodes/{host}/tasks/{}/status", encode(upid));
        let started = Instant::now();
        loop {
            lastmile_process::interrupt::check()?;
            let status = self.call("GET", &path, &[])?;
            if status["status"] == "stopped" {
                return match status["exitstatus"].as_str() {
                    Some("OK") => Ok(()),
                    other => bail!("task {upid} failed: {}", other.unwrap_or("no exit status")),
                };
            }
            if started.elapsed() > Duration::from_secs(600) {
                bail!("task {upid} still running after 10 minutes");
            }
            std::thread::sleep(Duration::from_millis(200));
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
            ("tags".to_owned(), self.tag()),
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

fn answer(
    method: &str,
    path: &str,
    response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> anyhow::Result<Value> {
    let shown = format!("{method} /api2/json{path}");
    let mut response = response.with_context(|| shown.clone())?;
    let status = response.status();
    let mut body = String::new();
    response
        .body_mut()
        .as_reader()
        .take(16 << 20)
        .read_to_string(&mut body)
        .with_context(|| shown.clone())?;
    if !status.is_success() {
        let reason = response
            .headers()
            .get("x-reason")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| body.chars().take(300).collect());
        bail!("{shown}: {status}: {reason}");
    }
    let value: Value = serde_json::from_str(&body).with_context(|| format!("{shown}: not JSON"))?;
    Ok(value.get("data").cloned().unwrap_or(Value::Null))
}

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
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
            let upid = self.upload(host, image, &name, digest)?;
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
        _generation: u64,
        digest: &Sha256,
        files: &NodeFiles,
    ) -> anyhow::Result<()> {
        let (host, vmid) = Self::vm(container)?;
        let params = self.create_params(node, vmid, digest, files);
        let upid = self.call("POST", &format!("/nodes/{host}/lxc"), &params)?;
        self.wait_task(host, &upid)
    }

    fn start(&self, container: &ContainerId) -> anyhow::Result<()> {
        let (host, vmid) = Self::vm(container)?;
        let upid = self.call("POST", &format!("/nodes/{host}/lxc/{vmid}/status/start"), &[])?;
        self.wait_task(host, &upid)
    }

    fn stop(&self, container: &ContainerId) -> anyhow::Result<()> {
        if self.running(container)? != Running::Running {
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
        match self.running(container)? {
            Running::Missing => return Ok(()),
            Running::Running => self.stop(container)?,
            Running::Stopped => {}
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
        let listed = self.call(
            "GET",
            "/cluster/resources",
            &[("type".to_owned(), "vm".to_owned())],
        )?;
        let found = listed
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["node"] == host && r["vmid"].as_u64() == Some(u64::from(vmid)));
        if found.is_none() {
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
        let tag = self.tag();
        let mut found: Vec<ContainerId> = listed
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                r["type"] == "lxc"
                    && r["tags"]
                        .as_str()
                        .is_some_and(|t| t.split([';', ',', ' ']).any(|x| x == tag))
            })
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

    fn describe_create(&self, node: &Node, container: &ContainerId, digest: &Sha256) -> Vec<String> {
        let (host, vmid) = Self::vm(container).unwrap_or(("", 0));
        let files = NodeFiles {
            environment: vec![("LASTMILE_NODE".to_owned(), node.name.clone())],
            ..NodeFiles::default()
        };
        let params: Vec<(String, String)> = self
            .create_params(node, vmid, digest, &files)
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

impl Proxmox {
    /// `POST .../upload` as multipart/form-data, the file streamed.
    fn upload(&self, host: &str, image: &Path, name: &str, digest: &Sha256) -> anyhow::Result<Value> {
        let storage = &self.settings.template_storage;
        let path = format!("/nodes/{host}/storage/{storage}/upload");
        let boundary = format!("lastmile-{}", digest.short(24));
        let mut head = String::new();
        for (key, value) in [
            ("content", "vztmpl"),
            ("checksum-algorithm", "sha256"),
            ("checksum", &digest.to_string()),
        ] {
            head.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n"
            ));
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"filename\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        ));
        let tail = format!("\r\n--{boundary}--\r\n");
        let file = std::fs::File::open(image).with_context(|| format!("opening {}", image.display()))?;
        let size = file.metadata()?.len() + head.len() as u64 + tail.len() as u64;
        let body = std::io::Cursor::new(head.into_bytes())
            .chain(file)
            .chain(std::io::Cursor::new(tail.into_bytes()));
        if self.authorization.is_empty() {
            bail!("no API token secret: set ${}", self.settings.token_secret_env);
        }
        let response = self
            .agent
            .post(format!("{}{path}", self.api))
            .header("Authorization", &self.authorization)
            .header("Content-Length", size.to_string())
            .content_type(format!("multipart/form-data; boundary={boundary}"))
            .send(ureq::SendBody::from_owned_reader(body));
        answer("POST", &path, response)
    }
}
