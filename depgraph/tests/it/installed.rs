//! Installed environments: site-packages folders and real virtual environments.

use std::process::Command;

use crate::testenv::{TestEnv, copy_dir, python_venv, workspace};

fn write_site_packages(env: &TestEnv) {
    let sp = "env/lib/python3.11/site-packages";
    env.write(
        &format!("{sp}/katcore-1.3.0.dist-info/METADATA"),
        "
        Metadata-Version: 2.1
        Name: katcore
        Version: 1.3.0
        Requires-Dist: katcp ~=0.9
        Requires-Dist: katmisc[metrics] >=1.1 ; extra == \"monitoring\"
        Provides-Extra: monitoring

        A description body that is not read.
        ",
    )
    .write(
        &format!("{sp}/katcore-1.3.0.dist-info/entry_points.txt"),
        "[console_scripts]\nkat-core = katcore.cli:main\n",
    )
    .write(&format!("{sp}/katcore/__init__.py"), "")
    .write(
        &format!("{sp}/katcp-0.9.4.egg-info/PKG-INFO"),
        "Metadata-Version: 1.1\nName: katcp\nVersion: 0.9.4\n",
    )
    .write(
        &format!("{sp}/katcp-0.9.4.egg-info/requires.txt"),
        "six\n\n[:python_version < \"3\"]\nfutures\n\n[test]\nnose\n",
    )
    .write(
        &format!("{sp}/six-1.16.0-py3.11.egg-info"),
        "Metadata-Version: 1.1\nName: six\nVersion: 1.16.0\n",
    )
    .write("env/pyvenv.cfg", "home = /usr/bin\nversion = 3.11.2\n");
}

#[test]
fn dist_info_egg_info_folders_and_files() {
    let env = TestEnv::new();
    write_site_packages(&env);
    let doc = env.run(&["env"]).success().json();
    let nodes: Vec<_> = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            format!(
                "{} {} {}",
                n["name"].as_str().unwrap(),
                n["version"].as_str().unwrap_or("-"),
                n["source"]["kind"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            "futures - -",
            "katcore 1.3.0 dist-info",
            "katcp 0.9.4 egg-info",
            "katmisc - -",
            "nose - -",
            "six 1.16.0 egg-info"
        ]
    );
    let edges: Vec<_> = doc["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}->{} extra={} marker={}",
                e["from"].as_str().unwrap(),
                e["to"].as_str().unwrap(),
                e["extra"],
                e["marker"]
            )
        })
        .collect();
    assert_eq!(
        edges,
        [
            "katcore->katcp extra=null marker=null",
            "katcore->katmisc extra=\"monitoring\" marker=null",
            "katcp->futures extra=null marker=\"python_full_version < '3'\"",
            "katcp->nose extra=\"test\" marker=null",
            "katcp->six extra=null marker=null",
        ]
    );
    assert_eq!(doc["nodes"][1]["scripts"]["kat-core"], "katcore.cli:main");
}

#[test]
fn site_packages_folder_given_directly() {
    let env = TestEnv::new();
    write_site_packages(&env);
    let doc = env.run(&["env/lib/python3.11/site-packages"]).success().json();
    assert_eq!(
        doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| !n["source"].is_null())
            .count(),
        3
    );
}

/// A real venv, with packages installed by pip from the example sources (offline, no deps), so
/// the dist-info folders are exactly what pip writes.
#[test]
fn a_real_venv_installed_by_pip() {
    let env = TestEnv::new();
    let venv = env.path("venv");
    let made = Command::new("python3")
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let sources = env.path("src");
    for pkg in ["katcp", "katmisc", "katcore"] {
        copy_dir(&workspace().join("examples/cam").join(pkg), &sources.join(pkg));
    }
    let python = python_venv().join("bin/python");
    let site = Command::new(venv.join("bin/python"))
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        .output()
        .unwrap();
    let site = String::from_utf8(site.stdout).unwrap();
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(site.trim())
        .args(["src/katcp", "src/katmisc", "src/katcore"])
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert!(
        installed.status.success(),
        "pip install failed:\n{}",
        String::from_utf8_lossy(&installed.stderr)
    );

    let out = env.run(&["venv", "--internal", "kat*"]).success();
    let doc = out.json();
    let node = |name: &str| {
        doc["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == name)
            .cloned()
    };
    assert_eq!(node("katcore").unwrap()["version"], "1.3.0");
    assert_eq!(node("katcore").unwrap()["source"]["kind"], "dist-info");
    assert_eq!(doc["leaves"], serde_json::json!(["katcore"]));
    // katconf was not installed: check names it as missing, as pipdeptree would.
    let check = env.run_stdin(&["check"], &out.stdout);
    assert_eq!(check.code, 1);
    assert!(
        check.stdout.starts_with(
            "missing: katcore 1.3.0 requires katconf>=2.0, which was not found (declared at venv/"
        ),
        "{}",
        check.stdout
    );
    assert!(
        check.stdout.contains("/katcore-1.3.0.dist-info/METADATA:"),
        "{}",
        check.stdout
    );
    assert_eq!(check.stdout.lines().count(), 1, "{}", check.stdout);
}
