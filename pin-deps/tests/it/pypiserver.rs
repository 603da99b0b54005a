//! pin-deps against a real private index: pypiserver (scripts/pypiserver) on 127.0.0.1 serving the
//! example system's wheels (scripts/build-wheels), with and without credentials.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::testenv::{Pins, TestEnv, Wheel, run_in};

/// Run a workspace script and return the path it prints.
fn script_path(script: &str) -> PathBuf {
    let root = lastmile_tests::workspace();
    let out = lastmile_tests::run_command(
        Command::new(root.join("scripts").join(script)).current_dir(&root),
        None,
    );
    assert_eq!(out.code, 0, "scripts/{script} failed:\n{}", out.stderr);
    PathBuf::from(out.stdout.trim())
}

/// A pypiserver process; stopped when dropped (also when the test fails).
pub(crate) struct PypiServer {
    child: Child,
    pub(crate) url: String,
    log: PathBuf,
}

impl PypiServer {
    /// Serve `packages`; with `htpasswd`, listing and downloading need its credentials.
    pub(crate) fn start(packages: &Path, htpasswd: Option<&Path>) -> Self {
        let venv = script_path("pypiserver");
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let log = packages.with_extension("log");
        let mut command = Command::new(venv.join("bin/pypi-server"));
        // --disable-fallback: an unknown package is a 404, never a redirect to the public index.
        command.args([
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--disable-fallback",
        ]);
        match htpasswd {
            Some(file) => command.args(["-P", file.to_str().unwrap(), "-a", "list,download,update"]),
            None => command.args(["-P", ".", "-a", "."]),
        };
        command
            .arg(packages)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut server = Self {
            child: command.spawn().unwrap(),
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("pypiserver exited with {status}:\n{}", server.log());
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
                let _ = stream.write_all(b"GET /health HTTP/1.0\r\n\r\n");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.") {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "pypiserver did not start:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for PypiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The example system's leaves: the packages nothing else in it depends on.
const LEAVES: &str = "katcomp\nkatobs\nkatportal\nkatproxy\nkatsim\nkatulib\n";

/// Copy the example system's wheels into `env`'s `packages/`, as CI publishes them.
fn publish_example(env: &TestEnv) -> PathBuf {
    let wheels = script_path("build-wheels");
    let packages = env.path("packages");
    std::fs::create_dir_all(&packages).unwrap();
    for entry in std::fs::read_dir(&wheels).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, packages.join(path.file_name().unwrap())).unwrap();
    }
    packages
}

#[test]
fn the_example_system_resolves_against_a_private_pypiserver_as_from_its_folder() {
    let env = TestEnv::new();
    let packages = publish_example(&env);
    let server = PypiServer::start(&packages, None);
    let index = format!("{}/simple/", server.url);
    let from_index = run_in(env.dir.path(), &["-", "--no-header", "-i", &index], Some(LEAVES)).success();
    let from_folder = run_in(
        env.dir.path(),
        &["-", "--no-header", "--no-index", "-f", packages.to_str().unwrap()],
        Some(LEAVES),
    )
    .success();
    // Same pins, same hashes, same annotations: the index is just another way to the same files.
    assert_eq!(from_index.stdout, from_folder.stdout);
    assert!(from_index.pins().len() >= 13, "{}", from_index.stdout);
    assert!(
        from_index
            .pins()
            .contains(&"katcore[monitoring]==1.3.0".to_owned())
    );
    let lock = run_in(
        env.dir.path(),
        &["-", "-i", &index, "--format", "json"],
        Some(LEAVES),
    )
    .success()
    .json();
    let url = lock["packages"][0]["files"][0]["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{}/packages/", server.url)), "{url}");
}

