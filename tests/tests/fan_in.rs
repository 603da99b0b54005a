//! Fan-in: pushes queued while CI was busy (two commits to two packages) are one change from the
//! last build that passed: `depgraph affected --since` names both packages and what depends on
//! them, they are built together, in layers, and the leaves are pinned once, at that commit's
//! versions (`depgraph versions`, `pin-deps -c`). The result is the candidate of that commit: the
//! pins equal a build of every package of the same commit from an empty index, and of the first
//! build's pins only those of the two changed packages moved. A dependent rebuilt only to be
//! tested is the same bytes under the same version. Real components: git, scripts/build-package,
//! pypiserver on loopback.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{Pypiserver, git, run_command, tool, workspace};

/// `name version [dependency]`: four setuptools packages; app and tool are the leaves.
const PACKAGES: [(&str, &str, &str); 4] = [
    ("base", "1.0", ""),
    ("mid", "2.0", "base>=1.0"),
    ("app", "0.1", "mid>=2.0"),
    ("tool", "0.3", "base>=1.0"),
];

struct Ci {
    dir: tempfile::TempDir,
}

impl Ci {
    fn new() -> Ci {
        let dir = tempfile::Builder::new()
            .prefix("lastmile-fan-in-")
            .tempdir()
            .unwrap();
        let repo = dir.path().join("repo");
        for (name, version, dependency) in PACKAGES {
            let pkg = repo.join(name);
            std::fs::create_dir_all(&pkg).unwrap();
            let deps = if dependency.is_empty() {
                String::new()
            } else {
                format!("\"{dependency}\"")
            };
            std::fs::write(
                pkg.join("pyproject.toml"),
                format!(
                    "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\
                     [project]\nname = \"{name}\"\nversion = \"{version}\"\ndependencies = [{deps}]\n\
                     [tool.setuptools]\npy-modules = [\"{name}\"]\n"
                ),
            )
            .unwrap();
            std::fs::write(pkg.join(format!("{name}.py")), "VALUE = 1\n").unwrap();
        }
        std::fs::write(repo.join("README.md"), "# system\n").unwrap();
        git(&repo, &["init", "-q"]);
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "first"]);
        Ci { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn head(&self) -> String {
        let out = run_command(
            Command::new("git")
                .args(["rev-parse", "HEAD"])
                .current_dir(self.path("repo")),
            None,
        );
        out.stdout.trim().to_owned()
    }

    fn change(&self, package: &str, value: &str) {
        std::fs::write(
            self.path(&format!("repo/{package}/{package}.py")),
            format!("VALUE = {value}\n"),
        )
        .unwrap();
        git(
            &self.path("repo"),
            &["commit", "-q", "-am", &format!("{package} changed")],
        );
    }

    fn depgraph(&self, args: &[&str]) -> String {
        let out = run_command(
            Command::new(tool("depgraph"))
                .args(args)
                .current_dir(self.dir.path()),
            None,
        );
        assert_eq!(out.code, 0, "depgraph {args:?}: {}", out.stderr);
        out.stdout
    }

    /// One CI run into `run/`: the graph, what changed since `since` (everything without it),
    /// each affected package built, tested and published in build order, then the leaves pinned
    /// once at this commit's versions. Returns the layers it built and the wheels it published.
    fn run(
        &self,
        run: &str,
        index: &Path,
        url: &str,
        since: Option<&str>,
    ) -> (Vec<Vec<String>>, Vec<String>) {
        std::fs::create_dir_all(self.path(run)).unwrap();
        let graph = format!("{run}/graph.json");
        // Absolute source paths: build-package runs from lastmile's folder.
        let trees: Vec<String> = ["base", "mid", "app", "tool"]
            .iter()
            .map(|p| self.path(&format!("repo/{p}")).display().to_string())
            .collect();
        let mut scan: Vec<&str> = trees.iter().map(String::as_str).collect();
        scan.extend(["-q", "-o", &graph]);
        self.depgraph(&scan);
        let affected = format!("{run}/affected.json");
        let mut args = vec!["affected", graph.as_str(), "-o", affected.as_str()];
        match since {
            Some(since) => args.extend(["--since", since, "--until", "HEAD", "--repo", "repo"]),
            None => args.push("--all"),
        }
        self.depgraph(&args);
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(self.path(&affected)).unwrap()).unwrap();
        let layers: Vec<Vec<String>> = serde_json::from_value(doc["build_order"].clone()).unwrap();
        let mut wheels = Vec::new();
        for pkg in layers.iter().flatten() {
            let out = run_command(
                Command::new(workspace().join("scripts/build-package"))
                    .arg(pkg)
                    .args(["--index-url", url, "--index-dir"])
                    .arg(index)
                    .arg("--graph")
                    .arg(self.path(&graph))
                    .arg("--out-dir")
                    .arg(self.path(&format!("{run}/dist")))
                    .env_remove("SOURCE_DATE_EPOCH")
                    .current_dir(self.dir.path()),
                None,
            );
            assert_eq!(out.code, 0, "{pkg}: {}", out.stderr);
            wheels.push(
                Path::new(out.stdout.trim())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        let versions = format!("{run}/versions.txt");
        self.depgraph(&["versions", &graph, "-o", &versions]);
        let pin = run_command(
            Command::new(tool("pin-deps"))
                .args(["--from-graph", &graph, "-c", &versions, "--internal-index", url])
                .args(["--no-header", "-o", &format!("{run}/pins.txt")])
                .current_dir(self.dir.path()),
            None,
        );
        assert_eq!(pin.code, 0, "{}", pin.stderr);
        (layers, wheels)
    }

    /// The pins of a run: name to `name==version` with its hashes.
    fn pins(&self, run: &str) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.path(&format!("{run}/pins.txt"))).unwrap();
        let mut pins = BTreeMap::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if line.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                let name = line.split("==").next().unwrap().to_owned();
                pins.insert(name.clone(), line.trim_end_matches(" \\").to_owned());
                current = Some(name);
            } else if let (Some(name), Some(hash)) = (&current, line.trim().strip_prefix("--hash=")) {
                let entry = pins.get_mut(name).unwrap();
                entry.push(' ');
                entry.push_str(hash.trim_end_matches(" \\"));
            }
        }
        pins
    }
}

