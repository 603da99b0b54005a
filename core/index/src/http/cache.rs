//! The on-disk HTTP cache under `CACHE/http-v2/`: project pages with what revalidates them
//! (`ETag`, `Last-Modified`, `Cache-Control`), and immutable blobs (metadata files) kept forever.
//! Entries are written whole or not at all, without fsync: a lost entry is fetched again. A
//! page's body is stored under its own sha256 and its policy names that digest, so the two can
//! never pair up wrongly after a crash between their writes (the body is written first; a policy
//! is only ever read with the body it names).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use lastmile_fs::Sha256;
use serde::{Deserialize, Serialize};
use ureq::ResponseExt;
use ureq::http::StatusCode;
use url::Url;

use super::credentials::split_credentials;
use super::{HttpClient, HttpError, HttpErrorKind, Page, header};

/// What is remembered about a cached response.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachePolicy {
    url: String,
    /// The body's sha256: its file is `pages/bodies/DIGEST`.
    body: Sha256,
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

/// The cache file name of a key: its sha256.
fn key_name(key: &str) -> String {
    Sha256::of(key.as_bytes()).to_string()
}

impl HttpClient {
    pub(crate) fn cache_path(&self, parts: &[&str]) -> Option<PathBuf> {
        let mut path = self.options.cache_dir.as_ref()?.join("http-v2");
        for part in parts {
            path.push(part);
        }
        Some(path)
    }

    /// GET a document (a project page), from the cache while it is fresh, revalidated with
    /// `If-None-Match`/`If-Modified-Since` when it is not. `Ok(None)` on 404 and 410.
    pub fn get_page(&self, url: &Url, accept: &str) -> Result<Option<Page>, HttpError> {
        let (bare, _) = split_credentials(url);
        let key = key_name(&format!("{bare}\0{accept}"));
        let meta_path = self.cache_path(&["pages", &format!("{key}.json")]);
        let cached = self.read_page_entry(&key);
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
        let headers = revalidation_headers(accept, cached.as_ref().map(|(policy, _)| policy));
        let mut response = self.send(url, &headers)?;
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
        if let Some(meta) = &meta_path
            && !no_store
        {
            let policy = CachePolicy {
                url: split_credentials(&final_url).0.to_string(),
                body: Sha256::of(&body),
                content_type: content_type.clone(),
                etag,
                last_modified,
                stored_at: now(),
                max_age,
                no_cache,
            };
            self.store_page(meta, &policy, &body, cached.as_ref().map(|(old, _)| old.body));
        }
        Ok(Some(Page {
            url: split_credentials(&final_url).0,
            content_type,
            body,
        }))
    }

    /// Keep a page: its body under its digest, then its policy; the body the policy named
    /// before (`previous`) goes when the page changed.
    fn store_page(&self, meta: &Path, policy: &CachePolicy, body: &[u8], previous: Option<Sha256>) {
        let digest = policy.body;
        if let Some(body_file) = self.cache_path(&["pages", "bodies", &digest.to_string()])
            && write_cache(&body_file, body).is_ok()
            && write_cache(meta, &serde_json::to_vec(policy).unwrap_or_default()).is_ok()
            && let Some(old) = previous.filter(|old| *old != digest)
            && let Some(old_file) = self.cache_path(&["pages", "bodies", &old.to_string()])
        {
            // The page changed: its old body is no longer named by any policy of this URL.
            let _ = std::fs::remove_file(old_file);
        }
    }

    /// A cached page as it is, fresh or stale, without touching the network or the counters.
    pub fn cached_page(&self, url: &Url, accept: &str) -> Option<Page> {
        let (bare, _) = split_credentials(url);
        let (policy, body) = self.read_page_entry(&key_name(&format!("{bare}\0{accept}")))?;
        Some(Page {
            url: Url::parse(&policy.url).ok()?,
            content_type: policy.content_type,
            body,
        })
    }

