//! `pin-deps os-lock` on a small signed archive served on 127.0.0.1: what apt's solver puts in
//! the base (the essential and required set, alternatives, virtual packages, the newest version),
//! what each role and the build root add, who asked for what; the same bytes again, and offline
//! from the store; a re-lock keeps what is locked and says what moved; every broken link of the trust chain refused naming the file; no solution is
//! exit 1 with apt's own explanation.

use crate::os_archive::{Archive, Deb};

const DEBS: &[Deb] = &[
    Deb {
        name: "base-files",
        version: "12.4",
        fields: "Essential: yes\nPriority: required\n",
    },
    Deb {
        name: "libcee",
        version: "2.36-9",
        fields: "Priority: required\n",
    },
    Deb {
        name: "coreutils-x",
        version: "9.1-1",
        fields: "Essential: yes\nPriority: required\nPre-Depends: libcee (>= 2.36)\n",
    },
    Deb {
        name: "python3",
        version: "3.11.2-1",
        fields: "Priority: optional\nDepends: libpy (>= 2) | libpy-old\n",
    },
    Deb {
        name: "libpy",
        version: "1.0-1",
        fields: "Priority: optional\n",
    },
    Deb {
        name: "libpy",
        version: "2.0-1",
        fields: "Priority: optional\n",
    },
    Deb {
        name: "libpy-old",
        version: "0.9-1",
        fields: "Priority: optional\n",
    },
    Deb {
        name: "mta-user",
        version: "1.0-1",
        fields: "Priority: optional\nDepends: mail-transport-agent\n",
    },
    Deb {
        name: "tinymta",
        version: "0.2-1",
        fields: "Priority: optional\nProvides: mail-transport-agent\n",
    },
    Deb {
        name: "tinymta",
        version: "0.3-1",
        fields: "Priority: optional\nProvides: mail-transport-agent\n",
    },
    Deb {
        name: "cee-compiler",
        version: "12.2-1",
        fields: "Priority: optional\nDepends: libcee-dev\n",
    },
    Deb {
        name: "libcee-dev",
        version: "2.36-9",
        fields: "Priority: optional\nDepends: libcee (= 2.36-9)\n",
    },
    Deb {
        name: "unused",
        version: "1.0-1",
        fields: "Priority: optional\n",
    },
    Deb {
        name: "breaker",
        version: "1.0-1",
        fields: "Priority: optional\nConflicts: base-files\n",
    },
];

const SPEC: &str = "base = [\"python3\"]\nbuild = [\"cee-compiler\"]\n[roles]\nmail = [\"mta-user\"]\n";

/// name → (version, set, roles) of a lock document.
fn summary(lock: &serde_json::Value) -> Vec<String> {
    lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let roles: Vec<&str> = p["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            format!(
                "{} {} {} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap(),
                p["set"].as_str().unwrap(),
                roles.join(",")
            )
        })
        .collect()
}

