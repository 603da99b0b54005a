//! Credentials for HTTP basic authentication: from the index URL, from
//! `LASTMILE_AUTH_<HOST>_USERNAME`/`_PASSWORD`, or from `~/.netrc` (`$NETRC`). They are never
//! printed: [`redact`] hides them in any URL shown, and [`Credentials`]' `Debug` hides the
//! password.

use std::path::{Path, PathBuf};

use base64::Engine;
use url::Url;

use super::HttpClient;

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
    /// The `Authorization` header's value.
    pub(crate) fn header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// `url` with any user name and password replaced by `****`; text that is not a URL with
/// credentials comes back unchanged. A URL that does not parse is redacted conservatively (up to
/// the `@` before its host, whatever characters the password holds), so a malformed URL in an
/// error message cannot leak a password either.
pub fn redact(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let (head, rest) = (&text[..scheme_end], &text[scheme_end + 3..]);
    let at = match Url::parse(text) {
        Ok(url) if url.username().is_empty() && url.password().is_none() => return text.to_owned(),
        // The authority ends at the first `/`, `?` or `#`; the user info at its last `@`.
        Ok(_) => {
            let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
            authority.rfind('@')
        }
        // Not a URL: the user info ends at the last `@` before the first `/` after any `@`.
        Err(_) => rest.find('@').map(|first| {
            let end = rest[first..].find('/').map_or(rest.len(), |slash| first + slash);
            rest[..end].rfind('@').unwrap_or(first)
        }),
    };
    match at {
        Some(at) => format!("{head}://****{}", &rest[at..]),
        None => text.to_owned(),
    }
}

/// `url` without its credentials, and the credentials (percent-decoded: `%40` is `@`, and a `+`
/// stays a `+`).
pub fn split_credentials(url: &Url) -> (Url, Option<Credentials>) {
    if url.username().is_empty() && url.password().is_none() {
        return (url.clone(), None);
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
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
pub(crate) fn authority(url: &Url) -> String {
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

/// The netrc file (`$NETRC`, else `~/.netrc`), when there is a readable one.
pub(crate) fn load_netrc() -> Option<netrc::Netrc> {
    std::env::var_os("NETRC")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".netrc")))
        .filter(|p| p.is_file())
        .and_then(|p| match netrc::Netrc::from_file(&p) {
            Ok(netrc) => Some(netrc),
            Err(e) => {
                tracing::warn!("{}: not a readable netrc file ({e}); ignored", p.display());
                None
            }
        })
}

impl HttpClient {
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
    pub(crate) fn credentials(&self, url: &Url) -> Option<Credentials> {
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
        // An @ in the password (encoded or not) or in the path does not let the rest leak.
        for (url, shown) in [
            (
                "https://ci:p@ss@pypi.example.org/simple/",
                "https://****@pypi.example.org/simple/",
            ),
            ("https://ci:p%40ss@host/a@b/", "https://****@host/a@b/"),
            ("https://ci:pa@ss@host/simple/x@y", "https://****@host/simple/x@y"),
            // Not a valid URL (an unencoded / in the password): still nothing of it shown.
            ("https://ci:p/ss@host/simple/", "https://****@host/simple/"),
            ("https://ci:p/s@s@host/simple/", "https://****@host/simple/"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }

    #[test]
    fn every_character_of_a_password_survives_the_url() {
        for password in ["p+ss", "p@ss", "p:ss/x?y#z", "pässwörd", "%41"] {
            let encoded: String = url::form_urlencoded::byte_serialize(password.as_bytes())
                .collect::<String>()
                .replace('+', "%2B");
            let url = Url::parse(&format!("https://ci:{encoded}@host/simple/")).unwrap();
            let (bare, credentials) = split_credentials(&url);
            assert_eq!(credentials.unwrap().password, password);
            assert!(!bare.as_str().contains(&encoded));
        }
        // A + written as is in the URL is a +, not a space (it is not a form).
        let url = Url::parse("https://ci:p+ss@host/simple/").unwrap();
        assert_eq!(split_credentials(&url).1.unwrap().password, "p+ss");
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
    fn host_names_become_environment_prefixes() {
        assert_eq!(
            credentials_env_prefix("pypi.example-corp.org"),
            "LASTMILE_AUTH_PYPI_EXAMPLE_CORP_ORG"
        );
    }
}
