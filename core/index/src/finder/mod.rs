//! Distribution files available to a resolver, from `--find-links` folders and package indexes
//! (PEP 503/691 over HTTP(S), or `file://` folders). Project pages are fetched lazily, when a
//! resolver first asks about a package, and ahead of time for the packages it is about to ask
//! about ([`Finder::prefetch`]), many at once on a bounded pool. A file's metadata comes from the
//! index's PEP 658 metadata file, else from the wheel's zip index read by HTTP range requests,
//! else from the downloaded file; its sha256 from the index, else from the file.

mod file;
mod metadata;
mod pages;
mod prefetch;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use lastmile_dist::DistMetadata;
use lastmile_python::requirements_file::FormatControl;
use lastmile_python::{MarkerEnvironment, NameGlobs, PackageName, TagRanks, Target, Version};
use url::Url;

pub use file::{DistFile, FileKind, FileLocation, find_links_dir, find_links_dirs};

use crate::IndexError;
use crate::http::{HttpClient, HttpOptions, redact};
use prefetch::WorkPool;

/// The public index, used when no index is named.
pub const PYPI: &str = "https://pypi.org/simple/";

/// How files from several indexes are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexStrategy {
    /// Every index's files, merged (pip's behaviour).
    #[default]
    UnsafeBestMatch,
    /// A package found on an index is taken only from the first index that has it, so a
    /// later (public) index can never supply a package of an earlier (private) one.
    FirstIndex,
}

/// Where distributions come from, and how to fetch them.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub find_links: Vec<PathBuf>,
    /// Index URLs in order (`https://`, `http://` or `file://`), credentials allowed.
    pub indexes: Vec<String>,
    /// Which of `indexes` are in-house (the private index): asked for every package.
    pub internal_indexes: Vec<String>,
    /// The in-house packages: taken only from the find-links folders and the in-house indexes,
    /// and never asked of another index, so a public package of the same name can never stand
    /// in for one (dependency confusion) and the public index never learns the names.
    pub internal: NameGlobs,
    pub strategy: IndexStrategy,
    /// Files uploaded after this time are ignored.
    pub exclude_newer: Option<jiff::Timestamp>,
    pub http: HttpOptions,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Which kinds of file each package may use (`--only-binary`, `--no-binary`).
    pub formats: FormatControl,
    /// Hosts whose plain-HTTP indexes are trusted (`--trusted-host`); loopback always is.
    pub trusted_hosts: Vec<String>,
    /// Keep every file a page lists, also those the target cannot install (for a lock that
    /// records them, or hashes of every file). Otherwise they are dropped as the page is read:
    /// most wheels on a page are for other platforms and Pythons, and holding them all for a
    /// whole resolution is most of its memory.
    pub keep_all_files: bool,
}

/// A package's files, by version (oldest first).
#[derive(Debug, Default)]
pub struct Project {
    pub versions: BTreeMap<Version, Vec<DistFile>>,
    /// Whether any source lists a file of the package, usable or not.
    pub listed: bool,
    /// In-house: only the find-links folders and in-house indexes were asked.
    pub in_house: bool,
}

/// A value fetched once and shared by every thread that asks for it, failures included.
type Slot<T> = Arc<OnceLock<Result<T, IndexError>>>;

struct Inner {
    target: Target,
    ranks: TagRanks,
    env: MarkerEnvironment,
    local: BTreeMap<PackageName, Vec<DistFile>>,
    local_dirs: Vec<PathBuf>,
    indexes: Vec<Url>,
    /// Per index: whether it is in-house.
    in_house: Vec<bool>,
    internal: NameGlobs,
    strategy: IndexStrategy,
    exclude_newer: Option<jiff::Timestamp>,
    formats: FormatControl,
    keep_all_files: bool,
    client: HttpClient,
    projects: Mutex<HashMap<PackageName, Slot<Arc<Project>>>>,
    metadata: Mutex<HashMap<String, Slot<DistMetadata>>>,
    pool: WorkPool,
    warnings: Mutex<BTreeSet<String>>,
}

