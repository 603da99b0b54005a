//! A Proxmox VE cluster on loopback for the proxmox backend's tests: it keeps the state of
//! containers, templates and tasks, and validates every request against the API's own
//! definitions (`proxmox-api/pve-api-lxc.json`): the path and method exist, the token is sent
//! as `PVEAPIToken=...`, every required parameter is present, none is unknown, and each value
//! has its type, range, enum, pattern and format. A request that fails is answered 400 and
//! recorded: the tests assert that none was.
//!
//! A started container "serves": the server listens on the container's `net0` address at the
//! ports it was told, as the services inside a real container would.

use std::collections::BTreeMap;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

mod simulate;
mod validate;

use simulate::simulate;
pub(crate) use validate::validate;

pub(crate) struct Cluster {
    pub(crate) url: String,
    pub(crate) state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
pub(crate) struct State {
    /// Every request that broke the API's rules, with why.
    pub(crate) violations: Vec<String>,
    /// Every call, `METHOD /path`.
    pub(crate) calls: Vec<String>,
    /// Templates by (node, volid), with their bytes' sha256.
    pub(crate) templates: BTreeMap<(String, String), String>,
    pub(crate) containers: BTreeMap<u64, Container>,
    pub(crate) tasks: BTreeMap<String, u32>,
    /// The ports a running container listens on.
    pub(crate) ports: Vec<u16>,
    pub(crate) next_task: u64,
}

pub(crate) struct Container {
    pub(crate) node: String,
    pub(crate) params: BTreeMap<String, String>,
    pub(crate) running: bool,
    pub(crate) listeners: Vec<TcpListener>,
}

pub(crate) const TOKEN: &str = "deploy@pve!lastmile";
pub(crate) const SECRET: &str = "s3cr@t+p=ss";

fn definitions() -> &'static Value {
    static DEFS: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DEFS.get_or_init(|| {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/it/proxmox-api/pve-api-lxc.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

impl Cluster {
    pub(crate) fn start(ports: &[u16]) -> Cluster {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let state = Arc::new(Mutex::new(State {
            ports: ports.to_vec(),
            ..State::default()
        }));
        let thread = {
            let server = server.clone();
            let state = state.clone();
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    handle(request, &state);
                }
            })
        };
        Cluster {
            url,
            state,
            server,
            thread: Some(thread),
        }
    }

    pub(crate) fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>) {
    let method = request.method().as_str().to_owned();
    let url = request.url().to_owned();
    let auth = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_owned());
    let content_type = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.as_str().to_owned())
        .unwrap_or_default();
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let (status, data) = answer(state, &method, &url, auth.as_deref(), &content_type, &body);
    let text = if status == 200 {
        json!({ "data": data }).to_string()
    } else {
        json!({ "data": null, "errors": data }).to_string()
    };
    let response = tiny_http::Response::from_string(text).with_status_code(status);
    let _ = request.respond(response);
}

fn answer(
    state: &Mutex<State>,
    method: &str,
    url: &str,
    auth: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, Value) {
    let mut state = state.lock().unwrap();
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    state.calls.push(format!("{method} {path}"));
    let refuse = |state: &mut State, why: String| {
        state.violations.push(format!("{method} {url}: {why}"));
        (400, json!(why))
    };
    if auth != Some(&format!("PVEAPIToken={TOKEN}={SECRET}")) {
        return refuse(&mut state, format!("authorization {auth:?}"));
    }
    let Some(api_path) = path.strip_prefix("/api2/json") else {
        return refuse(&mut state, "not under /api2/json".into());
    };
    let Some((template, path_params)) = match_path(api_path) else {
        return refuse(&mut state, "no such path in the API".into());
    };
    let Some(definition) = definitions()["endpoints"][&template].get(method) else {
        return refuse(&mut state, format!("{template} has no {method}"));
    };
    let mut params = path_params;
    let form = if method == "GET" || method == "DELETE" {
        decode_form(query)
    } else if content_type.starts_with("multipart/form-data") {
        match multipart(content_type, body) {
            Ok(parts) => parts,
            Err(e) => return refuse(&mut state, e),
        }
    } else {
        decode_form(&String::from_utf8_lossy(body))
    };
    let file = form
        .iter()
        .find(|(k, _)| k == "filename\u{0}file")
        .map(|(_, v)| v.clone());
    for (key, value) in form {
        if key == "filename\u{0}file" {
            continue;
        }
        params.insert(key, value);
    }
    if let Err(why) = validate(&definition["parameters"], &params) {
        return refuse(&mut state, why);
    }
    if template == "/cluster/nextid" {
        return simulate::nextid(&state, &params);
    }
    match simulate(&mut state, method, &template, &params, file) {
        Ok(data) => (200, data),
        Err(why) => (500, json!(why)),
    }
}

/// The API path template a concrete path matches, with the values of its `{name}` parts.
fn match_path(path: &str) -> Option<(String, BTreeMap<String, String>)> {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    for template in definitions()["endpoints"].as_object().unwrap().keys() {
        let wanted: Vec<&str> = template.split('/').collect();
        if wanted.len() != parts.len() {
            continue;
        }
        let mut values = BTreeMap::new();
        let fits = wanted.iter().zip(&parts).all(|(w, p)| {
            if let Some(name) = w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                values.insert(name.to_owned(), percent_decode(p));
                !p.is_empty()
            } else {
                w == p
            }
        });
        if fits {
            return Some((template.clone(), values));
        }
    }
    None
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn decode_form(text: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The fields of a multipart body; the file part comes back under `filename\0file` (its bytes'
/// sha256) and its file name as `filename`.
fn multipart(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .ok_or("multipart without a boundary")?
        .trim_matches('"');
    let delimiter = format!("--{boundary}").into_bytes();
    let mut fields = Vec::new();
    let mut rest = body;
    let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
    let start = find(rest, &delimiter).ok_or("no first boundary")?;
    rest = &rest[start + delimiter.len()..];
    while !rest.starts_with(b"--") {
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a part does not start with CRLF")?;
        let end_of_head = find(rest, b"\r\n\r\n").ok_or("a part without headers")?;
        let head = String::from_utf8_lossy(&rest[..end_of_head]).into_owned();
        rest = &rest[end_of_head + 4..];
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        let end = find(rest, &closing).ok_or("a part without its closing boundary")?;
        let content = &rest[..end];
        rest = &rest[end + closing.len()..];
        let name = head
            .split("name=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .ok_or("a part without a name")?;
        if let Some(filename) = head.split("filename=\"").nth(1).and_then(|s| s.split('"').next()) {
            fields.push(("filename".to_owned(), filename.to_owned()));
            fields.push((
                "filename\u{0}file".to_owned(),
                lastmile_fs::Sha256::of(content).to_string(),
            ));
        } else {
            fields.push((name.to_owned(), String::from_utf8_lossy(content).into_owned()));
        }
    }
    Ok(fields)
}
