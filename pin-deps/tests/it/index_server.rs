//! A scripted package index on 127.0.0.1: it can fail, hang, serve PEP 691 JSON, PEP 658
//! metadata files and byte ranges, and logs every request it gets.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::testenv::{TestEnv, Wheel, run_in};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Seen {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
pub(crate) enum Reply {
    Status(u16),
    Body {
        status: u16,
        content_type: &'static str,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// A file, honouring `Range: bytes=...` requests.
    File(Vec<u8>),
    /// Never answer (until the server stops).
    Hang,
}

pub(crate) type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A scripted HTTP server on 127.0.0.1; `handler(request, how many times this path was asked
/// for before)` decides each answer.
pub(crate) struct MockIndex {
    server: Arc<tiny_http::Server>,
    pub(crate) url: String,
    pub(crate) log: Arc<Mutex<Vec<Seen>>>,
    pub(crate) served_bytes: Arc<Mutex<usize>>,
}

impl MockIndex {
    pub(crate) fn start(handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let log: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let served_bytes: Arc<Mutex<usize>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        {
            let (server, log, served_bytes) = (server.clone(), log.clone(), served_bytes.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let seen = Seen {
                        path: request.url().to_owned(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| (h.field.as_str().to_string(), h.value.as_str().to_owned()))
                            .collect(),
                    };
                    let count = {
                        let mut log = log.lock().unwrap();
                        let count = log.iter().filter(|s| s.path == seen.path).count();
                        log.push(seen.clone());
                        count
                    };
                    let (handler, served_bytes) = (handler.clone(), served_bytes.clone());
                    std::thread::spawn(move || respond(request, &seen, handler(&seen, count), &served_bytes));
                }
            });
        }
        Self {
            server,
            url: format!("http://127.0.0.1:{port}"),
            log,
            served_bytes,
        }
    }

    pub(crate) fn requests_for(&self, path: &str) -> Vec<Seen> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }

    pub(crate) fn request_count(&self) -> usize {
        self.log.lock().unwrap().len()
    }
}

impl Drop for MockIndex {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

pub(crate) fn respond(request: tiny_http::Request, seen: &Seen, reply: Reply, served: &Mutex<usize>) {
    let header =
        |name: &str, value: &str| tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap();
    let response = match reply {
        Reply::Status(code) => tiny_http::Response::from_data(Vec::new()).with_status_code(code),
        Reply::Body {
            status,
            content_type,
            headers,
            body,
        } => {
            let mut response = tiny_http::Response::from_data(body)
                .with_status_code(status)
                .with_header(header("Content-Type", content_type));
            for (name, value) in headers {
                response = response.with_header(header(name, &value));
            }
            response
        }
        Reply::File(bytes) => {
            let len = bytes.len();
            match seen.header("range").and_then(|r| r.strip_prefix("bytes=")) {
                Some(range) => {
                    let (start, end) = match range.split_once('-').unwrap() {
                        ("", suffix) => (len.saturating_sub(suffix.parse().unwrap()), len - 1),
                        (start, "") => (start.parse().unwrap(), len - 1),
                        (start, end) => (start.parse().unwrap(), end.parse::<usize>().unwrap().min(len - 1)),
                    };
                    *served.lock().unwrap() += end + 1 - start;
                    tiny_http::Response::from_data(bytes[start..=end].to_vec())
                        .with_status_code(206)
                        .with_header(header("Content-Range", &format!("bytes {start}-{end}/{len}")))
                        .with_header(header("Accept-Ranges", "bytes"))
                }
                None => {
                    *served.lock().unwrap() += len;
                    tiny_http::Response::from_data(bytes).with_header(header("Accept-Ranges", "bytes"))
                }
            }
        }
        Reply::Hang => {
            std::thread::sleep(Duration::from_secs(30));
            return;
        }
    };
    let _ = request.respond(response);
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

pub(crate) fn json(body: serde_json::Value) -> Reply {
    Reply::Body {
        status: 200,
        content_type: "application/vnd.pypi.simple.v1+json",
        headers: Vec::new(),
        body: body.to_string().into_bytes(),
    }
}

/// Wheels written by the test kit, by file name, with their bytes.
pub(crate) fn wheels(env: &TestEnv, wheels: Vec<Wheel>) -> Vec<(String, Vec<u8>)> {
    for wheel in wheels {
        env.wheel(wheel);
    }
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(env.path("dist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// A PEP 691 page for the files of `project` among `files`.
pub(crate) fn json_page(
    project: &str,
    files: &[(String, Vec<u8>)],
    extra: impl Fn(&str) -> serde_json::Value,
) -> Reply {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .filter(|(name, _)| name.starts_with(&format!("{project}-")))
        .map(|(name, bytes)| {
            let mut entry = serde_json::json!({
                "filename": name,
                "url": format!("../../files/{name}"),
                "hashes": {"sha256": sha256(bytes)},
            });
            if let serde_json::Value::Object(more) = extra(name) {
                entry.as_object_mut().unwrap().extend(more);
            }
            entry
        })
        .collect();
    json(serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": entries}))
}

pub(crate) fn file_named<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> Option<&'a Vec<u8>> {
    let name = path.strip_prefix("/files/")?;
    files.iter().find(|(n, _)| n == name).map(|(_, b)| b)
}

/// Run pin-deps against `index` with requirements on stdin, no header.
pub(crate) fn pin(env: &TestEnv, index: &str, requirements: &str, extra: &[&str]) -> crate::testenv::Output {
    let url = format!("{index}/simple/");
    let mut args = vec!["-", "--no-header", "-i", &url];
    args.extend_from_slice(extra);
    run_in(env.dir.path(), &args, Some(requirements))
}