/// Every distribution file the sources offer for the target. Cheap to clone; shared by threads.
#[derive(Clone)]
pub struct Finder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Finder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finder")
            .field(
                "indexes",
                &self
                    .inner
                    .indexes
                    .iter()
                    .map(|u| redact(u.as_str()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Finder {
    /// List the `--find-links` folders (not recursive) and prepare the indexes. Nothing is
    /// fetched yet.
    pub fn new(sources: Sources, target: &Target) -> Result<Self, IndexError> {
        let ranks = target.tag_ranks();
        let mut local: BTreeMap<PackageName, Vec<DistFile>> = BTreeMap::new();
        for dir in &sources.find_links {
            let origin: Arc<str> = Arc::from(dir.display().to_string());
            let entries = std::fs::read_dir(dir).map_err(|e| IndexError::read(dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| IndexError::read(dir, e))?;
                let filename = entry.file_name().to_string_lossy().into_owned();
                if let Some(file) =
                    file::dist_file(filename, FileLocation::Path(entry.path()), &origin, &ranks)
                {
                    local.entry(file.name.clone()).or_default().push(file);
                }
            }
        }
        let client = HttpClient::new(sources.http.clone());
        let mut indexes = Vec::new();
        let mut in_house = Vec::new();
        for text in &sources.indexes {
            let refuse = |reason: String| IndexError::IndexUrl {
                url: redact(text),
                reason,
            };
            let mut url = Url::parse(text).map_err(|e| refuse(format!("not a URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https" | "file") {
                return Err(refuse("only http, https and file indexes are supported".into()));
            }
            if url.scheme() == "http" && !trusted(&url, &sources.trusted_hosts) {
                return Err(refuse(format!(
                    "plain HTTP to {} is not secure (anyone on the way can change what it serves); give --trusted-host {} to use it anyway",
                    url.host_str().unwrap_or(""),
                    url.host_str().unwrap_or("")
                )));
            }
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            indexes.push(client.register(&url));
            in_house.push(sources.internal_indexes.iter().any(|i| same_index(i, text)));
        }
        let pool = WorkPool::new(sources.concurrency.max(1));
        Ok(Self {
            inner: Arc::new(Inner {
                target: target.clone(),
                ranks,
                env: target.marker_environment(),
                local,
                local_dirs: sources.find_links.clone(),
                indexes,
                in_house,
                internal: sources.internal,
                strategy: sources.strategy,
                exclude_newer: sources.exclude_newer,
                formats: sources.formats,
                keep_all_files: sources.keep_all_files,
                client,
                projects: Mutex::default(),
                metadata: Mutex::default(),
                pool,
                warnings: Mutex::default(),
            }),
        })
    }

    /// Only local folders (a convenience for tools and tests that have no index).
    pub fn scan(dirs: &[PathBuf], target: &Target) -> Result<Self, IndexError> {
        Self::new(
            Sources {
                find_links: dirs.to_vec(),
                concurrency: 1,
                ..Sources::default()
            },
            target,
        )
    }

    pub fn client(&self) -> &HttpClient {
        &self.inner.client
    }

    /// Warnings gathered while fetching (each once).
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.warnings.lock().expect("warnings lock"))
            .into_iter()
            .collect()
    }

    fn warn(&self, message: String) {
        self.inner.warnings.lock().expect("warnings lock").insert(message);
    }

    /// A package's files from every source (fetched once, then remembered).
    pub fn project(&self, name: &PackageName) -> Result<Arc<Project>, IndexError> {
        let slot = self
            .inner
            .projects
            .lock()
            .expect("projects lock")
            .entry(name.clone())
            .or_default()
            .clone();
        slot.get_or_init(|| self.load_project(name).map(Arc::new)).clone()
    }

    fn project_or_empty(&self, name: &PackageName) -> Arc<Project> {
        self.project(name).unwrap_or_default()
    }

    /// The versions of a package that have at least one file the target can install and that is
    /// not yanked. A yanked version is a candidate only when `exact` names it (PEP 592: an exact
    /// pin may still select it).
    pub fn versions_allowing(
        &self,
        name: &PackageName,
        exact: Option<&Version>,
    ) -> Result<Vec<Version>, IndexError> {
        let project = self.project(name)?;
        Ok(project
            .versions
            .iter()
            .filter(|(version, files)| {
                files
                    .iter()
                    .any(|f| f.installable() && (f.yanked.is_none() || exact == Some(*version)))
            })
            .map(|(v, _)| v.clone())
            .collect())
    }

    /// The versions of a package with an installable file that is not yanked (none when the
    /// package cannot be fetched).
    pub fn versions(&self, name: &PackageName) -> Vec<Version> {
        self.versions_allowing(name, None).unwrap_or_default()
    }

    /// Versions whose installable files are all yanked.
    pub fn yanked_versions(&self, name: &PackageName) -> Vec<Version> {
        let project = self.project_or_empty(name);
        project
            .versions
            .iter()
            .filter(|(_, files)| yanked_reason(files).is_some())
            .map(|(version, _)| version.clone())
            .collect()
    }

    /// Why a version was yanked, when every installable file of it is.
    pub fn yanked(&self, name: &PackageName, version: &Version) -> Option<String> {
        yanked_reason(&self.files(name, version))
    }

    /// Every file of a version.
    pub fn files(&self, name: &PackageName, version: &Version) -> Vec<DistFile> {
        self.project_or_empty(name)
            .versions
            .get(version)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether the package is in-house: only the find-links folders and in-house indexes
    /// may supply it.
    pub fn in_house(&self, name: &PackageName) -> bool {
        self.inner.internal.matches(name)
    }

    /// The versions the find-links folders hold of a package (oldest first).
    pub fn local_versions(&self, name: &PackageName) -> Vec<Version> {
        let mut versions: Vec<Version> = self
            .inner
            .local
            .get(name)
            .map(|files| files.iter().map(|f| f.version.clone()).collect())
            .unwrap_or_default();
        versions.sort();
        versions.dedup();
        versions
    }

    /// Every source, as a person gave it (credentials removed), for messages.
    pub fn source_names(&self) -> Vec<String> {
        self.sources_named(false)
    }

    /// How many sources there are (find-links folders and indexes).
    pub fn source_count(&self) -> usize {
        self.inner.local_dirs.len() + self.inner.indexes.len()
    }

    /// The sources an in-house package may come from, for messages.
    pub fn in_house_sources(&self) -> Vec<String> {
        self.sources_named(true)
    }

    /// The find-links folders, and the indexes (only the in-house ones with `in_house_only`).
    fn sources_named(&self, in_house_only: bool) -> Vec<String> {
        let mut sources: Vec<String> = self
            .inner
            .local_dirs
            .iter()
            .map(|d| format!("-f {}", d.display()))
            .collect();
        sources.extend(
            self.inner
                .indexes
                .iter()
                .zip(&self.inner.in_house)
                .filter(|(_, own)| **own || !in_house_only)
                .map(|(url, _)| {
                    if in_house_only {
                        format!("--internal-index {}", redact(url.as_str()))
                    } else {
                        redact(url.as_str())
                    }
                }),
        );
        sources
    }

    /// Whether any source has files of the package.
    pub fn knows(&self, name: &PackageName) -> bool {
        self.project(name)
            .is_ok_and(|p| p.listed || !p.versions.is_empty())
    }
}

/// Whether two index URLs name the same index (a trailing `/` aside).
fn same_index(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Whether a plain-HTTP index may be used: on this machine (loopback), or named by
/// `--trusted-host` (as `host` or `host:port`), as pip decides.
fn trusted(url: &Url, trusted_hosts: &[String]) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    let host = url.host_str().unwrap_or("");
    let with_port = url.port().map(|port| format!("{host}:{port}"));
    loopback
        || trusted_hosts
            .iter()
            .any(|t| t == host || Some(t) == with_port.as_ref())
}

fn yanked_reason(files: &[DistFile]) -> Option<String> {
    let installable: Vec<&DistFile> = files.iter().filter(|f| f.installable()).collect();
    if installable.is_empty() || installable.iter().any(|f| f.yanked.is_none()) {
        return None;
    }
    installable[0].yanked.clone()
}
