//! The package-source flags of every tool that reads an index (pin-deps, bake-image): one
//! flattened clap group, so the tools cannot drift apart, turned into the index client's
//! [`SourceOptions`].

use std::path::PathBuf;

use lastmile_index::http::HttpOptions;
use lastmile_index::{HashCache, IndexStrategy, SourceOptions};

/// Where distributions come from (`#[command(flatten)]` it into a tool's parser).
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Package sources")]
pub struct IndexArgs {
    /// A folder of wheels and sdists (repeatable; also $PIP_FIND_LINKS, space-separated).
    #[arg(short = 'f', long, value_name = "DIR")]
    pub find_links: Vec<String>,
    /// The package index: a PEP 503/691 simple index over http(s), or a `file:///` folder
    /// (default: $PIP_INDEX_URL, else pin-deps uses https://pypi.org/simple/ and bake-image no
    /// index at all). Credentials may be given in the URL
    /// (https://USER:PASSWORD@host/simple/), in ~/.netrc, or in LASTMILE_AUTH_<HOST>_USERNAME /
    /// _PASSWORD; they are never printed or written.
    #[arg(short = 'i', long, value_name = "URL")]
    pub index_url: Option<String>,
    /// Another simple index (repeatable; also $PIP_EXTRA_INDEX_URL, space-separated).
    #[arg(long, value_name = "URL")]
    pub extra_index_url: Vec<String>,
    /// How several indexes combine: unsafe-best-match takes every index's files (pip);
    /// first-index takes a package only from the first index that has it, so a public index
    /// can never supply a package of your private one (dependency confusion).
    #[arg(long, value_enum, default_value_t = Strategy::UnsafeBestMatch)]
    pub index_strategy: Strategy,
    /// An in-house package (a name or a glob such as 'kat*'; repeatable): it comes only from the
    /// --find-links folders and the --internal-index indexes, and its name is never sent to any
    /// other index, so a public package of the same name can never stand in for it. pin-deps
    /// --from-graph adds the graph's in-house packages by itself.
    #[arg(long, value_name = "GLOB", value_parser = name_glob)]
    pub internal: Vec<String>,
    /// The in-house (private) index (repeatable): asked first, for every package, and the only
    /// index an in-house package may come from.
    #[arg(long, value_name = "URL")]
    pub internal_index: Vec<String>,
    /// Ignore all indexes and use only --find-links.
    #[arg(long)]
    pub no_index: bool,
    /// Allow this host's plain-HTTP index (HOST or HOST:PORT; loopback is always allowed; also
    /// $PIP_TRUSTED_HOST).
    #[arg(long, value_name = "HOST")]
    pub trusted_host: Vec<String>,
    /// Use only the cache and local files; fail on anything that would need the network.
    #[arg(long)]
    pub offline: bool,
    /// Seconds to wait for a connection, a response or more of its body (default:
    /// $PIP_TIMEOUT or $PIP_DEFAULT_TIMEOUT, else 30).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Further attempts after a server error, a dropped connection or a timeout (waits 0.25 s,
    /// then doubling; default: $PIP_RETRIES, else 3).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Requests in flight at once.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
    /// The cache of index pages, metadata, downloaded files and file hashes (default:
    /// $LASTMILE_CACHE_DIR, else $XDG_CACHE_HOME/lastmile, else ~/.cache/lastmile).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use no cache: fetch and hash everything again.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
}

/// One `--internal` glob, checked as it is read.
fn name_glob(text: &str) -> Result<String, lastmile_index::NameGlobError> {
    lastmile_index::NameGlobs::new(&[text])?;
    Ok(text.to_owned())
}

/// `--index-strategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Strategy {
    #[default]
    UnsafeBestMatch,
    FirstIndex,
}

impl IndexArgs {
    /// The flags as the index client's options; `default_index` is used when no index is named
    /// anywhere (pin-deps: PyPI; bake-image: none).
    pub fn options(&self, default_index: Option<&str>) -> Result<SourceOptions, lastmile_index::IndexError> {
        let (timeout, retries) = lastmile_index::network_limits(self.timeout, self.retries)?;
        Ok(SourceOptions {
            find_links: self.find_links.clone(),
            index_url: self.index_url.clone(),
            extra_index_urls: self.extra_index_url.clone(),
            internal_indexes: self.internal_index.clone(),
            internal: lastmile_index::NameGlobs::new(&self.internal).expect("each checked by clap"),
            strategy: match self.index_strategy {
                Strategy::UnsafeBestMatch => IndexStrategy::UnsafeBestMatch,
                Strategy::FirstIndex => IndexStrategy::FirstIndex,
            },
            no_index: self.no_index,
            trusted_hosts: self.trusted_host.clone(),
            http: HttpOptions {
                cache_dir: if self.no_cache {
                    None
                } else {
                    self.cache_dir.clone().or_else(HashCache::default_root)
                },
                offline: self.offline,
                timeout,
                retries,
                ..HttpOptions::default()
            },
            concurrency: self.concurrency,
            default_index: default_index.map(str::to_owned),
            ..SourceOptions::default()
        })
    }
}
