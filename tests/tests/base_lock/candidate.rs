//! The candidate baked with `--os-lock`: its Debian packages in the manifest and SBOM, one changed
//! locked version changing its digest, and the refusals of a base that is not what the lock says.

use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{run_command, script, tool, workspace};

/// The example's lock with nginx at another version: its `.deb` repacked as `VERSION+lmtest1`
/// (into the store, where the lock finds it), written to `dir/lock.json`. Returns the new version.
fn lock_with_another_nginx(dir: &Path) -> (PathBuf, String) {
    let lock_path = workspace().join("examples/cam/os-lock.json");
    let mut lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock_path).unwrap()).unwrap();
    let store = workspace().join("target/lastmile/cache/deb-store/http-v2/files/sha256");
    let nginx = lock["packages"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|p| p["name"] == "nginx")
        .expect("the example's lock has nginx");
    let sha = nginx["sha256"].as_str().unwrap().to_owned();
    let version = format!("{}+lmtest1", nginx["version"].as_str().unwrap());
    let unpacked = dir.join("nginx-deb");
    let deb = dir.join("nginx.deb");
    let repack = format!(
        "dpkg-deb -R \"$0\" \"$1\" && sed -i 's/^Version: .*/Version: {version}/' \"$1/DEBIAN/control\" && dpkg-deb -b \"$1\" \"$2\" >/dev/null"
    );
    let out = run_command(
        Command::new("sh")
            .args(["-c", &repack])
            .arg(store.join(&sha[..2]).join(&sha))
            .arg(&unpacked)
            .arg(&deb),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let bytes = std::fs::read(&deb).unwrap();
    let new_sha = lastmile_fs::Sha256::of(&bytes).to_string();
    let into = store.join(&new_sha[..2]);
    std::fs::create_dir_all(&into).unwrap();
    std::fs::write(into.join(&new_sha), &bytes).unwrap();
    nginx["version"] = version.clone().into();
    nginx["sha256"] = new_sha.into();
    nginx["size"] = bytes.len().into();
    let path = dir.join("lock.json");
    std::fs::write(&path, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
    (path, version)
}

/// Bakes of the example's pins with `--os-lock`, each into its own folder under `dir`.
struct Baker {
    dir: tempfile::TempDir,
    pinned: PathBuf,
    wheels: String,
}

impl Baker {
    fn new() -> Baker {
        let dir = tempfile::Builder::new()
            .prefix("lastmile-os-lock-bake-")
            .tempdir()
            .unwrap();
        let pinned = dir.path().join("pinned.txt");
        let (_, wheels) = lastmile_tests::pin_example_for_base(&pinned);
        Baker { dir, pinned, wheels }
    }

    fn bake(&self, base: &Path, lock: &Path, services: &[&str], out: &str) -> lastmile_tests::Output {
        run_command(
            Command::new(tool("bake-image"))
                .arg(&self.pinned)
                .arg("--base")
                .arg(base)
                .arg("--os-lock")
                .arg(lock)
                .args(services)
                .args(["-f", &self.wheels, "--offline", "--out-dir"])
                .arg(self.dir.path().join(out))
                .current_dir(workspace())
                .env("LASTMILE_CACHE_DIR", self.dir.path().join("cache")),
            None,
        )
    }
}

/// The candidate lists exactly the lock's image set (manifest and SBOM); the lock's nginx entry.
fn assert_listed(candidate: &serde_json::Value, example_lock: &Path) -> serde_json::Value {
    let lock: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example_lock).unwrap()).unwrap();
    let image_set: Vec<&serde_json::Value> = lock["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["set"] == "image")
        .collect();
    let listed = candidate["base"]["lock"]["packages"].as_array().unwrap();
    assert_eq!(listed.len(), image_set.len());
    for (listed, locked) in listed.iter().zip(&image_set) {
        for field in ["name", "version", "architecture", "sha256", "roles"] {
            assert_eq!(listed[field], locked[field], "{field} of {}", locked["name"]);
        }
    }
    let nginx = (*image_set.iter().find(|p| p["name"] == "nginx").unwrap()).clone();
    assert_eq!(nginx["roles"], serde_json::json!(["portal"]));
    let built_with = &candidate["base"]["lock"]["built_with"];
    assert!(
        built_with["mmdebstrap"].is_string() && built_with["dpkg"].is_string(),
        "{built_with}"
    );
    // The SBOM beside the image: the Debian package with its purl and the .deb's sha256.
    let image = PathBuf::from(candidate["image"]["path"].as_str().unwrap());
    let sbom_path = image.with_file_name(
        image
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(".tar.gz", ".sbom.cdx.json"),
    );
    let sbom: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sbom_path).unwrap()).unwrap();
    let purl = format!(
        "pkg:deb/debian/nginx@{}?arch=amd64",
        nginx["version"].as_str().unwrap()
    );
    let component = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["purl"] == purl.as_str())
        .unwrap_or_else(|| panic!("no {purl} in the SBOM"));
    assert_eq!(component["hashes"][0]["content"], nginx["sha256"]);

    nginx
}

#[test]
fn the_candidate_lists_its_debian_packages_and_one_changed_locked_version_changes_its_digest() {
    let base = PathBuf::from(script("base-rootfs"));
    let baker = Baker::new();
    let bake = |base: &Path, lock: &Path, services: &[&str], out: &str| baker.bake(base, lock, services, out);
    let dir = &baker.dir;
    let services = ["--services", "examples/cam/services.toml"];
    let example_lock = workspace().join("examples/cam/os-lock.json");
    let first = bake(&base, &example_lock, &services, "first");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let candidate = first.json();
    let nginx = assert_listed(&candidate, &example_lock);

    // One locked version changed: another base, another candidate.
    let (changed_lock, version) = lock_with_another_nginx(dir.path());
    let refused = bake(&base, &changed_lock, &services, "refused");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "nginx: {} installed, {version} locked",
            nginx["version"].as_str().unwrap()
        )) && refused.stderr.contains("scripts/base-from-lock"),
        "{}",
        refused.stderr
    );
    assert!(
        !dir.path()
            .join("refused")
            .read_dir()
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().starts_with("autobuild-") })
    );
    let built = run_command(
        Command::new(workspace().join("scripts/base-from-lock"))
            .arg("--offline")
            .arg(&changed_lock)
            .current_dir(workspace())
            .env("LASTMILE_BUILD_DIR", dir.path().join("build"))
            .env(
                "LASTMILE_DEB_STORE",
                workspace().join("target/lastmile/cache/deb-store"),
            ),
        None,
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    let changed_base = PathBuf::from(built.stdout.trim());
    let second = bake(&changed_base, &changed_lock, &services, "second");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let second = second.json();
    assert_ne!(second["image"]["sha256"], candidate["image"]["sha256"]);
    assert_ne!(second["base"]["digest"], candidate["base"]["digest"]);
    let listed = second["base"]["lock"]["packages"].as_array().unwrap();
    assert!(
        listed
            .iter()
            .any(|p| p["name"] == "nginx" && p["version"] == version.as_str())
    );
    // The base's own record names its lock: the example's lock does not fit the changed base.
    let other = bake(&changed_base, &example_lock, &services, "other");
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(other.stderr.contains("is not what --os-lock"), "{}", other.stderr);

    // A lock role no service has is refused.
    let no_services = bake(&base, &example_lock, &[], "no-services");
    assert_eq!(no_services.code, 2, "{}", no_services.stderr);
    assert!(
        no_services
            .stderr
            .contains("role \"portal\" of the OS lock is no role of any service"),
        "{}",
        no_services.stderr
    );
}
