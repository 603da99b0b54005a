//! scripts/build-package on projects that are not the example's: its own test command, a test
//! that fails (nothing published), and a git-versioned tree without history (refused, never a
//! made-up version); then a multi-repository system from git to a baked image, as README's
//! "Your own system" walks it. The private index is a real pypiserver on loopback.

use std::path::Path;
use std::process::Command;

use lastmile_tests::{Pypiserver as Index, git, run_command, tool, workspace};

fn project(dir: &Path, name: &str, pyproject: &str) {
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(format!("{name}/pyproject.toml")), pyproject).unwrap();
    std::fs::write(dir.join(format!("{name}/{name}.py")), "X = 1\n").unwrap();
}

fn build(name: &str, graph: &Path, url: &str, index: &Path, out: &Path) -> lastmile_tests::Output {
    run_command(
        Command::new(workspace().join("scripts/build-package"))
            .arg(name)
            .args(["--index-url", url, "--index-dir"])
            .arg(index)
            .arg("--graph")
            .arg(graph)
            .arg("--out-dir")
            .arg(out),
        None,
    )
}

#[test]
fn any_project_builds_with_its_own_test_command_and_a_failure_publishes_nothing() {
    let dir = tempfile::Builder::new()
        .prefix("lastmile-build-package-")
        .tempdir()
        .unwrap();
    let src = dir.path().join("src");
    let setuptools =
        "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n";
    project(
        &src,
        "alpha",
        &format!(
            "{setuptools}[project]\nname = \"alpha\"\nversion = \"1.0\"\n[tool.setuptools]\npy-modules = [\"alpha\"]\n[tool.lastmile]\ntest = \"python -c 'import alpha; assert alpha.X == 1' && touch tested\"\n"
        ),
    );
    project(
        &src,
        "beta",
        &format!(
            "{setuptools}[project]\nname = \"beta\"\nversion = \"1.0\"\n[tool.setuptools]\npy-modules = [\"beta\"]\n[tool.lastmile]\ntest = \"python -c 'import beta; assert beta.X == 2, beta.X'\"\n"
        ),
    );
    // Its version from git (setuptools_scm), in a folder with no history.
    project(
        &src,
        "gamma",
        "[build-system]\nrequires = [\"setuptools>=61\", \"setuptools_scm>=8\"]\n[project]\nname = \"gamma\"\ndynamic = [\"version\"]\n",
    );
    let graph = dir.path().join("graph.json");
    let scan = run_command(
        Command::new(tool("depgraph")).arg(&src).arg("-o").arg(&graph),
        None,
    );
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let index = dir.path().join("index");
    let (_index, url) = Index::start(&index);
    let out = dir.path().join("dist");

    let alpha = build("alpha", &graph, &url, &index, &out);
    assert_eq!(alpha.code, 0, "{}", alpha.stderr);
    assert_eq!(
        alpha.stdout.trim(),
        index.join("alpha-1.0-py3-none-any.whl").display().to_string()
    );
    assert!(
        src.join("alpha/tested").exists(),
        "its own test command did not run in its folder"
    );

    let beta = build("beta", &graph, &url, &index, &out);
    assert_ne!(beta.code, 0);
    assert!(
        beta.stderr.contains("beta: its unit tests failed; not published"),
        "{}",
        beta.stderr
    );
    assert!(
        beta.stderr.contains("AssertionError: 1"),
        "the test's own output is shown: {}",
        beta.stderr
    );
    assert!(!index.join("beta-1.0-py3-none-any.whl").exists());

    let gamma = build("gamma", &graph, &url, &index, &out);
    assert_ne!(gamma.code, 0);
    assert!(
        gamma
            .stderr
            .contains("gamma: its version is computed from git, but ")
            && gamma
                .stderr
                .contains("has no git history: clone it with its history and tags"),
        "{}",
        gamma.stderr
    );
}

/// A repository of its own holding one package, committed (and tagged when asked).
fn repository(src: &Path, name: &str, pyproject: &str, tag: Option<&str>) {
    project(src, name, pyproject);
    let dir = src.join(name);
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "first"]);
    if let Some(tag) = tag {
        git(&dir, &["tag", tag]);
    }
}

const SETUPTOOLS: &str =
    "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n";

