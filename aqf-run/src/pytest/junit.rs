//! pytest's own JUnit XML, read back into its test cases.

use crate::context::{Case, CaseOutcome};

/// The test cases of a JUnit XML file as pytest writes it.
pub fn parse_junit(xml: &str) -> Vec<Case> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    let mut in_result = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) if e.name().as_ref() == b"testcase" => {
                if let Some(done) = current.take() {
                    cases.push(done);
                }
                let attr = |name: &[u8]| {
                    e.try_get_attribute(name)
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                        .unwrap_or_default()
                };
                current = Some(Case {
                    classname: attr(b"classname"),
                    name: attr(b"name"),
                    seconds: attr(b"time").parse().unwrap_or(0.0),
                    outcome: CaseOutcome::Passed,
                    message: String::new(),
                    text: String::new(),
                });
            }
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if matches!(e.name().as_ref(), b"failure" | b"error" | b"skipped") =>
            {
                if let Some(case) = current.as_mut() {
                    case.outcome = match e.name().as_ref() {
                        b"failure" => CaseOutcome::Failure,
                        b"error" => CaseOutcome::Error,
                        _ => CaseOutcome::Skipped,
                    };
                    case.message = e
                        .try_get_attribute("message")
                        .ok()
                        .flatten()
                        .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                        .unwrap_or_default();
                    in_result = true;
                }
            }
            Ok(Event::Text(t)) if in_result => {
                if let (Some(case), Ok(text)) = (current.as_mut(), t.decode()) {
                    case.text.push_str(
                        &quick_xml::escape::unescape(&text)
                            .map(|c| c.into_owned())
                            .unwrap_or_else(|_| text.into_owned()),
                    );
                }
            }
            Ok(Event::GeneralRef(r)) if in_result => {
                if let (Some(case), Ok(name)) = (current.as_mut(), r.decode()) {
                    let resolved = match name.as_ref() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "quot" => Some('"'),
                        "apos" => Some('\''),
                        other => other
                            .strip_prefix("#x")
                            .and_then(|h| u32::from_str_radix(h, 16).ok())
                            .or_else(|| other.strip_prefix('#').and_then(|d| d.parse().ok()))
                            .and_then(char::from_u32),
                    };
                    if let Some(c) = resolved {
                        case.text.push(c);
                    }
                }
            }
            Ok(Event::End(e)) => match e.name().as_ref() {
                b"failure" | b"error" | b"skipped" => in_result = false,
                b"testcase" => {
                    if let Some(done) = current.take() {
                        cases.push(done);
                    }
                }
                _ => {}
            },
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    if let Some(done) = current.take() {
        cases.push(done);
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytest_junit_cases_are_read() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">
<testcase classname="test_a" name="test_ok" time="0.010" />
<testcase classname="test_a" name="test_bad" time="0.2"><failure message="assert 1 == 2">def test_bad():
&gt;   assert 1 == 2</failure></testcase>
<testcase classname="test_a" name="test_skip" time="0"><skipped type="pytest.skip" message="later" /></testcase>
</testsuite></testsuites>"#;
        let cases = parse_junit(xml);
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].outcome, CaseOutcome::Passed);
        assert_eq!(cases[1].outcome, CaseOutcome::Failure);
        assert_eq!(cases[1].message, "assert 1 == 2");
        assert!(cases[1].text.contains(">   assert 1 == 2"));
        assert_eq!(cases[2].outcome, CaseOutcome::Skipped);
    }
}
