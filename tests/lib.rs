//! Test kit shared by the tools' integration tests and the cross-tool tests in `tests/tests/`:
//! running a binary with optional stdin and its captured result, the [`TestEnv`] every tool's
//! tests build on, documents checked against their [`schema`], real LXC [`lab`]s, archive
//! fixtures, Chromium.

pub mod gpg;
pub mod lab;
pub mod schema;
pub mod sdist;
mod testenv;

pub use testenv::{TestEnv, arg, dedent};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// The output, after asserting the run succeeded (showing stderr if not).
    #[track_caller]
    pub fn success(self) -> Self {
        assert_eq!(self.code, 0, "expected success, stderr:\n{}", self.stderr);
        self
    }

    /// Stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Run a command to completion, feeding `stdin` (or nothing: stdin is /dev/null) and capturing
/// stdout and stderr. `RUST_LOG` is removed so log levels are the tools' defaults.
pub fn run_command(command: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .env_remove("RUST_LOG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Run `program args...` in `dir`.
pub fn run(program: &Path, dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run_command(Command::new(program).args(args).current_dir(dir), stdin)
}

/// A tool binary of this workspace, built by `cargo test --workspace` beside the test running.
pub fn tool(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join(name);
    assert!(
        path.exists(),
        "{} is not built (run `cargo build --workspace` or `cargo test --workspace`)",
        path.display()
    );
    path
}

/// Run `scripts/NAME` (a helper that prepares a cached tool and prints where it is) and return
/// what it printed, trimmed.
pub fn script(name: &str) -> String {
    let root = workspace();
    let out = run_command(
        Command::new(root.join("scripts").join(name)).current_dir(&root),
        None,
    );
    assert_eq!(out.code, 0, "scripts/{name} failed:\n{}", out.stderr);
    out.stdout.trim().to_owned()
}

/// The example system's leaves pinned for the default base's Python and glibc, against the
/// example's wheels, into `out`: what a bake of the example starts from. Returns (base, wheels).
pub fn pin_example_for_base(out: &Path) -> (String, String) {
    let base = script("base-rootfs");
    let wheels = script("build-wheels");
    let root = workspace();
    let graph = run_command(
        Command::new(tool("depgraph"))
            .arg("examples/cam")
            .current_dir(&root),
        None,
    );
    assert_eq!(graph.code, 0, "{}", graph.stderr);
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
            .arg(out)
            .current_dir(&root)
            .env_remove("PIP_FIND_LINKS"),
        Some(&graph.stdout),
    );
    assert_eq!(pin.code, 0, "{}", pin.stderr);
    (base, wheels)
}

/// The workspace root, where `examples/`, `schemas/` and `scripts/` live.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// Write a `.tar.gz` holding `files` (path inside the archive, contents), mode 0644.
pub fn write_tar_gz(path: &Path, files: &[(&str, &str)]) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::default(),
    );
    let mut builder = tar::Builder::new(gz);
    for (name, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, name, contents.as_bytes())
            .unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap();
}

/// A real LXC container booted from a root filesystem folder, with systemd as init and no network
/// (`lxc.net.0.type = empty`: only its own loopback). It lives in its own lxcpath under a
/// temporary folder and is named `lmtest-<pid>-<n>`, so a leftover is easy to find
/// (`lxc-ls -P /tmp/lmtest-lxc-*`). Dropping it stops it (and with it every mount it made) and
/// removes its lxcpath, also when the test failed.
pub struct Container {
    pub name: String,
    lxcpath: tempfile::TempDir,
}

impl Container {
    /// Start a container on `rootfs` (which it writes to, as a node does).
    pub fn boot(rootfs: &Path) -> Container {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let name = format!(
            "lmtest-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let lxcpath = tempfile::Builder::new().prefix("lmtest-lxc-").tempdir().unwrap();
        let dir = lxcpath.path().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "lxc.uts.name = {name}\n\
             lxc.arch = linux64\n\
             lxc.include = /usr/share/lxc/config/debian.common.conf\n\
             lxc.rootfs.path = dir:{}\n\
             lxc.net.0.type = empty\n\
             lxc.apparmor.profile = unconfined\n\
             lxc.autodev = 1\n\
             lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed\n\
             lxc.console.logfile = {}\n",
            rootfs.display(),
            dir.join("console.log").display()
        );
        std::fs::write(dir.join("config"), config).unwrap();
        let container = Container { name, lxcpath };
        let started = container.lxc("lxc-start", &["-d", "-o", &container.log_path(), "-l", "INFO"]);
        assert_eq!(
            started.code,
            0,
            "lxc-start failed: {}\n{}",
            started.stderr,
            container.logs()
        );
        container
    }

    fn log_path(&self) -> String {
        self.lxcpath
            .path()
            .join(&self.name)
            .join("lxc.log")
            .display()
            .to_string()
    }

    /// LXC's log and the console, for failure messages.
    pub fn logs(&self) -> String {
        let dir = self.lxcpath.path().join(&self.name);
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        format!(
            "--- lxc.log\n{}\n--- console.log\n{}",
            read("lxc.log"),
            read("console.log")
        )
    }

