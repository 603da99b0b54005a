//! Is a node serving? systemd finished booting inside it, then every service of its roles
//! answers its check (`tcp:PORT` or `http://HOST:PORT/PATH` at the node's address, else
//! `systemctl is-active`), within the environment's timeout; a failing service is restarted up
//! to `retries` times. A failure says what the last attempt saw and the service's journal.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lastmile_documents::candidate::{CandidateDocument, Health};
use lastmile_documents::deployment::HealthResult;
use lastmile_probe::{Node, ProbeError};

use crate::env::HealthSettings;
use crate::state::GenerationNode;

/// The check of each service of a node.
pub fn checks(candidate: &CandidateDocument, services: &[&str]) -> BTreeMap<String, Health> {
    services
        .iter()
        .map(|name| ((*name).to_owned(), candidate.services[*name].check()))
        .collect()
}

/// Runs checks on nodes through an engine's exec prefix (when it has one) and the network.
pub struct Checker<'a> {
    pub settings: &'a HealthSettings,
    /// Whether a command can run inside a node (LXC: `lxc-attach`).
    pub can_exec: bool,
}

/// A generation's node as a probe reaches it.
fn probe(node: &GenerationNode) -> Result<Node, ProbeError> {
    Ok(Node::new(node.exec.clone(), node.address.into())?.isolated(node.isolated))
}

impl Checker<'_> {
    /// Wait until `node` serves, or say why not: (healthy, results). `gone` says why the node's
    /// container can no longer come up (it stopped while booting), if it cannot: the wait for
    /// its boot ends then, rather than at the time limit.
    pub fn wait(
        &self,
        node: &GenerationNode,
        gone: &dyn Fn() -> Option<String>,
    ) -> (bool, Vec<HealthResult>) {
        let probe = match probe(node) {
            Ok(probe) => probe,
            Err(e) => {
                return (
                    false,
                    vec![result("systemd", "exec", false, 0, Instant::now(), e.0)],
                );
            }
        };
        let mut results = Vec::new();
        if self.can_exec {
            let boot = self.boot(&probe, gone);
            let ok = boot.ok;
            results.push(boot);
            if !ok {
                return (false, results);
            }
        }
        let mut healthy = true;
        for (service, check) in &node.checks {
            let result = self.service(&probe, service, check);
            healthy &= result.ok;
            results.push(result);
        }
        (healthy, results)
    }

    /// One quick round of every check (for `status`): no waiting, no restarts.
    pub fn once(&self, node: &GenerationNode) -> Vec<HealthResult> {
        let probe = probe(node);
        node.checks
            .iter()
            .map(|(service, check)| {
                let started = Instant::now();
                let outcome = match &probe {
                    Ok(probe) => self.attempt(probe, service, check),
                    Err(e) => Err(e.clone()),
                };
                result(
                    service,
                    &shown(node.address.into(), check),
                    outcome.is_ok(),
                    1,
                    started,
                    outcome.err().map_or_else(|| "ok".into(), |e| e.0),
                )
            })
            .collect()
    }

    /// Wait for systemd inside the node to finish booting.
    fn boot(&self, node: &Node, gone: &dyn Fn() -> Option<String>) -> HealthResult {
        let started = Instant::now();
        let check = "systemctl is-system-running --wait";
        let deadline = started + self.settings.timeout;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            let (ok, detail) = boot_state(node, left, self.settings.timeout);
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
                None => {
                    if let Some(why) = gone() {
                        return result("systemd", check, false, attempts, started, why);
                    }
                    std::thread::sleep(self.settings.interval);
                }
            }
        }
    }

    fn service(&self, node: &Node, service: &str, check: &Health) -> HealthResult {
        let started = Instant::now();
        let mut attempts = 0;
        let mut last = String::new();
        let shown = shown(node.address(), check);
        for round in 0..=self.settings.retries {
            if round > 0 && self.can_exec {
                capture(node, &["systemctl", "restart", "--", service]);
            }
            let deadline = Instant::now() + self.settings.timeout;
            loop {
                attempts += 1;
                match self.attempt(node, service, check) {
                    Ok(()) => return result(service, &shown, true, attempts, started, "ok".into()),
                    Err(e) => last = e.0,
                }
                if Instant::now() >= deadline || lastmile_process::interrupt::interrupted() {
                    break;
                }
                std::thread::sleep(self.settings.interval);
            }
        }
        if self.can_exec {
            let journal = capture(
                node,
                &["journalctl", "-u", service, "-n", "15", "--no-pager", "-o", "cat"],
            );
            if !journal.trim().is_empty() {
                last = format!("{last}\n--- journal of {service}:\n{}", journal.trim_end());
            }
        }
        result(service, &shown, false, attempts, started, last)
    }

    fn attempt(&self, node: &Node, service: &str, check: &Health) -> Result<(), ProbeError> {
        let limit = Duration::from_secs(2);
        match check {
            Health::Active if !self.can_exec => Ok(()),
            Health::Active => match node.unit_state(service, Duration::from_secs(20))? {
                state if state == "active" => Ok(()),
                state => Err(ProbeError(format!("systemctl is-active {service}: {state}"))),
            },
            Health::Tcp(port) => node.tcp(*port, limit),
            Health::Http(http) => {
                let answer = node.http_get(http.port(), http.path(), limit)?;
                if (200..300).contains(&answer.status) {
                    Ok(())
                } else {
                    Err(ProbeError(format!(
                        "GET {}: status {}",
                        http.path(),
                        answer.status
                    )))
                }
            }
        }
    }
}

