//! One GET, retried with doubling waits on what may pass: server errors, 429, timeouts, dropped
//! connections and failed name lookups.

use std::sync::atomic::Ordering;
use std::time::Duration;

use ureq::http::{Response, StatusCode};
use url::Url;

use super::credentials::{authority, credentials_env_prefix, redact, split_credentials};
use super::{HttpClient, HttpError, HttpErrorKind};

impl HttpClient {
    /// One GET with these headers, retried on server errors, 429 and transport failures.
    pub(crate) fn send(
        &self,
        url: &Url,
        headers: &[(&str, String)],
    ) -> Result<Response<ureq::Body>, HttpError> {
        let (bare, _) = split_credentials(url);
        let credentials = self.credentials(url);
        // The first request to a host goes alone: the others wait until it has looked the host
        // up and connected, so a burst of parallel requests to a new host is not a burst of
        // name lookups (resolvers answer one with "temporary failure").
        let gate = self.host_gate(&authority(&bare));
        let first = (!gate.open.load(Ordering::SeqCst))
            .then(|| {
                gate.first
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            })
            .filter(|_| !gate.open.load(Ordering::SeqCst));
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
            let mut request = self.agent.get(bare.as_str());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            if let Some(c) = &credentials {
                request = request.header("Authorization", c.header());
            }
            match request.call() {
                Ok(response) => {
                    gate.open.store(true, Ordering::SeqCst);
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
                // Often a resolver's passing "temporary failure": retried like a dropped connection.
                Err(ureq::Error::HostNotFound) => last = "host not found".to_owned(),
                Err(e) => return Err(HttpError::new(&bare, HttpErrorKind::Other, e.to_string())),
            }
        }
        drop(first);
        Err(HttpError::new(
            &bare,
            HttpErrorKind::Unavailable,
            format!("{last} ({attempts} attempts)"),
        ))
    }
}
