//! The archive's indexes, fetched and checked link by link: each `InRelease` against the keyrings
//! (gpgv), each `Packages.gz` against the sha256 its `InRelease` gives; and the `.deb` files into
//! the content-addressed store, each against its `Packages` record.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use lastmile_debian::{Package, Release, check_bytes, read_packages, verify_clearsigned};
use lastmile_fs::Sha256;
use lastmile_index::http::HttpClient;
use url::Url;

use super::spec::Spec;

/// One verified `URI SUITE COMPONENT`.
pub(crate) struct Index {
    pub(crate) id: String,
    pub(crate) uri: String,
    pub(crate) suite: String,
    pub(crate) component: String,
    pub(crate) release: Release,
    pub(crate) inrelease: Vec<u8>,
    pub(crate) inrelease_sha256: Sha256,
    /// The `Packages.gz` verified, as fetched (what apt is given).
    pub(crate) packages_gz: Vec<u8>,
    pub(crate) packages_sha256: Sha256,
    pub(crate) records: Vec<Package>,
}

fn url(base: &str, path: &str) -> anyhow::Result<Url> {
    let joined = format!("{}/{path}", base.trim_end_matches('/'));
    Url::parse(&joined).with_context(|| format!("{joined}: not a URL"))
}

/// Fetch and verify every index the spec names.
pub(crate) fn fetch(client: &HttpClient, spec: &Spec) -> anyhow::Result<Vec<Index>> {
    let scratch = tempfile::tempdir().context("a temporary folder for gpgv")?;
    let mut indexes = Vec::new();
    for source in &spec.sources {
        let inrelease_url = url(&source.uri, &format!("dists/{}/InRelease", source.suite))?;
        let page = client
            .get_page(&inrelease_url, "*/*")
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .with_context(|| {
                format!(
                    "{inrelease_url}: not found (is {} a suite of {}?)",
                    source.suite, source.uri
                )
            })?;
        let file = scratch.path().join(format!("InRelease-{}", indexes.len()));
        std::fs::write(&file, &page.body).context("keeping the InRelease for gpgv")?;
        let text = verify_clearsigned(&file, &spec.keyrings).map_err(|e| {
            anyhow::anyhow!(
                "{}",
                e.to_string()
                    .replace(&file.display().to_string(), inrelease_url.as_str())
            )
        })?;
        let release = Release::parse(inrelease_url.as_str(), &text)?;
        for component in &source.components {
            let path = format!("{component}/binary-{}/Packages.gz", spec.architecture);
            let sum = *release.file(inrelease_url.as_str(), &path)?;
            let packages_url = url(&source.uri, &format!("dists/{}/{path}", source.suite))?;
            let (stored, _) = client
                .download(&packages_url, Some(&sum.sha256))
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let gz = std::fs::read(&stored).with_context(|| format!("reading {}", stored.display()))?;
            check_bytes(packages_url.as_str(), &gz, &sum, inrelease_url.as_str())?;
            let mut packages_text = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut packages_text)
                .with_context(|| format!("{packages_url}: not gzip"))?;
            let records = read_packages(packages_url.as_str(), &packages_text[..])?;
            indexes.push(Index {
                id: format!("{} {} {component}", source.uri, source.suite),
                uri: source.uri.clone(),
                suite: source.suite.clone(),
                component: component.clone(),
                release: release.clone(),
                inrelease: page.body.clone(),
                inrelease_sha256: Sha256::of(&page.body),
                packages_gz: gz,
                packages_sha256: sum.sha256,
                records,
            });
        }
    }
    Ok(indexes)
}

/// Put a locked `.deb` into the store (a download checked against its sha256, or the stored
/// file); its path.
pub(crate) fn store_deb(client: &HttpClient, index: &Index, package: &Package) -> anyhow::Result<PathBuf> {
    let deb_url = url(&index.uri, &package.filename)?;
    let (path, _) = client
        .download(&deb_url, Some(&package.file.sha256))
        .map_err(|e| {
            if client.options().offline {
                anyhow::anyhow!(
                    "{} {} ({}): not in the store ({e}); run it again without --offline to fetch {deb_url}",
                    package.name,
                    package.version,
                    index.id
                )
            } else {
                anyhow::anyhow!("{} {} ({}): {e}", package.name, package.version, index.id)
            }
        })?;
    let size = std::fs::metadata(&path)
        .with_context(|| format!("reading {}", path.display()))?
        .len();
    if size != package.file.size {
        anyhow::bail!(
            "{deb_url}: {size} bytes, but its Packages record says {} (a file with the right sha256 cannot have another size: the store is damaged at {})",
            package.file.size,
            path.display()
        );
    }
    Ok(path)
}
