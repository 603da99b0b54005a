//! What the image holds (venv, units, manifest, SBOM), services on their roles, and `verify`
//! finding each kind of tampering.

use crate::testenv::*;
use std::path::Path;
use std::process::Command;

#[test]
fn the_image_holds_the_venv_units_manifest_and_sbom() {
    let setup = Setup::new();
    let out = setup.bake("pinned.txt", "base", "out", &[], "022");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let name = &image(&setup.path("out"));
    let unpacked = setup.path("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = Command::new("tar")
        .args([
            "-xzf",
            setup.path("out").join(name).to_str().unwrap(),
            "-C",
            unpacked.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    the_venv_holds_the_wheels(&unpacked);
    let unit = std::fs::read_to_string(unpacked.join("etc/systemd/system/alpha.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/opt/lastmile/venv/bin/alpha-run --port 7147"),
        "{unit}"
    );
    assert_eq!(
        std::fs::read_link(unpacked.join("etc/systemd/system/multi-user.target.wants/alpha.service"))
            .unwrap(),
        Path::new("/etc/systemd/system/alpha.service")
    );
    assert_eq!(
        std::fs::read_to_string(unpacked.join("etc/cam/site.yaml")).unwrap(),
        "site: karoo\n"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unpacked.join("etc/lastmile/candidate.json")).unwrap())
            .unwrap();
    assert!(manifest["image"].is_null());
    let sbom = std::fs::read_to_string(unpacked.join("etc/lastmile/sbom.cdx.json")).unwrap();
    assert!(sbom.contains("pkg:pypi/alpha@1.0"), "{sbom}");
    let sbom_beside = setup.path("out").join(name.replace(".tar.gz", ".sbom.cdx.json"));
    assert!(sbom_beside.is_file());
    provenance_describes_the_bake(&setup.path("out").join(name), &sbom_beside, &manifest);

    verify_checks_the_name(&setup, name);
}

/// The installed venv: launchers with the image's Python, the base's interpreter linked, every
/// distribution with its INSTALLER, REQUESTED and RECORD.
fn the_venv_holds_the_wheels(unpacked: &Path) {
    let venv = unpacked.join("opt/lastmile/venv");
    let launcher = std::fs::read_to_string(venv.join("bin/alpha-run")).unwrap();
    assert!(
        launcher.starts_with("#!/opt/lastmile/venv/bin/python\n"),
        "{launcher}"
    );
    assert!(launcher.contains("from alpha import main"));
    let tool = std::fs::read_to_string(venv.join("bin/beta-tool")).unwrap();
    assert_eq!(tool, "#!/opt/lastmile/venv/bin/python\nprint('tool')\n");
    assert_eq!(
        std::fs::read_link(venv.join("bin/python3.11")).unwrap(),
        Path::new("/usr/bin/python3.11")
    );
    let site = venv.join("lib/python3.11/site-packages");
    assert!(site.join("alpha/__init__.py").is_file());
    assert_eq!(
        std::fs::read_to_string(site.join("alpha-1.0.dist-info/INSTALLER")).unwrap(),
        "lastmile\n"
    );
    assert!(site.join("alpha-1.0.dist-info/REQUESTED").is_file());
    let record = std::fs::read_to_string(site.join("beta-2.0.dist-info/RECORD")).unwrap();
    assert!(record.contains("../../../bin/beta-tool,sha256="), "{record}");
}

/// `verify` passes the image, and refuses a copy whose name is not its digest.
fn verify_checks_the_name(setup: &Setup, name: &str) {
    let ok = bake(&["verify", &format!("out/{name}")], setup.dir.path(), &[], "022");
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(ok.stderr.contains(": ok (2 packages"), "{}", ok.stderr);
    // A renamed copy no longer matches its name.
    std::fs::copy(
        setup.path("out").join(name),
        setup.path("out/autobuild-000000000000.tar.gz"),
    )
    .unwrap();
    let bad = bake(
        &["verify", "out/autobuild-000000000000.tar.gz"],
        setup.dir.path(),
        &[],
        "022",
    );
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("its name says 000000000000"),
        "{}",
        bad.stderr
    );
    // A copy cut short (a download that stopped): named, and called truncated.
    let bytes = std::fs::read(setup.path("out").join(name)).unwrap();
    let cut = setup.path("out/autobuild-111111111111.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let truncated = bake(
        &["verify", "out/autobuild-111111111111.tar.gz"],
        setup.dir.path(),
        &[],
        "022",
    );
    assert_eq!(truncated.code, 2, "{}", truncated.stderr);
    assert!(
        truncated
            .stderr
            .contains("out/autobuild-111111111111.tar.gz: truncated: the image ends before its archive does"),
        "{}",
        truncated.stderr
    );
}

#[test]
fn services_run_on_their_roles_and_verify_names_each_tampered_file() {
    let setup = Setup::new();
    std::fs::write(
        setup.path("services.toml"),
        "# the example's services\n[services.beta]\ncommand = \"beta-run --port 8080\"\nroles = [\"portal\", \"monctl\"]\nhealth = \"http://127.0.0.1:8080/health\"\ndescription = \"the portal\"\n",
    )
    .unwrap();
    let out = setup.bake_from(
        "base",
        "out",
        &["--services", "services.toml", "--service", "alpha=alpha-run"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let document: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        document["services"]["beta"]["roles"],
        serde_json::json!(["portal", "monctl"])
    );
    assert_eq!(
        document["services"]["beta"]["health"],
        "http://127.0.0.1:8080/health"
    );
    assert_eq!(document["services"]["alpha"]["roles"], serde_json::json!([]));
    assert_eq!(schema_errors(&document), Vec::<String>::new());

    let name = image(&setup.path("out"));
    let tree = setup.path("tree");
    untar(&setup.path("out").join(&name), &tree);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tree.join("etc/lastmile/candidate.json")).unwrap())
            .unwrap();
    assert_eq!(schema_errors(&manifest), Vec::<String>::new());
    assert!(manifest["image"].is_null());
    assert_eq!(manifest["packages"], document["packages"]);
    // The schema is not a rubber stamp: a manifest missing a package's RECORD digest fails it.
    let mut broken = manifest.clone();
    broken["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("record_sha256");
    assert_eq!(schema_errors(&broken).len(), 1);
    units_start_on_their_roles(&tree.join("etc/systemd/system"));
    verify_names_each_tampering(&setup, &name, &tree);
}

/// A role's service is wanted by its role's target, which the image enables nowhere; a service
/// without roles starts on every node.
fn units_start_on_their_roles(units: &Path) {
    let beta = std::fs::read_to_string(units.join("beta.service")).unwrap();
    assert!(beta.contains("Description=the portal (lastmile"), "{beta}");
    assert!(
        beta.contains("WantedBy=lastmile-role-portal.target lastmile-role-monctl.target\n"),
        "{beta}"
    );
    for role in ["portal", "monctl"] {
        let target = std::fs::read_to_string(units.join(format!("lastmile-role-{role}.target"))).unwrap();
        assert!(target.contains("WantedBy=multi-user.target"), "{target}");
        assert_eq!(
            std::fs::read_link(units.join(format!("lastmile-role-{role}.target.wants/beta.service")))
                .unwrap(),
            Path::new("/etc/systemd/system/beta.service")
        );
    }
    // A role's service does not start on every node; a service without roles does.
    assert!(!units.join("multi-user.target.wants/beta.service").exists());
    assert!(std::fs::symlink_metadata(units.join("multi-user.target.wants/alpha.service")).is_ok());
}

/// Each kind of tampering with the tree, repacked, is named by `verify`.
fn verify_names_each_tampering(setup: &Setup, name: &str, tree: &Path) {
    let units = tree.join("etc/systemd/system");
    // Repacked untouched, the tree verifies: the checks below fail for the tampering alone.
    let verify = |name: &str| bake(&["verify", &format!("out/{name}")], setup.dir.path(), &[], "022");
    let same = repack(tree, &setup.path("out"));
    let ok = verify(&same);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    std::fs::remove_file(setup.path("out").join(&same)).unwrap();

    let site = tree.join("opt/lastmile/venv/lib/python3.11/site-packages");
    type Tamper<'a> = Box<dyn Fn() + 'a>;
    let tamper_cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "a module edited",
            Box::new(|| std::fs::write(site.join("alpha/__init__.py"), "def main(): pass\n").unwrap()),
            "/opt/lastmile/venv/lib/python3.11/site-packages/alpha/__init__.py: differs from",
        ),
        (
            "a file slipped into the venv",
            Box::new(|| std::fs::write(site.join("sitecustomize.py"), "import os\n").unwrap()),
            "/opt/lastmile/venv/lib/python3.11/site-packages/sitecustomize.py: in the venv but in no RECORD",
        ),
        (
            "a RECORD rewritten to cover an edit",
            Box::new(|| {
                let record = site.join("alpha-1.0.dist-info/RECORD");
                let text = std::fs::read_to_string(&record).unwrap();
                std::fs::write(&record, format!("{text}extra.py,,\n")).unwrap();
            }),
            "alpha==1.0: its RECORD has sha256",
        ),
        (
            "a unit edited on the builder",
            Box::new(|| {
                std::fs::write(units.join("alpha.service"), "[Service]\nExecStart=/bin/sh\n").unwrap();
            }),
            "/etc/systemd/system/alpha.service: differs from the unit the manifest describes",
        ),
        (
            "a service disabled",
            Box::new(|| {
                std::fs::remove_file(units.join("lastmile-role-monctl.target.wants/beta.service")).unwrap()
            }),
            "/etc/systemd/system/lastmile-role-monctl.target.wants/beta.service: missing, so beta would not start",
        ),
    ];
    for (what, tamper, expect) in tamper_cases {
        let pristine = setup.path("pristine");
        let _ = std::fs::remove_dir_all(&pristine);
        untar(&setup.path("out").join(name), &pristine);
        let _ = std::fs::remove_dir_all(tree);
        std::fs::rename(&pristine, tree).unwrap();
        tamper();
        let bad_name = repack(tree, &setup.path("out"));
        let bad = verify(&bad_name);
        assert_eq!(bad.code, 1, "{what}: {}", bad.stderr);
        assert!(
            bad.stderr.contains(expect),
            "{what}: expected {expect:?} in\n{}",
            bad.stderr
        );
        std::fs::remove_file(setup.path("out").join(&bad_name)).unwrap();
    }
}