/// An htpasswd file with one user, written with passlib (pypiserver checks passwords with it).
fn write_htpasswd(path: &std::path::Path, user: &str, password: &str) {
    let venv = script_path("pypiserver");
    let out = lastmile_tests::run_command(
        Command::new(venv.join("bin/python")).args([
            "-c",
            "import sys; from passlib.apache import HtpasswdFile as H; h = H(sys.argv[1], new=True); h.set_password(sys.argv[2], sys.argv[3]); h.save()",
            path.to_str().unwrap(),
            user,
            password,
        ]),
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_private_index_with_credentials_from_the_url_netrc_or_environment() {
    let env = TestEnv::new();
    let packages = publish_example(&env);
    let htpasswd = env.path("htpasswd");
    write_htpasswd(&htpasswd, "ci", "s3cr3t-t0ken");
    let server = PypiServer::start(&packages, Some(&htpasswd));
    let host_url = server.url.trim_start_matches("http://").to_owned();
    let open = format!("{}/simple/", server.url);
    let with_password = format!("http://ci:s3cr3t-t0ken@{host_url}/simple/");

    let refused = run_in(env.dir.path(), &["-", "-i", &open], Some(LEAVES));
    assert_eq!(refused.code, 2);
    assert!(
        refused
            .stderr
            .contains("401 Unauthorized: the index needs credentials")
            && refused.stderr.contains("LASTMILE_AUTH_127_0_0_1_USERNAME"),
        "{}",
        refused.stderr
    );

    let wrong = run_in(
        env.dir.path(),
        &["-", "-i", &format!("http://ci:wrong@{host_url}/simple/")],
        Some(LEAVES),
    );
    assert_eq!(wrong.code, 2);
    assert!(
        wrong.stderr.contains("the credentials given were refused"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("wrong"), "{}", wrong.stderr);

    let in_url = run_in(
        env.dir.path(),
        &["-", "-i", &with_password, "-o", "pinned.txt"],
        Some(LEAVES),
    )
    .success();
    let written = std::fs::read_to_string(env.path("pinned.txt")).unwrap();
    assert!(written.contains("katcore[monitoring]==1.3.0"));
    for text in [&written, &in_url.stderr] {
        assert!(!text.contains("s3cr3t"), "the password leaked:\n{text}");
    }
    assert!(written.contains("http://****@127.0.0.1"), "{written}");

    // ~/.netrc (here through $NETRC) for the host.
    std::fs::write(
        env.path("netrc"),
        "machine 127.0.0.1\n  login ci\n  password s3cr3t-t0ken\n",
    )
    .unwrap();
    let netrc = lastmile_tests::run_command(
        Command::new(env!("CARGO_BIN_EXE_pin-deps"))
            .args(["-", "--no-header", "-i", &open])
            .current_dir(env.dir.path())
            .env("LASTMILE_CACHE_DIR", env.path(".cache-netrc"))
            .env("NETRC", env.path("netrc"))
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_EXTRA_INDEX_URL"),
        Some(LEAVES),
    )
    .success();
    // The environment, by host.
    let environment = lastmile_tests::run_command(
        Command::new(env!("CARGO_BIN_EXE_pin-deps"))
            .args(["-", "--no-header", "-i", &open])
            .current_dir(env.dir.path())
            .env("LASTMILE_CACHE_DIR", env.path(".cache-env"))
            .env("NETRC", env.path("no-such-netrc"))
            .env("LASTMILE_AUTH_127_0_0_1_USERNAME", "ci")
            .env("LASTMILE_AUTH_127_0_0_1_PASSWORD", "s3cr3t-t0ken")
            .env_remove("PIP_FIND_LINKS")
            .env_remove("PIP_EXTRA_INDEX_URL"),
        Some(LEAVES),
    )
    .success();
    assert_eq!(netrc.stdout, environment.stdout);
    assert!(netrc.pins().contains(&"katcore[monitoring]==1.3.0".to_owned()));
}

#[test]
fn first_index_keeps_a_public_index_from_supplying_a_private_package() {
    let env = TestEnv::new();
    let packages = publish_example(&env);
    let server = PypiServer::start(&packages, None);
    // A "public" index where someone uploaded a higher katcp that still fits katcore's `katcp~=0.9`
    // (dependency confusion).
    env.wheel(Wheel::new("katcp", "0.99.0"));
    let public = env.path("public");
    std::fs::create_dir_all(public.join("katcp")).unwrap();
    std::fs::rename(
        env.path("dist/katcp-0.99.0-py3-none-any.whl"),
        public.join("katcp-0.99.0-py3-none-any.whl"),
    )
    .unwrap();
    std::fs::write(
        public.join("katcp/index.html"),
        "<a href=\"../katcp-0.99.0-py3-none-any.whl\">katcp-0.99.0-py3-none-any.whl</a>\n",
    )
    .unwrap();
    let private = format!("{}/simple/", server.url);
    let public_url = format!("file://{}", public.display());
    let args = [
        "-",
        "--no-header",
        "--no-annotate",
        "--no-hashes",
        "-i",
        &private,
        "--extra-index-url",
        &public_url,
    ];
    let merged = run_in(env.dir.path(), &args, Some("katcore\n")).success();
    assert!(
        merged.pins().contains(&"katcp==0.99.0".to_owned()),
        "{}",
        merged.stdout
    );
    let mut first = args.to_vec();
    first.extend(["--index-strategy", "first-index"]);
    let safe = run_in(env.dir.path(), &first, Some("katcore\n")).success();
    assert!(
        safe.pins().contains(&"katcp==0.9.4".to_owned()),
        "{}",
        safe.stdout
    );
}
