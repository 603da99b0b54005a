//! Every option pip accepts in a requirements file: those that change the resolution are honoured
//! (`--only-binary`, `--no-binary`, `--prefer-binary`, `--trusted-host`), the others are accepted
//! and said to have no effect, as uv does.

use crate::testenv::{Pins, TestEnv, Wheel, run_in};

/// lib 1.0 as a wheel, lib 2.0 only as an sdist with static metadata (PEP 643).
fn wheel_and_newer_sdist() -> TestEnv {
    let env = TestEnv::new();
    env.wheel(Wheel::new("lib", "1.0"))
        .sdist("lib", "2.0", "2.2", &[]);
    env
}

#[test]
fn options_without_effect_are_accepted_and_named() {
    let env = wheel_and_newer_sdist();
    env.write(
        "requirements.in",
        "--require-hashes\n--use-feature=truststore\n--prefer-binary\n\
         lib --config-settings=--build-option=--fast --global-option=-q\n",
    );
    let out = env.run(&[
        "requirements.in",
        "-f",
        "dist",
        "--no-index",
        "--no-header",
        "--no-hashes",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.pins(), ["lib==1.0"]);
    assert_eq!(
        out.stderr,
        "pin-deps: warning: requirements.in:1: --require-hashes (the pins always carry hashes) has no effect on a resolution; ignored\n\
         pin-deps: warning: requirements.in:2: --use-feature truststore has no effect on a resolution; ignored\n\
         pin-deps: warning: requirements.in:4: --config-settings --build-option=--fast has no effect on a resolution; ignored\n\
         pin-deps: warning: requirements.in:4: --global-option -q has no effect on a resolution; ignored\n"
    );
}

#[test]
fn binary_options_decide_which_files_are_candidates() {
    let env = wheel_and_newer_sdist();
    // By default the newest version wins, from its sdist (static metadata needs no build).
    assert_eq!(env.pin("lib\n", &["--no-hashes"]).success().pins(), ["lib==2.0"]);
    // --prefer-binary: the version with a wheel, from the command line or the file.
    assert_eq!(
        env.pin("lib\n", &["--no-hashes", "--prefer-binary"])
            .success()
            .pins(),
        ["lib==1.0"]
    );
    assert_eq!(
        env.pin("--prefer-binary\nlib\n", &["--no-hashes"])
            .success()
            .pins(),
        ["lib==1.0"]
    );
    // --only-binary: sdists are no candidates at all, so lib>=2 cannot be met.
    assert_eq!(
        env.pin("lib\n", &["--no-hashes", "--only-binary", ":all:"])
            .success()
            .pins(),
        ["lib==1.0"]
    );
    let out = env.pin("--only-binary lib\nlib>=2\n", &["--no-hashes"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    // --no-binary: the wheel is no candidate; the command line wins over the file.
    assert_eq!(
        env.pin("lib<=2\n", &["--no-hashes", "--no-binary", "lib"])
            .success()
            .pins(),
        ["lib==2.0"]
    );
    let out = env.pin("--no-binary :all:\nlib<2\n", &["--no-hashes"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let out = env.pin(
        "--no-binary :all:\nlib<2\n",
        &["--no-hashes", "--only-binary", "lib"],
    );
    assert_eq!(out.pins(), ["lib==1.0"], "{}", out.stderr);
}

#[test]
fn plain_http_indexes_need_trusted_host_except_on_this_machine() {
    let env = TestEnv::new();
    let out = run_in(
        env.dir.path(),
        &["-", "-i", "http://index.invalid/simple/"],
        Some("lib\n"),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "index URL http://index.invalid/simple/: plain HTTP to index.invalid is not secure (anyone on the way can change what it serves); give --trusted-host index.invalid to use it anyway"
        ),
        "{}",
        out.stderr
    );
    // Trusted (by option or in the file), the index is used: here it does not exist.
    for (requirements, extra) in [
        ("lib\n", &["--trusted-host", "index.invalid"][..]),
        ("--trusted-host index.invalid\nlib\n", &[][..]),
    ] {
        let mut args = vec!["-", "-i", "http://index.invalid/simple/", "--retries", "0"];
        args.extend_from_slice(extra);
        let out = run_in(env.dir.path(), &args, Some(requirements));
        assert_eq!(out.code, 2);
        assert!(
            out.stderr
                .contains("http://index.invalid/simple/lib/: connection failed"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn diff_says_what_a_re_pin_moved_and_exits_1_when_anything_did() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("alpha", "1.0").requires("beta"))
        .wheel(Wheel::new("beta", "1.0"))
        .wheel(Wheel::new("beta", "2.0"));
    let old = env.pin("alpha\nbeta<2\n", &[]).success();
    std::fs::write(env.path("old.txt"), &old.stdout).unwrap();
    let new = env.pin("alpha\n", &[]).success();
    std::fs::write(env.path("new.txt"), &new.stdout).unwrap();
    let out = env.run(&["diff", "old.txt", "new.txt", "--labels", "before", "after"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "  beta: before 1.0, after 2.0\n    via: before: -r <stdin>, alpha; after: alpha\n"
    );
    let same = env.run(&["diff", "old.txt", "old.txt"]);
    assert_eq!((same.code, same.stdout.as_str()), (0, ""));
    let missing = env.run(&["diff", "old.txt", "gone.txt"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.starts_with("pin-deps: gone.txt: "),
        "{}",
        missing.stderr
    );
}
