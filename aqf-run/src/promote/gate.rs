//! Whether a report may promote its candidate: the gate. Every check reads the report's tests
//! themselves (never only its `passed`), the run's recorded selection, and the deployment the
//! promotion is given; [`crate::promote::live`] then asks the nodes, and the image is re-hashed.

use lastmile_documents::deployment::{DeploymentDocument, NodeState};
use lastmile_documents::report::{Outcome, ReportDocument};
use lastmile_fs::Sha256;

/// Why `report` cannot promote, from the report alone: not the whole suite, not every test run,
/// a required test that did not pass.
pub fn report_refusal(report: &ReportDocument) -> Option<String> {
    if let Some(partial) = report.selection.partial() {
        return Some(format!("{partial}; only a run of the whole suite promotes"));
    }
    if report.tests.is_empty() {
        return Some("the report holds no tests: nothing qualified it".to_owned());
    }
    let ids = |keep: &dyn Fn(&lastmile_documents::report::TestResult) -> bool| -> Vec<&str> {
        report
            .tests
            .iter()
            .filter(|t| keep(t))
            .map(|t| t.id.as_str())
            .collect()
    };
    let skipped = ids(&|t| t.outcome == Outcome::Skipped);
    if !skipped.is_empty() {
        return Some(format!(
            "{} tests did not run (skipped: {}); every test of the suite must run",
            skipped.len(),
            list(&skipped)
        ));
    }
    let failed = ids(&|t| t.required && !t.outcome.acceptable());
    if !failed.is_empty() || !report.passed {
        return Some(format!(
            "the report did not pass ({} required tests did not: {})",
            failed.len(),
            list(&failed)
        ));
    }
    None
}

/// Why the deployment given does not back the report: another candidate, environment or
/// generation, or a node not running.
pub fn deployment_refusal(
    report: &ReportDocument,
    deployment: &DeploymentDocument,
    shown: &str,
) -> Option<String> {
    let digest = report.candidate.digest;
    let Some(candidate) = &deployment.candidate else {
        return Some(format!(
            "{shown}: environment {} runs nothing",
            deployment.environment
        ));
    };
    if candidate.digest != digest {
        return Some(format!(
            "the report qualified it, but {shown} runs {}",
            candidate.digest.short(12)
        ));
    }
    if candidate.image != report.candidate.image {
        return Some(format!(
            "the report names the image {}, {shown} {}: the image re-hashed must be the one deployed",
            report.candidate.image, candidate.image
        ));
    }
    if deployment.environment != report.environment {
        return Some(format!(
            "the report is about environment {}, {shown} about {}",
            report.environment, deployment.environment
        ));
    }
    if deployment.generation != Some(report.generation) {
        return Some(format!(
            "the report is about generation {} of {}, {shown} says generation {} serves",
            report.generation,
            report.environment,
            deployment.generation.unwrap_or(0)
        ));
    }
    let qualified_with = report.configuration.as_ref().map(|c| c.digest);
    if qualified_with != deployment.configuration {
        let said = |c: Option<Sha256>| c.map_or_else(|| "none recorded".to_owned(), |c| c.short(12));
        return Some(format!(
            "the report qualified it with configuration {}, {shown} runs configuration {}: a promotion is of the pair qualified",
            said(qualified_with),
            said(deployment.configuration)
        ));
    }
    if deployment.nodes.is_empty() {
        return Some(format!("{shown} has no nodes: nothing runs the candidate"));
    }
    if let Some(node) = deployment.nodes.iter().find(|n| n.state != NodeState::Running) {
        return Some(format!(
            "{shown}: node {} is {}, not running",
            node.name, node.state
        ));
    }
    None
}

/// At most five ids, then how many more.
fn list(ids: &[&str]) -> String {
    let mut text = ids.iter().take(5).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > 5 {
        text.push_str(&format!(" and {} more", ids.len() - 5));
    }
    text
}
