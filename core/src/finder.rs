//! Distribution files available to a resolver, from `--find-links` folders and package indexes
//! (PEP 503/691 over HTTP(S), or `file://` folders). Project pages are fetched lazily, when a
//! resolver first asks about a package, and ahead of time for the packages it is about to ask
//! about ([`Finder::prefetch`]), many at once on a bounded pool. A file's metadata comes from the
//! index's PEP 658 metadata file, else from the wheel's zip index read by HTTP range requests,
//! else from the downloaded file; its sha256 from the index, else from the file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use pep440_rs::Version;
use pep508_rs::PackageName;
use sha2::{Digest, Sha256};
use url::Url;

use crate::dist::{DistMetadata, read_sdist, read_wheel, wheel_metadata_text};
use crate::http::{HttpClient, HttpOptions, redact};
use crate::location::{InputError, Location};
use crate::target::{TagRanks, Target};
use crate::wheel_name::{WheelName, parse_sdist_name};

/// The public index, used when no index is named.
pub const PYPI: &str = "https://pypi.org/simple/";

/// Where a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileLocation {
    Path(PathBuf),
    Url(Url),
}

/// One distribution file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistFile {
    pub filename: String,
    pub location: FileLocation,
    pub name: PackageName,
    pub version: Version,
    pub kind: FileKind,
    /// Yanked from its index (PEP 592), with the reason given (possibly empty).
    pub yanked: Option<String>,
    /// False when the index says the file's `Requires-Python` excludes the target.
    pub python_ok: bool,
    /// The sha256 the index gives for it.
    pub sha256: Option<String>,
    pub size: Option<u64>,
    /// PEP 700 upload time (RFC 3339), when the index gives it.
    pub upload_time: Option<String>,
    /// `Some(sha256 if given)` when the index serves its metadata as a file (PEP 658).
    pub core_metadata: Option<Option<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// `Some(rank)` for a wheel the target can install (lower is better), `None` for one it
    /// cannot.
    Wheel {
        rank: Option<usize>,
    },
    Sdist,
}

impl DistFile {
    /// Whether the target can install this file (a compatible wheel, or an sdist).
    pub fn installable(&self) -> bool {
        self.python_ok && !matches!(self.kind, FileKind::Wheel { rank: None })
    }

    /// Where the file is, as a URL without credentials (`file://` for local files).
    pub fn url(&self) -> String {
        match &self.location {
            FileLocation::Path(path) => {
                let absolute = path.canonicalize().unwrap_or_else(|_| path.clone());
                format!("file://{}", absolute.display())
            }
            FileLocation::Url(url) => crate::http::split_credentials(url).0.to_string(),
        }
    }

    /// The file's place for messages: its path, or its URL redacted.
    pub fn shown(&self) -> String {
        match &self.location {
            FileLocation::Path(path) => path.display().to_string(),
            FileLocation::Url(url) => redact(url.as_str()),
        }
    }

    /// The local path of a local file.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            FileLocation::Path(path) => Some(path),
            FileLocation::Url(_) => None,
        }
    }
}