#[test]
fn two_queued_pushes_build_together_and_pin_once_into_the_candidate_of_their_commit() {
    let ci = Ci::new();
    let (_server, url) = Pypiserver::start(&ci.path("index"));
    let (layers, _) = ci.run("run1", &ci.path("index"), &url, None);
    assert_eq!(layers, [vec!["base"], vec!["mid", "tool"], vec!["app"]]);
    let passed = ci.head();

    // Two pushes while CI was busy, then one unrelated one.
    ci.change("mid", "2");
    ci.change("tool", "3");
    std::fs::write(ci.path("repo/README.md"), "# system, documented\n").unwrap();
    git(&ci.path("repo"), &["commit", "-q", "-am", "docs"]);

    let (layers, wheels) = ci.run("run2", &ci.path("index"), &url, Some(&passed));
    assert_eq!(layers, [vec!["mid", "tool"], vec!["app"]]);
    let (first, second) = (ci.pins("run1"), ci.pins("run2"));
    assert_eq!(first.keys().collect::<Vec<_>>(), ["app", "base", "mid", "tool"]);
    let moved: Vec<&String> = first
        .iter()
        .filter(|(name, line)| second[*name] != **line)
        .map(|(name, _)| name)
        .collect();
    assert_eq!(moved, ["mid", "tool"], "{first:?}\n{second:?}");
    for name in ["mid", "tool"] {
        assert!(second[name].contains(".post2+g"), "{}", second[name]);
    }
    // app was rebuilt to be tested against mid's new build: the same bytes as published.
    assert!(
        wheels.iter().any(|w| w.starts_with("app-0.1.post1+g")),
        "{wheels:?}"
    );

    // The same commit built from nothing, every package into an empty index: the same pins.
    let (_fresh_server, fresh_url) = Pypiserver::start(&ci.path("fresh-index"));
    ci.run("fresh", &ci.path("fresh-index"), &fresh_url, None);
    assert_eq!(ci.pins("fresh"), second);
}
