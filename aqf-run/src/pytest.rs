//! pytest tests: on the host in the suite's own venv (made once from its requirements file and
//! cached, keyed by the file's contents and the Python version), or inside a node with the node's
//! Python; pytest's own JUnit XML is collected and its test cases reported.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lastmile_documents::report::Outcome;
use lastmile_fs::Sha256;

use crate::checks::{Context, Tried, clip, in_node, variables};
use crate::plan::Instance;
use crate::suite::{Kind, On};

/// One test case of pytest's JUnit XML.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub seconds: f64,
    /// `passed`, `failure`, `error` or `skipped`.
    pub outcome: String,
    pub message: String,
    pub text: String,
}

pub fn run(ctx: &Context, instance: &Instance, started: Instant) -> Tried {
    let Kind::Pytest {
        path,
        on,
        requirements,
        markers,
        args,
    } = &instance.test.kind
    else {
        unreachable!("a pytest test");
    };
    let junit = ctx
        .out_dir
        .join("pytest")
        .join(format!("{}.xml", safe(&instance.id())));
    let limit = instance.test.timeout;
    let mut pytest_args: Vec<String> = vec!["-m".into(), "pytest".into()];
    let result = (|| -> Result<lastmile_probe::Ran, String> {
        std::fs::create_dir_all(junit.parent().expect("a folder")).map_err(|e| e.to_string())?;
        match (on, instance.node) {
            (On::Host, node) => {
                let python = match requirements {
                    Some(requirements) => venv(&ctx.cache_dir, requirements)?.join("bin/python"),
                    None => PathBuf::from("python3"),
                };
                pytest_args.extend([
                    path.display().to_string(),
                    "-q".into(),
                    "-p".into(),
                    "no:cacheprovider".into(),
                ]);
                pytest_args.push(format!("--junitxml={}", junit.display()));
                if let Some(markers) = markers {
                    pytest_args.extend(["-m".into(), markers.clone()]);
                }
                pytest_args.extend(args.iter().cloned());
                let mut command = Command::new(python);
                command
                    .args(&pytest_args)
                    .envs(variables(ctx.deployment, node))
                    .env("PYTHONDONTWRITEBYTECODE", "1");
                lastmile_probe::run(&mut command, None, limit).map_err(|e| e.0)
            }
            (On::Node, None) => Err("on = \"node\" in a group that targets no node".into()),
            (On::Node, Some(node)) => {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("test_suite.py");
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                let dir = "/tmp/aqf-run";
                let copy = format!("mkdir -p {dir} && cat > {dir}/{name}");
                in_node(node, &["sh", "-c", &copy], Some(&bytes), Duration::from_secs(30))?;
                let test = format!("{dir}/{name}");
                let report = format!("--junitxml={dir}/junit.xml");
                let mut words = vec![
                    "python3",
                    "-m",
                    "pytest",
                    &test,
                    "-q",
                    "-p",
                    "no:cacheprovider",
                    &report,
                ];
                if let Some(markers) = markers {
                    words.extend(["-m", markers]);
                }
                words.extend(args.iter().map(String::as_str));
                let ran = in_node(node, &words, None, limit)?;
                let xml = in_node(
                    node,
                    &["cat", &format!("{dir}/junit.xml")],
                    None,
                    Duration::from_secs(30),
                )?;
                std::fs::write(&junit, xml.stdout).map_err(|e| e.to_string())?;
                Ok(ran)
            }
        }
    })();
    let ran = match result {
        Ok(ran) => ran,
        Err(message) => {
            let mut tried = Tried {
                outcome: Outcome::Error,
                message,
                stdout: String::new(),
                stderr: String::new(),
                duration: started.elapsed(),
                cases: Vec::new(),
            };
            tried.duration = started.elapsed();
            return tried;
        }
    };
    let cases = std::fs::read_to_string(&junit)
        .map(|xml| parse_junit(&xml))
        .unwrap_or_default();
    let (outcome, message) = match ran.code {
        None => (
            Outcome::TimedOut,
            format!("killed after {:.1} s (its time limit)", ran.elapsed.as_secs_f64()),
        ),
        Some(0) => (Outcome::Passed, String::new()),
        Some(1) => {
            let failed: Vec<String> = cases
                .iter()
                .filter(|c| c.outcome == "failure" || c.outcome == "error")
                .map(|c| c.name.clone())
                .collect();
            (
                Outcome::Failed,
                format!(
                    "{} of {} pytest tests failed: {}",
                    failed.len(),
                    cases.len(),
                    failed.join(", ")
                ),
            )
        }
        Some(5) => (Outcome::Error, "pytest collected no tests".to_owned()),
        Some(code) => (
            Outcome::Error,
            format!("pytest could not run (exit status {code}): {}", last_line(&ran)),
        ),
    };
    Tried {
        outcome,
        message,
        stdout: clip(&ran.stdout),
        stderr: clip(&ran.stderr),
        duration: started.elapsed(),
        cases,
    }
}

fn last_line(ran: &lastmile_probe::Ran) -> String {
    [&ran.stderr, &ran.stdout]
        .iter()
        .find_map(|t| t.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_owned))
        .unwrap_or_default()
}

/// The suite's venv: made once from `requirements` and cached by its contents and the Python.
fn venv(cache: &Path, requirements: &Path) -> Result<PathBuf, String> {
    let contents = std::fs::read(requirements).map_err(|e| format!("{}: {e}", requirements.display()))?;
    let python = Command::new("python3")
        .arg("--version")
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let mut key = contents.clone();
    key.extend_from_slice(&python.stdout);
    let dir = cache.join(format!("aqf-venv-{}", Sha256::of(&key).short(16)));
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(cache).map_err(|e| e.to_string())?;
    let lock = std::fs::File::create(cache.join(".aqf-venv.lock")).map_err(|e| e.to_string())?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive).map_err(|e| e.to_string())?;
    if dir.join(".complete").exists() {
        return Ok(dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let made = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !made.status.success() {
        return Err(format!(
            "python3 -m venv: {}",
            String::from_utf8_lossy(&made.stderr).trim()
        ));
    }
    let mut install = Command::new(dir.join("bin/pip"));
    install
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(requirements);
    let installed = lastmile_probe::run(&mut install, None, Duration::from_secs(900)).map_err(|e| e.0)?;
    if installed.code != Some(0) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(format!(
            "installing {} into the suite's venv: {}",
            requirements.display(),
            installed.stderr.lines().last().unwrap_or("")
        ));
    }
    std::fs::write(dir.join(".complete"), b"").map_err(|e| e.to_string())?;
    Ok(dir)
}

/// A file name from a test id.
pub fn safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

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
                    outcome: "passed".to_owned(),
                    message: String::new(),
                    text: String::new(),
                });
            }
            Ok(Event::Start(e)) | Ok(Event::Empty(e))
                if matches!(e.name().as_ref(), b"failure" | b"error" | b"skipped") =>
            {
                if let Some(case) = current.as_mut() {
                    case.outcome = String::from_utf8_lossy(e.name().as_ref()).into_owned();
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
        assert_eq!(cases[0].outcome, "passed");
        assert_eq!(cases[1].outcome, "failure");
        assert_eq!(cases[1].message, "assert 1 == 2");
        assert!(cases[1].text.contains(">   assert 1 == 2"));
        assert_eq!(cases[2].outcome, "skipped");
        assert_eq!(safe("cam:g/t 1@n"), "cam_g_t_1_n");
    }
}
