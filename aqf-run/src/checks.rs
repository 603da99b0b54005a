//! One attempt of one test: a command, a pytest run, or a built-in check of a node, each with its
//! time limit (the command and everything it started killed when it passes).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::{DeployedNode, DeploymentDocument};
use lastmile_documents::report::Outcome;
use lastmile_probe::Ran;

use crate::plan::Instance;
use crate::suite::{Kind, On};

/// What a run needs besides the test: where the nodes are, what the candidate pins, where
/// outputs and the suites' venvs go.
pub struct Context<'a> {
    pub deployment: &'a DeploymentDocument,
    pub manifest: Option<&'a CandidateDocument>,
    pub out_dir: std::path::PathBuf,
    pub cache_dir: std::path::PathBuf,
}

/// One attempt's result.
#[derive(Debug, Clone)]
pub struct Tried {
    pub outcome: Outcome,
    pub message: String,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// pytest's own test cases, for the JUnit report.
    pub cases: Vec<crate::pytest::Case>,
}

impl Tried {
    fn new(outcome: Outcome, message: impl Into<String>, started: Instant) -> Self {
        Self {
            outcome,
            message: message.into(),
            stdout: String::new(),
            stderr: String::new(),
            duration: started.elapsed(),
            cases: Vec::new(),
        }
    }

    fn check(ok: bool, why: impl FnOnce() -> String, started: Instant) -> Self {
        if ok {
            Self::new(Outcome::Passed, "", started)
        } else {
            Self::new(Outcome::Failed, why(), started)
        }
    }
}

/// Run one attempt of `instance`.
pub fn attempt(ctx: &Context, instance: &Instance) -> Tried {
    let started = Instant::now();
    let limit = instance.test.timeout;
    let node = instance.node;
    match &instance.test.kind {
        Kind::Command {
            run,
            on,
            exit,
            stdout,
            stderr,
        } => {
            let script = substitute(run, ctx.deployment, node);
            let ran = match (on, node) {
                (On::Node, Some(node)) => in_node(node, &["sh", "-c", &script], None, limit),
                (On::Node, None) => {
                    return Tried::new(
                        Outcome::Error,
                        "on = \"node\" in a group that targets no node",
                        started,
                    );
                }
                (On::Host, _) => on_host(ctx.deployment, node, &script, limit),
            };
            let ran = match ran {
                Ok(ran) => ran,
                Err(e) => return Tried::new(Outcome::Error, e, started),
            };
            let mut tried = from_ran(&ran, started, || {
                let mut problems = Vec::new();
                if ran.code != Some(*exit) {
                    problems.push(format!(
                        "exit status {} (expected {exit})",
                        ran.code.unwrap_or(-1)
                    ));
                }
                if let Some(pattern) = stdout
                    && !pattern.is_match(&ran.stdout)
                {
                    problems.push(format!("stdout does not match /{pattern}/"));
                }
                if let Some(pattern) = stderr
                    && !pattern.is_match(&ran.stderr)
                {
                    problems.push(format!("stderr does not match /{pattern}/"));
                }
                problems
            });
            tried.duration = started.elapsed();
            tried
        }
        Kind::Pytest { .. } => crate::pytest::run(ctx, instance, started),
        kind => match node {
            None => Tried::new(
                Outcome::Error,
                format!("a {} check needs a group that targets nodes", kind.word()),
                started,
            ),
            Some(node) => builtin(ctx, kind, node, limit, started),
        },
    }
}

fn from_ran(ran: &Ran, started: Instant, problems: impl FnOnce() -> Vec<String>) -> Tried {
    let mut tried = if ran.timed_out() {
        Tried::new(
            Outcome::TimedOut,
            format!("killed after {:.1} s (its time limit)", ran.elapsed.as_secs_f64()),
            started,
        )
    } else {
        let problems = problems();
        Tried::check(problems.is_empty(), || problems.join("; "), started)
    };
    tried.stdout = clip(&ran.stdout);
    tried.stderr = clip(&ran.stderr);
    tried
}

