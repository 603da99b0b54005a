//! Indexes that lie: a range answer smaller than what it sent, hashes that are not hashes (and
//! would be cache paths), and credentials that must never show, whatever characters they hold
//! and however verbose the run.

use base64::Engine;

use crate::index_server::*;
use crate::testenv::{Pins, TestEnv, Wheel, run_in};

#[test]
fn a_content_range_smaller_than_the_answer_is_refused_not_a_panic() {
    let env = TestEnv::new();
    let files = wheels(&env, vec![Wheel::new("liar", "1.0").payload(200_000)]);
    let served = files.clone();
    let index = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/liar/" => Reply::Body {
            status: 200,
            content_type: "text/html",
            headers: Vec::new(),
            body: format!("<a href=\"/files/{0}\">{0}</a>", served[0].0).into_bytes(),
        },
        // 64 KiB of the tail, claiming the whole file is 100 bytes.
        path if path.starts_with("/files/") && seen.header("range").is_some() => {
            let bytes = &served[0].1;
            Reply::Body {
                status: 206,
                content_type: "application/octet-stream",
                headers: vec![(
                    "Content-Range",
                    format!("bytes {}-{}/100", bytes.len() - 65536, bytes.len() - 1),
                )],
                body: bytes[bytes.len() - 65536..].to_vec(),
            }
        }
        path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let out = pin(&env, &index.url, "liar\n", &[]);
    // The metadata is then read from the whole download, which is fine.
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(out.pins(), ["liar==1.0"]);
}

#[test]
fn a_hash_that_is_not_a_hash_is_never_used_as_a_path() {
    let env = TestEnv::new();
    let files = wheels(&env, vec![Wheel::new("evil", "1.0"), Wheel::new("evil", "2.0")]);
    let served = files.clone();
    let index = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/evil/" => json_page("evil", &served, |name| {
            if name.starts_with("evil-2.0") {
                serde_json::json!({"hashes": {"sha256": "../../../../../../tmp/lastmile-pwned"}})
            } else {
                serde_json::json!({})
            }
        }),
        path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let _ = std::fs::remove_file("/tmp/lastmile-pwned");
    let out = pin(&env, &index.url, "evil\n", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // 2.0's file is ignored, with a warning naming it; 1.0 is pinned.
    assert_eq!(out.pins(), ["evil==1.0"]);
    assert!(
        out.stderr
            .contains("evil-2.0-py3-none-any.whl: the index gives sha256 \"../../"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("lastmile-pwned"));
    assert!(!std::path::Path::new("/tmp/lastmile-pwned").exists());
    // Nothing in the cache is named after anything but a digest.
    for entry in walkdir::WalkDir::new(env.path(".cache")) {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains("pwned"), "{name}");
    }
}