/// The sha256 of a local file, hex-encoded.
pub fn sha256_file(path: &Path) -> Result<String, InputError> {
    let error = |e: std::io::Error| {
        InputError::new(
            Location::file(path.display().to_string()),
            format!("cannot read: {e}"),
        )
    };
    let mut file = std::fs::File::open(path).map_err(error)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 256 * 1024];
    loop {
        let read = file.read(&mut buffer).map_err(error)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

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
    pub strategy: IndexStrategy,
    /// Files uploaded after this time are ignored.
    pub exclude_newer: Option<jiff::Timestamp>,
    pub http: HttpOptions,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// A package's files, by version (oldest first).
#[derive(Debug, Default)]
pub struct Project {
    pub versions: BTreeMap<Version, Vec<DistFile>>,
}

type Slot<T> = Arc<OnceLock<Result<T, String>>>;

struct Inner {
    target: Target,
    ranks: TagRanks,
    env: pep508_rs::MarkerEnvironment,
    local: BTreeMap<PackageName, Vec<DistFile>>,
    indexes: Vec<Url>,
    strategy: IndexStrategy,
    exclude_newer: Option<jiff::Timestamp>,
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
    pub fn new(sources: Sources, target: &Target) -> Result<Self, InputError> {
        let ranks = target.tag_ranks();
        let mut local: BTreeMap<PackageName, Vec<DistFile>> = BTreeMap::new();
        for dir in &sources.find_links {
            let entries = std::fs::read_dir(dir).map_err(|e| {
                InputError::new(
                    Location::file(dir.display().to_string()),
                    format!("cannot read find-links folder: {e}"),
                )
            })?;
            for entry in entries {
                let entry = entry
                    .map_err(|e| InputError::new(Location::file(dir.display().to_string()), e.to_string()))?;
                let filename = entry.file_name().to_string_lossy().into_owned();
                if let Some(file) = dist_file(filename, FileLocation::Path(entry.path()), &ranks) {
                    local.entry(file.name.clone()).or_default().push(file);
                }
            }
        }
        let client = HttpClient::new(sources.http.clone());
        let mut indexes = Vec::new();
        for text in &sources.indexes {
            let mut url = Url::parse(text).map_err(|e| {
                InputError::new(
                    Location::file("index URL"),
                    format!("{}: not a URL: {e}", redact(text)),
                )
            })?;
            if !matches!(url.scheme(), "http" | "https" | "file") {
                return Err(InputError::new(
                    Location::file("index URL"),
                    format!(
                        "{}: only http, https and file indexes are supported",
                        redact(text)
                    ),
                ));
            }
            if !url.path().ends_with('/') {
                url.set_path(&format!("{}/", url.path()));
            }
            indexes.push(client.register(&url));
        }
        let pool = WorkPool::new(sources.concurrency.max(1));
        Ok(Self {
            inner: Arc::new(Inner {
                target: target.clone(),
                ranks,
                env: target.marker_environment(),
                local,
                indexes,
                strategy: sources.strategy,
                exclude_newer: sources.exclude_newer,
                client,
                projects: Mutex::default(),
                metadata: Mutex::default(),
                pool,
                warnings: Mutex::default(),
            }),
        })
    }

    /// Only local folders (a convenience for tools and tests that have no index).
    pub fn scan(dirs: &[PathBuf], target: &Target) -> Result<Self, InputError> {
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

    /// Start fetching these packages' pages (and the metadata of their newest usable version)
    /// in the background; a later question about them waits for the fetch instead of starting
    /// another.
    pub fn prefetch<I: IntoIterator<Item = PackageName>>(&self, names: I) {
        if self.inner.indexes.is_empty() {
            return;
        }
        for name in names {
            if !self.claim(&name) {
                continue;
            }
            let finder = self.clone();
            self.inner.pool.run(move || {
                finder.prefetch(finder.predicted_dependencies(&name));
                let Ok(project) = finder.project(&name) else {
                    return;
                };
                let newest = project.versions.iter().rev().find(|(v, files)| {
                    !v.any_prerelease() && files.iter().any(|f| f.installable() && f.yanked.is_none())
                });
                if let Some((version, _)) = newest
                    && let Ok(Some((meta, _))) = finder.metadata(&name, version)
                {
                    // Speculate one step further: the pages this version's dependencies need, so
                    // a chain of dependencies is fetched side by side, not one after the other.
                    finder.prefetch(finder.dependency_names(&meta));
                }
            });
        }
    }

    /// What the cache says this package will need, without waiting for the network: the
    /// dependencies of the newest version on the cached (possibly stale) pages, when that
    /// version's metadata is cached too. Lets a warm run that must revalidate every page send
    /// all its requests at once instead of one level of the dependency graph at a time.
    fn predicted_dependencies(&self, name: &PackageName) -> Vec<PackageName> {
        let mut files = Vec::new();
        for index in self.inner.indexes.iter().filter(|i| i.scheme() != "file") {
            let Ok(page_url) = index.join(&format!("{name}/")) else {
                continue;
            };
            let Some(page) = self
                .inner
                .client
                .cached_page(&page_url, crate::simple_index::ACCEPT)
            else {
                continue;
            };
            let location = Location::file(redact(page.url.as_str()));
            let Ok(links) = crate::simple_index::parse_page(&page.body, &page.content_type, &location) else {
                continue;
            };
            files.extend(
                self.files_of_links(index, name, &page.url, &location, links)
                    .unwrap_or_default(),
            );
        }
        let newest = files
            .iter()
            .filter(|f| f.installable() && f.yanked.is_none() && !f.version.any_prerelease())
            .map(|f| &f.version)
            .max();
        let Some(newest) = newest else { return Vec::new() };
        let wheel = files
            .iter()
            .filter(|f| f.version == *newest && f.python_ok)
            .filter_map(|f| match f.kind {
                FileKind::Wheel { rank: Some(rank) } => Some((rank, f)),
                _ => None,
            })
            .min_by_key(|(rank, _)| *rank);
        let Some((_, FileLocation::Url(url))) = wheel.map(|(r, f)| (r, &f.location)) else {
            return Vec::new();
        };
        let sha = wheel.and_then(|(_, f)| f.sha256.as_deref()).unwrap_or("");
        let key = metadata_key(url, sha);
        let Some(text) = self.inner.client.peek_immutable(&key) else {
            return Vec::new();
        };
        match crate::dist::metadata_from_text(&String::from_utf8_lossy(&text), "cache") {
            Ok(meta) => self.dependency_names(&meta),
            Err(_) => Vec::new(),
        }
    }

    /// The packages a distribution depends on for the target (markers evaluated, no extras).
    fn dependency_names(&self, meta: &DistMetadata) -> Vec<PackageName> {
        let env = &self.inner.env;
        meta.dependencies
            .iter()
            .filter(|raw| raw.extra.is_none() && raw.marker.is_none())
            .filter_map(|raw| crate::requirement::parse_requirement(&raw.text, &raw.location).ok())
            .filter(|requirement| requirement.marker.evaluate(env, &[]))
            .map(|requirement| requirement.name)
            .collect()
    }

    /// Reserve a package's slot; false when it was already asked for or fetched.
    fn claim(&self, name: &PackageName) -> bool {
        let mut projects = self.inner.projects.lock().expect("projects lock");
        if projects.contains_key(name) {
            return false;
        }
        projects.insert(name.clone(), Slot::default());
        true
    }

    /// A package's files from every source (fetched once, then remembered).
    pub fn project(&self, name: &PackageName) -> Result<Arc<Project>, String> {
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

    fn load_project(&self, name: &PackageName) -> Result<Project, String> {
        let mut files: Vec<DistFile> = self.inner.local.get(name).cloned().unwrap_or_default();
        for index in &self.inner.indexes {
            let found = self.index_files(index, name)?;
            let any = !found.is_empty();
            files.extend(found);
            if any && self.inner.strategy == IndexStrategy::FirstIndex {
                break;
            }
        }
        let mut project = Project::default();
        for file in files {
            project
                .versions
                .entry(file.version.clone())
                .or_default()
                .push(file);
        }
        for files in project.versions.values_mut() {
            // Stable: the first source's copy of a file name wins.
            files.sort_by(|a, b| a.filename.cmp(&b.filename));
            files.dedup_by(|a, b| a.filename == b.filename);
        }
        Ok(project)
    }

    /// The files an index lists for a package (none when it does not know the package).
    fn index_files(&self, index: &Url, name: &PackageName) -> Result<Vec<DistFile>, String> {
        let page_url = index
            .join(&format!("{name}/"))
            .map_err(|e| format!("{}: {e}", redact(index.as_str())))?;
        let (base, location, links) = if index.scheme() == "file" {
            let dir = page_url
                .to_file_path()
                .map_err(|()| format!("{page_url}: not a local path"))?;
            let page = dir.join("index.html");
            let location = Location::file(page.display().to_string());
            let html = match std::fs::read_to_string(&page) {
                Ok(html) => html,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(e) => return Err(format!("{}: cannot read: {e}", page.display())),
            };
            let links =
                crate::simple_index::parse_project_page(&html, &location).map_err(|e| e.to_string())?;
            (page_url.join("index.html").unwrap_or(page_url), location, links)
        } else {
            let Some(page) = self
                .inner
                .client
                .get_page(&page_url, crate::simple_index::ACCEPT)
                .map_err(|e| e.to_string())?
            else {
                return Ok(Vec::new());
            };
            let location = Location::file(redact(page.url.as_str()));
            let links = crate::simple_index::parse_page(&page.body, &page.content_type, &location)
                .map_err(|e| e.to_string())?;
            (page.url, location, links)
        };
        self.files_of_links(index, name, &base, &location, links)
    }

    /// Turn a page's links into the package's files for the target.
    fn files_of_links(
        &self,
        index: &Url,
        name: &PackageName,
        base: &Url,
        location: &Location,
        links: Vec<crate::simple_index::Link>,
    ) -> Result<Vec<DistFile>, String> {
        let target = &self.inner.target;
        let mut files = Vec::new();
        let mut no_upload_time = false;
        for link in links {
            let url = base
                .join(&link.href)
                .map_err(|e| format!("{location}: {}: bad link: {e}", link.filename))?;
            let file_location = if url.scheme() == "file" {
                match url.to_file_path() {
                    Ok(path) => FileLocation::Path(path),
                    Err(()) => return Err(format!("{location}: {url}: not a local path")),
                }
            } else {
                FileLocation::Url(url)
            };
            let Some(mut file) = dist_file(link.filename.clone(), file_location, &self.inner.ranks) else {
                continue;
            };
            if file.name != *name {
                continue;
            }
            if let Some(spec) = &link.requires_python {
                match spec.parse::<pep440_rs::VersionSpecifiers>() {
                    Ok(specifiers) => file.python_ok = specifiers.contains(&target.python_full_version()),
                    // pip ignores these too; old releases carry many (">=2.7, !=3.0.*,").
                    Err(e) => tracing::debug!(
                        "{location}: {}: invalid data-requires-python {spec:?} ignored: {e}",
                        link.filename
                    ),
                }
            }
            if let Some(cutoff) = self.inner.exclude_newer {
                match link.upload_time.as_deref().map(jiff::Timestamp::from_str) {
                    Some(Ok(uploaded)) if uploaded > cutoff => continue,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        return Err(format!(
                            "{location}: {}: invalid upload-time {:?}: {e}",
                            link.filename,
                            link.upload_time.as_deref().unwrap_or("")
                        ));
                    }
                    None => no_upload_time = true,
                }
            }
            file.yanked = link.yanked;
            file.sha256 = link.sha256.map(|h| h.to_ascii_lowercase());
            file.size = link.size;
            file.upload_time = link.upload_time;
            file.core_metadata = link.core_metadata;
            files.push(file);
        }
        if no_upload_time {
            self.warn(format!(
                "{}: the index gives no upload times, so --exclude-newer cannot filter its files; they are all used",
                redact(index.as_str())
            ));
        }
        Ok(files)
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
    ) -> Result<Vec<Version>, String> {
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
            .keys()
            .filter(|v| yanked_reason(project.versions.get(*v).map_or(&[], Vec::as_slice)).is_some())
            .cloned()
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

    /// Whether any source has files of the package.
    pub fn knows(&self, name: &PackageName) -> bool {
        self.project(name).is_ok_and(|p| !p.versions.is_empty())
    }

    /// The metadata of a version: from its best wheel for the target, else from its sdist when
    /// that metadata is static (PEP 643). `Ok(None)` when neither is usable.
    pub fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Option<(DistMetadata, DistFile)>, String> {
        let files = self.files(name, version);
        let best_wheel = files
            .iter()
            .filter(|f| f.python_ok)
            .filter_map(|f| match f.kind {
                FileKind::Wheel { rank: Some(rank) } => Some((rank, f)),
                _ => None,
            })
            .min_by_key(|(rank, _)| *rank);
        if let Some((_, wheel)) = best_wheel {
            return Ok(Some((self.file_metadata(wheel)?, wheel.clone())));
        }
        for sdist in files.iter().filter(|f| f.kind == FileKind::Sdist) {
            let meta = self.file_metadata(sdist)?;
            if meta.metadata.has_static_dependencies() {
                return Ok(Some((meta, sdist.clone())));
            }
        }
        Ok(None)
    }

    /// One file's metadata, read once.
    pub fn file_metadata(&self, file: &DistFile) -> Result<DistMetadata, String> {
        let slot = self
            .inner
            .metadata
            .lock()
            .expect("metadata lock")
            .entry(file.url())
            .or_default()
            .clone();
        slot.get_or_init(|| self.read_metadata(file)).clone()
    }

    fn read_metadata(&self, file: &DistFile) -> Result<DistMetadata, String> {
        let url = match &file.location {
            FileLocation::Path(path) => {
                return match file.kind {
                    FileKind::Wheel { .. } => read_wheel(path),
                    FileKind::Sdist => read_sdist(path),
                }
                .map_err(|e| e.to_string());
            }
            FileLocation::Url(url) => url,
        };
        let client = &self.inner.client;
        let shown = redact(url.as_str());
        if file.kind == FileKind::Sdist {
            let (path, _) = client
                .download(url, file.sha256.as_deref())
                .map_err(|e| e.to_string())?;
            return read_sdist(&path).map_err(|e| e.to_string().replace(&path.display().to_string(), &shown));
        }
        // Remembered from an earlier run, whichever way it was read.
        let key = metadata_key(url, file.sha256.as_deref().unwrap_or(""));
        if let Some(text) = client.cached_immutable(&key) {
            return crate::dist::metadata_from_text(
                &String::from_utf8_lossy(&text),
                &format!("{shown}.metadata"),
            )
            .map_err(|e| e.to_string());
        }
        if let Some(hash) = &file.core_metadata {
            let mut metadata_url = url.clone();
            metadata_url.set_path(&format!("{}.metadata", url.path()));
            match client.get_immutable(&metadata_url, &key, hash.as_deref()) {
                Ok(bytes) => {
                    return crate::dist::metadata_from_text(
                        &String::from_utf8_lossy(&bytes),
                        &format!("{shown}.metadata"),
                    )
                    .map_err(|e| e.to_string());
                }
                Err(e) if e.kind == crate::http::HttpErrorKind::NotCached => return Err(e.to_string()),
                Err(e) => tracing::debug!("{e}; reading the wheel instead"),
            }
        }
        let text = match client.range_reader(url) {
            Ok(reader) => wheel_metadata_text(reader, &shown)
                .inspect_err(|e| tracing::debug!("{e}; downloading the wheel instead"))
                .ok(),
            Err(e) if e.kind == crate::http::HttpErrorKind::Unavailable => return Err(e.to_string()),
            Err(e) => {
                tracing::debug!("{e}; downloading the wheel instead");
                None
            }
        };
        let text = match text {
            Some(text) => text,
            None => {
                let (path, _) = client
                    .download(url, file.sha256.as_deref())
                    .map_err(|e| e.to_string())?;
                let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                wheel_metadata_text(std::io::BufReader::new(file), &shown).map_err(|e| e.to_string())?
            }
        };
        client.store_immutable(&key, text.as_bytes());
        crate::dist::metadata_from_text(&text, &shown).map_err(|e| e.to_string())
    }

    /// The file's sha256: the index's, else computed (local files through `cache`, remote files
    /// by downloading them into the content-addressed store).
    pub fn sha256(&self, file: &DistFile, cache: Option<&HashCache>) -> Result<String, String> {
        if let Some(hash) = &file.sha256 {
            return Ok(hash.clone());
        }
        match &file.location {
            FileLocation::Path(path) => sha256_cached(path, cache).map_err(|e| e.to_string()),
            FileLocation::Url(url) => self
                .inner
                .client
                .download(url, None)
                .map(|(_, hash)| hash)
                .map_err(|e| e.to_string()),
        }
    }

    /// A local copy of the file (downloaded and checked against its sha256 if remote).
    pub fn local_path(&self, file: &DistFile) -> Result<PathBuf, String> {
        match &file.location {
            FileLocation::Path(path) => Ok(path.clone()),
            FileLocation::Url(url) => self
                .inner
                .client
                .download(url, file.sha256.as_deref())
                .map(|(path, _)| path)
                .map_err(|e| e.to_string()),
        }
    }

    /// The file's size: from the index, else from the local copy.
    pub fn size(&self, file: &DistFile) -> u64 {
        if let Some(size) = file.size {
            return size;
        }
        self.local_path(file)
            .ok()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }
}

/// The cache key of a remote wheel's metadata.
fn metadata_key(url: &Url, sha256: &str) -> String {
    format!("metadata\0{}\0{sha256}", crate::http::split_credentials(url).0)
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of fetch threads, started on first use, that sleep (not spin) while idle: the
/// bound on requests in flight.
struct WorkPool {
    size: usize,
    sender: Mutex<Option<std::sync::mpsc::Sender<Job>>>,
}

impl WorkPool {
    fn new(size: usize) -> Self {
        Self {
            size,
            sender: Mutex::new(None),
        }
    }

    fn run(&self, job: impl FnOnce() + Send + 'static) {
        let mut sender = self.sender.lock().expect("pool lock");
        let sender = sender.get_or_insert_with(|| {
            let (sender, receiver) = std::sync::mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for i in 0..self.size {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("lastmile-fetch-{i}"))
                    .spawn(move || {
                        loop {
                            let job = receiver.lock().expect("pool queue").recv();
                            match job {
                                Ok(job) => job(),
                                Err(_) => break,
                            }
                        }
                    });
                if spawned.is_err() {
                    break;
                }
            }
            sender
        });
        // Workers only stop when the sender is dropped, so a send cannot fail while we hold it.
        let _ = sender.send(Box::new(job));
    }
}

fn yanked_reason(files: &[DistFile]) -> Option<String> {
    let installable: Vec<&DistFile> = files.iter().filter(|f| f.installable()).collect();
    if installable.is_empty() || installable.iter().any(|f| f.yanked.is_none()) {
        return None;
    }
    installable[0].yanked.clone()
}

/// The sha256 of a local file, from `cache` when the file (same path, size and modification
/// time) was hashed before; otherwise computed and remembered there.
pub fn sha256_cached(path: &Path, cache: Option<&HashCache>) -> Result<String, InputError> {
    let Some(cache) = cache else {
        return sha256_file(path);
    };
    let key = cache.key(path);
    if let Some(hash) = key.as_ref().and_then(|k| cache.get(k)) {
        return Ok(hash);
    }
    let hash = sha256_file(path)?;
    if let Some(key) = key {
        cache.put(&key, &hash);
    }
    Ok(hash)
}

/// Remembered sha256 digests of local files, one small file a digest under `DIR/sha256/`, keyed by
/// the file's canonical path, size and modification time (so a rewritten file is hashed again).
#[derive(Debug, Clone)]
pub struct HashCache {
    dir: PathBuf,
}

impl HashCache {
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join("sha256"),
        }
    }

    /// The default cache folder: `$LASTMILE_CACHE_DIR`, else `$XDG_CACHE_HOME/lastmile`, else
    /// `~/.cache/lastmile`.
    pub fn default_root() -> Option<PathBuf> {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("LASTMILE_CACHE_DIR")
            .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("lastmile")))
            .or_else(|| var("HOME").map(|h| h.join(".cache/lastmile")))
    }

    fn key(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let canonical = path.canonicalize().ok()?;
        let meta = std::fs::metadata(&canonical).ok()?;
        let mut hasher = Sha256::new();
        hasher.update(canonical.as_os_str().as_encoded_bytes());
        hasher.update(format!(
            "\0{}\0{}\0{}",
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec()
        ));
        Some(format!("{:x}", hasher.finalize()))
    }

    fn get(&self, key: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.dir.join(key)).ok()?;
        let hash = text.trim();
        (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hash.to_owned())
    }

    fn put(&self, key: &str, hash: &str) {
        if std::fs::create_dir_all(&self.dir).is_ok() {
            let _ = crate::fs::write_atomic(&self.dir.join(key), hash.as_bytes());
        }
    }
}

