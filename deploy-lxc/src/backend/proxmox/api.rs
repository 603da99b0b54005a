//! The Proxmox VE REST API as deploy-lxc speaks it: token authentication, form-encoded calls,
//! every answer's `data`, tasks (UPIDs) waited for, the template upload streamed as
//! multipart/form-data. Answers are read to a bound; a call's error names it.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lastmile_fs::Sha256;
use serde_json::Value;

/// The most of an answer read (a cluster's resource list is kilobytes).
const ANSWER_LIMIT: u64 = 16 << 20;

/// A client of one cluster's API.
pub(super) struct Api {
    base: String,
    authorization: String,
    /// Named in the error when no secret was given.
    secret_env: String,
    token: String,
    agent: ureq::Agent,
}

/// A call to the API, as `plan` shows it.
pub fn call_text(method: &str, path: &str, params: &[(String, String)]) -> String {
    let shown: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{method} /api2/json{path} {}", shown.join(" "))
        .trim_end()
        .to_owned()
}

/// A path segment, percent-encoded.
pub(super) fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A refusal by the server: its status and reason.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {status}: {reason}")]
pub(super) struct Refused {
    pub(super) call: String,
    pub(super) status: u16,
    pub(super) reason: String,
}

impl Api {
    pub(super) fn new(url: &str, token: &str, secret_env: &str) -> Self {
        let secret = std::env::var(secret_env).unwrap_or_default();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(600)))
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .into();
        Self {
            base: format!("{}/api2/json", url.trim_end_matches('/')),
            authorization: if secret.is_empty() {
                String::new()
            } else {
                format!("PVEAPIToken={token}={secret}")
            },
            secret_env: secret_env.to_owned(),
            token: token.to_owned(),
            agent,
        }
    }

    /// A token is needed: its absence is said here, not as a 401 from the server.
    fn authorization(&self) -> anyhow::Result<&str> {
        if self.authorization.is_empty() {
            bail!(
                "no API token secret: set ${} (the secret of token {})",
                self.secret_env,
                self.token
            );
        }
        Ok(&self.authorization)
    }

    /// Call the API; the `data` of the answer.
    pub(super) fn call(
        &self,
        method: &str,
        path: &str,
        params: &[(String, String)],
    ) -> anyhow::Result<Value> {
        let authorization = self.authorization()?;
        let url = format!("{}{path}", self.base);
        let pairs = params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let response = match method {
            "GET" => self
                .agent
                .get(&url)
                .header("Authorization", authorization)
                .query_pairs(pairs)
                .call(),
            "DELETE" => self
                .agent
                .delete(&url)
                .header("Authorization", authorization)
                .query_pairs(pairs)
                .call(),
            "POST" => self
                .agent
                .post(&url)
                .header("Authorization", authorization)
                .send_form(pairs),
            other => bail!("unsupported method {other}"),
        };
        answer(method, path, response)
    }

    /// Wait for a task to end; its exit status must be `OK`.
    pub(super) fn wait_task(&self, host: &str, upid: &Value) -> anyhow::Result<()> {
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

    /// `POST /nodes/HOST/storage/STORAGE/upload` as multipart/form-data, the file streamed from
    /// one open regular file, with its sha256 for the server to check against the bytes it got.
    pub(super) fn upload(
        &self,
        host: &str,
        storage: &str,
        image: &Path,
        name: &str,
        digest: &Sha256,
    ) -> anyhow::Result<Value> {
        let authorization = self.authorization()?;
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
        let (file, len) =
            lastmile_fs::open_regular(image).with_context(|| format!("opening {}", image.display()))?;
        let size = len + head.len() as u64 + tail.len() as u64;
        let body = std::io::Cursor::new(head.into_bytes())
            .chain(file.take(len))
            .chain(std::io::Cursor::new(tail.into_bytes()));
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", authorization)
            .header("Content-Length", size.to_string())
            .content_type(format!("multipart/form-data; boundary={boundary}"))
            .send(ureq::SendBody::from_owned_reader(body));
        answer("POST", &path, response)
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
        .with_config()
        .limit(ANSWER_LIMIT)
        .reader()
        .take(ANSWER_LIMIT)
        .read_to_string(&mut body)
        .with_context(|| format!("{shown}: reading the answer (at most {} MiB)", ANSWER_LIMIT >> 20))?;
    if !status.is_success() {
        let reason = response
            .headers()
            .get("x-reason")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| body.chars().take(300).collect());
        return Err(Refused {
            call: shown,
            status: status.as_u16(),
            reason: reason
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        }
        .into());
    }
    let value: Value = serde_json::from_str(&body).with_context(|| format!("{shown}: not JSON"))?;
    Ok(value.get("data").cloned().unwrap_or(Value::Null))
}
