//! Bases and wheels that try to make a bake, running as root, write outside its image or record
//! what it did not check: links out of the base, a bake by another user, wheels that lie.

use std::path::Path;
use std::process::Command;

use crate::testenv::*;

/// The canary folder a hostile base's links point at: it must stay exactly as it was.
fn canary(setup: &Setup) -> std::path::PathBuf {
    let canary = setup.path("canary");
    std::fs::create_dir_all(canary.join("system")).unwrap();
    std::fs::write(canary.join("precious"), "do not touch\n").unwrap();
    canary
}

fn listing(dir: &Path) -> Vec<String> {
    let mut all: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            let meta = e.path().symlink_metadata().unwrap();
            format!("{} {}", e.path().display(), meta.len())
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_base_whose_links_leave_it_cannot_make_the_bake_write_outside() {
    let setup = Setup::new();
    let canary = canary(&setup);
    let before = listing(&canary);
    let services = ["--service", "alpha=alpha-run --port 7147"];
    // Each: a base folder with one link pointing at the canary, and what the message names.
    let cases: [(&str, &str, &[&str]); 4] = [
        ("opt", "/opt is a link", &[]),
        ("etc/lastmile", "/etc/lastmile is a link", &[]),
        ("etc/systemd/system", "/etc/systemd/system is a link", &services),
        ("srv", "/srv is a link", &["--overlay", "overlay-srv"]),
    ];
    std::fs::create_dir_all(setup.path("overlay-srv/srv/app")).unwrap();
    std::fs::write(setup.path("overlay-srv/srv/app/config"), "x\n").unwrap();
    for (number, (link, expected, extra)) in cases.iter().enumerate() {
        let base = format!("base-{number}");
        crate::testenv::base(&setup.path(&base), false);
        let at = setup.path(&base).join(link);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let target = if *link == "etc/systemd/system" {
            canary.join("system")
        } else {
            canary.clone()
        };
        std::os::unix::fs::symlink(&target, &at).unwrap();
        // The same base as a tarball (GNU tar keeps the link as it is).
        let tarball = format!("base-{number}.tar");
        let status = Command::new("tar")
            .args(["-cf", &tarball, "-C", &base, "."])
            .current_dir(setup.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        for (what, from) in [("folder", base.as_str()), ("tarball", tarball.as_str())] {
            let out_dir = format!("out-{number}-{what}");
            let run = setup.bake_from(from, &out_dir, extra);
            assert_eq!(run.code, 2, "{link} ({what}): {}", run.stderr);
            assert!(run.stderr.contains(expected), "{link} ({what}): {}", run.stderr);
            assert!(
                run.stderr.contains(&canary.display().to_string()),
                "{}",
                run.stderr
            );
            assert_eq!(
                images(&setup.path(&out_dir)),
                Vec::<String>::new(),
                "{link} ({what})"
            );
            assert_eq!(listing(&canary), before, "{link} ({what}) wrote onto the host");
        }
    }
}

#[test]
fn the_base_is_read_inside_itself_not_on_the_host() {
    let setup = Setup::new();
    // os-release is a link to an absolute path: inside the base it names the base's own
    // file, never the host's; a libc that is a device is not read.
    let base = setup.path("base");
    std::fs::create_dir_all(base.join("usr/lib")).unwrap();
    std::fs::rename(base.join("etc/os-release"), base.join("usr/lib/os-release")).unwrap();
    std::os::unix::fs::symlink("/usr/lib/os-release", base.join("etc/os-release")).unwrap();
    let run = setup.bake_from("base", "out", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["base"]["os"], "debian 12 (bookworm)");
    // /lib/.../libc.so.6 as a link to the host's /dev/zero is a not-a-file, not a read forever.
    let bad = setup.path("bad-base");
    crate::testenv::base(&bad, false);
    std::fs::write(bad.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::remove_file(bad.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    std::fs::create_dir_all(bad.join("dev")).unwrap();
    let status = Command::new("mknod")
        .arg(bad.join("dev/zero"))
        .args(["c", "1", "5"])
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::symlink("/dev/zero", bad.join("usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    let run = setup.bake_from("bad-base", "out-bad", &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("no C library found"), "{}", run.stderr);
}

/// Run `bake-image` as another user (`setpriv`), everything it reads readable by that user.
fn bake_as(setup: &Setup, uid: u32, out: &str) -> Bake {
    let binary = env!("CARGO_BIN_EXE_bake-image");
    let args = [
        "pinned.txt",
        "--base",
        "base",
        "-f",
        "dist",
        "--offline",
        "--out-dir",
        out,
    ];
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            &uid.to_string(),
            "--regid",
            &uid.to_string(),
            "--clear-groups",
            "--",
        ])
        .arg(binary)
        .args(args)
        .current_dir(setup.dir.path())
        .env("LASTMILE_CACHE_DIR", setup.path(&format!(".cache-{uid}")))
        .output()
        .unwrap();
    Bake {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn two_users_bake_the_same_bytes_with_the_base_owners() {
    assert!(
        rustix_is_root(),
        "this test bakes as root and as another user: run it as root"
    );
    let setup = Setup::new();
    let base = setup.path("base");
    a_base_with_owners_another_user_can_read(&setup, &base);
    let as_root = bake_as(&setup, 0, "out-root");
    assert_eq!(as_root.code, 0, "{}", as_root.stderr);
    let as_user = bake_as(&setup, 65534, "out-user");
    assert_eq!(as_user.code, 0, "{}", as_user.stderr);
    let name = image(&setup.path("out-root"));
    assert_eq!(
        image(&setup.path("out-user")),
        name,
        "another user baked other bytes"
    );
    the_owners_are_the_bases(&setup.path("out-user").join(&name));
    a_base_tarball_needs_root(&setup, &base);
}

/// The base says who owns what (a service account's folder, a setuid tool), and another user
/// can read everything the bake needs and write its output folder.
fn a_base_with_owners_another_user_can_read(setup: &Setup, base: &Path) {
    std::fs::create_dir_all(base.join("var/lib/svc")).unwrap();
    std::fs::write(base.join("var/lib/svc/state"), "x\n").unwrap();
    std::fs::write(base.join("usr/bin/su-tool"), "#!/bin/sh\n").unwrap();
    let run = |args: &[&str]| assert!(Command::new(args[0]).args(&args[1..]).status().unwrap().success());
    run(&[
        "chown",
        "-R",
        "1234:1235",
        &base.join("var/lib/svc").display().to_string(),
    ]);
    run(&[
        "chmod",
        "4755",
        &base.join("usr/bin/su-tool").display().to_string(),
    ]);
    // Another user can read everything the bake needs, and write its output folder.
    run(&["chmod", "-R", "a+rX", &setup.dir.path().display().to_string()]);
    for out in ["out-root", "out-user"] {
        std::fs::create_dir_all(setup.path(out)).unwrap();
    }
    run(&[
        "chown",
        "65534:65534",
        &setup.path("out-user").display().to_string(),
    ]);
    std::fs::create_dir_all(setup.path(".cache-65534")).unwrap();
    run(&[
        "chown",
        "65534:65534",
        &setup.path(".cache-65534").display().to_string(),
    ]);
}

/// The image's owners are the base's, not the baker's.
fn the_owners_are_the_bases(image: &Path) {
    let listing = Command::new("tar")
        .args(["-tvzf"])
        .arg(image)
        .arg("--numeric-owner")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    let line = |path: &str| {
        listing
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or("")
            .to_owned()
    };
    assert!(line(" var/lib/svc/state").contains(" 1234/1235 "), "{listing}");
    assert!(
        line(" usr/bin/su-tool").starts_with("-rwsr-xr-x 0/0 "),
        "{listing}"
    );
    assert!(
        line(" opt/lastmile/venv/pyvenv.cfg").contains(" 0/0 "),
        "{listing}"
    );
}

/// A base tarball, which only root can unpack with its owners, is refused for anyone else.
fn a_base_tarball_needs_root(setup: &Setup, base: &Path) {
    let run = |args: &[&str]| assert!(Command::new(args[0]).args(&args[1..]).status().unwrap().success());
    run(&[
        "tar",
        "-cf",
        &setup.path("base.tar").display().to_string(),
        "-C",
        &base.display().to_string(),
        ".",
    ]);
    let binary = env!("CARGO_BIN_EXE_bake-image");
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--",
            binary,
        ])
        .args([
            "pinned.txt",
            "--base",
            "base.tar",
            "-f",
            "dist",
            "--offline",
            "--out-dir",
            "out-user",
        ])
        .current_dir(setup.dir.path())
        .env("LASTMILE_CACHE_DIR", setup.path(".cache-65534"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("a base tarball can be unpacked with its owners only as root"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rustix_is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// Pins for the given wheels (all in `dist/`), one line each.
fn pins_for(setup: &Setup, wheels: &[(&str, &std::path::Path)]) -> String {
    wheels
        .iter()
        .map(|(pin, path)| format!("{pin} --hash=sha256:{}\n", sha256(&std::fs::read(path).unwrap())))
        .collect::<String>()
        + &format!("# {}\n", setup.dir.path().display())
}

#[test]
fn pins_that_are_not_a_whole_system_or_wheels_that_lie_are_refused() {
    let setup = Setup::new();
    let dist = setup.path("dist");
    let needy = wheel_requiring(
        &dist,
        "needy",
        "1.0",
        "py3-none-any",
        &[],
        &[
            "alpha>=2",
            "missing; python_version >= '3'",
            "old; python_version < '3'",
            "gamma[fast]",
        ],
    );
    let gamma = wheel_requiring(
        &dist,
        "gamma",
        "1.0",
        "py3-none-any",
        &[],
        &["delta; extra == 'fast'"],
    );
    let alpha = dist.join("alpha-1.0-py3-none-any.whl");
    std::fs::write(
        setup.path("incomplete.txt"),
        pins_for(
            &setup,
            &[
                ("alpha==1.0", &alpha),
                ("needy==1.0", &needy),
                ("gamma==1.0", &gamma),
            ],
        ),
    )
    .unwrap();
    let run = setup.run_bake(["incomplete.txt", "base", "out-incomplete"], &[], &[], "022");
    assert_eq!(run.code, 2, "{}", run.stderr);
    for problem in [
        "incomplete.txt:2: needy requires alpha>=2, but alpha==1.0 is pinned",
        "incomplete.txt:2: needy requires missing ; python_full_version >= '3', which is not pinned",
        "incomplete.txt:3: gamma[fast] requires delta ; extra == 'fast', which is not pinned",
    ] {
        assert!(run.stderr.contains(problem), "{problem}:\n{}", run.stderr);
    }
    // The marker that is false on the base is not asked for.
    assert!(!run.stderr.contains("old"), "{}", run.stderr);
    assert_eq!(images(&setup.path("out-incomplete")), Vec::<String>::new());

    // A wheel that is another package under this one's name.
    let liar = dist.join("omega-1.0-py3-none-any.whl");
    std::fs::copy(&alpha, &liar).unwrap();
    std::fs::write(setup.path("liar.txt"), pins_for(&setup, &[("omega==1.0", &liar)])).unwrap();
    let run = setup.run_bake(["liar.txt", "base", "out-liar"], &[], &[], "022");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("omega-1.0-py3-none-any.whl: its metadata says it is alpha 1.0, not omega==1.0"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dotted_dist_info_name_verifies() {
    let setup = Setup::new();
    // Older setuptools wrote the dist-info folder with the project's dots: zope.thing-1.0.dist-info.
    let dotted = wheel(&setup.path("dist"), "zope.thing", "1.0", "py3-none-any", &[]);
    std::fs::write(
        setup.path("dotted.txt"),
        pins_for(&setup, &[("zope.thing==1.0", &dotted)]),
    )
    .unwrap();
    let run = setup.run_bake(["dotted.txt", "base", "out"], &[], &[], "022");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let image = setup.path("out").join(image(&setup.path("out")));
    let verify = bake(
        &["verify", &image.display().to_string()],
        setup.dir.path(),
        &[],
        "022",
    );
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert!(verify.stderr.contains(": ok (1 packages"), "{}", verify.stderr);
}
