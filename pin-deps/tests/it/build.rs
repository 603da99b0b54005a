//! sdists whose metadata is dynamic are built like a PEP 517 frontend builds them: real
//! backends (setuptools for a setup.py-only sdist, flit_core, hatchling with its own
//! dependencies), their wheels taken from a local folder (`scripts/build-backends`, downloaded
//! once), so these tests run offline.

use std::sync::OnceLock;

use crate::testenv::{Pins, TestEnv, Wheel};

/// The folder of backend wheels.
fn backends() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| lastmile_tests::script("build-backends"))
}

const DYNAMIC: &str = "Metadata-Version: 2.1\n";

/// A source tree of packages: `legacy` (setup.py only, its requirements computed when it runs),
/// `flitdyn` (flit_core, version read from the module) needing `legacy`, and `hatchdyn`
/// (hatchling) needing `flitdyn`.
fn system() -> TestEnv {
    let env = TestEnv::new();
    env.wheel(Wheel::new("base", "2.0"));
    env.sdist_files(
        "legacy",
        "1.0",
        &[
            ("PKG-INFO", &format!("{DYNAMIC}Name: legacy\nVersion: 1.0\n")),
            (
                "setup.py",
                "import sys\nfrom setuptools import setup\n\
                 deps = ['base>=2'] if sys.version_info >= (3, 8) else ['ancient']\n\
                 setup(name='legacy', version='1.0', install_requires=deps, py_modules=[])\n",
            ),
        ],
    );
    env.sdist_files(
        "flitdyn",
        "2.0",
        &[
            ("PKG-INFO", &format!("{DYNAMIC}Name: flitdyn\nVersion: 2.0\n")),
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"flit_core>=3.4,<5\"]\nbuild-backend = \"flit_core.buildapi\"\n\n\
                 [project]\nname = \"flitdyn\"\ndynamic = [\"version\", \"description\"]\ndependencies = [\"legacy\"]\n",
            ),
            ("flitdyn/__init__.py", "\"\"\"A flit package.\"\"\"\n__version__ = \"2.0\"\n"),
        ],
    );
    env.sdist_files(
        "hatchdyn",
        "3.0",
        &[
            ("PKG-INFO", &format!("{DYNAMIC}Name: hatchdyn\nVersion: 3.0\n")),
            (
                "pyproject.toml",
                "[build-system]\nrequires = [\"hatchling\"]\nbuild-backend = \"hatchling.build\"\n\n\
                 [project]\nname = \"hatchdyn\"\nversion = \"3.0\"\ndependencies = [\"flitdyn>=2\"]\n",
            ),
            ("hatchdyn/__init__.py", ""),
        ],
    );
    env
}

#[test]
fn setuptools_flit_and_hatchling_sdists_are_built_in_isolation_then_served_from_the_cache() {
    let env = system();
    let cold = env
        .pin("hatchdyn\n", &["-f", backends(), "--no-hashes", "-v"])
        .success();
    // Requirements computed by setup.py when it runs, and dependencies of each backend's own
    // format, all read; the backends themselves are not part of the pins.
    assert_eq!(
        cold.pins(),
        ["base==2.0", "flitdyn==2.0", "hatchdyn==3.0", "legacy==1.0"]
    );
    for sdist in ["hatchdyn-3.0.tar.gz", "flitdyn-2.0.tar.gz", "legacy-1.0.tar.gz"] {
        assert!(
            cold.stderr.contains(&format!("building the metadata of {sdist}")),
            "{}",
            cold.stderr
        );
    }
    // Each backend got an environment of its own requirements, hatchling's with its
    // dependencies resolved from the same sources.
    let environments = env.path(".cache/build-v1/environments");
    let mut installed: Vec<String> = std::fs::read_dir(&environments)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path().join("requirements.txt")).unwrap())
        .collect();
    installed.sort();
    assert_eq!(installed.len(), 3, "{installed:?}");
    assert!(
        installed
            .iter()
            .any(|r| r.contains("hatchling==1.33.0") && r.contains("pluggy=="))
    );
    assert!(installed.iter().any(|r| r.contains("setuptools==84.2.1")));

    // Warm: nothing is built again, and the pins are the same.
    let warm = env
        .pin("hatchdyn\n", &["-f", backends(), "--no-hashes", "-v"])
        .success();
    assert_eq!(warm.stdout, cold.stdout);
    assert!(!warm.stderr.contains("building the metadata"), "{}", warm.stderr);
}

#[test]
fn no_build_skips_dynamic_sdists_and_the_explanation_says_so() {
    let env = system();
    let out = env.pin("legacy\n", &["-f", backends(), "--no-hashes", "--no-build"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "legacy-1.0.tar.gz: the sdist's metadata is dynamic and --no-build is given, so legacy 1.0 was skipped"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "has only an sdist with dynamic metadata (legacy-1.0.tar.gz), which --no-build does not build"
        ),
        "{}",
        out.stderr
    );
    assert!(!env.path(".cache/build-v1").exists());
}