#[test]
fn credentials_never_show_whatever_they_hold_and_however_verbose() {
    let env = TestEnv::new();
    let files = wheels(&env, vec![Wheel::new("private", "1.0")]);
    let served = files.clone();
    let (user, password) = ("ci@corp", "s3cr+t@pass/w#rd");
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    let expected = basic.clone();
    let index = MockIndex::start(move |seen, _| {
        if seen.header("authorization") != Some(expected.as_str()) {
            return Reply::Status(401);
        }
        // The index lives under a path with an @ in it, as some servers' team indexes do.
        match seen.path.strip_prefix("/~ci@team").unwrap_or(&seen.path) {
            "/simple/private/" => json_page("private", &served, |_| serde_json::json!({})),
            path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
        }
    });
    // Encoded as a person writes it: @ / # must be escaped, + may stay as it is.
    let encode = |s: &str| -> String {
        url::form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace("%2B", "+")
    };
    let url = index.url.replace(
        "http://",
        &format!("http://{}:{}@", encode(user), encode(password)),
    );
    let index_url = format!("{url}/~ci@team/simple/");
    for verbose in [&[][..], &["-vvv"][..]] {
        let mut args = vec!["-", "-i", &index_url, "-o", "pinned.txt"];
        args.extend_from_slice(verbose);
        let out = run_in(env.dir.path(), &args, Some("private\n"));
        assert_eq!(out.code, 0, "{}", out.stderr);
        let written = std::fs::read_to_string(env.path("pinned.txt")).unwrap();
        assert!(written.contains("private==1.0"));
        assert!(written.contains("-i http://****@127.0.0.1:"), "{written}");
        let encoded_password = encode(password);
        for secret in [password, &encoded_password, "s3cr", &basic[6..]] {
            for (what, text) in [
                ("stdout", &out.stdout),
                ("stderr", &out.stderr),
                ("the output", &written),
            ] {
                assert!(!text.contains(secret), "{what} of {verbose:?} shows {secret:?}");
            }
        }
        if !verbose.is_empty() {
            assert!(out.stderr.contains("trace"), "-vvv printed no trace");
        }
    }
    // Nor does the cache hold it in any file name or file.
    for entry in walkdir::WalkDir::new(env.path(".cache")) {
        let entry = entry.unwrap();
        assert!(!entry.file_name().to_string_lossy().contains("s3cr"));
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains("s3cr"),
                "{}",
                entry.path().display()
            );
        }
    }
}