/// The built-in checks of a node.
fn builtin(ctx: &Context, kind: &Kind, node: &DeployedNode, limit: Duration, started: Instant) -> Tried {
    let run = |args: &[&str]| in_node(node, args, None, limit);
    let result = (|| -> Result<Tried, String> {
        Ok(match kind {
            Kind::Package { package, version } => {
                let manifest = ctx
                    .manifest
                    .ok_or("no candidate manifest to compare versions with")?;
                let expected = match version {
                    Some(v) => v.clone(),
                    None => manifest
                        .packages
                        .iter()
                        .find(|p| normalize(&p.name) == normalize(package))
                        .map(|p| p.version.clone())
                        .ok_or_else(|| format!("the candidate pins no package {package}"))?,
                };
                let python = format!("{}/bin/python", manifest.prefix);
                let ran = run(&[
                    &python,
                    "-c",
                    "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))",
                    package,
                ])?;
                let found = ran.stdout.trim().to_owned();
                let mut tried = from_ran(&ran, started, || {
                    if ran.code == Some(0) && found == expected {
                        Vec::new()
                    } else if ran.code != Some(0) {
                        vec![format!("{package} is not installed in {}", manifest.prefix)]
                    } else {
                        vec![format!(
                            "{package} {found} is installed; the candidate pins {expected}"
                        )]
                    }
                });
                tried.stdout = format!("{package} {found}");
                tried
            }
            Kind::Service { unit, state } => {
                let ran = run(&["systemctl", "is-active", unit])?;
                let found = ran.stdout.trim().to_owned();
                from_ran(&ran, started, || {
                    let ok = if state == "active" {
                        found == "active"
                    } else {
                        found != "active"
                    };
                    if ok {
                        Vec::new()
                    } else {
                        vec![format!("{unit} is {found}, expected {state}")]
                    }
                })
            }
            Kind::Process { pattern, running } => {
                let script =
                    "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null; echo; done";
                let ran = run(&["sh", "-c", script])?;
                let found = ran.stdout.lines().any(|l| pattern.is_match(l.trim()));
                from_ran(&ran, started, || {
                    if found == *running {
                        Vec::new()
                    } else if *running {
                        vec![format!("no process matches /{pattern}/")]
                    } else {
                        vec![format!("a process matches /{pattern}/")]
                    }
                })
            }
            Kind::Port { port, listening } => {
                let open = lastmile_probe::tcp(&node.address, *port, Duration::from_secs(2));
                Tried::check(
                    open.is_ok() == *listening,
                    || match &open {
                        Ok(()) => format!("something listens on {}:{port}", node.address),
                        Err(e) => e.0.clone(),
                    },
                    started,
                )
            }
            Kind::File {
                path,
                exists,
                mode,
                owner,
                contains,
            } => {
                let ran = run(&["stat", "-c", "%a %U", path])?;
                if ran.code != Some(0) {
                    return Ok(Tried::check(
                        !*exists,
                        || format!("{path} does not exist"),
                        started,
                    ));
                }
                if !*exists {
                    return Ok(Tried::new(Outcome::Failed, format!("{path} exists"), started));
                }
                let mut problems = Vec::new();
                let (found_mode, found_owner) = ran.stdout.trim().split_once(' ').unwrap_or(("", ""));
                if let Some(mode) = mode
                    && u32::from_str_radix(found_mode, 8).ok() != Some(*mode)
                {
                    problems.push(format!("{path} has mode {found_mode}, expected {mode:o}"));
                }
                if let Some(owner) = owner
                    && found_owner != owner
                {
                    problems.push(format!("{path} is owned by {found_owner}, expected {owner}"));
                }
                if let Some(pattern) = contains {
                    let content = run(&["head", "-c", "1048576", path])?;
                    if !pattern.is_match(&content.stdout) {
                        problems.push(format!("{path} does not match /{pattern}/"));
                    }
                }
                Tried::check(problems.is_empty(), || problems.join("; "), started)
            }
            Kind::Http { url, status, body } => {
                let url = substitute(url, ctx.deployment, Some(node));
                let (port, path) = lastmile_probe::split_url(&url).map_err(|e| e.0)?;
                let host = url::Url::parse(&url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default();
                let answer = lastmile_probe::http_get(&host, port, &path, limit.min(Duration::from_secs(10)))
                    .map_err(|e| e.0)?;
                let mut tried = Tried::check(
                    answer.status == *status && body.as_ref().is_none_or(|b| b.is_match(&answer.body)),
                    || {
                        if answer.status != *status {
                            format!("GET {url}: status {} (expected {status})", answer.status)
                        } else {
                            format!(
                                "GET {url}: the body does not match /{}/",
                                body.as_ref().map(|b| b.as_str()).unwrap_or("")
                            )
                        }
                    },
                    started,
                );
                tried.stdout = clip(&answer.body);
                tried
            }
            Kind::Command { .. } | Kind::Pytest { .. } => unreachable!("handled by attempt"),
        })
    })();
    result.unwrap_or_else(|message| Tried::new(Outcome::Error, message, started))
}

/// A command inside `node`, under `timeout -s KILL` there too: a test killed at its limit takes
/// everything it started inside the node with it, not only the `lxc-attach` on this host.
pub fn in_node(
    node: &DeployedNode,
    args: &[&str],
    input: Option<&[u8]>,
    limit: Duration,
) -> Result<Ran, String> {
    let seconds = format!("{:.3}", limit.as_secs_f64());
    let mut words: Vec<&str> = vec!["timeout", "-s", "KILL", &seconds];
    words.extend_from_slice(args);
    let ran =
        lastmile_probe::exec(&node.exec, &words, input, limit + Duration::from_secs(5)).map_err(|e| e.0)?;
    Ok(match ran.code {
        // timeout(1) says 137 when it killed the command.
        Some(137) if ran.elapsed + Duration::from_millis(50) >= limit => Ran { code: None, ..ran },
        _ => ran,
    })
}

/// A command on this host, with the nodes' addresses in `LASTMILE_*` variables.
fn on_host(
    deployment: &DeploymentDocument,
    node: Option<&DeployedNode>,
    script: &str,
    limit: Duration,
) -> Result<Ran, String> {
    let mut command = Command::new("sh");
    command.arg("-c").arg(script).envs(variables(deployment, node));
    lastmile_probe::run(&mut command, None, limit).map_err(|e| e.0)
}

/// The variables a host command or pytest gets: the environment, the candidate, the target node,
/// and every node's and role's addresses, as deploy-lxc's `node.env` names them.
pub fn variables(deployment: &DeploymentDocument, node: Option<&DeployedNode>) -> BTreeMap<String, String> {
    let word = |s: &str| s.to_ascii_uppercase().replace('-', "_");
    let mut vars = BTreeMap::new();
    vars.insert("LASTMILE_ENV".to_owned(), deployment.environment.clone());
    if let Some(candidate) = &deployment.candidate {
        vars.insert("LASTMILE_CANDIDATE".to_owned(), candidate.digest.to_string());
    }
    for other in &deployment.nodes {
        vars.insert(
            format!("LASTMILE_ADDR_{}", word(&other.name)),
            other.address.clone(),
        );
        for role in &other.roles {
            let entry = vars
                .entry(format!("LASTMILE_ROLE_{}", word(role)))
                .or_insert_with(String::new);
            if !entry.is_empty() {
                entry.push(' ');
            }
            entry.push_str(&other.address);
        }
    }
    if let Some(node) = node {
        vars.insert("LASTMILE_NODE".to_owned(), node.name.clone());
        vars.insert("LASTMILE_NODE_ADDR".to_owned(), node.address.clone());
        vars.insert("LASTMILE_ROLES".to_owned(), node.roles.join(" "));
        vars.insert("LASTMILE_EXEC".to_owned(), node.exec.join(" "));
    }
    vars
}

/// `{address}`, `{node}`, `{env}`, `{candidate}`, `{addr:NODE}` and `{role:ROLE}` (the first
/// address of the role) in a command or URL.
pub fn substitute(text: &str, deployment: &DeploymentDocument, node: Option<&DeployedNode>) -> String {
    let mut out = text.to_owned();
    if let Some(node) = node {
        out = out
            .replace("{address}", &node.address)
            .replace("{node}", &node.name);
    }
    out = out.replace("{env}", &deployment.environment);
    if let Some(candidate) = &deployment.candidate {
        out = out.replace("{candidate}", &candidate.digest.to_string());
    }
    for other in &deployment.nodes {
        out = out.replace(&format!("{{addr:{}}}", other.name), &other.address);
    }
    for other in &deployment.nodes {
        for role in &other.roles {
            if let Some(first) = deployment.nodes_with_role(role).next() {
                out = out.replace(&format!("{{role:{role}}}"), &first.address);
            }
        }
    }
    out
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Output kept in the report: the last 64 KiB.
pub fn clip(text: &str) -> String {
    const KEEP: usize = 64 << 10;
    if text.len() <= KEEP {
        return text.to_owned();
    }
    let mut start = text.len() - KEEP;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("[... {} bytes before]\n{}", start, &text[start..])
}
