//! The Jenkinsfile, read as Jenkins would run it (no Jenkins runs here): every command its `sh`
//! steps call exists, with every flag they pass (the tools' own `--help`, the scripts' usage), and
//! every file it archives or publishes is one a step writes (`-o`, `--out-dir`, `--promotions`,
//! a redirect).

use std::collections::BTreeSet;
use std::process::Command;

use lastmile_tests::{run_command, tool, workspace};

const TOOLS: &[&str] = &["depgraph", "pin-deps", "bake-image", "deploy-lxc", "aqf-run"];
const OUT: &str = "target/lastmile/ci";

/// The shell commands of every `sh '...'` and `sh "..."` step, with `$OUT` spelled out.
fn steps(text: &str) -> Vec<String> {
    let mut steps = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("sh ") else {
            continue;
        };
        let quote = rest.chars().next().unwrap();
        let body = &rest[1..rest.rfind(quote).unwrap()];
        let body = body.replace("\\\"", "\"").replace("\\$", "$");
        steps.push(body.replace("\"$OUT", &format!("\"{OUT}")).replace("$OUT", OUT));
    }
    steps
}

/// The words of a shell command, quotes removed, `$(...)` kept as one word.
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0;
    for c in command.chars() {
        match c {
            '"' | '\'' if quote.is_none() && depth == 0 => quote = Some(c),
            c if Some(c) == quote && depth == 0 => quote = None,
            '(' if word.ends_with('$') => {
                depth += 1;
                word.push(c);
            }
            ')' if depth > 0 => {
                depth -= 1;
                word.push(c);
            }
            c if c.is_whitespace() && quote.is_none() && depth == 0 => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

#[test]
fn every_command_and_flag_exists_and_every_archived_file_is_written() {
    let text = std::fs::read_to_string(workspace().join("Jenkinsfile")).unwrap();
    let steps = steps(&text);
    assert!(steps.len() >= 10, "{steps:?}");
    let mut outputs: BTreeSet<String> = BTreeSet::new();
    let mut checked = 0;
    for step in &steps {
        for command in step
            .split(['|', ';'])
            .flat_map(|c| c.split("||"))
            .flat_map(|c| c.split("&&"))
        {
            let words = words(command.trim());
            for (i, word) in words.iter().enumerate() {
                let next = words.get(i + 1).cloned().unwrap_or_default();
                if matches!(
                    word.as_str(),
                    "-o" | "--out-dir" | "--promotions" | ">" | "--index-dir"
                ) {
                    outputs.insert(next.trim_end_matches('/').to_owned());
                }
            }
            if check_command(step, &words) {
                checked += 1;
            }
        }
    }
    assert!(checked >= 12, "only {checked} commands checked");
    every_archived_file_is_written(&text, &outputs);
    // And the promotion runs on main only.
    let promote = text.find("stage('Promote')").unwrap();
    assert!(
        text[promote..]
            .split("steps")
            .next()
            .unwrap()
            .contains("branch 'main'")
    );
}

/// A tool's or script's command: it exists and takes every flag the step gives it. Whether it
/// was one (true) or a known system command.
fn check_command(step: &str, words: &[String]) -> bool {
    let Some(program) = words.first() else {
        return false;
    };
    let flags: Vec<&String> = words
        .iter()
        .filter(|w| w.starts_with('-') && w.len() > 1)
        .collect();
    if TOOLS.contains(&program.as_str()) {
        let mut help = Command::new(tool(program));
        let sub = words
            .get(1)
            .filter(|w| !w.starts_with('-') && !w.contains('/') && !w.contains('$'));
        if let Some(sub) = sub {
            help.arg(sub);
        }
        help.arg("--help");
        let help = run_command(&mut help, None);
        assert_eq!(help.code, 0, "{step}: {program} {sub:?} --help: {}", help.stderr);
        for flag in &flags {
            let name = flag.split('=').next().unwrap();
            assert!(
                help.stdout.contains(&format!("{name} "))
                    || help.stdout.contains(&format!("{name},"))
                    || help.stdout.contains(&format!("{name}\n")),
                "{step}: {program} has no flag {name}"
            );
        }
        true
    } else if let Some(script) = program.strip_prefix("scripts/") {
        let path = workspace().join("scripts").join(script);
        assert!(path.is_file(), "{step}: no scripts/{script}");
        let source = std::fs::read_to_string(&path).unwrap();
        for flag in &flags {
            assert!(
                source.contains(flag.as_str()),
                "{step}: scripts/{script} takes no {flag}"
            );
        }
        true
    } else {
        assert!(
            ["cargo", "mkdir", "true"].contains(&program.as_str()),
            "{step}: {program} is neither a tool, a script nor a known command"
        );
        false
    }
}

/// Every archived file and the JUnit report are written by a step.
fn every_archived_file_is_written(text: &str, outputs: &BTreeSet<String>) {
    let archived: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with(&format!("'{OUT}")))
        .map(|l| l.trim_end_matches(',').trim_matches('\'').to_owned())
        .chain(text.lines().filter_map(|l| {
            l.split("testResults: '")
                .nth(1)
                .map(|r| r.split('\'').next().unwrap().to_owned())
        }))
        .collect();
    assert!(archived.len() >= 9, "{archived:?}");
    for pattern in &archived {
        let written = outputs
            .iter()
            .any(|out| pattern == out || pattern.starts_with(&format!("{out}/")) || glob_match(pattern, out));
        assert!(
            written,
            "{pattern} is archived but no step writes it (outputs: {outputs:?})"
        );
    }
}

fn glob_match(pattern: &str, path: &str) -> bool {
    match pattern.split_once('*') {
        Some((head, tail)) => path.starts_with(head) && path.ends_with(tail.trim_start_matches('*')),
        None => pattern == path,
    }
}

/// Builds run at once: none is serialized, each deploys only into instances of its own, and
/// destroys every one of them in `post { always }` (also after a failure or an abort); the
/// candidate is promoted only with the report of every environment it was deployed to.
#[test]
fn each_build_deploys_into_instances_of_its_own_and_destroys_them() {
    let text = std::fs::read_to_string(workspace().join("Jenkinsfile")).unwrap();
    assert!(!text.contains("disableConcurrentBuilds"));
    let steps = steps(&text);
    let applied: Vec<String> = steps
        .iter()
        .filter(|s| s.starts_with("deploy-lxc apply"))
        .map(|s| {
            assert!(s.contains("--instance \"$INSTANCE\""), "{s}");
            words(s)[3].clone()
        })
        .collect();
    assert!(applied.len() >= 2, "{applied:?}");
    let post = &text[text.rfind("post {").unwrap()..];
    for env in &applied {
        assert!(
            post.contains(&format!(
                "deploy-lxc destroy --env {env} --instance \"$INSTANCE\""
            )),
            "{env} is not destroyed in post"
        );
    }
    let promote = steps.iter().find(|s| s.starts_with("aqf-run promote")).unwrap();
    for env in &applied {
        let name = std::path::Path::new(env).file_stem().unwrap().to_str().unwrap();
        assert!(
            promote.contains(&format!("{OUT}/{name}/report.json"))
                && promote.contains(&format!("--deployment \"{OUT}/{name}/deployment.json\"")),
            "{promote} leaves out {name}"
        );
    }
}
