//! Project pages: a package's files from the find-links folders and every index, for the
//! target, in the order the index strategy allows.

use std::cell::Cell;
use std::str::FromStr;

use lastmile_fs::{InputError, Location, Sha256};
use lastmile_python::filename::WheelName;
use lastmile_python::{PackageName, VersionSpecifiers};
use url::Url;

use super::{DistFile, FileKind, FileLocation, Finder, IndexStrategy, Project, file};
use crate::http::redact;
use crate::{IndexError, simple};

impl Finder {
    pub(super) fn load_project(&self, name: &PackageName) -> Result<Project, IndexError> {
        let mut files: Vec<DistFile> = self.inner.local.get(name).cloned().unwrap_or_default();
        let mut listed_anywhere = !files.is_empty();
        let in_house = self.inner.internal.matches(name);
        for (index, own) in self.inner.indexes.iter().zip(&self.inner.in_house) {
            // An in-house package is never asked of another index: not even its name leaves.
            if in_house && !own {
                continue;
            }
            let (found, listed) = self.index_files(index, name)?;
            listed_anywhere |= listed;
            files.extend(found);
            // An index that lists the project at all owns it under first-index, even when none
            // of its files can be used (yanked, other tags, too new, a bad hash): the next index
            // never supplies it (dependency confusion).
            if listed && self.inner.strategy == IndexStrategy::FirstIndex {
                break;
            }
        }
        // Kinds of file the options rule out are no candidates (`--only-binary`, `--no-binary`).
        let (wheels, sdists) = self.inner.formats.allowed(name.as_ref());
        files.retain(|file| match file.kind {
            FileKind::Wheel { .. } => wheels,
            FileKind::Sdist => sdists,
        });
        if !self.inner.keep_all_files {
            files.retain(DistFile::installable);
        }
        let mut project = Project {
            listed: listed_anywhere,
            in_house,
            ..Project::default()
        };
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

    /// The files an index lists for a package, and whether it lists any file of the package at
    /// all (before any is filtered out).
    pub(super) fn index_files(
        &self,
        index: &Url,
        name: &PackageName,
    ) -> Result<(Vec<DistFile>, bool), IndexError> {
        let page_url = index
            .join(&format!("{name}/"))
            .map_err(|e| IndexError::IndexUrl {
                url: redact(index.as_str()),
                reason: e.to_string(),
            })?;
        let (base, location, links) = if index.scheme() == "file" {
            let dir = page_url.to_file_path().map_err(|()| IndexError::IndexUrl {
                url: page_url.to_string(),
                reason: "not a local path".into(),
            })?;
            let page = dir.join("index.html");
            let location = Location::file(page.display().to_string());
            let html = match lastmile_fs::read_text(&page) {
                Ok(html) => html,
                // No page: the project's folder (PEP 503 without pages), else the index folder
                // itself as a flat folder of files, as a web server's listing would serve them.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let root = index.to_file_path().map_err(|()| IndexError::IndexUrl {
                        url: index.to_string(),
                        reason: "not a local path".into(),
                    })?;
                    let (folder, base) = if dir.is_dir() {
                        (dir, page_url)
                    } else {
                        (root, index.clone())
                    };
                    let links = folder_links(&folder, name)?;
                    let location = Location::file(folder.display().to_string());
                    return self.files_of_links(index, name, &base, &location, links);
                }
                Err(e) => return Err(IndexError::read(&page, e)),
            };
            let links = simple::parse_project_page(&html, &location)?;
            (page_url.join("index.html").unwrap_or(page_url), location, links)
        } else {
            let Some(page) = self.inner.client.get_page(&page_url, simple::ACCEPT)? else {
                return Ok((Vec::new(), false));
            };
            let location = Location::file(redact(page.url.as_str()));
            // Wheels the target cannot install are dropped as the page is read, unless every
            // file is wanted; that the page lists the package is still noted.
            let dropped_own = Cell::new(false);
            let keep = |filename: &str| {
                if self.inner.keep_all_files || !filename.ends_with(".whl") {
                    return true;
                }
                match WheelName::from_str(filename) {
                    Ok(wheel) if self.inner.ranks.rank(&wheel).is_none() => {
                        dropped_own.set(dropped_own.get() || wheel.name == *name);
                        false
                    }
                    _ => true,
                }
            };
            let links = simple::parse_page_with(&page.body, &page.content_type, &location, &keep)?;
            drop(page.body);
            let (files, listed) = self.files_of_links(index, name, &page.url, &location, links)?;
            return Ok((files, listed || dropped_own.get()));
        };
        self.files_of_links(index, name, &base, &location, links)
    }

    /// One link of a page: a file of another package, one of this package the target has no
    /// use for, or one it may use, with what the page says of it.
    fn file_of_link(
        &self,
        name: &PackageName,
        base: &Url,
        location: &Location,
        link: simple::Link,
        origin: &std::sync::Arc<str>,
        no_upload_time: &mut bool,
    ) -> Result<Linked, IndexError> {
        let url = base
            .join(&link.href)
            .map_err(|e| InputError::new(location.clone(), format!("{}: bad link: {e}", link.filename)))?;
        let file_location = if url.scheme() == "file" {
            match url.to_file_path() {
                Ok(path) => FileLocation::Path(path),
                Err(()) => {
                    return Err(InputError::new(location.clone(), format!("{url}: not a local path")).into());
                }
            }
        } else {
            FileLocation::Url(url)
        };
        let Some(mut file) = file::dist_file(link.filename.clone(), file_location, origin, &self.inner.ranks)
        else {
            return Ok(Linked::Other);
        };
        if file.name != *name {
            return Ok(Linked::Other);
        }
        if let Some(spec) = &link.requires_python {
            match spec.parse::<VersionSpecifiers>() {
                Ok(specifiers) => {
                    file.python_ok = specifiers.contains(&self.inner.target.python_full_version())
                }
                // pip ignores these too; old releases carry many (">=2.7, !=3.0.*,").
                Err(e) => tracing::debug!(
                    "{location}: {}: invalid data-requires-python {spec:?} ignored: {e}",
                    link.filename
                ),
            }
        }
        if self.too_new(location, &link, no_upload_time)? {
            return Ok(Linked::Dropped);
        }
        // Dropped now, before anything else is made of it (see `Sources::keep_all_files`).
        if !file.installable() && !self.inner.keep_all_files {
            return Ok(Linked::Dropped);
        }
        file.sha256 = match link.sha256.as_deref().map(str::parse::<Sha256>) {
            None => None,
            Some(Ok(hash)) => Some(hash),
            // A hash that is not one is never used, not even as a name in the cache.
            Some(Err(e)) => {
                self.warn(format!(
                    "{location}: {}: the index gives sha256 {e}; the file is ignored",
                    link.filename
                ));
                return Ok(Linked::Dropped);
            }
        };
        file.yanked = link.yanked;
        file.size = link.size;
        file.upload_time = link.upload_time;
        file.core_metadata = link
            .core_metadata
            .and_then(|hash| match hash.map(|h| h.parse::<Sha256>()) {
                None => Some(None),
                Some(Ok(hash)) => Some(Some(hash)),
                // An unusable hash: the metadata file is not used, the wheel is read instead.
                Some(Err(_)) => None,
            });
        Ok(Linked::File(Box::new(file)))
    }

    /// Whether `--exclude-newer` rules a link out (an index without upload times is noted).
    fn too_new(
        &self,
        location: &Location,
        link: &simple::Link,
        no_upload_time: &mut bool,
    ) -> Result<bool, IndexError> {
        if let Some(cutoff) = self.inner.exclude_newer {
            match link.upload_time.as_deref().map(jiff::Timestamp::from_str) {
                Some(Ok(uploaded)) if uploaded > cutoff => return Ok(true),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    return Err(InputError::new(
                        location.clone(),
                        format!(
                            "{}: invalid upload-time {:?}: {e}",
                            link.filename,
                            link.upload_time.as_deref().unwrap_or("")
                        ),
                    )
                    .into());
                }
                None => *no_upload_time = true,
            }
        }
        Ok(false)
    }

    /// Turn a page's links into the package's files for the target; the flag says whether the
    /// page names any file of the package, usable or not.
    pub(super) fn files_of_links(
        &self,
        index: &Url,
        name: &PackageName,
        base: &Url,
        location: &Location,
        links: Vec<simple::Link>,
    ) -> Result<(Vec<DistFile>, bool), IndexError> {
        let mut files = Vec::new();
        let mut no_upload_time = false;
        let mut listed = false;
        let origin: std::sync::Arc<str> = std::sync::Arc::from(redact(index.as_str()));
        for link in links {
            match self.file_of_link(name, base, location, link, &origin, &mut no_upload_time)? {
                Linked::Other => {}
                Linked::Dropped => listed = true,
                Linked::File(file) => {
                    listed = true;
                    files.push(*file);
                }
            }
        }
        if no_upload_time {
            self.warn(format!(
                "{}: the index gives no upload times, so --exclude-newer cannot filter its files; they are all used",
                redact(index.as_str())
            ));
        }
        Ok((files, listed))
    }
}

/// The files of a folder that are distributions of `name`, as links relative to the folder.
fn folder_links(folder: &std::path::Path, name: &PackageName) -> Result<Vec<simple::Link>, IndexError> {
    let entries = match std::fs::read_dir(folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(IndexError::read(folder, e)),
    };
    let mut links = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| IndexError::read(folder, e))?;
        let filename = entry.file_name().to_string_lossy().into_owned();
        let ours = if filename.ends_with(".whl") {
            WheelName::from_str(&filename).is_ok_and(|w| w.name == *name)
        } else {
            lastmile_python::filename::parse_sdist_name(&filename).is_some_and(|(n, _)| n == *name)
        };
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            links.push(simple::Link {
                href: url::form_urlencoded::byte_serialize(filename.as_bytes()).collect(),
                filename,
                sha256: None,
                requires_python: None,
                yanked: None,
                core_metadata: None,
                upload_time: None,
                size: None,
            });
        }
    }
    links.sort_by(|a, b| a.filename.cmp(&b.filename));
    Ok(links)
}

/// What a page's link is to the package being looked up.
enum Linked {
    /// A file of another package, or not a distribution.
    Other,
    /// A file of the package the target has no use for.
    Dropped,
    File(Box<DistFile>),
}