/// `alpha` (its version from git, tagged v1.0) needing `beta` (its version from git too, tagged
/// v0.5), which needs `delta` to build and the third-party `gamma` to run.
fn three_repositories(src: &Path) {
    repository(
        src,
        "alpha",
        "[build-system]\nrequires = [\"setuptools>=64\", \"setuptools_scm>=8\"]\nbuild-backend = \"setuptools.build_meta\"\n\
         [project]\nname = \"alpha\"\ndynamic = [\"version\"]\ndependencies = [\"beta>=0.5\"]\n\
         [tool.setuptools]\npy-modules = [\"alpha\"]\n[tool.setuptools_scm]\n",
        Some("v1.0"),
    );
    repository(
        src,
        "beta",
        "[build-system]\nrequires = [\"setuptools>=64\", \"setuptools_scm>=8\", \"delta\"]\nbuild-backend = \"setuptools.build_meta\"\n\
         [project]\nname = \"beta\"\ndynamic = [\"version\"]\ndependencies = [\"gamma\"]\n\
         [tool.setuptools]\npy-modules = [\"beta\"]\n[tool.setuptools_scm]\n",
        Some("v0.5"),
    );
    repository(
        src,
        "delta",
        &format!(
            "{SETUPTOOLS}[project]\nname = \"delta\"\nversion = \"0.1\"\n[tool.setuptools]\npy-modules = [\"delta\"]\n"
        ),
        None,
    );
}

/// The graph of `src` into `graph`: alpha's version from its tag; delta built first, never a leaf.
fn graph_of(src: &Path, graph: &Path) {
    let scan = run_command(Command::new(tool("depgraph")).arg(src).arg("-o").arg(graph), None);
    assert_eq!(scan.code, 0, "{}", scan.stderr);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(graph).unwrap()).unwrap();
    let alpha = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "alpha")
        .unwrap();
    assert_eq!(alpha["version"], "1.0", "{}", scan.stderr);
    let beta = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "beta")
        .unwrap();
    assert_eq!(beta["version"], "0.5", "{}", scan.stderr);
    assert_eq!(doc["leaves"], serde_json::json!(["alpha"]));
    assert_eq!(
        doc["build_order"],
        serde_json::json!([["delta"], ["beta"], ["alpha"]])
    );
}

/// The stand-in for the public index: a flat folder with a newer alpha; its URL.
fn newer_public_alpha(dir: &Path) -> String {
    let public = dir.join("public");
    std::fs::create_dir_all(&public).unwrap();
    let newer = dir.join("newer");
    project(
        &newer,
        "alpha",
        &format!(
            "{SETUPTOOLS}[project]\nname = \"alpha\"\nversion = \"2.0\"\n[tool.setuptools]\npy-modules = [\"alpha\"]\n"
        ),
    );
    let backends = lastmile_tests::script("build-backends");
    let wheel = run_command(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "wheel",
                "-q",
                "--no-deps",
                "--no-index",
                "--find-links",
                &backends,
                "-w",
            ])
            .arg(&public)
            .arg(newer.join("alpha")),
        None,
    );
    assert_eq!(wheel.code, 0, "{}", wheel.stderr);
    format!("file://{}", public.display())
}

