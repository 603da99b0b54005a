//! Is a node serving? systemd finished booting inside it, then every service of its roles
//! answers its check (`tcp:PORT` or `http://HOST:PORT/PATH` at the node's address, else
//! `systemctl is-active`), within the environment's timeout; a failing service is restarted up
//! to `retries` times. A failure says what the last attempt saw and the service's journal.

use std::process::Command;
use std::time::{Duration, Instant};

use lastmile_documents::candidate::{CandidateDocument, Health};
use lastmile_documents::deployment::HealthResult;

use crate::env::HealthSettings;
use crate::state::GenerationNode;

/// The check of each service of a node: its `health`, or `active`.
pub fn checks(
    candidate: &CandidateDocument,
    services: &[&str],
) -> std::collections::BTreeMap<String, String> {
    services
        .iter()
        .map(|name| {
            let check = candidate.services[*name]
                .health
                .clone()
                .unwrap_or_else(|| "active".to_owned());
            ((*name).to_owned(), check)
        })
        .collect()
}

/// Runs checks on nodes through an engine's exec prefix (when it has one) and the network.
pub struct Checker<'a> {
    pub settings: &'a HealthSettings,
    /// Whether a command can run inside a node (LXC: `lxc-attach`).
    pub can_exec: bool,
}

impl Checker<'_> {
    /// Wait until `node` serves, or say why not: (healthy, results).
    pub fn wait(&self, node: &GenerationNode) -> (bool, Vec<HealthResult>) {
        let mut results = Vec::new();
        if self.can_exec {
            let boot = self.boot(node);
            let ok = boot.ok;
            results.push(boot);
            if !ok {
                return (false, results);
            }
        }
        let mut healthy = true;
        for (service, check) in &node.checks {
            let result = self.service(node, service, check);
            healthy &= result.ok;
            results.push(result);
        }
        (healthy, results)
    }

    /// One quick round of every check (for `status`): no waiting, no restarts.
    pub fn once(&self, node: &GenerationNode) -> Vec<HealthResult> {
        node.checks
            .iter()
            .map(|(service, check)| {
                let started = Instant::now();
                let outcome = self.attempt(node, service, check);
                result(
                    service,
                    &shown(node, check),
                    outcome.is_ok(),
                    1,
                    started,
                    outcome.err().unwrap_or_else(|| "ok".into()),
                )
            })
            .collect()
    }

    fn boot(&self, node: &GenerationNode) -> HealthResult {
        let started = Instant::now();
        let check = "systemctl is-system-running --wait";
        let deadline = started + self.settings.timeout;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let mut command = exec(node, &["systemctl", "is-system-running", "--wait"]);
            let (ok, detail) = match lastmile_process::run(&mut command, None, Some(left)) {
                Err(e) => (Some(false), e.to_string()),
                Ok(done) if done.timed_out() => (
                    Some(false),
                    format!("still booting after {:?}", self.settings.timeout),
                ),
                Ok(done) => {
                    let state = String::from_utf8_lossy(&done.stdout).trim().to_owned();
                    match state.as_str() {
                        "running" => (Some(true), state),
                        // Booted, with a unit failed: the services' own checks decide; the
                        // failed units are named.
                        "degraded" => {
                            let failed = capture(&mut exec(
                                node,
                                &["systemctl", "--failed", "--plain", "--no-legend"],
                            ));
                            (
                                Some(true),
                                format!("degraded: {}", failed.trim().replace('\n', "; ")),
                            )
                        }
                        // systemd has not yet made its bus, or is still starting: ask again.
                        "" | "offline" | "initializing" | "starting" => {
                            (None, format!("{state} {}", done.last_line()))
                        }
                        _ => (Some(false), format!("{state}: {}", done.last_line())),
                    }
                }
            };
            match ok {
                Some(ok) => return result("systemd", check, ok, attempts, started, detail),
                None if Instant::now() >= deadline || lastmile_process::interrupt::interrupted() => {
                    return result(
                        "systemd",
                        check,
                        false,
                        attempts,
                        started,
                        detail.trim().to_owned(),
                    );
                }
                None => std::thread::sleep(self.settings.interval),
            }
        }
    }

    fn service(&self, node: &GenerationNode, service: &str, check: &str) -> HealthResult {
        let started = Instant::now();
        let mut attempts = 0;
        let mut last = String::new();
        for round in 0..=self.settings.retries {
            if round > 0 && self.can_exec {
                capture(&mut exec(node, &["systemctl", "restart", service]));
            }
            let deadline = Instant::now() + self.settings.timeout;
            loop {
                attempts += 1;
                match self.attempt(node, service, check) {
                    Ok(()) => {
                        return result(service, &shown(node, check), true, attempts, started, "ok".into());
                    }
                    Err(e) => last = e,
                }
                if Instant::now() >= deadline || lastmile_process::interrupt::interrupted() {
                    break;
                }
                std::thread::sleep(self.settings.interval);
            }
        }
        if self.can_exec {
            let journal = capture(&mut exec(
                node,
                &["journalctl", "-u", service, "-n", "15", "--no-pager", "-o", "cat"],
            ));
            if !journal.trim().is_empty() {
                last = format!("{last}\n--- journal of {service}:\n{}", journal.trim_end());
            }
        }
        result(service, &shown(node, check), false, attempts, started, last)
    }

    fn attempt(&self, node: &GenerationNode, service: &str, check: &str) -> Result<(), String> {
        if check == "active" {
            return self.active(node, service);
        }
        let health: Health = check.parse().map_err(|e| format!("{e}"))?;
        let (port, path) = match &health {
            Health::Tcp(port) => (*port, None),
            Health::Http(url) => {
                let (port, path) = lastmile_probe::split_url(url).map_err(|e| e.0)?;
                (port, Some(path))
            }
        };
        if node.isolated {
            return self.inside(node, port, path.as_deref());
        }
        let limit = Duration::from_secs(2);
        match path {
            None => lastmile_probe::tcp(&node.address, port, limit).map_err(|e| e.0),
            Some(path) => {
                let answer = lastmile_probe::http_get(&node.address, port, &path, limit).map_err(|e| e.0)?;
                if (200..300).contains(&answer.status) {
                    Ok(())
                } else {
                    Err(format!("GET {path}: status {}", answer.status))
                }
            }
        }
    }

    fn active(&self, node: &GenerationNode, service: &str) -> Result<(), String> {
        if !self.can_exec {
            return Ok(());
        }
        let state = capture(&mut exec(node, &["systemctl", "is-active", service]));
        match state.trim() {
            "active" => Ok(()),
            other => Err(format!("systemctl is-active {service}: {other}")),
        }
    }

    /// A check of an isolated node, made from inside it.
    fn inside(&self, node: &GenerationNode, port: u16, path: Option<&str>) -> Result<(), String> {
        let script = match path {
            None => format!("exec 3<>/dev/tcp/127.0.0.1/{port}"),
            Some(path) => format!(
                "exec python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' 'http://127.0.0.1:{port}{path}'"
            ),
        };
        let mut command = exec(node, &["bash", "-c", &script]);
        match lastmile_process::run(&mut command, None, Some(Duration::from_secs(5))) {
            Ok(done) if done.success() => Ok(()),
            Ok(done) => Err(format!("inside the node: {}", done.last_line())),
            Err(e) => Err(e.to_string()),
        }
    }
}