#[test]
fn under_first_index_a_listed_package_never_comes_from_the_next_index() {
    let env = TestEnv::new();
    let private = wheels(&env, vec![Wheel::new("private", "1.0")]);
    let elsewhere = TestEnv::new();
    let public = wheels(&elsewhere, vec![Wheel::new("private", "9.9")]);
    let upload = |time: &'static str| move |_: &str| serde_json::json!({"upload-time": time});
    // The private index lists private 1.0, uploaded after the --exclude-newer date, so none of
    // its files can be used; the public index offers an older 9.9.
    let (served_private, served_public) = (private.clone(), public.clone());
    let first = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/private/" => json_page("private", &served_private, upload("2025-06-01T00:00:00Z")),
        path => file_named(&served_private, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let second = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/private/" => json_page("private", &served_public, upload("2023-01-01T00:00:00Z")),
        path => file_named(&served_public, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let second_url = format!("{}/simple/", second.url);
    let common = ["--extra-index-url", &second_url, "--exclude-newer", "2024-01-01"];
    let mut args = common.to_vec();
    args.extend(["--index-strategy", "first-index"]);
    let out = pin(&env, &first.url, "private\n", &args);
    assert_eq!(
        out.code, 1,
        "the second index supplied a package the first lists:\n{}",
        out.stdout
    );
    assert!(!out.stdout.contains("9.9"));
    assert!(
        second.requests_for("/simple/private/").is_empty(),
        "the second index was even asked"
    );
    // Merging indexes (pip's way) takes it from the second.
    let out = pin(&env, &first.url, "private\n", &common).success();
    assert_eq!(out.pins(), ["private==9.9"]);
}

#[test]
fn one_bad_metadata_file_skips_that_version_with_a_warning_not_the_run() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("lib", "1.0"))
        // An old release's Requires-Python, as setuptools used to write them: read leniently.
        .wheel(Wheel::new("lib", "2.0").requires_python(">=2.7, !=3.0.*,"))
        // A requirement that is not one: this version cannot be used.
        .wheel(Wheel::new("lib", "3.0").requires("broken >> x"));
    let out = env.pin("lib\n", &["--no-hashes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.pins(), ["lib==2.0"]);
    assert!(
        out.stderr
            .contains("lib 3.0 is skipped: its metadata cannot be used:")
            && out.stderr.contains("invalid requirement \"broken >> x\""),
        "{}",
        out.stderr
    );
}

#[test]
fn a_wheel_whose_metadata_names_another_package_is_not_used() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("evil", "6.6"))
        .wheel(Wheel::new("lib", "1.0"));
    // lib 2.0's file is evil 6.6's wheel under another name.
    std::fs::copy(
        env.path("dist/evil-6.6-py3-none-any.whl"),
        env.path("dist/lib-2.0-py3-none-any.whl"),
    )
    .unwrap();
    let out = env.pin("lib\n", &["--no-hashes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.pins(), ["lib==1.0"]);
    assert!(
        out.stderr.contains(
            "lib-2.0-py3-none-any.whl: its metadata says it is evil 6.6, but its file name says lib 2.0; the file is not used"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn no_cache_leaves_nothing_behind_in_the_temporary_folder() {
    let env = TestEnv::new();
    let files = wheels(&env, vec![Wheel::new("plain", "1.0")]);
    let served = files.clone();
    // An HTML page without hashes: the wheel is downloaded to hash it.
    let index = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/plain/" => Reply::Body {
            status: 200,
            content_type: "text/html",
            headers: Vec::new(),
            body: format!("<a href=\"/files/{0}\">{0}</a>", served[0].0).into_bytes(),
        },
        path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let tmp = env.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let url = format!("{}/simple/", index.url);
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pin-deps"));
    command
        .args(["-", "-i", &url, "--no-cache", "--no-header"])
        .current_dir(env.dir.path())
        .env("TMPDIR", &tmp)
        .env_remove("PIP_FIND_LINKS");
    let out = lastmile_tests::run_command(&mut command, Some("plain\n"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains(&sha256(&files[0].1)), "{}", out.stdout);
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(left, Vec::<std::path::PathBuf>::new());
}

/// Wheels the target cannot install are dropped as a page is read (most of a big page), but
/// the page still lists the package: first-index still gives it to the first index, and the
/// explanation still says the package exists. `--hashes all` and a lock keep them.
#[test]
fn wheels_for_other_targets_are_dropped_but_still_list_the_package() {
    let env = TestEnv::new();
    let files = wheels(
        &env,
        vec![
            Wheel::new("native", "1.0").tag("cp312-cp312-win_amd64"),
            Wheel::new("native", "1.0").tag("cp313-cp313-manylinux_2_17_x86_64"),
            Wheel::new("lib", "1.0").requires("native"),
            Wheel::new("multi", "2.0"),
            Wheel::new("multi", "2.0").tag("cp312-cp312-win_amd64"),
            Wheel::new("multi", "2.0").tag("cp313-cp313-macosx_11_0_arm64"),
        ],
    );
    let elsewhere = TestEnv::new();
    let public = wheels(&elsewhere, vec![Wheel::new("native", "9.9")]);
    let first = MockIndex::start(move |seen, _| match seen.path.strip_prefix("/simple/") {
        Some(project) => json_page(project.trim_end_matches('/'), &files, |_| serde_json::json!({})),
        None => file_named(&files, &seen.path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let second = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/native/" => json_page("native", &public, |_| serde_json::json!({})),
        path => file_named(&public, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let second_url = format!("{}/simple/", second.url);
    let owned = [
        "--extra-index-url",
        &second_url,
        "--index-strategy",
        "first-index",
    ];
    let out = pin(&env, &first.url, "lib\n", &owned);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr
            .contains("native has no file the target (Python 3.11 on x86_64-manylinux_2_36) can install"),
        "{}",
        out.stderr
    );
    assert!(second.requests_for("/simple/native/").is_empty());

    let hashes = |extra: &[&str]| {
        pin(&env, &first.url, "multi\n", extra)
            .success()
            .stdout
            .matches("--hash=")
            .count()
    };
    assert_eq!(hashes(&[]), 1);
    assert_eq!(hashes(&["--hashes", "all"]), 3);
    let out = pin(&env, &first.url, "multi\n", &["--format", "json"]).success();
    let lock: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let installable: Vec<bool> = lock["packages"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["installable"].as_bool().unwrap())
        .collect();
    assert_eq!(installable, [false, false, true]);
}
