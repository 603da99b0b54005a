//! What a person reads on stderr after a command: one line for the environment, one per node.

use std::io::Write;

use lastmile_documents::deployment::DeploymentDocument;

/// One line for the environment, one per node, on stderr.
pub fn print(doc: &DeploymentDocument) {
    let mut err = std::io::stderr().lock();
    let serving = match (&doc.candidate, doc.generation) {
        (Some(c), Some(g)) => format!("generation {g}, candidate {}", c.digest.short(12)),
        _ => "nothing serving".to_owned(),
    };
    let serving = match &doc.configuration {
        Some(configuration) => format!("{serving}, configuration {}", configuration.short(12)),
        None => serving,
    };
    let total = doc.timings_ms.get("total").copied().unwrap_or(0);
    let instance = doc
        .instance
        .as_ref()
        .map(|i| format!(", instance {i}"))
        .unwrap_or_default();
    let _ = writeln!(
        err,
        "deploy-lxc: {} ({}{instance}): {}: {serving}, in {:.1} s",
        doc.environment,
        doc.backend,
        doc.outcome.word(),
        total as f64 / 1000.0
    );
    for node in &doc.nodes {
        let passed = node.health.iter().filter(|h| h.ok).count();
        let downtime = node
            .downtime_ms
            .map(|ms| format!(", down {:.1} s", ms as f64 / 1000.0))
            .unwrap_or_default();
        let _ = writeln!(
            err,
            "  {:<12} {:<28} {:<15} {:<8} checks {passed}/{}{downtime}  [{}]",
            node.name,
            node.container,
            node.address.to_string(),
            node.state.word(),
            node.health.len(),
            node.roles.join(",")
        );
    }
}

/// A line of advice under the summary, on stderr.
pub fn hint(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "  ({text})");
}
