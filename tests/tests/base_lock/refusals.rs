//! What base-from-lock refuses, naming it, with nothing made or stored: a lock entry missing from
//! the store offline, and a `.deb` the mirror serves with other bytes than locked.

use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{run_command, workspace};

#[test]
fn a_lock_entry_missing_from_the_store_is_refused_offline_naming_the_package_and_nothing_is_made() {
    let dir = tempfile::Builder::new()
        .prefix("lastmile-os-lock-missing-")
        .tempdir()
        .unwrap();
    let mut lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("examples/cam/os-lock.json")).unwrap(),
    )
    .unwrap();
    let missing = "f".repeat(64);
    let entry = lock["packages"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["name"] == "libc6")
        .unwrap();
    entry["sha256"] = missing.clone().into();
    let version = entry["version"].as_str().unwrap().to_owned();
    let path = dir.path().join("lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
    let build_dir = dir.path().join("build");
    let out = run_command(
        Command::new(workspace().join("scripts/base-from-lock"))
            .arg("--offline")
            .arg(&path)
            .current_dir(workspace())
            .env("LASTMILE_BUILD_DIR", &build_dir)
            .env(
                "LASTMILE_DEB_STORE",
                workspace().join("target/lastmile/cache/deb-store"),
            ),
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("libc6 {version}: sha256 {missing} is not in the store"))
            && out
                .stderr
                .contains("run without --offline to fetch http://deb.debian.org/debian/pool/main/g/glibc/"),
        "{}",
        out.stderr
    );
    assert_no_base_under(&build_dir);
}

/// The files (and folders) under `dir` whose entry `keep` says yes.
fn files_under(dir: &Path, keep: impl Fn(&walkdir::DirEntry) -> bool) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.depth() > 0 && keep(e))
        .map(|e| e.path().to_owned())
        .collect()
}

/// Nothing of a base (half-made or complete) was left under the build folder.
fn assert_no_base_under(build_dir: &Path) {
    let made = files_under(build_dir, |e| {
        e.file_name().to_string_lossy().starts_with("base-rootfs-lock")
    });
    assert!(made.is_empty(), "{made:?}");
}

/// An HTTP server on 127.0.0.1 that answers every request with `body`; its base URL.
fn serve_always(body: &'static [u8]) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream
                .write_all(head.as_bytes())
                .and_then(|()| stream.write_all(body));
        }
    });
    url
}

#[test]
fn a_deb_the_mirror_serves_with_other_bytes_is_refused_naming_it_and_nothing_is_stored() {
    let dir = tempfile::Builder::new()
        .prefix("lastmile-os-lock-tampered-")
        .tempdir()
        .unwrap();
    let mirror = serve_always(b"!<arch>\nnot the package the lock names\n");
    let mut lock: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace().join("examples/cam/os-lock.json")).unwrap(),
    )
    .unwrap();
    for index in lock["indexes"].as_array_mut().unwrap() {
        index["uri"] = format!("{mirror}/debian").into();
    }
    let first = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["set"] == "image")
        .unwrap()
        .clone();
    let path = dir.path().join("lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
    let (store, build_dir) = (dir.path().join("store"), dir.path().join("build"));
    let out = run_command(
        Command::new(workspace().join("scripts/base-from-lock"))
            .arg(&path)
            .current_dir(workspace())
            .env("LASTMILE_BUILD_DIR", &build_dir)
            .env("LASTMILE_DEB_STORE", &store),
        None,
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    let url = format!("{mirror}/debian/{}", first["filename"].as_str().unwrap());
    let says = format!(
        "but {} says sha256 {} (size {})",
        path.display(),
        first["sha256"].as_str().unwrap(),
        first["size"]
    );
    assert!(
        out.stderr.contains(&format!("{url}: sha256 ")) && out.stderr.contains(&says),
        "{}",
        out.stderr
    );
    let stored = files_under(&store, |e| e.file_type().is_file());
    assert!(stored.is_empty(), "{stored:?}");
    assert_no_base_under(&build_dir);
}
