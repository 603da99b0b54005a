//! The `lastmile.report/v1` document of a run.

use std::collections::BTreeMap;

use lastmile_documents::report::{
    QualifiedCandidate, QualifiedConfiguration, QualifiedDeb, QualifiedPackage, ReportDocument, Selection,
    SuiteFile,
};

use super::{Inputs, Options};
use crate::runner::Ran;

/// The report: what was qualified, against which suites, and every test's result.
pub(super) fn report(
    inputs: &Inputs,
    options: &Options,
    runs: &[Ran],
    (started, finished): (jiff::Timestamp, jiff::Timestamp),
) -> ReportDocument {
    let tests: Vec<_> = runs.iter().map(|r| r.result.clone()).collect();
    let mut titles = BTreeMap::new();
    for suite in &inputs.suites {
        titles.extend(suite.requirements.clone());
    }
    let passed = tests.iter().all(|t| !t.required || t.outcome.acceptable());
    let time = |t: jiff::Timestamp| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    ReportDocument {
        schema: lastmile_documents::report::SCHEMA.to_owned(),
        passed,
        candidate: candidate(inputs),
        environment: inputs.deployment.environment.clone(),
        instance: inputs.deployment.instance.clone(),
        generation: inputs.deployment.generation.unwrap_or(1),
        configuration: configuration(inputs),
        changes: None,
        suites: inputs
            .suites
            .iter()
            .map(|s| SuiteFile {
                file: s.file.clone(),
                sha256: s.sha256,
            })
            .collect(),
        selection: Selection {
            tags: options.filter.tags.clone(),
            skip_tags: options.filter.skip_tags.clone(),
            partition: options.filter.partition,
            fail_fast: options.fail_fast,
            merged: Vec::new(),
            balanced: None,
            affected: options
                .filter
                .affected
                .as_ref()
                .map(|a| a.packages.iter().cloned().collect()),
        },
        started: time(started),
        finished: time(finished),
        counts: crate::report::counts(&tests),
        requirements: crate::report::requirements(&titles, &tests),
        tests,
        flaky: Vec::new(),
    }
}

/// The configuration the deployment says its generation was made with.
fn configuration(inputs: &Inputs) -> Option<QualifiedConfiguration> {
    let deployment = &inputs.deployment;
    Some(QualifiedConfiguration {
        digest: deployment.configuration?,
        config: deployment.config.clone(),
        nodes: deployment
            .nodes
            .iter()
            .map(|n| (n.name.clone(), n.roles.clone()))
            .collect(),
    })
}

/// The candidate qualified: the deployment's digest, the manifest's base and packages.
fn candidate(inputs: &Inputs) -> QualifiedCandidate {
    let manifest = inputs.manifest.as_ref();
    QualifiedCandidate {
        digest: inputs.deployed.digest,
        image: inputs.deployed.image.clone(),
        source_commits: inputs.deployed.source_commits.clone(),
        base: manifest.map(|m| m.base.digest),
        packages: manifest
            .map(|m| {
                m.packages
                    .iter()
                    .map(|p| QualifiedPackage {
                        name: p.name.clone(),
                        version: p.version.clone(),
                        sha256: p.sha256,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        os_packages: manifest
            .and_then(|m| m.base.lock.as_ref())
            .map(|lock| {
                lock.packages
                    .iter()
                    .map(|p| QualifiedDeb {
                        name: p.name.clone(),
                        version: p.version.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}