/// The check as run: `tcp:127.77.0.2:7147`, or the URL with the node's address.
fn shown(node: &GenerationNode, check: &str) -> String {
    if let Some(port) = check.strip_prefix("tcp:") {
        return format!("tcp:{}:{port}", node.address);
    }
    match url::Url::parse(check) {
        Ok(mut url) if check.starts_with("http") => {
            let _ = url.set_host(Some(&node.address));
            url.to_string()
        }
        _ => check.to_owned(),
    }
}

/// `node`'s exec prefix followed by `args`.
fn exec(node: &GenerationNode, args: &[&str]) -> Command {
    let mut command = Command::new(&node.exec[0]);
    command.args(&node.exec[1..]).args(args);
    command
}

/// A short command's stdout (stderr when stdout is empty), or the error.
fn capture(command: &mut Command) -> String {
    match lastmile_process::run(command, None, Some(Duration::from_secs(20))) {
        Ok(done) if !done.stdout.is_empty() => String::from_utf8_lossy(&done.stdout).into_owned(),
        Ok(done) => String::from_utf8_lossy(&done.stderr).into_owned(),
        Err(e) => e.to_string(),
    }
}

fn result(
    service: &str,
    check: &str,
    ok: bool,
    attempts: u32,
    started: Instant,
    detail: String,
) -> HealthResult {
    HealthResult {
        service: service.to_owned(),
        check: check.to_owned(),
        ok,
        attempts,
        elapsed_ms: started.elapsed().as_millis() as u64,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    fn node(address: &str, checks: &[(&str, &str)]) -> GenerationNode {
        GenerationNode {
            name: "n".into(),
            container: "c".into(),
            address: address.into(),
            roles: Vec::new(),
            services: Vec::new(),
            checks: checks.iter().map(|(a, b)| ((*a).into(), (*b).into())).collect(),
            exec: vec!["false".into()],
            isolated: false,
        }
    }

    #[test]
    fn tcp_and_http_checks_at_the_node_address() {
        let listener = std::net::TcpListener::bind("127.77.0.9:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 512];
                let _ = stream.read(&mut buf);
                let status = if n < 2 {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                let _ = write!(stream, "HTTP/1.0 {status}\r\n\r\n");
            }
        });
        let settings = HealthSettings {
            timeout: Duration::from_millis(300),
            retries: 0,
            interval: Duration::from_millis(50),
        };
        let checker = Checker {
            settings: &settings,
            can_exec: false,
        };
        let url = format!("http://127.0.0.1:{port}/health");
        let serving = node("127.77.0.9", &[("a", &format!("tcp:{port}")), ("b", &url)]);
        let (ok, results) = checker.wait(&serving);
        assert!(ok, "{results:?}");
        assert_eq!(results[1].check, format!("http://127.77.0.9:{port}/health"));
        // The server now answers 503: the check fails, naming the status.
        let (ok, results) = checker.wait(&node("127.77.0.9", &[("b", &url)]));
        assert!(!ok);
        assert!(results[0].detail.contains("503"), "{results:?}");
        // Nothing listens at another loopback address.
        let (ok, results) = checker.wait(&node("127.77.0.10", &[("a", &format!("tcp:{port}"))]));
        assert!(!ok && results[0].attempts > 1, "{results:?}");
    }
}
