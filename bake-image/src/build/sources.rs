//! The bake's sources as pip sees them inside the build root: local folders bound read-only at
//! `/build/sources/N`, indexes by URL (the build shares the host's network namespace, so an
//! index on loopback answers). A build's requirements come from these alone.

use std::path::PathBuf;

use anyhow::Context;
use lastmile_index::SourceOptions;

/// pip's source arguments, and the folders they name.
#[derive(Debug, Default)]
pub(super) struct PipSources {
    /// Bound at `/build/sources/N`, in order.
    pub(super) folders: Vec<PathBuf>,
    pub(super) args: Vec<String>,
}

impl PipSources {
    pub(super) fn of(options: &SourceOptions) -> anyhow::Result<Self> {
        let mut sources = PipSources::default();
        for link in &options.find_links {
            if is_remote(link) {
                sources.args.extend(["--find-links".to_owned(), link.clone()]);
            } else {
                sources.folder(link)?;
            }
        }
        let mut indexes: Vec<&String> = options.internal_indexes.iter().collect();
        if !options.no_index {
            indexes.extend(options.index_url.as_ref().or(options.default_index.as_ref()));
            indexes.extend(&options.extra_index_urls);
        }
        let mut first = true;
        for index in indexes {
            if !is_remote(index) {
                sources.folder(index)?;
            } else if !options.http.offline {
                let flag = if first { "--index-url" } else { "--extra-index-url" };
                sources.args.extend([flag.to_owned(), index.clone()]);
                first = false;
            }
        }
        if first {
            sources.args.push("--no-index".to_owned());
        }
        for host in &options.trusted_hosts {
            sources.args.extend(["--trusted-host".to_owned(), host.clone()]);
        }
        Ok(sources)
    }

    /// A local folder: flat, or one folder per project (PEP 503 without index pages): pip's
    /// `--find-links` reads one folder's files, so each project folder is named too.
    fn folder(&mut self, given: &str) -> anyhow::Result<()> {
        let path = PathBuf::from(given.strip_prefix("file://").unwrap_or(given));
        let path = path
            .canonicalize()
            .with_context(|| format!("source {given}: not a folder"))?;
        let at = format!("/build/sources/{}", self.folders.len());
        self.args.extend(["--find-links".to_owned(), at.clone()]);
        let mut projects: Vec<String> = std::fs::read_dir(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .collect();
        projects.sort();
        for project in projects {
            self.args
                .extend(["--find-links".to_owned(), format!("{at}/{project}")]);
        }
        self.folders.push(path);
        Ok(())
    }
}

fn is_remote(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}
