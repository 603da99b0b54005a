//! HTTP for package indexes: one client shared by every tool, with credentials (from the URL,
//! the environment or `~/.netrc`, never printed), bounded retries with backoff on server errors
//! and timeouts, and an on-disk cache that honours `ETag`, `Last-Modified` and `Cache-Control`.
//! Downloaded files are stored by their sha256 and checked against it before they are used.

mod cache;
mod credentials;
mod download;
mod error;
mod range;
mod resolver;
mod send;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ureq::http::Response;
use url::Url;

pub use credentials::{Credentials, credentials_env_prefix, redact, split_credentials};
pub use error::{HttpError, HttpErrorKind};
pub use range::RangeReader;

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
    /// Per `host:port`: whether a request has reached it yet (see [`HostGate`]).
    hosts: Mutex<HashMap<String, Arc<HostGate>>>,
    pub counters: Counters,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("options", &self.options)
            .finish()
    }
}

/// Requests to a host nobody has reached yet go one at a time: the first looks the host up and
/// connects while the others wait, so a burst of parallel requests to a new host is not a burst
/// of name lookups (resolvers answer one with "temporary failure"). Once the host answered, the
/// gate is open and nobody waits.
#[derive(Debug, Default)]
pub(crate) struct HostGate {
    pub(crate) open: AtomicBool,
    pub(crate) first: Mutex<()>,
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
        Self {
            agent: ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                resolver::CachingResolver::<ureq::unversioned::resolver::DefaultResolver>::default(),
            ),
            options,
            known: Mutex::default(),
            netrc: credentials::load_netrc(),
            hosts: Mutex::default(),
            counters: Counters::default(),
        }
    }

    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// The gate of a `host:port`.
    pub(crate) fn host_gate(&self, host: &str) -> Arc<HostGate> {
        self.hosts
            .lock()
            .expect("hosts lock")
            .entry(host.to_owned())
            .or_default()
            .clone()
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
        let response = self.send(url, &[])?;
        if !response.status().is_success() {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!("server answered {}", response.status()),
            ));
        }
        Ok(response)
    }
}
