//! HTTP for package indexes: one client shared by every tool, with credentials (from the URL,
//! the environment or `~/.netrc`, never printed), bounded retries with backoff on server errors
//! and timeouts, and an on-disk cache that honours `ETag`, `Last-Modified` and `Cache-Control`.
//! Downloaded files are stored by their sha256 and checked against it before they are used.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ureq::ResponseExt;
use ureq::http::{Response, StatusCode};
use url::Url;

/// How the client talks to the network.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The cache root (`None`: nothing is cached).
    pub cache_dir: Option<PathBuf>,
    /// Never touch the network: answer from the cache or fail.
    pub offline: bool,
    /// For connecting, for the response to start, and between reads of its body.
    pub timeout: Duration,
    /// Further attempts after a server error (5xx, 429) or a timeout.
    pub retries: u32,
    /// The first wait between attempts; it doubles every attempt.
    pub backoff: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            cache_dir: None,
            offline: false,
            timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(250),
        }
    }
}

/// What went wrong with a request; the URL is always redacted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{url}: {message}")]
pub struct HttpError {
    pub url: String,
    pub message: String,
    pub kind: HttpErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpErrorKind {
    /// `--offline` and the answer is not in the cache.
    NotCached,
    /// 401 or 403.
    Unauthorized,
    /// Retries exhausted on a server error or timeout, or the connection failed.
    Unavailable,
    /// Anything else: a 4xx, a bad document, a hash mismatch, a local I/O error.
    Other,
}

impl HttpError {
    fn new(url: &Url, kind: HttpErrorKind, message: impl Into<String>) -> Self {
        Self {
            url: redact(url.as_str()),
            message: message.into(),
            kind,
        }
    }
}

/// A user name and password for HTTP basic authentication.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"****")
            .finish()
    }
}

impl Credentials {
    fn header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// `url` with any user name and password replaced by `****`; text that is not a URL with
/// credentials comes back unchanged.
pub fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && !text[scheme + 3..at].contains('/') => {
            format!("{}://****{}", &text[..scheme], &text[at..])
        }
        _ => text.to_owned(),
    }
}

/// `url` without its credentials, and the credentials (percent-decoded).
pub fn split_credentials(url: &Url) -> (Url, Option<Credentials>) {
    if url.username().is_empty() && url.password().is_none() {
        return (url.clone(), None);
    }
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let credentials = Credentials {
        username: decode(url.username()),
        password: decode(url.password().unwrap_or("")),
    };
    let mut bare = url.clone();
    let _ = bare.set_username("");
    let _ = bare.set_password(None);
    (bare, Some(credentials))
}

/// `host:port` of a URL, the key credentials are kept under.
fn authority(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

/// The environment variable prefix for a host's credentials:
/// `LASTMILE_AUTH_PYPI_EXAMPLE_ORG` for `pypi.example.org`.
pub fn credentials_env_prefix(host: &str) -> String {
    let mangled: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("LASTMILE_AUTH_{mangled}")
}

/// A response body and where it finally came from (after redirects).
#[derive(Debug, Clone)]
pub struct Page {
    pub url: Url,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Request counters, for `--verbose` and the benchmarks.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicUsize,
    pub cache_hits: AtomicUsize,
    pub revalidated: AtomicUsize,
    pub retries: AtomicUsize,
    pub bytes: AtomicUsize,
}

/// The HTTP client. Cheap to share between threads.
pub struct HttpClient {
    agent: ureq::Agent,
    options: HttpOptions,
    /// Credentials given in index URLs, by `host:port`; also used for files on that host.
    known: Mutex<HashMap<String, Credentials>>,
    netrc: Option<netrc::Netrc>,
    pub counters: Counters,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .finish()
    }
}

/// What is remembered about a cached response.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachePolicy {
    url: String,
    content_type: String,
    etag: Option<String>,
    last_modified: Option<String>,
    stored_at: u64,
    max_age: Option<u64>,
    no_cache: bool,
}

