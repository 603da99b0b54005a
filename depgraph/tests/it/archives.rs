//! Folders of wheels and sdists: real ones built by setuptools, and hand-made edge cases.

use lastmile_tests::write_tar_gz;

use crate::testenv::{TestEnv, build_dists, workspace};

#[test]
fn wheels_and_sdists_built_by_setuptools() {
    let env = TestEnv::new();
    let dist = env.path("dist");
    // katconfserver: dynamic dependencies (sdist metadata is dynamic, so requires.txt is used);
    // katproxy: setup.py; katcore: PEP 621 with a dynamic version.
    for pkg in ["katconfserver", "katproxy", "katcore"] {
        build_dists(&workspace().join("examples/cam").join(pkg), &dist, true);
    }
    let mut files: Vec<_> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6, "{files:?}");

    let out = env.run(&["dist", "--internal", "kat*"]).success();
    // Each package appears as a wheel and as an sdist: the first (in file-name order) is used.
    let doc = out.json();
    assert_eq!(doc["duplicates"].as_array().unwrap().len(), 3);
    // Scan only the files with a given suffix, named one by one on the command line.
    let scan_only = |suffix: &str| {
        let paths: Vec<String> = files
            .iter()
            .filter(|f| f.ends_with(suffix))
            .map(|f| format!("dist/{f}"))
            .collect();
        let args: Vec<&str> = paths.iter().map(String::as_str).collect();
        env.run(&args).success().json()
    };
    let wheels_only = scan_only(".whl");
    let sdists_only = scan_only(".tar.gz");
    let shape = |doc: &serde_json::Value| -> Vec<String> {
        doc["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} -> {}{} {}",
                    e["from"].as_str().unwrap(),
                    e["to"].as_str().unwrap(),
                    e["specifier"].as_str().unwrap(),
                    e["extra"]
                )
            })
            .collect()
    };
    // A wheel and an sdist of the same project declare the same dependencies.
    assert_eq!(shape(&wheels_only), shape(&sdists_only));
    assert!(shape(&wheels_only).contains(&"katconfserver -> katcore>=1.3 null".to_owned()));
    assert!(shape(&wheels_only).contains(&"katcore -> katmisc>=1.1 \"monitoring\"".to_owned()));
    let versions: Vec<_> = wheels_only["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| !n["version"].is_null())
        .map(|n| {
            format!(
                "{} {}",
                n["name"].as_str().unwrap(),
                n["version"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        versions,
        ["katconfserver 1.0.2", "katcore 1.3.0", "katproxy 0.3.0"]
    );
    assert_eq!(
        wheels_only["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == "katconfserver")
            .unwrap()["scripts"]["katconfserver"],
        "katconfserver.server:main"
    );
}

#[test]
fn sdist_with_static_metadata_uses_requires_dist() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("d")).unwrap();
    write_tar_gz(
        &env.path("d/stat-1.0.tar.gz"),
        &[
            (
                "stat-1.0/PKG-INFO",
                "Metadata-Version: 2.2\nName: stat\nVersion: 1.0\nRequires-Dist: q>=2\n",
            ),
            ("stat-1.0/stat.py", ""),
        ],
    );
    let doc = env.run(&["d"]).success().json();
    assert_eq!(doc["edges"][0]["to"], "q");
    assert_eq!(
        doc["edges"][0]["declared_at"],
        "d/stat-1.0.tar.gz!stat-1.0/PKG-INFO:4"
    );
}

#[test]
fn sdist_with_dynamic_metadata_and_no_requires_txt_warns() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("d")).unwrap();
    write_tar_gz(
        &env.path("d/old-0.1.tar.gz"),
        &[(
            "old-0.1/PKG-INFO",
            "Metadata-Version: 1.2\nName: old\nVersion: 0.1\n",
        )],
    );
    let out = env.run(&["d"]).success();
    assert_eq!(
        out.stderr,
        "depgraph: warning: d/old-0.1.tar.gz: metadata 1.2 is dynamic and the sdist has no egg-info requires.txt; its dependencies are unknown\n"
    );
    assert_eq!(out.json()["nodes"][0]["name"], "old");
}

#[test]
fn a_stray_archive_in_a_folder_is_skipped_but_a_named_one_is_an_error() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.path("d")).unwrap();
    write_tar_gz(&env.path("d/backup.tar.gz"), &[("notes.txt", "hello")]);
    let out = env.run(&["d"]).success();
    assert_eq!(
        out.stderr,
        "depgraph: warning: d/backup.tar.gz: no PKG-INFO at the top of the sdist (not read as an sdist; skipped)\n"
    );
    let out = env.run(&["d/backup.tar.gz"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "depgraph: d/backup.tar.gz: no PKG-INFO at the top of the sdist\n"
    );
    assert_eq!(out.stdout, "");
}