#[test]
fn the_lock_holds_what_the_base_roles_and_build_root_need_the_same_bytes_again_and_offline() {
    let archive = Archive::new(DEBS);
    let spec = archive.spec("os.toml", SPEC);
    let out = archive.lock(&spec, "cache", &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let lock = out.json();
    assert_eq!(
        lastmile_tests::schema::errors(&lock, "oslock.v1"),
        Vec::<String>::new()
    );
    assert_eq!(
        summary(&lock),
        [
            "base-files 12.4 image base",
            "cee-compiler 12.2-1 build build",
            "coreutils-x 9.1-1 image base",
            "libcee 2.36-9 image base",
            "libcee-dev 2.36-9 build build",
            "libpy 2.0-1 image base",
            "mta-user 1.0-1 image mail",
            "python3 3.11.2-1 image base",
            "tinymta 0.3-1 image mail",
        ]
    );
    let index = &lock["indexes"][0];
    assert_eq!(index["id"], format!("{}/ bookworm main", archive.server.url));
    assert_eq!(
        (index["codename"].as_str(), index["date"].as_str()),
        (Some("bookworm"), Some("Sat, 06 Sep 2025 09:41:20 UTC"))
    );
    let inrelease = std::fs::read(archive.path("www/dists/bookworm/InRelease")).unwrap();
    assert_eq!(
        index["inrelease_sha256"],
        lastmile_fs::Sha256::of(&inrelease).to_string()
    );
    // Every locked .deb is in the store under its sha256, byte for byte the archive's.
    for package in lock["packages"].as_array().unwrap() {
        let hash = package["sha256"].as_str().unwrap();
        let stored = archive.path(&format!("cache/http-v2/files/sha256/{}/{hash}", &hash[..2]));
        let served = archive.path(&format!("www/{}", package["filename"].as_str().unwrap()));
        assert_eq!(
            std::fs::read(&stored).unwrap(),
            std::fs::read(served).unwrap(),
            "{}",
            stored.display()
        );
    }
    // The same inputs, the same bytes; and offline, with the archive's files gone, from the store.
    let again = archive.lock(&spec, "cache", &[]);
    assert_eq!(again.stdout, out.stdout);
    std::fs::remove_dir_all(archive.path("www")).unwrap();
    let offline = archive.lock(&spec, "cache", &["--offline"]);
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    assert_eq!(offline.stdout, out.stdout);
}

#[test]
fn each_broken_link_of_the_trust_chain_is_refused_naming_the_file() {
    let archive = Archive::new(DEBS);
    let spec = archive.spec("os.toml", SPEC);
    let inrelease = format!("{}/dists/bookworm/InRelease", archive.server.url);
    let refused = |cache: &str, args: &[&str], expect: &str| {
        let out = archive.lock(&spec, cache, args);
        assert_eq!(out.code, 2, "{}", out.stdout);
        assert!(
            out.stderr.contains(expect),
            "expected {expect:?} in:\n{}",
            out.stderr
        );
        assert_eq!(out.stdout, "");
    };
    // Signed by a key the keyring does not hold.
    let stranger = lastmile_tests::gpg::TestKey::new(&archive.path("other"), "stranger");
    let other = archive.path("other.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&spec).unwrap().replace(
            &archive.key.keyring.display().to_string(),
            &stranger.keyring.display().to_string(),
        ),
    )
    .unwrap();
    let out = archive.lock(&other, "c1", &[]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(
        out.stderr.contains(&format!(
            "{inrelease}: the signature does not verify against {}",
            stranger.keyring.display()
        )),
        "{}",
        out.stderr
    );

    // A Packages index that is not the one the InRelease covers.
    let gz = archive.path("www/dists/bookworm/main/binary-amd64/Packages.gz");
    let good = std::fs::read(&gz).unwrap();
    let mut bad = good.clone();
    bad.extend_from_slice(b"\0");
    std::fs::write(&gz, &bad).unwrap();
    refused("c2", &[], "main/binary-amd64/Packages.gz");
    refused("c2", &[], "sha256");
    std::fs::write(&gz, &good).unwrap();

    // A .deb that is not the one its Packages record gives.
    let deb = archive.path("www/pool/main/libpy_2.0-1_amd64.deb");
    let good_deb = std::fs::read(&deb).unwrap();
    std::fs::write(&deb, b"not the deb").unwrap();
    refused("c3", &[], "libpy 2.0-1 (");
    std::fs::write(&deb, &good_deb).unwrap();

    // Offline, a .deb missing from the store is named, with how to fetch it.
    let ok = archive.lock(&spec, "c4", &[]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let hash = lastmile_fs::Sha256::of(&good_deb).to_string();
    std::fs::remove_file(archive.path(&format!("c4/http-v2/files/sha256/{}/{hash}", &hash[..2]))).unwrap();
    refused("c4", &["--offline"], "libpy 2.0-1 (");
    refused("c4", &["--offline"], "run it again without --offline");
}

#[test]
fn packages_that_cannot_be_installed_together_are_exit_1_with_apts_explanation() {
    let archive = Archive::new(DEBS);
    let spec = archive.spec(
        "os.toml",
        "base = [\"python3\"]\n[roles]\nportal = [\"breaker\"]\n",
    );
    let out = archive.lock(&spec, "cache", &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("pin-deps: role portal's packages and the base's cannot be installed together:"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("breaker : Conflicts: base-files"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn a_bad_os_package_file_is_refused_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let refused = |text: &str, expect: &str| {
        let spec = dir.path().join("os.toml");
        std::fs::write(&spec, text).unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pin-deps"));
        command
            .arg("os-lock")
            .arg(&spec)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"));
        let out = lastmile_tests::run_command(&mut command, None);
        assert_eq!(out.code, 2, "{}", out.stdout);
        let expect = expect.replace("FILE", &spec.display().to_string());
        assert!(
            out.stderr.contains(&expect),
            "expected {expect:?} in:\n{}",
            out.stderr
        );
    };
    refused(
        "[[sources]]\nuri = \"http://127.0.0.1:9/\"\nsuite = \"bookworm\"\nbase = [\"python3\"]\n",
        "FILE:4: sources[0]: unknown field `base`",
    );
    refused(
        "base = [\"python3\"]\n",
        "FILE: no [[sources]]: name at least one archive",
    );
    refused(
        "base = [\"Python3\"]\n[[sources]]\nuri = \"http://127.0.0.1:9/\"\nsuite = \"bookworm\"\n",
        "FILE: \"Python3\" is not a Debian package name",
    );
    refused(
        "[[sources]]\nuri = \"ftp://127.0.0.1/\"\nsuite = \"bookworm\"\n",
        "FILE: source \"ftp://127.0.0.1/\": expected an http:// or https:// URI",
    );
}

#[test]
fn a_relock_keeps_the_locked_versions_and_says_what_moved() {
    let archive = Archive::new(DEBS);
    let spec = archive.spec("os.toml", SPEC);
    let first = archive.lock(&spec, "cache", &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    // A lock made when tinymta 0.2-1 was the newest: re-locking keeps it, though 0.3-1 is there.
    let mut old = first.json();
    for package in old["packages"].as_array_mut().unwrap() {
        if package["name"] == "tinymta" {
            package["version"] = "0.2-1".into();
        }
    }
    let path = archive.path("os-lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&old).unwrap()).unwrap();
    let out_arg = path.to_str().unwrap();
    let kept = archive.lock(&spec, "cache", &["-o", out_arg]);
    assert_eq!(kept.code, 0, "{}", kept.stderr);
    assert!(kept.stderr.contains("no package moved"), "{}", kept.stderr);
    let lock: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(summary(&lock).contains(&"tinymta 0.2-1 image mail".to_owned()));
    // A package added to the file brings only itself; --upgrade-package moves the one named.
    let grown = archive.spec(
        "grown.toml",
        &SPEC.replace("[\"mta-user\"]", "[\"mta-user\", \"unused\"]"),
    );
    let upgraded = archive.lock(&grown, "cache", &["-o", out_arg, "--upgrade-package", "tinymta"]);
    assert_eq!(upgraded.code, 0, "{}", upgraded.stderr);
    assert!(
        upgraded
            .stderr
            .contains("2 change(s):\n  ~ tinymta 0.2-1 -> 0.3-1\n  + unused 1.0-1 (image: mail)\n"),
        "{}",
        upgraded.stderr
    );
    // And back: removing it says so.
    let removed = archive.lock(&spec, "cache", &["-o", out_arg]);
    assert!(
        removed.stderr.contains("1 change(s):\n  - unused 1.0-1\n"),
        "{}",
        removed.stderr
    );
}