impl CachePolicy {
    fn fresh(&self, now: u64) -> bool {
        !self.no_cache
            && self
                .max_age
                .is_some_and(|age| now < self.stored_at.saturating_add(age))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn header<'a>(response: &'a Response<ureq::Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

impl HttpClient {
    pub fn new(options: HttpOptions) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(options.timeout))
            .timeout_recv_response(Some(options.timeout))
            .timeout_per_read(Some(options.timeout))
            .max_idle_connections(64)
            .max_idle_connections_per_host(32)
            .user_agent(concat!("lastmile/", env!("CARGO_PKG_VERSION")))
            // The system's trust store (and SSL_CERT_FILE), so a company CA or proxy works.
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                    .build(),
            )
            .build();
        let netrc = std::env::var_os("NETRC")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".netrc")))
            .filter(|p| p.is_file())
            .and_then(|p| match netrc::Netrc::from_file(&p) {
                Ok(netrc) => Some(netrc),
                Err(e) => {
                    tracing::warn!("{}: not a readable netrc file ({e}); ignored", p.display());
                    None
                }
            });
        Self {
            agent: ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                CachingResolver::default(),
            ),
            options,
            known: Mutex::default(),
            netrc,
            counters: Counters::default(),
        }
    }

    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Remember the credentials of an index URL and return the URL without them.
    pub fn register(&self, url: &Url) -> Url {
        let (bare, credentials) = split_credentials(url);
        if let Some(credentials) = credentials {
            self.known
                .lock()
                .expect("credentials lock")
                .insert(authority(&bare), credentials);
        }
        bare
    }

    /// Credentials for a URL: its own, those given for its host in an index URL, the
    /// `LASTMILE_AUTH_<HOST>_USERNAME`/`_PASSWORD` variables, or `~/.netrc` (`$NETRC`).
    fn credentials(&self, url: &Url) -> Option<Credentials> {
        if let (_, Some(own)) = split_credentials(url) {
            return Some(own);
        }
        if let Some(known) = self.known.lock().expect("credentials lock").get(&authority(url)) {
            return Some(known.clone());
        }
        let host = url.host_str()?;
        let prefix = credentials_env_prefix(host);
        if let Ok(username) = std::env::var(format!("{prefix}_USERNAME")) {
            let password = std::env::var(format!("{prefix}_PASSWORD")).unwrap_or_default();
            return Some(Credentials { username, password });
        }
        let netrc = self.netrc.as_ref()?;
        let entry = netrc.hosts.get(host).or_else(|| netrc.hosts.get("default"))?;
        Some(Credentials {
            username: entry.login.clone(),
            password: entry.password.clone(),
        })
    }

    /// One request, retried on server errors, 429 and transport failures with doubling waits.
    fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(&str, String)],
    ) -> Result<Response<ureq::Body>, HttpError> {
        let (bare, _) = split_credentials(url);
        let credentials = self.credentials(url);
        let attempts = self.options.retries + 1;
        let mut wait = self.options.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            if attempt > 1 {
                self.counters.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "{}: {last}; retrying in {} ms (attempt {attempt} of {attempts})",
                    redact(bare.as_str()),
                    wait.as_millis()
                );
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_secs(8));
            }
            self.counters.requests.fetch_add(1, Ordering::Relaxed);
            let result = match method {
                "HEAD" => {
                    let mut request = self.agent.head(bare.as_str());
                    for (name, value) in headers {
                        request = request.header(*name, value);
                    }
                    if let Some(c) = &credentials {
                        request = request.header("Authorization", c.header());
                    }
                    request.call()
                }
                _ => {
                    let mut request = self.agent.get(bare.as_str());
                    for (name, value) in headers {
                        request = request.header(*name, value);
                    }
                    if let Some(c) = &credentials {
                        request = request.header("Authorization", c.header());
                    }
                    request.call()
                }
            };
            match result {
                Ok(response) => {
                    let status = response.status();
                    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                        last = format!("server answered {status}");
                        continue;
                    }
                    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                        let host = bare.host_str().unwrap_or("");
                        let hint = if credentials.is_some() {
                            "the credentials given were refused".to_owned()
                        } else {
                            format!(
                                "the index needs credentials: put them in the URL (https://USER:PASSWORD@{host}/...), in ~/.netrc, or in {}_USERNAME and _PASSWORD",
                                credentials_env_prefix(host)
                            )
                        };
                        return Err(HttpError::new(
                            &bare,
                            HttpErrorKind::Unauthorized,
                            format!("{status}: {hint}"),
                        ));
                    }
                    return Ok(response);
                }
                Err(ureq::Error::Timeout(which)) => last = format!("timed out ({which})"),
                // A certificate the trust store rejects will be rejected again: no retry.
                Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    return Err(HttpError::new(
                        &bare,
                        HttpErrorKind::Unavailable,
                        format!("connection failed: {e}"),
                    ));
                }
                Err(ureq::Error::Io(e)) => last = format!("connection failed: {e}"),
                Err(ureq::Error::ConnectionFailed) => last = "connection failed".to_owned(),
                Err(ureq::Error::Protocol(e)) => last = format!("bad HTTP response: {e}"),
                Err(ureq::Error::HostNotFound) => {
                    return Err(HttpError::new(
                        &bare,
                        HttpErrorKind::Unavailable,
                        "host not found",
                    ));
                }
                Err(e) => return Err(HttpError::new(&bare, HttpErrorKind::Other, e.to_string())),
            }
        }
        Err(HttpError::new(
            &bare,
            HttpErrorKind::Unavailable,
            format!("{last} ({attempts} attempts)"),
        ))
    }

    fn cache_path(&self, parts: &[&str]) -> Option<PathBuf> {
        let mut path = self.options.cache_dir.as_ref()?.join("http-v1");
        for part in parts {
            path.push(part);
        }
        Some(path)
    }

    /// GET a document (a project page), from the cache while it is fresh, revalidated with
    /// `If-None-Match`/`If-Modified-Since` when it is not. `Ok(None)` on 404 and 410.
    pub fn get_page(&self, url: &Url, accept: &str) -> Result<Option<Page>, HttpError> {
        let (bare, _) = split_credentials(url);
        let key = sha256_hex(format!("{bare}\0{accept}").as_bytes());
        let meta_path = self.cache_path(&["pages", &format!("{key}.json")]);
        let body_path = self.cache_path(&["pages", &format!("{key}.body")]);
        let cached: Option<(CachePolicy, Vec<u8>)> =
            meta_path
                .as_ref()
                .zip(body_path.as_ref())
                .and_then(|(meta, body)| {
                    let policy: CachePolicy = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
                    Some((policy, std::fs::read(body).ok()?))
                });
        let page_of = |policy: &CachePolicy, body: Vec<u8>| -> Result<Page, HttpError> {
            Ok(Page {
                url: Url::parse(&policy.url)
                    .map_err(|e| HttpError::new(&bare, HttpErrorKind::Other, format!("cache entry: {e}")))?,
                content_type: policy.content_type.clone(),
                body,
            })
        };
        if let Some((policy, body)) = &cached
            && (self.options.offline || policy.fresh(now()))
        {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return page_of(policy, body.clone()).map(Some);
        }
        self.online(&bare)?;
        let mut headers = vec![("Accept", accept.to_owned())];
        if let Some((policy, _)) = &cached {
            if let Some(etag) = &policy.etag {
                headers.push(("If-None-Match", etag.clone()));
            }
            if let Some(modified) = &policy.last_modified {
                headers.push(("If-Modified-Since", modified.clone()));
            }
        }
        let mut response = self.send("GET", url, &headers)?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED
            && let Some((mut policy, body)) = cached
        {
            self.counters.revalidated.fetch_add(1, Ordering::Relaxed);
            policy.stored_at = now();
            let (max_age, no_cache) = cache_control(header(&response, "cache-control"));
            policy.max_age = max_age.or(policy.max_age);
            policy.no_cache = no_cache;
            if let Some(meta) = &meta_path {
                let _ = write_cache(meta, &serde_json::to_vec(&policy).unwrap_or_default());
            }
            return page_of(&policy, body).map(Some);
        }
        if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(HttpError::new(
                &bare,
                HttpErrorKind::Other,
                format!("server answered {status}"),
            ));
        }
        let final_url = Url::parse(&response.get_uri().to_string()).unwrap_or_else(|_| bare.clone());
        let content_type = header(&response, "content-type").unwrap_or("").to_owned();
        let etag = header(&response, "etag").map(str::to_owned);
        let last_modified = header(&response, "last-modified").map(str::to_owned);
        let control = header(&response, "cache-control").map(str::to_owned);
        let body = self.read_body(&mut response, &bare, 512 * 1024 * 1024)?;
        let (max_age, no_cache) = cache_control(control.as_deref());
        let no_store = control.as_deref().is_some_and(|c| c.contains("no-store"));
        if let (Some(meta), Some(body_file)) = (&meta_path, &body_path)
            && !no_store
        {
            let policy = CachePolicy {
                url: split_credentials(&final_url).0.to_string(),
                content_type: content_type.clone(),
                etag,
                last_modified,
                stored_at: now(),
                max_age,
                no_cache,
            };
            if write_cache(body_file, &body).is_ok() {
                let _ = write_cache(meta, &serde_json::to_vec(&policy).unwrap_or_default());
            }
        }
        Ok(Some(Page {
            url: split_credentials(&final_url).0,
            content_type,
            body,
        }))
    }

    /// A small immutable file (a PEP 658 metadata file), cached forever under `key`, checked
    /// against `sha256` when the index gave one.
    pub fn get_immutable(&self, url: &Url, key: &str, sha256: Option<&str>) -> Result<Vec<u8>, HttpError> {
        let path = self.cache_path(&["immutable", &sha256_hex(key.as_bytes())]);
        if let Some(path) = &path
            && let Ok(bytes) = std::fs::read(path)
            && sha256.is_none_or(|want| sha256_hex(&bytes) == want)
        {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(bytes);
        }
        let mut response = self.get_ok(url)?;
        let bytes = self.read_body(&mut response, url, 64 * 1024 * 1024)?;
        if let Some(want) = sha256 {
            let got = sha256_hex(&bytes);
            if got != want {
                return Err(HttpError::new(
                    url,
                    HttpErrorKind::Other,
                    format!("sha256 {got} does not match the index's {want}"),
                ));
            }
        }
        if let Some(path) = &path {
            let _ = write_cache(path, &bytes);
        }
        Ok(bytes)
    }

    /// Read a whole response body (at most `limit` bytes), counting what arrived.
    fn read_body(
        &self,
        response: &mut Response<ureq::Body>,
        url: &Url,
        limit: u64,
    ) -> Result<Vec<u8>, HttpError> {
        let bytes = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| {
                HttpError::new(
                    url,
                    HttpErrorKind::Unavailable,
                    format!("reading the response: {e}"),
                )
            })?;
        self.counters.bytes.fetch_add(bytes.len(), Ordering::Relaxed);
        Ok(bytes)
    }

    /// Fail with "not in the cache" under `--offline`.
    fn online(&self, url: &Url) -> Result<(), HttpError> {
        if self.options.offline {
            return Err(HttpError::new(
                url,
                HttpErrorKind::NotCached,
                "not in the cache, and --offline forbids the network",
            ));
        }
        Ok(())
    }

    /// A GET that must answer 2xx (with the offline check first).
    fn get_ok(&self, url: &Url) -> Result<Response<ureq::Body>, HttpError> {
        self.online(url)?;
        let response = self.send("GET", url, &[])?;
        if !response.status().is_success() {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!("server answered {}", response.status()),
            ));
        }
        Ok(response)
    }

    /// A cached page as it is, fresh or stale, without touching the network or the counters.
    pub fn cached_page(&self, url: &Url, accept: &str) -> Option<Page> {
        let (bare, _) = split_credentials(url);
        let key = sha256_hex(format!("{bare}\0{accept}").as_bytes());
        let meta = self.cache_path(&["pages", &format!("{key}.json")])?;
        let policy: CachePolicy = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
        let body = std::fs::read(self.cache_path(&["pages", &format!("{key}.body")])?).ok()?;
        Some(Page {
            url: Url::parse(&policy.url).ok()?,
            content_type: policy.content_type,
            body,
        })
    }

    /// A cached immutable blob, without counting it as a cache answer.
    pub fn peek_immutable(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.cache_path(&["immutable", &sha256_hex(key.as_bytes())])?).ok()
    }

    /// A small immutable blob stored under `key` earlier (see [`Self::store_immutable`]).
    pub fn cached_immutable(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.cache_path(&["immutable", &sha256_hex(key.as_bytes())])?;
        let bytes = std::fs::read(path).ok()?;
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(bytes)
    }

    /// Remember a small immutable blob (for example metadata read from a wheel) under `key`.
    pub fn store_immutable(&self, key: &str, bytes: &[u8]) {
        if let Some(path) = self.cache_path(&["immutable", &sha256_hex(key.as_bytes())]) {
            let _ = write_cache(&path, bytes);
        }
    }

    /// Where a file with this sha256 is (or would be) stored.
    pub fn stored_file(&self, sha256: &str) -> Option<PathBuf> {
        if sha256.len() < 2 {
            return None;
        }
        self.cache_path(&["files", "sha256", &sha256[..2], sha256])
    }

    /// Download a file into the content-addressed store (or a temporary folder without a cache)
    /// and return its path and sha256. A file already stored under the expected hash is not
    /// downloaded again; a download whose hash differs from `sha256` is refused and removed.
    pub fn download(&self, url: &Url, sha256: Option<&str>) -> Result<(PathBuf, String), HttpError> {
        let io =
            |e: std::io::Error| HttpError::new(url, HttpErrorKind::Other, format!("storing the file: {e}"));
        if let Some(want) = sha256
            && let Some(stored) = self.stored_file(want)
            && stored.is_file()
        {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((stored, want.to_owned()));
        }
        // Without a known hash, a URL downloaded before is found through its pointer file.
        let pointer = self.cache_path(&[
            "files",
            "by-url",
            &sha256_hex(split_credentials(url).0.as_str().as_bytes()),
        ]);
        if sha256.is_none()
            && let Some(pointer) = &pointer
            && let Ok(hash) = std::fs::read_to_string(pointer)
            && let Some(stored) = self.stored_file(hash.trim())
            && stored.is_file()
        {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok((stored, hash.trim().to_owned()));
        }
        let mut response = self.get_ok(url)?;
        let dir = match &self.options.cache_dir {
            Some(root) => root.join("http-v1/files/tmp"),
            None => std::env::temp_dir().join("lastmile-downloads"),
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut temp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
        let mut hasher = Sha256::new();
        let mut reader = response.body_mut().with_config().limit(u64::MAX).reader();
        let mut buffer = vec![0; 256 * 1024];
        loop {
            let read = reader.read(&mut buffer).map_err(|e| {
                HttpError::new(url, HttpErrorKind::Unavailable, format!("download failed: {e}"))
            })?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            std::io::Write::write_all(&mut temp, &buffer[..read]).map_err(io)?;
            self.counters.bytes.fetch_add(read, Ordering::Relaxed);
        }
        let got = format!("{:x}", hasher.finalize());
        if let Some(want) = sha256
            && got != want
        {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!("sha256 {got} does not match the expected {want}; the file was not used"),
            ));
        }
        let destination = match self.stored_file(&got) {
            Some(path) => path,
            None => dir.join(&got),
        };
        if let Some(parent) = destination.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        temp.persist(&destination).map_err(|e| io(e.error))?;
        if let Some(pointer) = &pointer {
            let _ = write_cache(pointer, got.as_bytes());
        }
        Ok((destination, got))
    }

    /// A reader over a remote file that fetches only the byte ranges read. The first request
    /// asks for the file's tail (where a zip keeps its index) and learns the length from the
    /// answer; a server that ignores ranges sends the whole file, which is then read from memory.
    pub fn range_reader(&self, url: &Url) -> Result<RangeReader<'_>, HttpError> {
        self.online(url)?;
        let tail = RangeReader::CHUNK;
        let mut response = self.send("GET", url, &[("Range", format!("bytes=-{tail}"))])?;
        let status = response.status();
        if status != StatusCode::PARTIAL_CONTENT && !status.is_success() {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!("server answered {status}"),
            ));
        }
        let total = header(&response, "content-range")
            .and_then(|range| range.rsplit('/').next())
            .and_then(|total| total.trim().parse::<u64>().ok());
        let bytes = self.read_body(
            &mut response,
            url,
            if status == StatusCode::PARTIAL_CONTENT {
                tail
            } else {
                u64::MAX
            },
        )?;
        let length = match (status, total) {
            (StatusCode::PARTIAL_CONTENT, Some(total)) => total,
            (StatusCode::PARTIAL_CONTENT, None) => {
                return Err(HttpError::new(
                    url,
                    HttpErrorKind::Other,
                    "range answer without a length",
                ));
            }
            _ => bytes.len() as u64,
        };
        let start = length - bytes.len() as u64;
        Ok(RangeReader {
            client: self,
            url: split_credentials(url).0,
            length,
            position: 0,
            chunks: vec![(start, bytes)],
        })
    }

    fn get_range(&self, url: &Url, start: u64, end: u64) -> Result<Vec<u8>, HttpError> {
        let mut response = self.send("GET", url, &[("Range", format!("bytes={start}-{end}"))])?;
        if response.status() != StatusCode::PARTIAL_CONTENT {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!("asked for a byte range, got {}", response.status()),
            ));
        }
        let bytes = self.read_body(&mut response, url, end - start + 1)?;
        Ok(bytes)
    }
}

