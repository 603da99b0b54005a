//! Name lookups, once per host and run.
//!
//! ureq looks the host up for every request, before it looks for a pooled connection: hundreds
//! of requests to one index were hundreds of DNS queries, and a resolver answers such a burst
//! with "temporary failure" and five-second timeouts (a cold resolution of 180 packages took
//! 51 s instead of 1.5 s). The answer is kept for the run and shared by every connection; a
//! failed lookup is not kept. The resolver trait is ureq's `unversioned` API, which is why the
//! workspace pins ureq to an exact version.

use std::collections::HashMap;
use std::sync::Mutex;

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

#[derive(Debug, Default)]
pub(crate) struct CachingResolver<R = DefaultResolver> {
    inner: R,
    answers: Mutex<HashMap<String, ResolvedSocketAddrs>>,
}

impl<R: Resolver> Resolver for CachingResolver<R> {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map_or("", |a| a.as_str())
        );
        // Held while looking up, so connections to a new host wait for the one lookup.
        let mut answers = self
            .answers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = answers.get(&key) {
            return Ok(found.clone());
        }
        let found = self.inner.resolve(uri, config, timeout)?;
        answers.insert(key, found.clone());
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Answers 127.0.0.1 after failing the first `failures` lookups; counts the lookups.
    #[derive(Debug, Default)]
    struct Counting {
        lookups: AtomicUsize,
        failures: usize,
    }

    impl Resolver for Counting {
        fn resolve(
            &self,
            uri: &ureq::http::Uri,
            _: &ureq::config::Config,
            _: NextTimeout,
        ) -> Result<ResolvedSocketAddrs, ureq::Error> {
            if self.lookups.fetch_add(1, Ordering::SeqCst) < self.failures {
                return Err(ureq::Error::HostNotFound);
            }
            let mut found = self.empty();
            found.truncate(0);
            found.push(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                uri.port_u16().unwrap_or(443),
            ));
            Ok(found)
        }
    }

    fn lookup(resolver: &CachingResolver<Counting>, url: &str) -> Result<SocketAddr, ureq::Error> {
        let uri: ureq::http::Uri = url.parse().unwrap();
        let config = ureq::config::Config::default();
        resolver
            .resolve(&uri, &config, NextTimeout::default())
            .map(|found| found[0])
    }

    #[test]
    fn each_host_is_looked_up_once_and_failures_are_not_kept() {
        let resolver = CachingResolver {
            inner: Counting {
                failures: 1,
                ..Counting::default()
            },
            answers: Mutex::default(),
        };
        assert!(lookup(&resolver, "https://pypi.org/simple/a/").is_err());
        for path in ["a", "b", "c"] {
            let found = lookup(&resolver, &format!("https://pypi.org/simple/{path}/")).unwrap();
            assert_eq!(found.port(), 443);
        }
        assert_eq!(resolver.inner.lookups.load(Ordering::SeqCst), 2);
        // Another host (or port) is its own lookup.
        assert_eq!(
            lookup(&resolver, "http://127.0.0.1:8080/simple/").unwrap().port(),
            8080
        );
        assert_eq!(resolver.inner.lookups.load(Ordering::SeqCst), 3);
    }
}
