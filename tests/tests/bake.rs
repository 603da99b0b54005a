//! depgraph → pin-deps → bake-image on the real default base (scripts/base-rootfs: built from the OS lock,
//! Debian bookworm with python3 and systemd), then the image unpacked and the example system's
//! console scripts run with the base's own Python under chroot; then the same tree booted in a
//! real LXC container as a node of two roles, where systemd starts those roles' services and
//! only those. Needs root (mmdebstrap, chroot, LXC).

use std::path::PathBuf;
use std::process::Command;

use lastmile_tests::{Container, Output, run_command, tool, workspace};

/// The example's pins for the real base, and bakes of them into a work folder.
struct Bakes {
    work: tempfile::TempDir,
    pinned: PathBuf,
    base: String,
    wheels: String,
}

impl Bakes {
    fn new() -> Bakes {
        let work = tempfile::Builder::new()
            .prefix("lastmile-bake-it-")
            .tempdir()
            .unwrap();
        let pinned = work.path().join("pinned.txt");
        let (base, wheels) = lastmile_tests::pin_example_for_base(&pinned);
        Bakes {
            work,
            pinned,
            base,
            wheels,
        }
    }

    /// One bake of the example, under `umask` and the environment `envs`, into `out`.
    fn bake(&self, out: &str, umask: &str, envs: &[(&str, &std::ffi::OsStr)], extra: &[&str]) -> Output {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("umask {umask} && exec \"$@\""))
            .arg("sh")
            .arg(tool("bake-image"))
            .arg(&self.pinned)
            .args(["--base", &self.base, "-f", &self.wheels, "--offline"])
            .args(["--services", "examples/cam/services.toml"])
            .args(extra)
            .arg("--out-dir")
            .arg(self.work.path().join(out))
            .current_dir(workspace())
            .env(
                "LASTMILE_CACHE_DIR",
                self.work.path().join(out).with_extension("cache"),
            );
        for (key, value) in envs {
            command.env(key, value);
        }
        run_command(&mut command, None)
    }
}

#[test]
fn the_example_system_baked_on_the_real_base_runs_under_chroot() {
    let bakes = Bakes::new();
    let bake = bakes.bake("out", "022", &[], &[]);
    assert_eq!(bake.code, 0, "{}", bake.stderr);
    let candidate = bake.json();
    let image = PathBuf::from(candidate["image"]["path"].as_str().unwrap());
    assert!(image.is_file());
    assert_eq!(candidate["base"]["os"], "debian 12 (bookworm)");
    lastmile_tests::schema::assert_valid(&candidate, "candidate.v1");
    let verify = run_command(Command::new(tool("bake-image")).arg("verify").arg(&image), None);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    the_same_bytes_again(&bakes, &candidate);
    compiled_bytecode_twice(&bakes, &candidate);
    let unpacked = bakes.work.path().join("rootfs");
    unpack(&image, &unpacked);
    runs_under_chroot(&unpacked, &candidate);
    boots_as_a_node_of_its_roles(&unpacked, &candidate);
}

/// The same inputs baked again under another umask, time zone, locale and temporary folder:
/// the same bytes.
fn the_same_bytes_again(bakes: &Bakes, candidate: &serde_json::Value) {
    let other_tmp = bakes.work.path().join("tmp2");
    std::fs::create_dir_all(&other_tmp).unwrap();
    let again = bakes.bake(
        "out2",
        "077",
        &[
            ("TZ", "Pacific/Chatham".as_ref()),
            ("LC_ALL", "C.UTF-8".as_ref()),
            ("TMPDIR", other_tmp.as_os_str()),
        ],
        &[],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.json()["image"]["sha256"], candidate["image"]["sha256"]);
}