/// Looks each host up once per run and shares the answer between connections: dozens of
/// parallel connections to one index must not mean dozens of DNS queries (resolvers answer a
/// burst with "temporary failure"). Failed lookups are not remembered.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    answers: Mutex<HashMap<String, ureq::unversioned::resolver::ResolvedSocketAddrs>>,
}

impl ureq::unversioned::resolver::Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map_or("", |a| a.as_str())
        );
        // Held while resolving, so concurrent connections to a new host wait for one lookup.
        let mut answers = self.answers.lock().expect("resolver lock");
        if let Some(found) = answers.get(&key) {
            return Ok(found.clone());
        }
        let found = self.inner.resolve(uri, config, timeout)?;
        answers.insert(key, found.clone());
        Ok(found)
    }
}

/// `max-age` and whether the response must be revalidated before every use.
fn cache_control(value: Option<&str>) -> (Option<u64>, bool) {
    let mut max_age = None;
    let mut no_cache = false;
    for directive in value.unwrap_or("").split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if let Some(age) = directive.strip_prefix("max-age=") {
            max_age = age.trim_matches('"').parse().ok();
        } else if directive == "no-cache" || directive == "no-store" {
            no_cache = true;
        }
    }
    (max_age, no_cache)
}

/// Write a cache entry: whole or not at all (a temporary file renamed into place), but not
/// flushed to disk, since a lost entry is fetched again and every file is checked by its hash.
fn write_cache(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut temp = tempfile::NamedTempFile::new_in(parent)?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// `Read + Seek` over a remote file, fetched in ranges as it is read: enough for a zip reader
/// to find a wheel's central directory and one member without downloading the wheel.
pub struct RangeReader<'a> {
    client: &'a HttpClient,
    url: Url,
    length: u64,
    position: u64,
    /// Fetched `(start, bytes)` pieces.
    chunks: Vec<(u64, Vec<u8>)>,
}

