//! What every attempt of a test needs besides the test: the deployment and its nodes as probes,
//! what the candidate pins, where outputs and the suites' venvs go; and what one attempt found.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lastmile_documents::candidate::CandidateDocument;
use lastmile_documents::deployment::{DeployedNode, DeploymentDocument};
use lastmile_documents::report::Outcome;
use lastmile_probe::{Node, ProbeError, Ran};

/// The deployment under test and where a run's outputs go.
pub struct Context<'a> {
    pub deployment: &'a DeploymentDocument,
    pub manifest: Option<&'a CandidateDocument>,
    pub out_dir: PathBuf,
    pub cache_dir: Option<PathBuf>,
    /// Each node of the deployment, as a probe reaches it.
    nodes: BTreeMap<String, Node>,
}

impl<'a> Context<'a> {
    pub fn new(
        deployment: &'a DeploymentDocument,
        manifest: Option<&'a CandidateDocument>,
        out_dir: PathBuf,
        cache_dir: Option<PathBuf>,
    ) -> Result<Self, ProbeError> {
        let nodes = deployment
            .nodes
            .iter()
            .map(|n| Ok((n.name.clone(), probe_node(n)?)))
            .collect::<Result<_, ProbeError>>()?;
        Ok(Self {
            deployment,
            manifest,
            out_dir,
            cache_dir,
            nodes,
        })
    }

    /// The probe of a node of the deployment.
    pub fn node(&self, node: &DeployedNode) -> &Node {
        &self.nodes[&node.name]
    }
}

/// A node of a deployment document as a probe reaches it.
pub fn probe_node(node: &DeployedNode) -> Result<Node, ProbeError> {
    Node::new(node.exec.clone(), node.address.into())
}

/// One test case of pytest's own JUnit XML.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub seconds: f64,
    pub outcome: CaseOutcome,
    pub message: String,
    pub text: String,
}

/// How a pytest case ended, as its JUnit XML says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseOutcome {
    Passed,
    Failure,
    Error,
    Skipped,
}

impl CaseOutcome {
    /// The JUnit element that says so (none for a pass).
    pub fn element(self) -> Option<&'static str> {
        match self {
            CaseOutcome::Passed => None,
            CaseOutcome::Failure => Some("failure"),
            CaseOutcome::Error => Some("error"),
            CaseOutcome::Skipped => Some("skipped"),
        }
    }
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
    pub cases: Vec<Case>,
}

impl Tried {
    pub fn new(outcome: Outcome, message: impl Into<String>, started: Instant) -> Self {
        Self {
            outcome,
            message: message.into(),
            stdout: String::new(),
            stderr: String::new(),
            duration: started.elapsed(),
            cases: Vec::new(),
        }
    }

    /// Passed, or failed with the message `why` gives.
    pub fn check(ok: bool, why: impl FnOnce() -> String, started: Instant) -> Self {
        if ok {
            Self::new(Outcome::Passed, "", started)
        } else {
            Self::new(Outcome::Failed, why(), started)
        }
    }

    /// What a command that ran says: timed out, or the `problems` found (none: passed), with its
    /// output kept.
    pub fn from_ran(ran: &Ran, started: Instant, problems: impl FnOnce() -> Vec<String>) -> Self {
        let mut tried = if ran.timed_out() {
            Self::new(
                Outcome::TimedOut,
                format!("killed after {:.1} s (its time limit)", ran.elapsed.as_secs_f64()),
                started,
            )
        } else {
            let problems = problems();
            Self::check(problems.is_empty(), || problems.join("; "), started)
        };
        tried.stdout = clip(&ran.stdout);
        tried.stderr = clip(&ran.stderr);
        tried
    }
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

impl Context<'_> {
    /// The variables a host command or pytest gets: those `node.env` holds for the target node
    /// (or, with no node, for the environment), and `LASTMILE_EXEC`, the node's exec prefix.
    pub fn variables(&self, node: Option<&DeployedNode>) -> Vec<(String, String)> {
        let mut vars = self.deployment.variables(node);
        if let Some(node) = node {
            let words: Vec<String> = node.exec.iter().map(|w| lastmile_probe::shell_quote(w)).collect();
            vars.push(("LASTMILE_EXEC".to_owned(), words.join(" ")));
        }
        vars
    }

    /// `{address}`, `{node}`, `{env}`, `{candidate}`, `{addr:NODE}` and `{role:ROLE}` (the
    /// first address of the role) in a URL. (The deployment document's names and addresses were
    /// checked when it was read; a URL is parsed after.)
    pub fn substitute(&self, text: &str, node: Option<&DeployedNode>) -> String {
        self.substitute_with(text, node, str::to_owned)
    }

    /// The same in a shell command: each value one shell word ([`lastmile_probe::shell_quote`]),
    /// so no value can be more than a word, whatever a document holds.
    pub fn substitute_shell(&self, text: &str, node: Option<&DeployedNode>) -> String {
        self.substitute_with(text, node, lastmile_probe::shell_quote)
    }

    fn substitute_with(&self, text: &str, node: Option<&DeployedNode>, word: fn(&str) -> String) -> String {
        let deployment = self.deployment;
        let mut values: Vec<(String, String)> = Vec::new();
        if let Some(node) = node {
            values.push(("{address}".into(), node.address.to_string()));
            values.push(("{node}".into(), node.name.clone()));
        }
        values.push(("{env}".into(), deployment.environment.clone()));
        if let Some(candidate) = &deployment.candidate {
            values.push(("{candidate}".into(), candidate.digest.to_string()));
        }
        for other in &deployment.nodes {
            values.push((format!("{{addr:{}}}", other.name), other.address.to_string()));
            for role in &other.roles {
                if let Some(first) = deployment.nodes_with_role(role).next() {
                    values.push((format!("{{role:{role}}}"), first.address.to_string()));
                }
            }
        }
        let mut out = text.to_owned();
        for (placeholder, value) in values {
            out = out.replace(&placeholder, &word(&value));
        }
        out
    }
}

/// Why an attempt could not be made (its outcome is `error`, not `failed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotRun(pub String);

impl From<ProbeError> for NotRun {
    fn from(error: ProbeError) -> Self {
        NotRun(error.0)
    }
}

impl Tried {
    /// The attempt, or an `error` outcome saying why it could not be made.
    pub fn or_not_run(result: Result<Tried, NotRun>, started: Instant) -> Tried {
        result.unwrap_or_else(|e| Tried::new(Outcome::Error, e.0, started))
    }
}
