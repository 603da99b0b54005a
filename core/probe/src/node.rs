//! One node, as the host reaches it.

use std::net::IpAddr;
use std::process::Command;
use std::time::Duration;

use crate::{HttpAnswer, ProbeError, Ran};

/// How a probe from inside an isolated node connects: Python's standard library, given the port,
/// path and limit as arguments (never as program text).
const TCP_INSIDE: &str = "import socket, sys\n\
socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=float(sys.argv[2])).close()";
const HTTP_INSIDE: &str = "import sys, urllib.error, urllib.request\n\
url = 'http://127.0.0.1:%s%s' % (sys.argv[1], sys.argv[2])\n\
try:\n    answer = urllib.request.urlopen(url, timeout=float(sys.argv[3]))\n    code, body = answer.status, answer.read(1 << 20)\n\
except urllib.error.HTTPError as e:\n    code, body = e.code, e.read(1 << 20)\n\
sys.stdout.write('%d\\n' % code)\nsys.stdout.flush()\nsys.stdout.buffer.write(body)";

/// A running node: the command prefix that runs a program inside it, and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    exec: Vec<String>,
    address: IpAddr,
    isolated: bool,
}

impl Node {
    /// A node reached through `exec` (a program and its first arguments) at `address`.
    pub fn new(exec: Vec<String>, address: IpAddr) -> Result<Self, ProbeError> {
        if exec.first().is_none_or(|program| program.is_empty()) {
            return Err(ProbeError("the node has no exec command".to_owned()));
        }
        Ok(Self {
            exec,
            address,
            isolated: false,
        })
    }

    /// The same node, whose network is only its own loopback: TCP and HTTP probes are made from
    /// inside it, at 127.0.0.1.
    #[must_use]
    pub fn isolated(mut self, isolated: bool) -> Self {
        self.isolated = isolated;
        self
    }

    pub fn address(&self) -> IpAddr {
        self.address
    }

    /// The exec prefix, as a deployment document records it.
    pub fn exec_prefix(&self) -> &[String] {
        &self.exec
    }

    /// `argv` inside the node, as a command to run on this host.
    pub fn command(&self, argv: &[&str]) -> Command {
        let mut command = Command::new(&self.exec[0]);
        command.args(&self.exec[1..]).args(argv);
        command
    }

    /// Run `argv` inside the node with `input` on stdin, under `timeout -s KILL` there too: at
    /// `limit` it is killed with everything it started inside the node, not only the exec
    /// program on this host. `code: None` when the limit killed it.
    pub fn exec(&self, argv: &[&str], input: Option<&[u8]>, limit: Duration) -> Result<Ran, ProbeError> {
        // `timeout 0` would mean no limit at all.
        let seconds = format!("{:.3}", limit.as_secs_f64().max(0.001));
        let mut words: Vec<&str> = vec!["timeout", "-s", "KILL", &seconds];
        words.extend_from_slice(argv);
        let ran = crate::run(&mut self.command(&words), input, limit + Duration::from_secs(5))?;
        Ok(match ran.code {
            // timeout(1) says 137 when it killed the command.
            Some(137) if ran.elapsed + Duration::from_millis(50) >= limit => Ran { code: None, ..ran },
            _ => ran,
        })
    }

    /// What systemd says of `unit` inside the node (`active`, `inactive`, `failed`, ...).
    pub fn unit_state(&self, unit: &str, limit: Duration) -> Result<String, ProbeError> {
        let ran = self.exec(&["systemctl", "is-active", "--", unit], None, limit)?;
        if ran.timed_out() {
            return Err(ProbeError(format!(
                "systemctl is-active {unit}: no answer within {limit:?}"
            )));
        }
        let state = ran.stdout.trim();
        Ok(if state.is_empty() {
            ran.stderr.trim().to_owned()
        } else {
            state.to_owned()
        })
    }

    /// Something accepts a TCP connection on `port` of the node within `limit`.
    pub fn tcp(&self, port: u16, limit: Duration) -> Result<(), ProbeError> {
        if !self.isolated {
            return crate::tcp(self.address, port, limit);
        }
        let ran = self.inside(&[TCP_INSIDE, &port.to_string(), &seconds(limit)], limit)?;
        match ran.code {
            Some(0) => Ok(()),
            _ => Err(ProbeError(format!(
                "no answer on 127.0.0.1:{port} inside the node: {}",
                last_line(&ran)
            ))),
        }
    }