impl RangeReader<'_> {
    /// The size of each fetch; the first one takes the file's tail, where a zip keeps its index.
    const CHUNK: u64 = 64 * 1024;

    fn fetch(&mut self, at: u64) -> std::io::Result<()> {
        let (start, end) = (at, (at + Self::CHUNK).min(self.length) - 1);
        let bytes = self
            .client
            .get_range(&self.url, start, end)
            .map_err(std::io::Error::other)?;
        if bytes.len() as u64 != end - start + 1 {
            return Err(std::io::Error::other(format!(
                "{}: short range response",
                redact(self.url.as_str())
            )));
        }
        self.chunks.push((start, bytes));
        Ok(())
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.length || buf.is_empty() {
            return Ok(0);
        }
        let position = self.position;
        let found = |chunks: &[(u64, Vec<u8>)]| {
            chunks
                .iter()
                .position(|(start, bytes)| position >= *start && position < start + bytes.len() as u64)
        };
        let index = match found(&self.chunks) {
            Some(index) => index,
            None => {
                self.fetch(position)?;
                found(&self.chunks)
                    .ok_or_else(|| std::io::Error::other("range fetch did not cover the read"))?
            }
        };
        let (start, bytes) = &self.chunks[index];
        let offset = (position - start) as usize;
        let count = buf.len().min(bytes.len() - offset);
        buf[..count].copy_from_slice(&bytes[offset..offset + count]);
        self.position += count as u64;
        Ok(count)
    }
}

