//! The promotion gate on any report document: a report the gate lets through was a run of the
//! whole suite, with at least one test, every test run and every required test passed. The
//! gate is checked against these rules restated here, not against itself.
#![no_main]

use lastmile_documents::Document;
use lastmile_documents::report::{Outcome, ReportDocument};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(report) = ReportDocument::from_json(text, "fuzz") else {
        return;
    };
    let refusal = aqf_run::promote::gate::report_refusal(&report);
    let whole = report.selection.tags.is_empty()
        && report.selection.skip_tags.is_empty()
        && report.selection.partition.is_none();
    let all_ran = report.tests.iter().all(|t| t.outcome != Outcome::Skipped);
    let required_passed = report
        .tests
        .iter()
        .filter(|t| t.required)
        .all(|t| matches!(t.outcome, Outcome::Passed | Outcome::Flaky));
    let may = whole && !report.tests.is_empty() && all_ran && required_passed && report.passed;
    assert_eq!(refusal.is_none(), may, "gate said {refusal:?}");
});
