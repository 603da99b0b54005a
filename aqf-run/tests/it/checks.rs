//! One attempt of each kind on nodes that are this host: commands with the node's variables and
//! placeholders, and the built-in checks (port, http, file, process, package, deb), each passing when
//! it should and failing with the reason when it should not; bad suites refused by file, line and
//! key; an unpinned suite venv refused with how to pin it.

use std::io::{Read, Write};

use crate::testenv::{Env, messages};

#[test]
fn host_commands_get_the_node_variables_and_placeholders() {
    let env = Env::new(10, &[("monctl", &["monctl"]), ("sim", &["sim"])]);
    let sim = env.address(3);
    env.suite(&format!(
        r#"
        name = "vars"
        [groups.sim]
        roles = ["sim"]

        [[groups.sim.tests]]
        name = "node.env values on the host"
        kind = "command"
        on = "host"
        run = 'test "$LASTMILE_NODE" = sim && test "$LASTMILE_GENERATION" = 3 && test "$KATCP_LOG_LEVEL" = debug && test "$LASTMILE_ROLE_SIM" = {sim} && case "$LASTMILE_EXEC" in "lxc-attach -P "*" -n lmtest-aqf-sim-3 --clear-env --set-var PATH=/usr/local/sbin"*" --") ;; *) exit 9;; esac'

        [[groups.sim.tests]]
        name = "placeholders"
        kind = "command"
        on = "host"
        run = "echo {{address}} {{node}} {{env}} {{addr:monctl}} {{role:sim}}"
        stdout = '^{sim} sim lab {monctl} {sim}\n$'

        [[groups.sim.tests]]
        name = "inside the node"
        kind = "command"
        run = "echo inside; exit 4"
        exit = 4
        stdout = "inside"
        "#,
        monctl = env.address(2),
    ));
    let out = env.run(&[]);
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, env.report());
}