impl Seek for RangeReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let position = match to {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(offset) => self.length.checked_add_signed(offset),
            SeekFrom::Current(offset) => self.position.checked_add_signed(offset),
        };
        self.position = position
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_survive_redaction() {
        assert_eq!(
            redact("https://ci:s3cret@pypi.example.org/simple/"),
            "https://****@pypi.example.org/simple/"
        );
        assert_eq!(redact("https://pypi.org/simple/"), "https://pypi.org/simple/");
        assert_eq!(redact("dist/"), "dist/");
        // An @ in the path is not a credential.
        assert_eq!(redact("https://host/a@b"), "https://host/a@b");
    }

    #[test]
    fn credentials_come_out_of_the_url_decoded() {
        let url = Url::parse("https://ci%40corp:p%3Ass@pypi.example.org:8443/simple/").unwrap();
        let (bare, credentials) = split_credentials(&url);
        assert_eq!(bare.as_str(), "https://pypi.example.org:8443/simple/");
        let credentials = credentials.unwrap();
        assert_eq!(credentials.username, "ci@corp");
        assert_eq!(credentials.password, "p:ss");
        assert!(!format!("{credentials:?}").contains("p:ss"));
        assert_eq!(authority(&bare), "pypi.example.org:8443");
    }

    #[test]
    fn cache_control_directives() {
        assert_eq!(cache_control(Some("max-age=600, public")), (Some(600), false));
        assert_eq!(cache_control(Some("no-cache")), (None, true));
        assert_eq!(cache_control(None), (None, false));
        let policy = CachePolicy {
            url: String::new(),
            content_type: String::new(),
            etag: None,
            last_modified: None,
            stored_at: 1000,
            max_age: Some(600),
            no_cache: false,
        };
        assert!(policy.fresh(1599));
        assert!(!policy.fresh(1600));
    }

    #[test]
    fn host_names_become_environment_prefixes() {
        assert_eq!(
            credentials_env_prefix("pypi.example-corp.org"),
            "LASTMILE_AUTH_PYPI_EXAMPLE_CORP_ORG"
        );
    }
}
