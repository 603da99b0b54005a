//! Requirements that cannot be met exit 1 with an explanation a person can act on; input that
//! cannot be read exits 2 naming the file and line.

use crate::testenv::{TestEnv, Wheel};

#[test]
fn two_requirements_want_different_versions_of_a_shared_dependency() {
    let env = TestEnv::new();
    env.write("requirements.in", "app\n")
        .wheel(Wheel::new("app", "1.0").requires("left").requires("right"))
        .wheel(Wheel::new("left", "1.0").requires("base<2"))
        .wheel(Wheel::new("right", "1.0").requires("base>=2"))
        .wheel(Wheel::new("base", "1.0"))
        .wheel(Wheel::new("base", "2.0"));
    let out = env.run(&["requirements.in", "-f", "dist"]);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""));
    insta::assert_snapshot!("conflict_diamond", out.stderr);
}

#[test]
fn requires_python_above_the_target() {
    let env = TestEnv::new();
    env.write("requirements.in", "# services\nportal>=2\n")
        .wheel(Wheel::new("portal", "1.0"))
        .wheel(Wheel::new("portal", "2.0").requires_python(">=3.12"));
    let out = env.run(&["requirements.in", "-f", "dist", "--python-version", "3.11"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("conflict_requires_python", out.stderr);
}

#[test]
fn a_package_missing_from_the_sources() {
    let env = TestEnv::new();
    env.write("requirements.in", "app==1.0\n")
        .wheel(Wheel::new("app", "1.0").requires("tornado>=6.3"));
    let out = env.run(&["requirements.in", "-f", "dist", "--no-index"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("conflict_missing", out.stderr);
}

#[test]
fn a_version_that_does_not_exist() {
    let env = TestEnv::new();
    env.write("requirements.in", "base>=3\n")
        .wheel(Wheel::new("base", "1.0"))
        .wheel(Wheel::new("base", "2.0"));
    let out = env.run(&["requirements.in", "-f", "dist"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("  - no version of base matches >=3; the versions are 1.0, 2.0\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("  - requirements.in:1 requires base>=3\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_bad_specifier_names_file_and_line() {
    let env = TestEnv::new();
    env.write("requirements.in", "good\nbad >>= 1\n");
    let out = env.run(&["requirements.in", "-f", "dist"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with("pin-deps: requirements.in:2: invalid requirement \"bad >>= 1\""),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn no_package_source_and_unreachable_indexes_are_refused_clearly() {
    let env = TestEnv::new();
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    env.write("requirements.in", "a\n").write(
        "indexed.in",
        "--index-url http://user:secret@127.0.0.1:9/simple\na\n",
    );
    let out = env.run(&["requirements.in", "--no-index"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "pin-deps: no package source: --no-index leaves only --find-links, and none was given\n"
    );
    let out = env.run(&["indexed.in", "-f", "dist", "--retries", "1", "--timeout", "2"]);
    assert_eq!(out.code, 2);
    assert!(!out.stderr.contains("secret"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("http://127.0.0.1:9/simple/a/: connection failed"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("(2 attempts)"), "{}", out.stderr);
}

#[test]
fn a_failed_run_leaves_the_old_output_in_place() {
    let env = TestEnv::new();
    env.write("requirements.in", "missing\n")
        .write("pinned.txt", "old==1.0\n");
    let out = env.run(&["requirements.in", "-f", "dist", "-o", "pinned.txt"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        std::fs::read_to_string(env.path("pinned.txt")).unwrap(),
        "old==1.0\n"
    );
}