    /// A cached page's policy and the body it names (`None` when either is missing or does not
    /// read back).
    fn read_page_entry(&self, key: &str) -> Option<(CachePolicy, Vec<u8>)> {
        let meta = self.cache_path(&["pages", &format!("{key}.json")])?;
        let policy: CachePolicy = serde_json::from_slice(&std::fs::read(meta).ok()?).ok()?;
        let body = std::fs::read(self.cache_path(&["pages", "bodies", &policy.body.to_string()])?).ok()?;
        Some((policy, body))
    }

    /// A small immutable file (a PEP 658 metadata file), cached forever under `key`, checked
    /// against `sha256` when the index gave one.
    pub fn get_immutable(&self, url: &Url, key: &str, sha256: Option<&Sha256>) -> Result<Vec<u8>, HttpError> {
        let path = self.cache_path(&["immutable", &key_name(key)]);
        if let Some(path) = &path
            && let Ok(bytes) = std::fs::read(path)
            && sha256.is_none_or(|want| Sha256::of(&bytes) == *want)
        {
            self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(bytes);
        }
        let mut response = self.get_ok(url)?;
        let bytes = self.read_body(&mut response, url, 64 * 1024 * 1024)?;
        if let Some(want) = sha256 {
            let got = Sha256::of(&bytes);
            if got != *want {
                return Err(HttpError::new(
                    url,
                    HttpErrorKind::HashMismatch,
                    format!("sha256 {got} does not match the index's {want}"),
                ));
            }
        }
        if let Some(path) = &path {
            let _ = write_cache(path, &bytes);
        }
        Ok(bytes)
    }

    /// A cached immutable blob, without counting it as a cache answer.
    pub fn peek_immutable(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.cache_path(&["immutable", &key_name(key)])?).ok()
    }

    /// A small immutable blob stored under `key` earlier (see [`Self::store_immutable`]).
    pub fn cached_immutable(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.cache_path(&["immutable", &key_name(key)])?;
        let bytes = std::fs::read(path).ok()?;
        self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
        Some(bytes)
    }

    /// A hint stored by an earlier run (see [`Self::store_hint`]).
    pub fn hint(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.cache_path(&["hints", &key_name(key)])?).ok()
    }

    /// Remember a hint: a small note that lets a later run start work early (what to fetch
    /// next). A hint is never used for a result, only to decide what to fetch first, so a stale
    /// one costs at most a wasted request.
    pub fn store_hint(&self, key: &str, bytes: &[u8]) {
        if let Some(path) = self.cache_path(&["hints", &key_name(key)]) {
            let _ = write_cache(&path, bytes);
        }
    }

    /// Remember a small immutable blob (for example metadata read from a wheel) under `key`.
    pub fn store_immutable(&self, key: &str, bytes: &[u8]) {
        if let Some(path) = self.cache_path(&["immutable", &key_name(key)]) {
            let _ = write_cache(&path, bytes);
        }
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
pub(crate) fn write_cache(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut temp = tempfile::NamedTempFile::new_in(parent)?;
    std::io::Write::write_all(&mut temp, bytes)?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The request headers of a page: what it accepts, and what makes a stale copy revalidate.
fn revalidation_headers(accept: &str, cached: Option<&CachePolicy>) -> Vec<(&'static str, String)> {
    let mut headers = vec![("Accept", accept.to_owned())];
    if let Some(policy) = cached {
        if let Some(etag) = &policy.etag {
            headers.push(("If-None-Match", etag.clone()));
        }
        if let Some(modified) = &policy.last_modified {
            headers.push(("If-Modified-Since", modified.clone()));
        }
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_directives() {
        assert_eq!(cache_control(Some("max-age=600, public")), (Some(600), false));
        assert_eq!(cache_control(Some("no-cache")), (None, true));
        assert_eq!(cache_control(None), (None, false));
        let policy = CachePolicy {
            url: String::new(),
            body: Sha256::of(b""),
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
}
