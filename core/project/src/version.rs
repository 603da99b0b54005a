//! Dynamic versions: `attr: pkg.module.__version__` read statically from the module's source, or
//! the contents of a file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lastmile_fs::Location;

use crate::literal;

/// Where setuptools finds a dynamic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionSource {
    Attr(String, Location),
    File(String, Location),
}

/// Read a dynamic version: `attr: pkg.module.__version__` statically from the module's source, or
/// the contents of a file.
pub(crate) fn read_version(
    dir: &Path,
    source: &VersionSource,
    package_dir: &BTreeMap<String, String>,
) -> Result<String, String> {
    match source {
        VersionSource::File(file, at) => {
            let path = crate::inside(dir, file).map_err(|why| format!("{at}: version file {file}: {why}"))?;
            lastmile_fs::read_text(&path)
                .map(|t| t.trim().to_owned())
                .map_err(|err| format!("{at}: cannot read version file {file}: {err}"))
        }
        VersionSource::Attr(attr, at) => {
            let (module, name) = attr
                .rsplit_once('.')
                .ok_or_else(|| format!("{at}: version attr {attr:?} is not `module.attribute`"))?;
            let parts: Vec<&str> = module.split('.').collect();
            if parts
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
            {
                return Err(format!("{at}: version attr {attr:?} is not a dotted Python name"));
            }
            let mut roots: Vec<PathBuf> = Vec::new();
            if let Some(root) = package_dir.get("") {
                roots.push(
                    crate::inside(dir, root).map_err(|why| format!("{at}: package_dir {root:?}: {why}"))?,
                );
            }
            roots.push(dir.join("src"));
            roots.push(dir.to_path_buf());
            let candidates = roots.iter().flat_map(|root| {
                let base = parts.iter().fold(root.clone(), |p, part| p.join(part));
                [base.join("__init__.py"), base.with_extension("py")]
            });
            for path in candidates {
                // The module too must be inside the project (a link out of it is not followed).
                let relative = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
                if crate::inside(dir, &relative).is_err() {
                    continue;
                }
                let Ok(text) = lastmile_fs::read_text(&path) else {
                    continue;
                };
                let body = literal::parse_module(&text).map_err(|(offset, message)| {
                    let loc = Location::file(path.display().to_string()).at_offset(&text, offset);
                    format!("{loc}: invalid Python: {message}")
                })?;
                let scope = literal::Scope::from_module(&body);
                let value = scope.lookup(name, 0).map_err(|why| {
                    let loc = Location::file(path.display().to_string()).at_offset(&text, why.offset);
                    format!(
                        "{loc}: version attr {attr} is {}; the version is left out",
                        why.what
                    )
                })?;
                return value.as_str().map(str::to_owned).ok_or_else(|| {
                    format!(
                        "{}: {name} is not a string; the version is left out",
                        path.display()
                    )
                });
            }
            Err(format!(
                "{at}: module {module} of version attr {attr} not found; the version is left out"
            ))
        }
    }
}
