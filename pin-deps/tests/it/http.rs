//! pin-deps against package indexes over HTTP, served by the scripted index in
//! [`crate::index_server`].

use std::time::{Duration, Instant};

use crate::index_server::*;
use crate::testenv::{Pins, TestEnv, Wheel};

#[test]
fn server_errors_are_retried_then_reported_with_the_url() {
    let env = TestEnv::new();
    let index = MockIndex::start(|_, _| Reply::Status(500));
    let out = pin(&env, &index.url, "a\n", &["--retries", "2"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(index.requests_for("/simple/a/").len(), 3);
    assert!(
        out.stderr.contains(&format!(
            "pin-deps: {}/simple/a/: server answered 500 Internal Server Error (3 attempts)",
            index.url
        )),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.matches("retrying in").count(), 2, "{}", out.stderr);
    assert_eq!(out.stdout, "");
}

#[test]
fn a_flaky_json_index_recovers_after_retries() {
    let env = TestEnv::new();
    let files = wheels(
        &env,
        vec![Wheel::new("a", "1.0").requires("b>=1"), Wheel::new("b", "1.0")],
    );
    let served = files.clone();
    let index = MockIndex::start(move |seen, count| match seen.path.as_str() {
        "/simple/a/" if count < 2 => Reply::Status(503),
        "/simple/a/" => json_page("a", &served, |_| serde_json::Value::Null),
        "/simple/b/" => json_page("b", &served, |_| serde_json::Value::Null),
        path => match file_named(&served, path) {
            // This server ignores ranges: the whole wheel comes back.
            Some(bytes) => Reply::Body {
                status: 200,
                content_type: "application/octet-stream",
                headers: Vec::new(),
                body: bytes.clone(),
            },
            None => Reply::Status(404),
        },
    });
    let out = pin(&env, &index.url, "a\n", &[]).success();
    assert_eq!(out.pins(), ["a==1.0", "b==1.0"]);
    assert_eq!(index.requests_for("/simple/a/").len(), 3);
    // The hashes are the index's, and they are the files' real hashes.
    for (name, bytes) in &files {
        assert!(
            out.stdout.contains(&sha256(bytes)),
            "{name} hash missing:\n{}",
            out.stdout
        );
    }
    assert!(
        index.requests_for("/simple/a/")[0]
            .header("accept")
            .unwrap()
            .starts_with("application/vnd.pypi.simple.v1+json")
    );
}

#[test]
fn a_hanging_index_times_out_and_says_so() {
    let env = TestEnv::new();
    let index = MockIndex::start(|_, _| Reply::Hang);
    let started = Instant::now();
    let out = pin(&env, &index.url, "a\n", &["--timeout", "1", "--retries", "1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(index.requests_for("/simple/a/").len(), 2);
    assert!(out.stderr.contains("timed out"), "{}", out.stderr);
    assert!(out.stderr.contains("(2 attempts)"), "{}", out.stderr);
}

#[test]
fn pep_658_metadata_files_spare_the_wheel_download() {
    let env = TestEnv::new();
    let files = wheels(
        &env,
        vec![Wheel::new("a", "1.0").requires("b"), Wheel::new("b", "2.0")],
    );
    let served = files.clone();
    let metadata_of = |bytes: &[u8]| -> Vec<u8> {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
        let name = zip
            .file_names()
            .find(|n| n.ends_with(".dist-info/METADATA"))
            .unwrap()
            .to_owned();
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(&name).unwrap(), &mut text).unwrap();
        text
    };
    let index = MockIndex::start(move |seen, _| {
        let path = seen.path.as_str();
        if let Some(project) = path.strip_prefix("/simple/").and_then(|p| p.strip_suffix('/')) {
            return json_page(project, &served, |name| {
                let bytes = &served.iter().find(|(n, _)| n == name).unwrap().1;
                serde_json::json!({"core-metadata": {"sha256": sha256(&metadata_of(bytes))}})
            });
        }
        match path
            .strip_suffix(".metadata")
            .and_then(|p| file_named(&served, p))
        {
            Some(bytes) => Reply::Body {
                status: 200,
                content_type: "text/plain",
                headers: Vec::new(),
                body: metadata_of(bytes),
            },
            // Fetching a wheel itself fails the test.
            None => Reply::Status(418),
        }
    });
    let out = pin(&env, &index.url, "a\n", &[]).success();
    assert_eq!(out.pins(), ["a==1.0", "b==2.0"]);
    let log = index.log.lock().unwrap().clone();
    let paths: Vec<&str> = log.iter().map(|s| s.path.as_str()).collect();
    assert!(
        paths
            .iter()
            .all(|p| p.starts_with("/simple/") || p.ends_with(".whl.metadata")),
        "{paths:?}"
    );
    assert_eq!(paths.iter().filter(|p| p.ends_with(".metadata")).count(), 2);
}

#[test]
fn a_big_wheel_is_read_by_byte_ranges_not_downloaded() {
    let env = TestEnv::new();
    let files = wheels(&env, vec![Wheel::new("big", "1.0").payload(4 << 20)]);
    let wheel_size = files[0].1.len();
    let served = files.clone();
    // An HTML (PEP 503) page with no metadata files, as pypiserver serves.
    let index = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/big/" => Reply::Body {
            status: 200,
            content_type: "text/html",
            headers: Vec::new(),
            body: format!(
                "<html><body><a href=\"/files/{0}#sha256={1}\">{0}</a></body></html>",
                served[0].0,
                sha256(&served[0].1)
            )
            .into_bytes(),
        },
        path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let out = pin(&env, &index.url, "big\n", &[]).success();
    assert_eq!(out.pins(), ["big==1.0"]);
    assert!(out.stdout.contains(&sha256(&files[0].1)));
    let served_bytes = *index.served_bytes.lock().unwrap();
    assert!(
        served_bytes * 8 < wheel_size,
        "{served_bytes} of {wheel_size} bytes were fetched to read the metadata"
    );
    let wheel_requests = index.requests_for(&format!("/files/{}", files[0].0));
    assert!(
        wheel_requests.iter().all(|s| s.header("range").is_some()),
        "{wheel_requests:?}"
    );
}

#[test]
fn exclude_newer_ignores_later_uploads_and_the_lock_records_upload_times() {
    let env = TestEnv::new();
    let files = wheels(&env, vec![Wheel::new("a", "1.0"), Wheel::new("a", "2.0")]);
    let served = files.clone();
    let index = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/a/" => json_page("a", &served, |name| {
            let time = if name.contains("-1.0-") {
                "2024-01-10T08:00:00Z"
            } else {
                "2025-03-01T12:30:00.123456Z"
            };
            serde_json::json!({"upload-time": time})
        }),
        path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let newest = pin(&env, &index.url, "a\n", &[]).success();
    assert_eq!(newest.pins(), ["a==2.0"]);
    let dated = pin(&env, &index.url, "a\n", &["--exclude-newer", "2024-06-01"]).success();
    assert_eq!(dated.pins(), ["a==1.0"]);
    let exact = pin(
        &env,
        &index.url,
        "a\n",
        &["--exclude-newer", "2025-03-01T12:30:00.2Z", "--format", "json"],
    )
    .success();
    let lock = exact.json();
    assert_eq!(lock["packages"][0]["version"], "2.0");
    assert_eq!(
        lock["packages"][0]["files"][0]["upload_time"],
        "2025-03-01T12:30:00.123456Z"
    );
    assert!(
        lock["packages"][0]["files"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with(&index.url)
    );
    let bad = pin(&env, &index.url, "a\n", &["--exclude-newer", "last tuesday"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr
            .contains("--exclude-newer \"last tuesday\": give an RFC 3339 time"),
        "{}",
        bad.stderr
    );
}

#[test]
fn fresh_pages_come_from_the_cache_and_offline_needs_nothing_else() {
    let env = TestEnv::new();
    let files = wheels(
        &env,
        vec![Wheel::new("a", "1.0").requires("b"), Wheel::new("b", "1.0")],
    );
    let served = files.clone();
    let index = MockIndex::start(move |seen, _| match seen.path.as_str() {
        path if path.starts_with("/simple/") => {
            let project = path.trim_start_matches("/simple/").trim_end_matches('/');
            match json_page(project, &served, |_| serde_json::Value::Null) {
                Reply::Body { body, .. } => Reply::Body {
                    status: 200,
                    content_type: "application/vnd.pypi.simple.v1+json",
                    headers: vec![("Cache-Control", "max-age=600, public".into())],
                    body,
                },
                other => other,
            }
        }
        path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let first = pin(&env, &index.url, "a\n", &[]).success();
    let asked = index.request_count();
    assert!(asked >= 4, "pages and wheels: {asked} requests");
    let second = pin(&env, &index.url, "a\n", &[]).success();
    assert_eq!(second.stdout, first.stdout);
    assert_eq!(index.request_count(), asked, "a fresh cache needs no request");
    let url = index.url.clone();
    drop(index);
    let offline = pin(&env, &url, "a\n", &["--offline"]).success();
    assert_eq!(offline.stdout, first.stdout);
    // Another cache, offline: nothing to answer from.
    let empty = pin(&env, &url, "a\n", &["--offline", "--cache-dir", "other-cache"]);
    assert_eq!(empty.code, 2);
    assert!(
        empty.stderr.contains(&format!(
            "{url}/simple/a/: not in the cache, and --offline forbids the network"
        )),
        "{}",
        empty.stderr
    );
}

#[test]
fn stale_pages_are_revalidated_with_their_etag() {
    let env = TestEnv::new();
    let files = wheels(&env, vec![Wheel::new("a", "1.0")]);
    let served = files.clone();
    let index = MockIndex::start(move |seen, _| match seen.path.as_str() {
        "/simple/a/" if seen.header("if-none-match") == Some("\"v1\"") => Reply::Status(304),
        "/simple/a/" => match json_page("a", &served, |_| serde_json::Value::Null) {
            Reply::Body { body, .. } => Reply::Body {
                status: 200,
                content_type: "application/vnd.pypi.simple.v1+json",
                headers: vec![("ETag", "\"v1\"".into()), ("Cache-Control", "no-cache".into())],
                body,
            },
            other => other,
        },
        path => file_named(&served, path).map_or(Reply::Status(404), |b| Reply::File(b.clone())),
    });
    let first = pin(&env, &index.url, "a\n", &[]).success();
    let second = pin(&env, &index.url, "a\n", &["-v"]).success();
    assert_eq!(second.stdout, first.stdout);
    let pages = index.requests_for("/simple/a/");
    assert_eq!(pages.len(), 2);
    assert_eq!(pages[0].header("if-none-match"), None);
    assert_eq!(pages[1].header("if-none-match"), Some("\"v1\""));
    assert!(second.stderr.contains("(1 revalidated)"), "{}", second.stderr);
}
