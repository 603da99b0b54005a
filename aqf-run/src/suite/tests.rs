use super::*;

const SUITE: &str = r#"name = "cam"

[requirements]
CAM-R-101 = "Each role's services run on its nodes"

[groups.monctl]
roles = ["monctl"]
tags = ["smoke"]

[[groups.monctl.tests]]
name = "proxy listens"
kind = "port"
port = 7150
verifies = ["CAM-R-101"]

[[groups.monctl.tests]]
name = "proxy reaches the simulator"
kind = "command"
run = "katcp-cmd {address}:7150 proxy m000 watchdog"
stdout = "!proxy ok"
timeout = "20s"
retries = 2
"#;

fn error(text: &str) -> String {
    parse(text, "acceptance.toml", Path::new("."))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_suite_is_read_with_its_defaults() {
    let suite = parse(SUITE, "acceptance.toml", Path::new("suites")).unwrap();
    assert_eq!(suite.name, "cam");
    let group = &suite.groups[0];
    assert_eq!(group.roles, ["monctl"]);
    assert_eq!(group.tests[0].kind.word(), "port");
    assert_eq!(group.tests[0].timeout, Duration::from_secs(60));
    assert!(group.tests[0].required);
    assert_eq!(group.tests[1].tags, ["smoke"]);
    assert_eq!(group.tests[1].retries, 2);
    assert_eq!(group.tests[1].timeout, Duration::from_secs(20));
}

#[test]
fn bad_suites_name_the_file_line_and_key() {
    let cases = [
        (
            SUITE.replace("port = 7150", "port = \"x\""),
            "acceptance.toml:13: groups.monctl.tests.port (proxy listens): invalid type: string \"x\", expected a port",
        ),
        (
            SUITE.replace("port = 7150", "port = 70000"),
            "acceptance.toml:13: groups.monctl.tests.port",
        ),
        (
            SUITE.replace("kind = \"port\"", "kind = \"ping\""),
            "acceptance.toml:12: groups.monctl.tests (proxy listens): unknown variant `ping`",
        ),
        (
            SUITE.replace("timeout = \"20s\"", "timeout = \"soon\""),
            "acceptance.toml:21: groups.monctl.tests.timeout",
        ),
        (
            SUITE.replace("stdout = \"!proxy ok\"", "stdout = \"(\""),
            "acceptance.toml:20: groups.monctl.tests.stdout",
        ),
        (
            SUITE.replace("verifies = [\"CAM-R-101\"]", "verifies = [\"CAM-R-999\"]"),
            "acceptance.toml:14: groups.monctl.tests.verifies",
        ),
        (
            SUITE.replace("port = 7150", "port = 7150\nunit = \"x\""),
            "acceptance.toml:14: groups.monctl.tests (proxy listens): unknown field `unit`, expected `port` or `listening`",
        ),
        (
            SUITE.replace(
                "name = \"proxy reaches the simulator\"",
                "name = \"proxy listens\"",
            ),
            "groups.monctl.tests.name",
        ),
    ];
    for (text, expected) in cases {
        let message = error(&text);
        assert!(
            message.starts_with(expected) || message.contains(expected),
            "{message:?} should start with {expected:?}"
        );
    }
}

#[test]
fn quarantine_marks_a_test_and_refuses_a_required_one_or_a_typo() {
    let optional = SUITE.replace("retries = 2\n", "retries = 2\nrequired = false\n");
    let quarantined = format!(
        "{optional}\n[quarantine]\n\"monctl/proxy reaches the simulator\" = \"times out under load: issue 812\"\n"
    );
    let suite = parse(&quarantined, "acceptance.toml", Path::new(".")).unwrap();
    let tests = &suite.groups[0].tests;
    assert_eq!(tests[0].quarantined, None);
    assert_eq!(
        tests[1].quarantined.as_deref(),
        Some("times out under load: issue 812")
    );
    let required = format!("{SUITE}\n[quarantine]\n\"monctl/proxy listens\" = \"flaky\"\n");
    assert_eq!(
        error(&required),
        "acceptance.toml:25: quarantine.\"monctl/proxy listens\": monctl/proxy listens is required; a required test is never quarantined (set required = false on it first, in review)"
    );
    let typo = format!("{optional}\n[quarantine]\n\"monctl/proxy listen\" = \"flaky\"\n");
    assert!(
        error(&typo).contains("quarantine.\"monctl/proxy listen\": no test of the suite"),
        "{}",
        error(&typo)
    );
}