/// Recognise a distribution file by its name.
fn dist_file(filename: String, location: FileLocation, ranks: &TagRanks) -> Option<DistFile> {
    let (name, version, kind) = if filename.ends_with(".whl") {
        let wheel = WheelName::from_str(&filename).ok()?;
        let rank = ranks.rank(&wheel);
        (wheel.name, wheel.version, FileKind::Wheel { rank })
    } else {
        let (name, version) = parse_sdist_name(&filename)?;
        (name, version, FileKind::Sdist)
    };
    Some(DistFile {
        filename,
        location,
        name,
        version,
        kind,
        yanked: None,
        python_ok: true,
        sha256: None,
        size: None,
        upload_time: None,
        core_metadata: None,
    })
}

/// The folder path of a `--find-links` value (a path or a `file://` URL).
pub fn find_links_dir(value: &str) -> Option<PathBuf> {
    match value.strip_prefix("file://") {
        Some(path) => Some(PathBuf::from(path)),
        None if !value.contains("://") => Some(Path::new(value).to_path_buf()),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_cache_follows_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let cache = HashCache::new(&dir.path().join("cache"));
        let path = dir.path().join("a-1.0-py3-none-any.whl");
        std::fs::write(&path, b"one").unwrap();
        let first = sha256_cached(&path, Some(&cache)).unwrap();
        assert_eq!(first, sha256_file(&path).unwrap());
        assert_eq!(
            std::fs::read_dir(dir.path().join("cache/sha256"))
                .unwrap()
                .count(),
            1
        );
        assert_eq!(sha256_cached(&path, Some(&cache)).unwrap(), first);
        // Rewritten (different size, new mtime): hashed again, not served stale.
        std::fs::write(&path, b"two!").unwrap();
        let second = sha256_cached(&path, Some(&cache)).unwrap();
        assert_ne!(second, first);
        assert_eq!(second, sha256_file(&path).unwrap());
    }
}
