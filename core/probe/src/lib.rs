//! Probes of a running node, shared by deploy-lxc (is it healthy?) and aqf-run (does it do what the
//! acceptance suite says?): a [`Node`] is the command prefix that runs a program inside it
//! (`lxc-attach ... --`, `ssh HOST pct exec VMID --`) and its address; it runs an argv vector
//! inside with a time limit that kills it and everything it started, asks systemd whether a unit
//! is active, and connects by TCP or HTTP, from the host or, for a node whose network is only its
//! own loopback, from inside. Values reach a node only as argv elements; where a shell inside a
//! node is unavoidable, [`shell_quote`] is the one quoting function.
//!
//! Depends only on `lastmile-process`; knows nothing of documents or packaging.

mod node;

pub use node::{Node, shell_quote};

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

/// A probe that could not be made, or did not get the answer it needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProbeError(pub String);

/// Something accepts a TCP connection at `address:port` within `limit`.
pub fn tcp(address: IpAddr, port: u16, limit: Duration) -> Result<(), ProbeError> {
    let target = SocketAddr::new(address, port);
    TcpStream::connect_timeout(&target, limit)
        .map(drop)
        .map_err(|e| ProbeError(format!("no answer on {target}: {e}")))
}

/// An HTTP answer: its status and (up to 1 MiB of) its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
}

/// A GET of `path` at `address:port` with HTTP/1.0 (the connection closes after the answer).
pub fn http_get(address: IpAddr, port: u16, path: &str, limit: Duration) -> Result<HttpAnswer, ProbeError> {
    check_path(path)?;
    let target = SocketAddr::new(address, port);
    let mut stream = TcpStream::connect_timeout(&target, limit)
        .map_err(|e| ProbeError(format!("no answer on {target}: {e}")))?;
    stream.set_read_timeout(Some(limit)).ok();
    stream.set_write_timeout(Some(limit)).ok();
    let request = format!("GET {path} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: lastmile\r\n\r\n");
    // A server may answer and close before reading everything: its answer still counts.
    let written = stream.write_all(request.as_bytes());
    let mut bytes = Vec::new();
    let read = (&mut stream).take(1 << 20).read_to_end(&mut bytes);
    if bytes.is_empty() {
        let why = match (written, read) {
            (Err(e), _) | (_, Err(e)) => e.to_string(),
            _ => "the connection closed without an answer".to_owned(),
        };
        return Err(ProbeError(format!("GET {path} at {target}: {why}")));
    }
    let text = String::from_utf8_lossy(&bytes);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ProbeError(format!("GET {path} at {target}: not an HTTP answer")))?;
    Ok(HttpAnswer {
        status,
        body: body.to_owned(),
    })
}

/// A path (and query) as a request line carries it: from `/`, no space or control character.
pub(crate) fn check_path(path: &str) -> Result<(), ProbeError> {
    if !path.starts_with('/')
        || path
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(ProbeError(format!("{path:?}: not a request path")));
    }
    Ok(())
}

/// `http://HOST:PORT/PATH` as (port, path and query); HOST is the node's and is not used.
pub fn split_url(url: &str) -> Result<(u16, String), ProbeError> {
    let parsed = url::Url::parse(url).map_err(|e| ProbeError(format!("{url}: {e}")))?;
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| ProbeError(format!("{url}: no port")))?;
    Ok((port, parsed[url::Position::BeforePath..].to_owned()))
}

/// How a command inside a node ended.
#[derive(Debug, Clone)]
pub struct Ran {
    /// `None`: killed at its time limit.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Ran {
    pub fn timed_out(&self) -> bool {
        self.code.is_none()
    }
}

/// Run a command on this host with `input` on stdin, killed with everything it started (its
/// process group) after `limit`.
pub fn run(command: &mut Command, input: Option<&[u8]>, limit: Duration) -> Result<Ran, ProbeError> {
    let done = lastmile_process::run(command, input, Some(limit)).map_err(|e| ProbeError(e.to_string()))?;
    Ok(Ran {
        code: done.status.map(|s| s.code().unwrap_or(128 + 9)),
        stdout: String::from_utf8_lossy(&done.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&done.stderr).into_owned(),
        elapsed: done.elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_and_http_at_a_loopback_address() {
        let listener = std::net::TcpListener::bind("127.77.1.9:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut buf = [0u8; 256];
                let _ = stream.read(&mut buf);
                let _ = stream.write_all(b"HTTP/1.0 503 Busy\r\nX: y\r\n\r\n{\"busy\": true}");
            }
        });
        let here: IpAddr = "127.77.1.9".parse().unwrap();
        tcp(here, port, Duration::from_secs(1)).unwrap();
        let answer = http_get(here, port, "/health", Duration::from_secs(1)).unwrap();
        assert_eq!(
            answer,
            HttpAnswer {
                status: 503,
                body: "{\"busy\": true}".into()
            }
        );
        let err = tcp("127.77.1.10".parse().unwrap(), port, Duration::from_millis(200)).unwrap_err();
        assert!(err.0.contains("no answer on 127.77.1.10"), "{err}");
        assert_eq!(
            split_url("http://127.0.0.1:8080/a?b=1").unwrap(),
            (8080, "/a?b=1".into())
        );
    }
}
