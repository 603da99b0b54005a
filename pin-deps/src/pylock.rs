//! The same resolution as a PEP 751 `pylock.toml`.

use lastmile_documents::lock::{LockDocument, LockedFile};
use lastmile_python::target::Target;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct PyLock {
    lock_version: &'static str,
    environments: Vec<String>,
    requires_python: String,
    created_by: &'static str,
    packages: Vec<Package>,
}

#[derive(Serialize)]
struct Package {
    name: String,
    version: String,
    dependencies: Vec<Dependency>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sdist: Option<File>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    wheels: Vec<File>,
}

#[derive(Serialize)]
struct Dependency {
    name: String,
}

#[derive(Serialize)]
struct File {
    name: String,
    url: String,
    size: u64,
    hashes: Hashes,
}

#[derive(Serialize)]
struct Hashes {
    sha256: String,
}

fn file(locked: &LockedFile) -> File {
    File {
        name: locked.filename.clone(),
        url: locked.url.clone(),
        size: locked.size,
        hashes: Hashes {
            sha256: locked.sha256.to_string(),
        },
    }
}

/// Only files the target can install are listed: a PEP 751 installer may pick any listed file.
pub(crate) fn to_toml(lock: &LockDocument, target: &Target) -> String {
    let packages = lock
        .packages
        .iter()
        .map(|p| {
            let installable: Vec<&LockedFile> = p.files.iter().filter(|f| f.installable).collect();
            Package {
                name: p.name.to_string(),
                version: p.version.clone(),
                dependencies: p
                    .dependencies
                    .iter()
                    .map(|d| Dependency { name: d.to_string() })
                    .collect(),
                sdist: installable
                    .iter()
                    .find(|f| !f.filename.ends_with(".whl"))
                    .map(|f| file(f)),
                wheels: installable
                    .iter()
                    .filter(|f| f.filename.ends_with(".whl"))
                    .map(|f| file(f))
                    .collect(),
            }
        })
        .collect();
    let doc = PyLock {
        lock_version: "1.0",
        environments: vec![format!(
            "python_version == '{}' and sys_platform == 'linux' and platform_machine == '{}'",
            target.python_option(),
            target.arch
        )],
        requires_python: format!("=={}.*", target.python_option()),
        created_by: "pin-deps",
        packages,
    };
    toml::to_string(&doc).expect("a pylock document serializes to TOML")
}
