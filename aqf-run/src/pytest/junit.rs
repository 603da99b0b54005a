//! pytest's own JUnit XML, read back into its test cases.

use crate::context::{Case, CaseOutcome};

use quick_xml::events::{BytesStart, Event};

/// The test cases of a JUnit XML file as pytest writes it.
pub fn parse_junit(xml: &str) -> Vec<Case> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut cases = Reader::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => cases.start(&e),
            Ok(Event::Text(t)) => {
                if let Ok(text) = t.decode() {
                    let text = quick_xml::escape::unescape(&text)
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| text.into_owned());
                    cases.text(&text);
                }
            }
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = r.decode().ok().and_then(|name| entity(&name)) {
                    cases.text(&c.to_string());
                }
            }
            Ok(Event::End(e)) => cases.end(e.name().as_ref()),
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    cases.finish()
}

/// The cases read so far, and the one being read.
#[derive(Default)]
struct Reader {
    cases: Vec<Case>,
    current: Option<Case>,
    /// Inside a case's `failure`, `error` or `skipped`, whose text is the case's.
    in_result: bool,
}

impl Reader {
    fn start(&mut self, element: &BytesStart) {
        let attr = |name: &[u8]| {
            element
                .try_get_attribute(name)
                .ok()
                .flatten()
                .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
                .unwrap_or_default()
        };
        let outcome = match element.name().as_ref() {
            b"testcase" => {
                self.close();
                self.current = Some(Case {
                    classname: attr(b"classname"),
                    name: attr(b"name"),
                    seconds: attr(b"time").parse().unwrap_or(0.0),
                    outcome: CaseOutcome::Passed,
                    message: String::new(),
                    text: String::new(),
                });
                return;
            }
            b"failure" => CaseOutcome::Failure,
            b"error" => CaseOutcome::Error,
            b"skipped" => CaseOutcome::Skipped,
            _ => return,
        };
        if let Some(case) = self.current.as_mut() {
            case.outcome = outcome;
            case.message = attr(b"message");
            self.in_result = true;
        }
    }

    fn text(&mut self, text: &str) {
        if let (true, Some(case)) = (self.in_result, self.current.as_mut()) {
            case.text.push_str(text);
        }
    }

    fn end(&mut self, name: &[u8]) {
        match name {
            b"failure" | b"error" | b"skipped" => self.in_result = false,
            b"testcase" => self.close(),
            _ => {}
        }
    }

    fn close(&mut self) {
        if let Some(done) = self.current.take() {
            self.cases.push(done);
        }
    }

    fn finish(mut self) -> Vec<Case> {
        self.close();
        self.cases
    }
}

/// The character an entity reference (`&lt;`, `&#10;`, `&#x41;`) stands for.
fn entity(name: &str) -> Option<char> {
    match name {
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
    }
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