    fn lxc(&self, tool: &str, args: &[&str]) -> Output {
        let lxcpath = self.lxcpath.path().display().to_string();
        run_command(
            Command::new(tool)
                .args(["-P", &lxcpath, "-n", &self.name])
                .args(args),
            None,
        )
    }

    /// Run a command inside the container, with a clean environment.
    pub fn attach(&self, command: &[&str]) -> Output {
        let mut args = vec![
            "--clear-env",
            "--set-var",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--",
        ];
        args.extend_from_slice(command);
        self.lxc("lxc-attach", &args)
    }

    /// Wait until systemd has finished booting; its state (`running` or `degraded`).
    pub fn wait_for_boot(&self, timeout: std::time::Duration) -> String {
        let started = std::time::Instant::now();
        loop {
            let state = self.attach(&["systemctl", "is-system-running"]);
            let state = state.stdout.trim().to_owned();
            if state == "running" || state == "degraded" {
                return state;
            }
            assert!(
                started.elapsed() < timeout,
                "systemd in {} still {state:?} after {timeout:?}\n{}",
                self.name,
                self.logs()
            );
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }
}

impl Container {
    /// Stop the container, asserting it stopped (a test's normal end; `Drop` does the same
    /// without asserting, for a test that failed).
    pub fn stop(self) {
        let stopped = self.kill();
        assert!(stopped.is_ok(), "{} did not stop: {stopped:?}", self.name);
    }

    fn kill(&self) -> Result<(), String> {
        let running = self.lxc("lxc-info", &["--state", "--no-humanize"]);
        if running.code != 0 || running.stdout.trim() == "STOPPED" {
            return Ok(());
        }
        let stop = self.lxc("lxc-stop", &["--kill"]);
        let wait = self.lxc("lxc-wait", &["--state", "STOPPED", "--timeout", "20"]);
        if wait.code == 0 {
            Ok(())
        } else {
            Err(format!("lxc-stop: {}{}", stop.stderr, wait.stderr))
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Err(e) = self.kill() {
            let _ = writeln!(
                std::io::stderr(),
                "container {} left running in {}: {e}",
                self.name,
                self.lxcpath.path().display()
            );
        }
    }
}

/// Load a page in headless Chromium (Debian's, as scripts/test installs it) and return the DOM
/// once its scripts have run: what a person's browser would show. Nothing leaves the machine:
/// Chromium's own background traffic is switched off.
pub fn chromium_dom(page: &Path) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .output()
        .expect("Chromium is needed for this test (scripts/test installs it)");
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Render a Mermaid diagram with Mermaid itself in Chromium: `Ok` with the node labels and the
/// number of edges drawn, or `Err` with Mermaid's own parse error.
pub fn render_mermaid(diagram: &str) -> Result<(Vec<String>, usize), String> {
    let script = script("mermaid");
    let dir = tempfile::tempdir().unwrap();
    let escaped = diagram
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><script src="file://{script}"></script></head>
<body><pre id="src">{escaped}</pre><pre id="result">pending</pre><script>
(async () => {{
  const out = document.getElementById('result');
  try {{
    const text = document.getElementById('src').textContent;
    mermaid.initialize({{startOnLoad: false}});
    await mermaid.parse(text);
    const {{svg}} = await mermaid.render('graph', text);
    const box = document.createElement('div');
    box.innerHTML = svg;
    const labels = [...box.querySelectorAll('.node .nodeLabel')].map(n => n.textContent.trim());
    const edges = box.querySelectorAll('.edgePaths path').length;
    out.textContent = 'ok ' + JSON.stringify({{labels, edges}});
  }} catch (e) {{ out.textContent = 'error ' + e; }}
}})();
</script></body></html>"#
    );
    let file = dir.path().join("mermaid.html");
    std::fs::write(&file, page).unwrap();
    let dom = chromium_dom(&file);
    let result = dom
        .split("id=\"result\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or("no result")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">");
    match result.strip_prefix("ok ") {
        Some(json) => {
            let value: serde_json::Value = serde_json::from_str(json).unwrap();
            let mut labels: Vec<String> = value["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect();
            labels.sort();
            Ok((labels, value["edges"].as_u64().unwrap() as usize))
        }
        None => Err(result),
    }
}

/// Run git in `dir` as a test's own user (no system or user configuration), asserting it worked.
pub fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?} in {}", dir.display());
}

/// A real pypiserver on loopback serving a folder (scripts/pypiserver), stopped when dropped.
pub struct Pypiserver(PathBuf);

impl Pypiserver {
    /// Start one on `dir`; it and its URL.
    pub fn start(dir: &Path) -> (Pypiserver, String) {
        let started = run_command(
            Command::new(workspace().join("scripts/pypiserver"))
                .arg("start")
                .arg(dir),
            None,
        );
        assert_eq!(started.code, 0, "{}", started.stderr);
        (Pypiserver(dir.to_owned()), started.stdout.trim().to_owned())
    }
}

impl Drop for Pypiserver {
    fn drop(&mut self) {
        let _ = Command::new(workspace().join("scripts/pypiserver"))
            .arg("stop")
            .arg(&self.0)
            .status();
    }
}
