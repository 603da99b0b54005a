//! depgraph → pin-deps → bake-image on the real default base (scripts/base-rootfs: debootstrapped
//! Debian bookworm with python3 and systemd), then the image unpacked and the example system's
//! console scripts run with the base's own Python under chroot. Needs root (debootstrap, chroot).

use std::path::PathBuf;
use std::process::Command;

use lastmile_tests::{run_command, workspace};

fn tool(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join(name)
}

fn script(name: &str) -> String {
    let root = workspace();
    let out = run_command(
        Command::new(root.join("scripts").join(name)).current_dir(&root),
        None,
    );
    assert_eq!(out.code, 0, "scripts/{name} failed:\n{}", out.stderr);
    out.stdout.trim().to_owned()
}

#[test]
fn the_example_system_baked_on_the_real_base_runs_under_chroot() {
    let base = script("base-rootfs");
    let wheels = script("build-wheels");
    let root = workspace();
    let work = tempfile::Builder::new()
        .prefix("lastmile-bake-it-")
        .tempdir()
        .unwrap();
    let graph = run_command(
        Command::new(tool("depgraph"))
            .arg("examples/cam")
            .current_dir(&root),
        None,
    );
    assert_eq!(graph.code, 0, "{}", graph.stderr);
    let pinned = work.path().join("pinned.txt");
    let pin = run_command(
        Command::new(tool("pin-deps"))
            .args([
                "--from-graph",
                "-",
                "--no-index",
                "--find-links",
                &wheels,
                "--target-rootfs",
                &base,
                "-o",
            ])
            .arg(&pinned)
            .current_dir(&root)
            .env_remove("PIP_FIND_LINKS"),
        Some(&graph.stdout),
    );
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    let out_dir = work.path().join("out");
    let bake = run_command(
        Command::new(tool("bake-image"))
            .arg(&pinned)
            .args([
                "--base",
                &base,
                "-f",
                &wheels,
                "--offline",
                "--services",
                "examples/cam/services.toml",
            ])
            .arg("--out-dir")
            .arg(&out_dir)
            .current_dir(&root)
            .env("LASTMILE_CACHE_DIR", work.path().join("cache")),
        None,
    );
    assert_eq!(bake.code, 0, "{}", bake.stderr);
    let candidate = bake.json();
    let image = PathBuf::from(candidate["image"]["path"].as_str().unwrap());
    assert!(image.is_file());
    assert_eq!(candidate["base"]["os"], "debian 12 (bookworm)");
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("schemas/candidate.v1.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator.iter_errors(&candidate).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let verify = run_command(Command::new(tool("bake-image")).arg("verify").arg(&image), None);
    assert_eq!(verify.code, 0, "{}", verify.stderr);

    let unpacked = work.path().join("rootfs");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&image)
        .arg("-C")
        .arg(&unpacked)
        .args(["--numeric-owner", "-p"])
        .status()
        .unwrap();
    assert!(status.success());
    // A console script of a leaf, through its launcher, with the base's python3.11.
    let report = run_command(
        Command::new("chroot")
            .arg(&unpacked)
            .args(["/opt/lastmile/venv/bin/katulib-report", "--help"]),
        None,
    );
    assert_eq!(report.code, 0, "{}", report.stderr);
    assert!(
        report.stdout.contains("Summarise an observation plan"),
        "{}",
        report.stdout
    );
    let imports = run_command(
        Command::new("chroot").arg(&unpacked).args([
            "/opt/lastmile/venv/bin/python",
            "-c",
            "import sys, numpy, katcore, katportal; print(sys.prefix, numpy.__version__)",
        ]),
        None,
    );
    assert_eq!(imports.code, 0, "{}", imports.stderr);
    assert!(
        imports.stdout.starts_with("/opt/lastmile/venv "),
        "{}",
        imports.stdout
    );
    // Every service of the example's services file has its unit, run by the venv's script.
    let services = candidate["services"].as_object().unwrap();
    assert_eq!(services.len(), 5, "{services:?}");
    for (name, service) in services {
        let unit =
            std::fs::read_to_string(unpacked.join(format!("etc/systemd/system/{name}.service"))).unwrap();
        let program = service["command"].as_str().unwrap().split(' ').next().unwrap();
        assert!(
            unit.contains(&format!("ExecStart=/opt/lastmile/venv/bin/{program} ")),
            "{unit}"
        );
        assert!(
            unpacked
                .join(format!("opt/lastmile/venv/bin/{program}"))
                .is_file()
        );
    }
}
