//! `aqf-run merge`: the reports of every partition of one qualification (one candidate on one
//! deployment, the same suites, the same filters, `--partition 1/N` to `N/N`, each once) as the
//! one report of the whole suite, which can promote. Anything else is refused naming what does
//! not fit: a missing or repeated slice, another candidate, generation or suite, a test that is
//! not in the slice its report claims.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use lastmile_documents::Document;
use lastmile_documents::report::{Balanced, Partition, ReportDocument, Selection};

/// Merge the reports at `paths`.
pub fn merge(paths: &[PathBuf]) -> anyhow::Result<ReportDocument> {
    let reports = paths
        .iter()
        .map(|path| {
            let shown = path.display().to_string();
            let text = lastmile_fs::read_text(path).with_context(|| format!("reading {shown}"))?;
            Ok((shown.clone(), ReportDocument::from_json(&text, &shown)?))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let Some((first_shown, first)) = reports.first() else {
        bail!("no reports to merge");
    };
    let count = slices(&reports)?;
    for (shown, report) in &reports[1..] {
        same_qualification(first_shown, first, shown, report)?;
    }
    let balanced = first.selection.balanced.clone();
    let mut tests = Vec::new();
    let mut ids = BTreeSet::new();
    let mut slice_of_test = Vec::new();
    let mut titles = BTreeMap::new();
    for (shown, report) in &reports {
        let index = report.selection.partition.map_or(0, |p| p.index);
        for test in &report.tests {
            slice_of_test.push((test.id.clone(), index));
            if balanced.is_none() && crate::plan::slice_of(&test.id, count) != index - 1 {
                bail!(
                    "{shown}: test {} is not in partition {index}/{count}: not a slice of this suite",
                    test.id
                );
            }
            if !ids.insert(test.id.clone()) {
                bail!("{shown}: test {} is in two reports", test.id);
            }
            tests.push(test.clone());
        }
        titles.extend(
            report
                .requirements
                .iter()
                .map(|r| (r.id.clone(), r.title.clone())),
        );
    }
    if let Some(balanced) = &balanced {
        same_plan(balanced, &slice_of_test)?;
    }
    tests.sort_by(|a, b| a.id.cmp(&b.id));
    let mut merged = first.clone();
    merged.passed = tests.iter().all(|t| !t.required || t.outcome.acceptable());
    merged.selection = Selection {
        partition: None,
        fail_fast: reports.iter().any(|(_, r)| r.selection.fail_fast),
        merged: (1..=count).map(|index| Partition { index, count }).collect(),
        ..first.selection.clone()
    };
    merged.started = reports
        .iter()
        .map(|(_, r)| r.started.clone())
        .min()
        .unwrap_or_default();
    merged.finished = reports
        .iter()
        .map(|(_, r)| r.finished.clone())
        .max()
        .unwrap_or_default();
    merged.counts = crate::report::counts(&tests);
    merged.requirements = crate::report::requirements(&titles, &tests);
    merged.tests = tests;
    merged.flaky = reports.iter().flat_map(|(_, r)| r.flaky.clone()).collect();
    merged
        .flaky
        .sort_by(|a, b| (b.flip_rate(), b.retried, &a.id).cmp(&(a.flip_rate(), a.retried, &b.id)));
    Ok(merged)
}

/// N, when the reports are slices 1/N to N/N, each once.
fn slices(reports: &[(String, ReportDocument)]) -> anyhow::Result<u64> {
    let mut seen: BTreeMap<u64, &str> = BTreeMap::new();
    let mut count = None;
    for (shown, report) in reports {
        let Some(partition) = report.selection.partition else {
            bail!(
                "{shown} is not a partition ({}): only the reports of --partition runs merge",
                report.selection
            );
        };
        if *count.get_or_insert(partition.count) != partition.count {
            bail!(
                "{shown} is partition {partition}, the others are of {}",
                count.unwrap_or(0)
            );
        }
        if let Some(other) = seen.insert(partition.index, shown) {
            bail!("{shown} and {other} are both partition {partition}");
        }
    }
    let count = count.unwrap_or(0);
    let missing: Vec<String> = (1..=count)
        .filter(|k| !seen.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "partition {} missing: merge every partition of the run",
            missing.join(", ")
        );
    }
    Ok(count)
}

/// Balanced slices: together, their tests (each with its slice) must be exactly the plan every
/// slice was cut from.
fn same_plan(balanced: &Balanced, slice_of_test: &[(String, u64)]) -> anyhow::Result<()> {
    let made = Balanced::plan_digest(slice_of_test.iter().map(|(id, k)| (id.as_str(), *k)));
    if made != balanced.plan {
        bail!(
            "the slices' tests are not the plan they were cut from (plan {}, the tests make {}): a test is missing, added or in another slice",
            balanced.plan.short(12),
            made.short(12)
        );
    }
    Ok(())
}

/// The two reports are slices of one qualification.
fn same_qualification(
    a_shown: &str,
    a: &ReportDocument,
    b_shown: &str,
    b: &ReportDocument,
) -> anyhow::Result<()> {
    let differs = |what: &str| -> anyhow::Result<()> {
        bail!("{b_shown} and {a_shown} are not slices of one qualification: {what} differ")
    };
    if a.candidate != b.candidate {
        return differs("their candidates");
    }
    if (&a.environment, &a.instance, a.generation) != (&b.environment, &b.instance, b.generation) {
        return differs("their deployments (environment, instance and generation)");
    }
    if a.configuration != b.configuration {
        return differs("their configurations");
    }
    if a.suites != b.suites {
        return differs("their suites");
    }
    if (&a.selection.tags, &a.selection.skip_tags) != (&b.selection.tags, &b.selection.skip_tags) {
        return differs("their --tags and --skip-tags");
    }
    if a.selection.affected != b.selection.affected {
        return differs("their --affected");
    }
    if a.selection.balanced != b.selection.balanced {
        return differs("their splits (balanced by another history, or one by hash)");
    }
    Ok(())
}