#[test]
fn a_failing_or_hanging_build_skips_that_version_and_names_the_sdist() {
    let env = system();
    // 1.1 fails in setup.py, 1.2 hangs: both skipped, 1.0 chosen.
    env.sdist_files(
        "legacy",
        "1.1",
        &[
            ("PKG-INFO", &format!("{DYNAMIC}Name: legacy\nVersion: 1.1\n")),
            (
                "setup.py",
                "raise SystemExit('this sdist cannot be built here')\n",
            ),
        ],
    );
    env.sdist_files(
        "legacy",
        "1.2",
        &[
            ("PKG-INFO", &format!("{DYNAMIC}Name: legacy\nVersion: 1.2\n")),
            (
                "setup.py",
                "import subprocess, time\nsubprocess.Popen(['sleep', '297.25'])\ntime.sleep(300)\n",
            ),
        ],
    );
    let started = std::time::Instant::now();
    let out = env
        .pin(
            "legacy\n",
            &["-f", backends(), "--no-hashes", "--build-timeout", "3"],
        )
        .success();
    assert_eq!(out.pins(), ["base==2.0", "legacy==1.0"]);
    assert!(
        out.stderr.contains("legacy 1.1 is skipped: its metadata cannot be used: dist/legacy-1.1.tar.gz: building metadata failed: setuptools.build_meta:__legacy__ failed: this sdist cannot be built here"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("dist/legacy-1.2.tar.gz: building metadata failed: setuptools.build_meta:__legacy__ ran past its time limit of 3 s and was stopped"),
        "{}",
        out.stderr
    );
    assert!(started.elapsed().as_secs() < 60);
    // The hanging build's own children were stopped with it.
    let leftover = std::process::Command::new("pgrep")
        .args(["-f", "^sleep 297.25$"])
        .output()
        .unwrap();
    assert!(leftover.stdout.is_empty(), "a build's child survived");
}

#[test]
fn a_build_sees_no_credentials_of_the_run() {
    let env = system();
    env.sdist_files(
        "legacy",
        "1.1",
        &[
            ("PKG-INFO", &format!("{DYNAMIC}Name: legacy\nVersion: 1.1\n")),
            (
                "setup.py",
                "import os\nfrom setuptools import setup\n\
                 leaked = sorted(k for k in os.environ if 'AUTH' in k or k.startswith('PIP_'))\n\
                 if leaked: raise SystemExit('leaked: ' + ' '.join(leaked))\n\
                 setup(name='legacy', version='1.1', py_modules=[])\n",
            ),
        ],
    );
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_pin-deps"));
    command
        .args([
            "-",
            "-f",
            "dist",
            "-f",
            backends(),
            "--no-index",
            "--no-header",
            "--no-hashes",
        ])
        .current_dir(env.dir.path())
        .env("LASTMILE_CACHE_DIR", env.path(".cache"))
        .env("LASTMILE_AUTH_PYPI_EXAMPLE_ORG_PASSWORD", "s3cret")
        .env("PIP_INDEX_URL", "https://u:s3cret@pypi.example.org/simple/");
    let out = lastmile_tests::run_command(&mut command, Some("legacy\n")).success();
    assert_eq!(out.pins(), ["legacy==1.1"], "{}", out.stderr);
}

/// A backend that asks for more than its `requires` (`get_requires_for_build_wheel`, as old
/// setuptools asked for `wheel`) gets them: its metadata is made in a second environment that
/// holds them, and both environments stay byte-compiled in the cache for the next build.
#[test]
fn a_backend_asking_for_more_builds_in_an_environment_that_has_it() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("base", "2.0"));
    env.sdist_files(
        "asking",
        "1.0",
        &[
            ("PKG-INFO", &format!("{DYNAMIC}Name: asking\nVersion: 1.0\n")),
            (
                "pyproject.toml",
                "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n",
            ),
            (
                "backend.py",
                "import os\n\
                 def get_requires_for_build_wheel(config_settings=None):\n    return ['flit_core>=3.4,<5']\n\
                 def prepare_metadata_for_build_wheel(out, config_settings=None):\n    \
                 import flit_core  # only there when what was asked for is\n    \
                 os.makedirs(os.path.join(out, 'asking-1.0.dist-info'))\n    \
                 with open(os.path.join(out, 'asking-1.0.dist-info', 'METADATA'), 'w') as f:\n        \
                 f.write('Metadata-Version: 2.1\\nName: asking\\nVersion: 1.0\\nRequires-Dist: base>=2\\n')\n    \
                 return 'asking-1.0.dist-info'\n",
            ),
        ],
    );
    let out = env
        .pin("asking\n", &["-f", backends(), "--no-hashes", "-v"])
        .success();
    assert_eq!(out.pins(), ["asking==1.0", "base==2.0"]);
    let environments = env.path(".cache/build-v1/environments");
    let sites: Vec<std::path::PathBuf> = std::fs::read_dir(&environments)
        .unwrap()
        .map(|e| e.unwrap().path().join("site"))
        .collect();
    assert_eq!(sites.len(), 2, "{sites:?}");
    let flit = sites
        .iter()
        .find(|s| s.join("flit_core").is_dir())
        .expect("an environment with flit_core");
    assert!(
        flit.join("flit_core/__pycache__").is_dir(),
        "the environment is byte-compiled"
    );
}