/// A server at `address` answering every request with `status` and `body`.
fn serve(address: &str, status: &'static str, body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind(format!("{address}:0")).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            let _ = write!(
                stream,
                "HTTP/1.0 {status}\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A check of each built-in kind that should pass, and one of most that should fail.
fn built_in_suite(open: u16, closed: u16, web: u16, file: &std::path::Path) -> String {
    format!(
        r#"
        name = "b"
        [groups.n]
        roles = ["monctl"]
        [[groups.n.tests]]
        name = "open"
        kind = "port"
        port = {open}
        [[groups.n.tests]]
        name = "closed"
        kind = "port"
        port = {closed}
        listening = false
        [[groups.n.tests]]
        name = "closed but expected open"
        kind = "port"
        port = {closed}
        [[groups.n.tests]]
        name = "page"
        kind = "http"
        url = "http://{{address}}:{web}/antenna"
        body = "tracking"
        [[groups.n.tests]]
        name = "page with another status"
        kind = "http"
        url = "http://{{address}}:{web}/antenna"
        status = 404
        [[groups.n.tests]]
        name = "file"
        kind = "file"
        path = "{file}"
        mode = "640"
        contains = "karoo"
        [[groups.n.tests]]
        name = "no file"
        kind = "file"
        path = "{file}.missing"
        exists = false
        [[groups.n.tests]]
        name = "wrong mode"
        kind = "file"
        path = "{file}"
        mode = "600"
        [[groups.n.tests]]
        name = "sleeper"
        kind = "process"
        process = '^sleep 61\.25$'
        [[groups.n.tests]]
        name = "pinned pip"
        kind = "package"
        package = "pip"
        [[groups.n.tests]]
        name = "another pip"
        kind = "package"
        package = "pip"
        version = "0.0.1"
        [[groups.n.tests]]
        name = "locked dpkg"
        kind = "deb"
        package = "dpkg"
        [[groups.n.tests]]
        name = "locked apt"
        kind = "deb"
        package = "apt"
        "#,
        file = file.display(),
    )
}

#[test]
fn built_in_checks_pass_and_fail_with_the_reason() {
    let env = Env::new(11, &[("monctl", &["monctl"])]);
    let address = env.address(2);
    let listening = std::net::TcpListener::bind(format!("{address}:0")).unwrap();
    let open = listening.local_addr().unwrap().port();
    let closed = {
        let l = std::net::TcpListener::bind(format!("{address}:0")).unwrap();
        l.local_addr().unwrap().port()
    };
    let web = serve(&address, "200 OK", "antenna m000 tracking");
    let file = env.path("site.yaml");
    std::fs::write(&file, "site: karoo\n").unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let mut sleeper = std::process::Command::new("sleep").arg("61.25").spawn().unwrap();
    env.suite(&built_in_suite(open, closed, web, &file));
    // The candidate's manifest is read from the image the deployment names.
    let out = env.run(&[]);
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    drop(listening);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = env.report();
    let failed: Vec<&str> = report["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["outcome"] != "passed")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        failed,
        [
            "closed but expected open",
            "page with another status",
            "wrong mode",
            "another pip",
            "locked apt"
        ],
        "{report}"
    );
    let why = |name: &str| messages(&report, &format!("b:n/{name}@monctl")).join(" ");
    assert!(
        why("closed but expected open").contains("no answer on"),
        "{report}"
    );
    assert!(why("page with another status").contains("status 200 (expected 404)"));
    assert!(why("wrong mode").contains("has mode 640, expected 600"));
    assert!(
        why("another pip").contains("the candidate pins 0.0.1"),
        "{}",
        why("another pip")
    );
    assert!(
        why("locked apt").contains("is installed; the OS lock locks 0.0.1"),
        "{}",
        why("locked apt")
    );
}

#[test]
fn bad_suites_are_refused_naming_file_line_and_key() {
    let env = Env::new(12, &[("monctl", &["monctl"])]);
    let cases = [
        (
            "name = \"x\"\n[groups.g]\n[[groups.g.tests]]\nname = \"t\"\nkind = \"command\"\nrun = \"true\"\nexit = 4294967297\n",
            "suite.toml:7: groups.g.tests.exit (t): 4294967297: an exit status is an integer from 0 to 255",
        ),
        (
            "name = \"x\"\n[groups.g]\n[[groups.g.tests]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://x/\"\nstatus = 65736\n",
            "suite.toml:7: groups.g.tests.status (t): 65736: an HTTP status is an integer from 100 to 599",
        ),
        (
            "name = \"x\"\n[groups.g]\n[[groups.g.tests]]\nname = \"t\"\nkind = \"command\"\nrun = \"true\"\nretries = 4294967296\n",
            "suite.toml:7: groups.g.tests.retries (t): 4294967296: a number of retries is an integer from 0 to 10",
        ),
        (
            "name = \"x\"\n[groups.g]\n[[groups.g.tests]]\nname = \"t\"\nkind = \"ping\"\n",
            "suite.toml:5: groups.g.tests (t): unknown variant `ping`",
        ),
        (
            "name = \"x\"\n[groups.g]\n[[groups.g.tests]]\nname = \"t\"\nkind = \"port\"\nport = 1\nunit = \"x\"\n",
            "suite.toml:7: groups.g.tests (t): unknown field `unit`, expected `port` or `listening`",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(env.path("suite.toml"), text).unwrap();
        let out = env.run(&[]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.starts_with(&format!("aqf-run: {expected}")),
            "{}",
            out.stderr
        );
        assert_eq!(out.stdout, "");
    }
}

#[test]
fn an_unpinned_suite_venv_is_refused_saying_how_to_pin_it() {
    let env = Env::new(13, &[("monctl", &["monctl"])]);
    std::fs::write(env.path("requirements.txt"), "pytest\n").unwrap();
    std::fs::write(env.path("test_x.py"), "def test_x():\n    pass\n").unwrap();
    env.suite(
        r#"
        name = "py"
        [groups.host]
        [[groups.host.tests]]
        name = "suite"
        kind = "pytest"
        path = "test_x.py"
        requirements = "requirements.txt"
        "#,
    );
    let out = env.run(&["--cache-dir", env.path("cache").to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(env.outcome("py:host/suite"), "error");
    let why = messages(&env.report(), "py:host/suite").join(" ");
    assert!(
        why.contains("requirements.txt:1: pytest: not pinned") && why.contains("pin-deps"),
        "{why}"
    );
    assert!(!env.path("cache").join("aqf-venv").exists());
}

/// A stand-in for pytest in the nodes (which are this host here): `python3 -m pytest` finds it in
/// the working folder. It notes where it was given the test file, waits so that attempts overlap,
/// and writes the JUnit file it was asked for.
const PYTEST_SHIM: &str = r#"
import os, sys, time
path = sys.argv[1]
junit = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--junitxml=")][0]
with open(os.path.join(os.environ.get("SHIM_LOG", "."), "seen.txt"), "a") as log:
    log.write(os.path.dirname(path) + "\n")
assert os.path.isfile(path)
time.sleep(0.5)
with open(junit, "w") as out:
    out.write('<testsuites><testsuite name="s" tests="1"><testcase classname="t" name="test_x"/></testsuite></testsuites>')
"#;

#[test]
fn pytest_in_nodes_at_once_each_attempt_has_a_folder_of_its_own() {
    let env = Env::new(14, &[("a", &["monctl"]), ("b", &["monctl"])]);
    std::fs::write(env.path("pytest.py"), PYTEST_SHIM).unwrap();
    std::fs::write(env.path("test_x.py"), "def test_x():\n    pass\n").unwrap();
    env.suite(
        r#"
        name = "py"
        [groups.nodes]
        roles = ["monctl"]
        [[groups.nodes.tests]]
        name = "suite"
        kind = "pytest"
        on = "node"
        path = "test_x.py"
        "#,
    );
    let out = env.run(&["--jobs", "2"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(env.outcome("py:nodes/suite@a"), "passed");
    assert_eq!(env.outcome("py:nodes/suite@b"), "passed");
    let seen = std::fs::read_to_string(env.path("seen.txt")).unwrap();
    let dirs: Vec<&str> = seen.lines().collect();
    assert_eq!(dirs.len(), 2, "{seen}");
    assert_ne!(dirs[0], dirs[1], "two attempts shared a folder");
    for dir in dirs {
        assert!(dir.starts_with("/tmp/aqf-run."), "{dir}");
        assert!(!std::path::Path::new(dir).exists(), "{dir} was left behind");
    }
    // One JUnit file each, kept under the report.
    let xml = std::fs::read_dir(env.path("report/pytest")).unwrap().count();
    assert_eq!(xml, 2);
}

/// A pytest that records its interpreter and the tests it was given, and passes.
const PYTEST_WHO: &str = r#"
import os, sys
path = sys.argv[1]
junit = [a.split("=", 1)[1] for a in sys.argv if a.startswith("--junitxml=")][0]
files = sorted(os.listdir(path)) if os.path.isdir(path) else [os.path.basename(path)]
with open(os.path.join(os.environ.get("SHIM_LOG", "."), "who.txt"), "a") as log:
    log.write(sys.executable + " " + ",".join(files) + "\n")
with open(junit, "w") as out:
    out.write('<testsuites><testsuite name="s" tests="1"><testcase classname="t" name="test_x"/></testsuite></testsuites>')
"#;

#[test]
fn pytest_in_a_node_runs_the_candidates_python_on_a_folder_of_tests() {
    let env = Env::new(16, &[("a", &["monctl"])]);
    std::fs::write(env.path("pytest.py"), PYTEST_WHO).unwrap();
    std::fs::create_dir_all(env.path("acceptance")).unwrap();
    std::fs::write(env.path("acceptance/test_one.py"), "def test_one():\n    pass\n").unwrap();
    std::fs::write(env.path("acceptance/test_two.py"), "def test_two():\n    pass\n").unwrap();
    env.suite(
        r#"
        name = "py"
        [groups.nodes]
        roles = ["monctl"]
        [[groups.nodes.tests]]
        name = "suite"
        kind = "pytest"
        on = "node"
        path = "acceptance"
        "#,
    );
    // The candidate's Python says it was the one run.
    let python = env.path("venv/bin/python");
    let real = std::fs::read_link(&python).unwrap();
    std::fs::remove_file(&python).unwrap();
    std::fs::write(
        &python,
        format!(
            "#!/bin/sh\necho candidate >> {}\nexec {} \"$@\"\n",
            env.path("ran.txt").display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&python, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = env.run(&[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(env.path("ran.txt")).unwrap(),
        "candidate\n"
    );
    let who = std::fs::read_to_string(env.path("who.txt")).unwrap();
    assert!(
        who.ends_with(" test_one.py,test_two.py\n"),
        "not the whole folder: {who}"
    );
}

#[test]
fn a_pytest_that_cannot_start_in_a_node_says_why() {
    // No pytest where the candidate's Python looks: it fails to start, and the report says so.
    let env = Env::new(17, &[("a", &["monctl"])]);
    std::fs::write(env.path("test_x.py"), "def test_x():\n    pass\n").unwrap();
    env.suite(
        r#"
        name = "py"
        [groups.nodes]
        roles = ["monctl"]
        [[groups.nodes.tests]]
        name = "suite"
        kind = "pytest"
        on = "node"
        path = "test_x.py"
        "#,
    );
    let out = env.run(&[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(env.outcome("py:nodes/suite@a"), "error");
    let why = messages(&env.report(), "py:nodes/suite@a").join(" ");
    assert!(
        why.contains("pytest did not run the tests: ") && why.contains("No module named pytest"),
        "{why}"
    );
}

#[test]
fn a_venv_cache_others_can_write_is_never_used() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(15, &[("monctl", &["monctl"])]);
    std::fs::write(env.path("requirements.txt"), "").unwrap();
    std::fs::write(env.path("test_x.py"), "def test_x():\n    pass\n").unwrap();
    env.suite(
        r#"
        name = "py"
        [groups.host]
        [[groups.host.tests]]
        name = "suite"
        kind = "pytest"
        path = "test_x.py"
        requirements = "requirements.txt"
        "#,
    );
    let cache = env.path("cache");
    std::fs::create_dir(&cache).unwrap();
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = env.run(&["--cache-dir", cache.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(env.outcome("py:host/suite"), "error");
    let why = messages(&env.report(), "py:host/suite").join(" ");
    assert!(why.contains("is writable by other users (mode 777)"), "{why}");
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        0,
        "the cache was used"
    );

    // No cache folder at all (no LASTMILE_CACHE_DIR, XDG_CACHE_HOME or HOME): refused, never /tmp.
    let args = [
        "run",
        "--deployment",
        "deployment.json",
        "suite.toml",
        "--out-dir",
        "report",
        "--no-progress",
    ];
    let mut command = env.env.command(&args);
    command
        .env_remove("HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("LASTMILE_CACHE_DIR")
        .env(
            "PATH",
            format!("{}:{}", env.path("bin").display(), std::env::var("PATH").unwrap()),
        );
    let out = lastmile_tests::run_command(&mut command, None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let why = messages(&env.report(), "py:host/suite").join(" ");
    assert!(why.contains("no cache folder: set LASTMILE_CACHE_DIR"), "{why}");
}
