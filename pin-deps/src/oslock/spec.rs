//! The OS package file `pin-deps os-lock` reads: the archive sources, the architecture, and the
//! packages wanted by the base, by each role, and by the build root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Debian's archive keyring, the default trust anchor.
pub(crate) const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    #[serde(default = "amd64")]
    pub(crate) architecture: String,
    /// Keyrings the `InRelease` files must be signed by (relative to the file); default:
    /// Debian's archive keyring.
    #[serde(default)]
    pub(crate) keyrings: Vec<PathBuf>,
    #[serde(default)]
    pub(crate) sources: Vec<Source>,
    /// Wanted in every node's base, beside the essential and required set.
    #[serde(default)]
    pub(crate) base: Vec<String>,
    /// Wanted by the services of a role; one image holds every role's packages.
    #[serde(default)]
    pub(crate) roles: BTreeMap<String, Vec<String>>,
    /// Wanted only in the build root (a compiler, headers).
    #[serde(default)]
    pub(crate) build: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
    pub(crate) uri: String,
    pub(crate) suite: String,
    #[serde(default = "main")]
    pub(crate) components: Vec<String>,
}

fn amd64() -> String {
    "amd64".to_owned()
}

fn main() -> Vec<String> {
    vec!["main".to_owned()]
}

impl Spec {
    /// Read and check the file.
    pub(crate) fn load(path: &Path) -> anyhow::Result<Spec> {
        let file = lastmile_settings::load(path)?;
        let mut spec: Spec = file.parse()?;
        let shown = path.display();
        if spec.sources.is_empty() {
            anyhow::bail!("{shown}: no [[sources]]: name at least one archive (uri, suite, components)");
        }
        for source in &spec.sources {
            if !(source.uri.starts_with("http://") || source.uri.starts_with("https://")) {
                anyhow::bail!(
                    "{shown}: source {:?}: expected an http:// or https:// URI",
                    source.uri
                );
            }
        }
        let names = spec
            .base
            .iter()
            .chain(spec.build.iter())
            .chain(spec.roles.values().flatten());
        for name in names {
            let ok = name.len() > 1
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b))
                && name.as_bytes()[0].is_ascii_alphanumeric();
            if !ok {
                anyhow::bail!("{shown}: {name:?} is not a Debian package name");
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        if spec.keyrings.is_empty() {
            spec.keyrings.push(PathBuf::from(DEBIAN_KEYRING));
        }
        for keyring in &mut spec.keyrings {
            if keyring.is_relative() {
                *keyring = dir.join(&*keyring);
            }
        }
        Ok(spec)
    }
}
