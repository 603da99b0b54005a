//! Where distributions come from, as a person gives it (a tool's flags, a requirements file's
//! options, pip's environment variables), made into the finder's [`Sources`] in pip's order of
//! precedence: what the command line says, then what the requirements file says, then `PIP_*`.

use std::time::Duration;

use lastmile_python::NameGlobs;
use lastmile_python::requirements_file::{FormatControl, RequirementsFile};

use crate::http::HttpOptions;
use crate::{IndexError, IndexStrategy, Sources, find_links_dirs};

/// The package sources a tool was given.
#[derive(Debug, Clone)]
pub struct SourceOptions {
    /// `--find-links` folders (or `file://` URLs).
    pub find_links: Vec<String>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    /// `--internal-index`: the in-house (private) indexes, asked before the others and the only
    /// indexes an in-house package comes from.
    pub internal_indexes: Vec<String>,
    /// `--internal` globs and the graph's in-house packages (see [`Sources::internal`]).
    pub internal: NameGlobs,
    pub strategy: IndexStrategy,
    /// Ignore every index: only the find-links folders.
    pub no_index: bool,
    /// Hosts whose plain-HTTP index is trusted.
    pub trusted_hosts: Vec<String>,
    /// Files uploaded after this time are ignored.
    pub exclude_newer: Option<jiff::Timestamp>,
    /// `--only-binary`/`--no-binary` (after those of a requirements file: these win).
    pub formats: FormatControl,
    /// The cache, `--offline`, the timeout and retries.
    pub http: HttpOptions,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// The index used when none is given: pin-deps resolves against PyPI; bake-image has none,
    /// so it reaches no index nobody named.
    pub default_index: Option<String>,
}

impl Default for SourceOptions {
    fn default() -> Self {
        Self {
            find_links: Vec::new(),
            index_url: None,
            extra_index_urls: Vec::new(),
            internal_indexes: Vec::new(),
            internal: NameGlobs::default(),
            strategy: IndexStrategy::default(),
            no_index: false,
            trusted_hosts: Vec::new(),
            exclude_newer: None,
            formats: FormatControl::default(),
            http: HttpOptions::default(),
            concurrency: 16,
            default_index: None,
        }
    }
}

impl SourceOptions {
    /// The sources, with what `file` adds. `keep_all_files`: see [`Sources::keep_all_files`].
    pub fn sources(
        &self,
        file: Option<&RequirementsFile>,
        keep_all_files: bool,
    ) -> Result<Sources, IndexError> {
        let empty = RequirementsFile::default();
        let file = file.unwrap_or(&empty);
        let indexes = self.indexes(file);
        let given = |own: &[String], theirs: &[String], env: &str| -> Vec<String> {
            let mut all: Vec<String> = own.iter().chain(theirs).cloned().collect();
            if own.is_empty() {
                all.extend(env_list(env));
            }
            all
        };
        let find_links = find_links_dirs(&given(&self.find_links, &file.find_links, "PIP_FIND_LINKS"))?;
        if find_links.is_empty() && indexes.is_empty() {
            return Err(IndexError::NoSource {
                no_index: self.no_index || file.no_index,
            });
        }
        if self.http.offline && self.http.cache_dir.is_none() {
            return Err(IndexError::OfflineWithoutCache);
        }
        // The file's format options first, the command line's after (it wins, name by name).
        let mut formats = file.formats.clone();
        formats.extend(&self.formats);
        Ok(Sources {
            find_links,
            internal_indexes: if indexes.is_empty() {
                Vec::new()
            } else {
                self.internal_indexes.clone()
            },
            indexes,
            internal: self.internal.clone(),
            strategy: self.strategy,
            exclude_newer: self.exclude_newer,
            http: self.http.clone(),
            concurrency: self.concurrency.max(1),
            formats,
            trusted_hosts: given(&self.trusted_hosts, &file.trusted_hosts, "PIP_TRUSTED_HOST"),
            keep_all_files,
        })
    }

