//! aqf-run's acceptance suites, read as `aqf-run run SUITE` reads them: every error is an error
//! (never a panic), and what is accepted holds the bounds the runner relies on.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(suite) = aqf_run::suite::parse(text, "fuzz.toml", std::path::Path::new("/nonexistent")) else {
        return;
    };
    assert!(!suite.groups.is_empty(), "a suite without groups was accepted");
    for group in &suite.groups {
        for test in &group.tests {
            assert!(test.retries <= 10, "{} retries", test.retries);
        }
    }
});