    /// A GET of `path` (with its query) on `port` of the node.
    pub fn http_get(&self, port: u16, path: &str, limit: Duration) -> Result<HttpAnswer, ProbeError> {
        if !self.isolated {
            return crate::http_get(self.address, port, path, limit);
        }
        crate::check_path(path)?;
        let ran = self.inside(&[HTTP_INSIDE, &port.to_string(), path, &seconds(limit)], limit)?;
        let (status, body) = ran.stdout.split_once('\n').unwrap_or((&ran.stdout, ""));
        match (ran.code, status.parse::<u16>()) {
            (Some(0), Ok(status)) => Ok(HttpAnswer {
                status,
                body: body.to_owned(),
            }),
            _ => Err(ProbeError(format!(
                "GET {path} on 127.0.0.1:{port} inside the node: {}",
                last_line(&ran)
            ))),
        }
    }

    fn inside(&self, script_and_args: &[&str], limit: Duration) -> Result<Ran, ProbeError> {
        let mut argv = vec!["python3", "-c"];
        argv.extend_from_slice(script_and_args);
        self.exec(&argv, None, limit + Duration::from_secs(2))
    }
}

fn seconds(limit: Duration) -> String {
    format!("{:.3}", limit.as_secs_f64())
}

fn last_line(ran: &Ran) -> String {
    [&ran.stderr, &ran.stdout]
        .iter()
        .find_map(|t| t.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_owned))
        .unwrap_or_else(|| format!("exit status {:?}", ran.code))
}

/// `word` as one word of a POSIX shell: single-quoted, a `'` inside written `'\''`.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b));
    if safe {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Node {
        // `env` runs its arguments on this host: the host stands in for a node.
        Node::new(vec!["env".to_owned()], "127.77.1.20".parse().unwrap()).unwrap()
    }

    #[test]
    fn commands_run_as_argv_with_their_limit() {
        let node = host();
        let ran = node.exec(
            &["sh", "-c", "cat; exit 3", "$(touch /x)"],
            Some(b"in"),
            Duration::from_secs(5),
        );
        let ran = ran.unwrap();
        assert_eq!((ran.code, ran.stdout.as_str()), (Some(3), "in"));
        let slow = node
            .exec(&["sleep", "5"], None, Duration::from_millis(300))
            .unwrap();
        assert!(slow.timed_out());
        assert!(Node::new(Vec::new(), node.address()).is_err());
    }

    #[test]
    fn an_isolated_node_is_probed_from_inside() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                use std::io::{Read, Write};
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 512];
                let n = stream.read(&mut buf).unwrap_or(0);
                let asked = String::from_utf8_lossy(&buf[..n]).into_owned();
                let status = if asked.starts_with("GET /health?x=1 ") {
                    "200 OK"
                } else {
                    "404 No"
                };
                let _ = write!(stream, "HTTP/1.0 {status}\r\nContent-Length: 2\r\n\r\nhi");
            }
        });
        let node = host().isolated(true);
        node.tcp(port, Duration::from_secs(5)).unwrap();
        let answer = node
            .http_get(port, "/health?x=1", Duration::from_secs(5))
            .unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (200, "hi"));
        let missing = node
            .http_get(
                port,
                "/'$(touch${IFS}/tmp/lmtest-probe-x)",
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(missing.status, 404);
        assert!(!std::path::Path::new("/tmp/lmtest-probe-x").exists());
        assert!(node.http_get(port, "/a b", Duration::from_secs(5)).is_err());
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        assert!(node.tcp(closed_port, Duration::from_secs(2)).is_err());
    }

    #[test]
    fn words_are_quoted_for_a_shell() {
        assert_eq!(shell_quote("katproxy"), "katproxy");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $(x)"), "'it'\\''s $(x)'");
        assert_eq!(shell_quote(""), "''");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote("it's `x` $HOME \\")))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's `x` $HOME \\");
    }
}
