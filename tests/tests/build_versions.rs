//! A version per build (scripts/build-package): a package whose version is written in its files
//! gets the declared version, the count of its tree's commits and the last one's id. The same
//! commit gives the same version and bytes (also after a commit elsewhere in the repository), two
//! commits of the package never share a version, uncommitted changes are refused, and a file the
//! index has is never replaced by other bytes. The index is a real pypiserver on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;

use lastmile_tests::{Pypiserver, git, run_command, tool, workspace};

/// (The server is the first field: it is stopped before the folder holding its pid file goes.)
struct Repo {
    _server: Pypiserver,
    dir: tempfile::TempDir,
    graph: PathBuf,
    index: PathBuf,
    url: String,
}

impl Repo {
    /// A repository holding the setuptools package `omega` 2.0 in `pkgs/omega` and a README,
    /// one commit; its graph and an empty index.
    fn new() -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("lastmile-build-versions-")
            .tempdir()
            .unwrap();
        let repo = dir.path().join("repo");
        let omega = repo.join("pkgs/omega");
        std::fs::create_dir_all(&omega).unwrap();
        std::fs::write(
            omega.join("pyproject.toml"),
            "[build-system]\nrequires = [\"setuptools>=61\"]\nbuild-backend = \"setuptools.build_meta\"\n\
             [project]\nname = \"omega\"\nversion = \"2.0\"\n[tool.setuptools]\npy-modules = [\"omega\"]\n",
        )
        .unwrap();
        std::fs::write(omega.join("omega.py"), "X = 1\n").unwrap();
        std::fs::write(repo.join("README.md"), "# repo\n").unwrap();
        git(&repo, &["init", "-q"]);
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "-q", "-m", "first"]);
        let graph = dir.path().join("graph.json");
        let scan = run_command(
            Command::new(tool("depgraph")).arg(&omega).arg("-o").arg(&graph),
            None,
        );
        assert_eq!(scan.code, 0, "{}", scan.stderr);
        let index = dir.path().join("index");
        let (server, url) = Pypiserver::start(&index);
        Repo {
            _server: server,
            dir,
            graph,
            index,
            url,
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn commit(&self, file: &str, text: &str) {
        std::fs::write(self.path(file), text).unwrap();
        git(&self.path("repo"), &["commit", "-q", "-am", file]);
    }

    /// The last commit of omega's tree, as the version names it.
    fn last(&self) -> String {
        let out = run_command(
            Command::new("git")
                .args(["log", "-1", "--format=%h", "--abbrev=12", "--", "."])
                .current_dir(self.path("repo/pkgs/omega")),
            None,
        );
        out.stdout.trim().to_owned()
    }

    fn build(&self, out: &str) -> lastmile_tests::Output {
        run_command(
            Command::new(workspace().join("scripts/build-package"))
                .arg("omega")
                .args(["--index-url", &self.url, "--index-dir"])
                .arg(&self.index)
                .arg("--graph")
                .arg(&self.graph)
                .arg("--out-dir")
                .arg(self.path(out))
                .env_remove("SOURCE_DATE_EPOCH"),
            None,
        )
    }
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_build_of_a_commit_has_a_version_of_its_own_and_a_published_file_never_changes() {
    let repo = Repo::new();
    let first = repo.build("a");
    assert_eq!(first.code, 0, "{}", first.stderr);
    let published = PathBuf::from(first.stdout.trim());
    assert_eq!(
        published,
        repo.index
            .join(format!("omega-2.0.post1+g{}-py3-none-any.whl", repo.last()))
    );
    // The same commit again: the same version and bytes, and the index keeps its file.
    let again = repo.build("b");
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(PathBuf::from(again.stdout.trim()), published);
    let rebuilt = repo.path("b/omega").join(published.file_name().unwrap());
    assert_eq!(bytes(&rebuilt), bytes(&published));
    // A commit elsewhere in the repository changes nothing of omega.
    repo.commit("repo/README.md", "# repo, documented\n");
    let elsewhere = repo.build("c");
    assert_eq!(elsewhere.code, 0, "{}", elsewhere.stderr);
    assert_eq!(PathBuf::from(elsewhere.stdout.trim()), published);

    // Uncommitted: refused, nothing published.
    std::fs::write(repo.path("repo/pkgs/omega/omega.py"), "X = 2\n").unwrap();
    let dirty = repo.build("d");
    assert_eq!(dirty.code, 2, "{}", dirty.stderr);
    assert!(
        dirty.stderr.contains("omega: uncommitted changes in ") && dirty.stderr.contains("commit them first"),
        "{}",
        dirty.stderr
    );
    // Committed: a version of its own, beside the first.
    git(&repo.path("repo"), &["commit", "-q", "-am", "omega changed"]);
    let second = repo.build("e");
    assert_eq!(second.code, 0, "{}", second.stderr);
    let second = PathBuf::from(second.stdout.trim());
    assert_eq!(
        second.file_name().unwrap().to_string_lossy(),
        format!("omega-2.0.post2+g{}-py3-none-any.whl", repo.last())
    );
    assert_ne!(second, published);
    assert!(published.exists());

    // Other bytes under a published name: refused, the published file kept.
    let mut tampered = bytes(&second);
    tampered.extend_from_slice(b"tampered");
    std::fs::write(&second, &tampered).unwrap();
    let refused = repo.build("f");
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "{} is already published with other bytes",
            second.display()
        )),
        "{}",
        refused.stderr
    );
    assert_eq!(bytes(&second), tampered);
}