    /// The index URLs in order: the in-house ones, the first (the option, the file's,
    /// `PIP_INDEX_URL`, else the default unless an in-house index is given), then the extra
    /// ones; none with `--no-index`.
    fn indexes(&self, file: &RequirementsFile) -> Vec<String> {
        if self.no_index || file.no_index {
            return Vec::new();
        }
        let first = self
            .index_url
            .clone()
            .or_else(|| file.index_url.clone())
            .or_else(|| std::env::var("PIP_INDEX_URL").ok().filter(|v| !v.is_empty()))
            // An in-house index given stands in for the default: the public index is then asked
            // only when named.
            .or_else(|| {
                self.internal_indexes
                    .is_empty()
                    .then(|| self.default_index.clone())
                    .flatten()
            });
        let mut indexes: Vec<String> = self.internal_indexes.clone();
        indexes.extend(first);
        indexes.extend(self.extra_index_urls.iter().cloned());
        indexes.extend(file.extra_index_urls.iter().cloned());
        if self.extra_index_urls.is_empty() {
            indexes.extend(env_list("PIP_EXTRA_INDEX_URL"));
        }
        // An index named twice (as --index-url and --internal-index, say) is asked once.
        let mut seen = Vec::new();
        indexes.retain(|i| {
            let key = i.trim_end_matches('/').to_owned();
            let new = !seen.contains(&key);
            seen.push(key);
            new
        });
        indexes
    }
}

/// A pip environment variable holding a list: its values, space-separated.
fn env_list(name: &str) -> Vec<String> {
    std::env::var(name)
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// How long and how often the network is tried: the flag, else pip's variables
/// (`PIP_TIMEOUT` or `PIP_DEFAULT_TIMEOUT`, `PIP_RETRIES`), else 30 s and 3 retries.
pub fn network_limits(timeout: Option<f64>, retries: Option<u32>) -> Result<(Duration, u32), IndexError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let timeout = match timeout {
        Some(seconds) => seconds,
        None => match env("PIP_TIMEOUT").or_else(|| env("PIP_DEFAULT_TIMEOUT")) {
            Some(text) => text.trim().parse().map_err(|_| IndexError::Limit {
                what: "PIP_TIMEOUT",
                value: text.clone(),
            })?,
            None => 30.0,
        },
    };
    if !(timeout > 0.0 && timeout.is_finite() && timeout < 1e7) {
        return Err(IndexError::Limit {
            what: "--timeout",
            value: timeout.to_string(),
        });
    }
    let retries = match retries {
        Some(retries) => retries,
        None => match env("PIP_RETRIES") {
            Some(text) => text.trim().parse().map_err(|_| IndexError::Limit {
                what: "PIP_RETRIES",
                value: text.clone(),
            })?,
            None => 3,
        },
    };
    Ok((Duration::from_secs_f64(timeout), retries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes(options: &SourceOptions) -> Vec<String> {
        // The tests never read pip's variables.
        options.indexes(&RequirementsFile::default())
    }

    #[test]
    fn an_in_house_index_comes_first_and_stands_in_for_the_default() {
        let mut options = SourceOptions {
            default_index: Some(crate::PYPI.to_owned()),
            ..SourceOptions::default()
        };
        if std::env::var_os("PIP_INDEX_URL").is_some() || std::env::var_os("PIP_EXTRA_INDEX_URL").is_some() {
            return;
        }
        assert_eq!(indexes(&options), [crate::PYPI]);
        options.internal_indexes = vec!["http://127.0.0.1:3141/simple/".into()];
        assert_eq!(indexes(&options), ["http://127.0.0.1:3141/simple/"]);
        // Named twice, asked once; the public index only when named.
        options.index_url = Some("http://127.0.0.1:3141/simple".into());
        options.extra_index_urls = vec![crate::PYPI.into()];
        assert_eq!(indexes(&options), ["http://127.0.0.1:3141/simple/", crate::PYPI]);
    }
}