/// With bytecode compiled by the base's Python under chroot: still the same bytes twice, and
/// the pycs (outside every RECORD) pass verify.
fn compiled_bytecode_twice(bakes: &Bakes, candidate: &serde_json::Value) {
    let compiled = bakes.bake("compiled1", "022", &[], &["--compile-bytecode"]);
    assert_eq!(compiled.code, 0, "{}", compiled.stderr);
    let compiled_again = bakes.bake(
        "compiled2",
        "077",
        &[("TZ", "Asia/Kolkata".as_ref())],
        &["--compile-bytecode"],
    );
    assert_eq!(compiled_again.code, 0, "{}", compiled_again.stderr);
    let compiled_image = compiled.json()["image"].clone();
    assert_eq!(compiled_again.json()["image"]["sha256"], compiled_image["sha256"]);
    assert_ne!(compiled_image["sha256"], candidate["image"]["sha256"]);
    let listing = run_command(
        Command::new("tar")
            .arg("-tzf")
            .arg(compiled_image["path"].as_str().unwrap()),
        None,
    );
    assert!(
        listing
            .stdout
            .contains("site-packages/katcore/__pycache__/__init__.cpython-311.pyc"),
        "no pyc in the compiled image"
    );
    let verify = run_command(
        Command::new(tool("bake-image"))
            .arg("verify")
            .arg(compiled_image["path"].as_str().unwrap()),
        None,
    );
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

fn unpack(image: &std::path::Path, unpacked: &std::path::Path) {
    std::fs::create_dir_all(unpacked).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(image)
        .arg("-C")
        .arg(unpacked)
        .args(["--numeric-owner", "-p"])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A console script of a leaf and the venv's Python run with the base's own python3.11, and
/// every service has its unit, run by the venv's script.
fn runs_under_chroot(unpacked: &std::path::Path, candidate: &serde_json::Value) {
    // A console script of a leaf, through its launcher, with the base's python3.11.
    let report = run_command(
        Command::new("chroot")
            .arg(unpacked)
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
        Command::new("chroot").arg(unpacked).args([
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
    let declared = std::fs::read_to_string(workspace().join("examples/cam/services.toml"))
        .unwrap()
        .matches("\n[services.")
        .count();
    assert_eq!((services.len(), declared), (6, 6), "{services:?}");
    for (name, service) in services {
        let unit =
            std::fs::read_to_string(unpacked.join(format!("etc/systemd/system/{name}.service"))).unwrap();
        let program = service["command"].as_str().unwrap().split(' ').next().unwrap();
        // A service that waits for another role runs the venv's script once the role answers.
        let exec = if service["wait_for"].as_array().is_some_and(|w| !w.is_empty()) {
            format!(
                "ExecStart=/opt/lastmile/venv/bin/python -I /usr/lib/lastmile/wait-for.py +{} ",
                service["wait_for"][0].as_str().unwrap()
            )
        } else {
            format!("ExecStart=/opt/lastmile/venv/bin/{program} ")
        };
        assert!(unit.contains(&exec), "{unit}");
        assert!(
            unit.contains(&format!("/opt/lastmile/venv/bin/{program} ")),
            "{unit}"
        );
        assert!(
            unpacked
                .join(format!("opt/lastmile/venv/bin/{program}"))
                .is_file()
        );
    }
}

/// Booted as a node of the monctl and sim roles, enabled as deploy-lxc enables them (a link to
/// each role's target in multi-user.target.wants, before the first boot): systemd starts
/// those roles' services, each answers on its health port, and the portal stays off.
fn boots_as_a_node_of_its_roles(unpacked: &std::path::Path, candidate: &serde_json::Value) {
    let services = candidate["services"].as_object().unwrap();
    let roles = ["monctl", "sim"];
    // node.env as deploy-lxc writes it: this node's address, and the sim role's nodes (itself).
    std::fs::write(
        unpacked.join("etc/lastmile/node.env"),
        "LASTMILE_NODE_ADDR=\"127.0.0.1\"\nLASTMILE_ROLE_SIM=\"127.0.0.1\"\n",
    )
    .unwrap();
    for role in roles {
        std::os::unix::fs::symlink(
            format!("/etc/systemd/system/lastmile-role-{role}.target"),
            unpacked.join(format!(
                "etc/systemd/system/multi-user.target.wants/lastmile-role-{role}.target"
            )),
        )
        .unwrap();
    }
    let node = Container::boot(unpacked);
    let state = node.wait_for_boot(std::time::Duration::from_secs(120));
    let mut on = Vec::new();
    for (name, service) in services {
        let wanted = service["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| roles.contains(&r.as_str().unwrap()));
        let active = node
            .attach(&["systemctl", "is-active", name])
            .stdout
            .trim()
            .to_owned();
        if !wanted {
            assert_eq!(active, "inactive", "{name} runs on a node without its role");
            continue;
        }
        on.push(name.clone());
        let port = service["health"].as_str().unwrap().strip_prefix("tcp:").unwrap();
        let probe = node.attach(&[
            "python3",
            "-c",
            "import socket, sys, time\n\
             for _ in range(120):\n\
             \x20   try:\n\
             \x20       socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close(); sys.exit(0)\n\
             \x20   except OSError:\n\
             \x20       time.sleep(0.25)\n\
             sys.exit(1)\n",
            port,
        ]);
        let status = node.attach(&["systemctl", "status", "--no-pager", name]);
        assert_eq!(
            probe.code, 0,
            "{name} does not answer on port {port} (system {state}):\n{}",
            status.stdout
        );
        assert_eq!(
            node.attach(&["systemctl", "is-active", name]).stdout.trim(),
            "active",
            "{}",
            status.stdout
        );
    }
    assert_eq!(on, ["katcomp", "katconfserver", "katproxy", "katsim"]);
    node.stop();
}