/// The provenance beside the image: the image as its subject, every installed distribution, the
/// base and each input as materials with their sha256, the SBOM as a byproduct.
fn provenance_describes_the_bake(image: &Path, sbom: &Path, manifest: &serde_json::Value) {
    let path = image.with_file_name(
        image
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .replace(".tar.gz", ".provenance.json"),
    );
    let statement: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sha256 = |p: &Path| lastmile_fs::Sha256::of_file(p).unwrap().to_string();
    assert_eq!(statement["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v1");
    assert_eq!(statement["subject"][0]["digest"]["sha256"], sha256(image));
    let predicate = &statement["predicate"];
    let materials = predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    for package in manifest["packages"].as_array().unwrap() {
        let found = materials
            .iter()
            .find(|m| m["name"] == package["filename"])
            .unwrap_or_else(|| panic!("{} is not a material: {materials:?}", package["filename"]));
        assert_eq!(found["digest"]["sha256"], package["sha256"]);
    }
    let base = materials.iter().find(|m| m["name"] == "base-rootfs").unwrap();
    assert_eq!(base["digest"]["sha256"], manifest["base"]["digest"]);
    for (role, digest) in manifest["inputs"].as_object().unwrap() {
        assert!(
            materials
                .iter()
                .any(|m| m["name"] == format!("input:{role}") && m["digest"]["sha256"] == *digest),
            "input {role} is not a material"
        );
    }
    assert_eq!(
        predicate["runDetails"]["byproducts"][0]["digest"]["sha256"],
        sha256(sbom)
    );
}