/// README's "Your own system", steps 1 to 6 up to the image, on three repositories: `alpha`
/// versioned from git by setuptools_scm and also "published" at a newer version on a stand-in
/// for the public index, `beta` (versioned from git too) that alpha runs with, and `delta`, an
/// in-house helper beta needs only to build; beta runs with `gamma`, a third-party C extension
/// released only as an sdist.
#[test]
fn a_multi_repository_system_builds_in_order_and_pins_its_own_packages_from_its_own_index() {
    let dir = tempfile::Builder::new()
        .prefix("lastmile-own-system-")
        .tempdir()
        .unwrap();
    let src = dir.path().join("src");
    three_repositories(&src);
    let graph = dir.path().join("graph.json");
    graph_of(&src, &graph);
    // The private index; each package built in order and published.
    let index = dir.path().join("index");
    let (_index, url) = Index::start(&index);
    seed_third_party(&index);
    for name in ["delta", "beta", "alpha"] {
        let built = build(name, &graph, &url, &index, &dir.path().join("dist"));
        assert_eq!(built.code, 0, "{name}: {}", built.stderr);
    }
    assert!(
        index.join("alpha-1.0-py3-none-any.whl").exists(),
        "the version from git is not the tag's"
    );
    let public_url = newer_public_alpha(dir.path());
    // Pinned: alpha and beta from the in-house index, never the newer public alpha; delta,
    // needed only to build, not at all.
    let pin = |index_flag: &str| {
        run_command(
            Command::new(tool("pin-deps"))
                .arg("--from-graph")
                .arg(&graph)
                .args([
                    index_flag,
                    &url,
                    "--extra-index-url",
                    &public_url,
                    "--no-hashes",
                    "--no-header",
                ])
                .env("LASTMILE_CACHE_DIR", dir.path().join("cache")),
            None,
        )
    };
    let pinned = pin("--internal-index");
    assert_eq!(pinned.code, 0, "{}", pinned.stderr);
    let via = format!(
        "alpha==1.0\n    # via -r {}\n    # from {url} (in-house)\n",
        graph.display()
    );
    assert!(pinned.stdout.contains(&via), "{}", pinned.stdout);
    assert!(pinned.stdout.contains("beta==0.5\n"), "{}", pinned.stdout);
    assert!(
        !pinned.stdout.contains("delta"),
        "a build-only package was pinned:\n{}",
        pinned.stdout
    );
    // The private index given as just another index: the in-house packages are not taken from
    // anywhere else.
    let confused = pin("--index-url");
    assert_eq!(confused.code, 1, "{}", confused.stdout);
    assert!(
        confused
            .stderr
            .contains("alpha is in-house and no in-house source has it"),
        "{}",
        confused.stderr
    );
    // 6. Baked for the real base: gamma, released only as an sdist with a C extension, is built
    // in the build root; the image runs the versions from git, and delta is not in it.
    bake_and_run(dir.path(), &graph, &url);
}

/// The private index's third-party packages (README step 3): gamma as an sdist only, and the
/// setuptools that builds it.
fn seed_third_party(index: &Path) {
    lastmile_tests::sdist::gamma_sdist(index, lastmile_tests::sdist::GAMMA_C);
    let backends = Path::new(&lastmile_tests::script("build-backends")).to_owned();
    for entry in std::fs::read_dir(&backends).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("setuptools-") {
            std::fs::copy(&path, index.join(&name)).unwrap();
        }
    }
}

/// Step 6 up to the image: pinned for the real base with hashes, baked with the build root, and
/// the image's Python run under chroot.
fn bake_and_run(dir: &Path, graph: &Path, url: &str) {
    let base = lastmile_tests::script("base-rootfs");
    let pinned = dir.join("pinned-requirements.txt");
    let pin = run_command(
        Command::new(tool("pin-deps"))
            .arg("--from-graph")
            .arg(graph)
            .args(["--internal-index", url, "--target-rootfs", &base, "-o"])
            .arg(&pinned)
            .env("LASTMILE_CACHE_DIR", dir.join("cache")),
        None,
    );
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    assert!(
        pin.stderr
            .contains("1 pin has only an sdist for Python 3.11 on x86_64-manylinux_2_36: gamma==1.0"),
        "{}",
        pin.stderr
    );
    let build_root = lastmile_tests::sdist::build_root();
    let bake = run_command(
        Command::new(tool("bake-image"))
            .arg(&pinned)
            .args([
                "--base",
                &base,
                "--internal-index",
                url,
                "--build-root",
                &build_root,
                "--out-dir",
            ])
            .arg(dir.join("images"))
            .env("LASTMILE_CACHE_DIR", dir.join("cache")),
        None,
    );
    assert_eq!(bake.code, 0, "{}", bake.stderr);
    let doc = bake.json();
    let names: Vec<&str> = doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert_eq!(doc["packages"][2]["built_from"]["sdist"], "gamma-1.0.tar.gz");
    let ran = lastmile_tests::sdist::run_in_image(
        doc["image"]["path"].as_str().unwrap(),
        &dir.join("tree"),
        "import importlib.metadata as m, alpha, beta, gamma; print(m.version('alpha'), m.version('beta'), gamma.add(2, 3))",
    );
    assert_eq!(ran, "1.0 0.5 5");
}