/// What `systemctl is-system-running --wait` says: booted (`Some(true)`), failed
/// (`Some(false)`), or not yet (`None`), with the detail.
fn boot_state(node: &Node, left: Duration, timeout: Duration) -> (Option<bool>, String) {
    let done = match node.exec(&["systemctl", "is-system-running", "--wait"], None, left) {
        Err(e) => return (Some(false), e.0),
        Ok(done) if done.timed_out() => return (Some(false), format!("still booting after {timeout:?}")),
        Ok(done) => done,
    };
    let last_line = || {
        [&done.stderr, &done.stdout]
            .iter()
            .find_map(|t| t.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_owned))
            .unwrap_or_default()
    };
    let state = done.stdout.trim().to_owned();
    match state.as_str() {
        "running" => (Some(true), state),
        // Booted, with a unit failed: the services' own checks decide; the failed units are named.
        "degraded" => {
            let failed = capture(node, &["systemctl", "--failed", "--plain", "--no-legend"]);
            (
                Some(true),
                format!("degraded: {}", failed.trim().replace('\n', "; ")),
            )
        }
        // systemd has not yet made its bus, or is still starting: ask again.
        "" | "offline" | "initializing" | "starting" => (None, format!("{state} {}", last_line())),
        _ => (Some(false), format!("{state}: {}", last_line())),
    }
}

/// The check as run: `tcp:127.77.0.2:7147`, or the URL with the node's address.
fn shown(address: std::net::IpAddr, check: &Health) -> String {
    match check {
        Health::Active => "active".to_owned(),
        Health::Tcp(port) => format!("tcp:{address}:{port}"),
        Health::Http(http) => format!("http://{address}:{}{}", http.port(), http.path()),
    }
}

/// A short command's stdout (stderr when stdout is empty), or the error.
fn capture(node: &Node, argv: &[&str]) -> String {
    match node.exec(argv, None, Duration::from_secs(20)) {
        Ok(done) if !done.stdout.is_empty() => done.stdout,
        Ok(done) => done.stderr,
        Err(e) => e.0,
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
            container: "c".parse().unwrap(),
            address: address.parse().unwrap(),
            roles: Vec::new(),
            services: Vec::new(),
            checks: checks
                .iter()
                .map(|(a, b)| ((*a).into(), b.parse().unwrap()))
                .collect(),
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
        let (ok, results) = checker.wait(&serving, &|| None);
        assert!(ok, "{results:?}");
        assert_eq!(results[1].check, format!("http://127.77.0.9:{port}/health"));
        // The server now answers 503: the check fails, naming the status.
        let (ok, results) = checker.wait(&node("127.77.0.9", &[("b", &url)]), &|| None);
        assert!(!ok);
        assert!(results[0].detail.contains("503"), "{results:?}");
        // Nothing listens at another loopback address.
        let (ok, results) = checker.wait(&node("127.77.0.10", &[("a", &format!("tcp:{port}"))]), &|| None);
        assert!(!ok && results[0].attempts > 1, "{results:?}");
    }
}
