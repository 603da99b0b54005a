//! `pin-deps os-lock`: the Debian half of the configuration pinned. From a small file naming the
//! archive (URI, suite, components), the architecture and the packages the base, each role and
//! the build root want, it makes a `lastmile.oslock/v1` document: every package of the resulting
//! root filesystems, the essential and required set included, with the sha256, size and pool
//! path of its `.deb` and the verified index it came from, and who asked for it. Debian decides
//! as Debian does: apt's own solver, in a throw-away state folder ([`apt`]). The trust chain is
//! checked link by link ([`archive`]), and every locked `.deb` is put into the content-addressed
//! store under the cache, so the lock and the store build the base, never the mirror.

mod apt;
mod archive;
mod changes;
mod spec;

pub(crate) use changes::changes;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::bail;
use lastmile_cli::Reporter;
use lastmile_documents::oslock::{OsIndex, OsLock, OsPackage, OsSet, SCHEMA};
use lastmile_index::http::{HttpClient, HttpOptions};

use apt::{Chosen, Solver};
use archive::Index;
use spec::Spec;

/// Lock the OS packages `spec_path` asks for, keeping the versions in `keep` (name → version)
/// where the indexes still have them; `Err` inside with apt's explanation when no set of
/// packages satisfies them.
pub(crate) fn lock(
    spec_path: &Path,
    keep: &BTreeMap<String, String>,
    http: HttpOptions,
    reporter: &Reporter,
) -> anyhow::Result<Result<OsLock, String>> {
    let spec = Spec::load(spec_path)?;
    let client = HttpClient::new(http);
    let spinner = reporter.spinner("fetching and verifying the archive's indexes");
    let indexes = archive::fetch(&client, &spec)?;
    spinner.finish_and_clear();
    let spinner = reporter.spinner("resolving with apt");
    let sets = match resolve(&spec, &indexes, keep)? {
        Ok(sets) => sets,
        Err(why) => return Ok(Err(why)),
    };
    spinner.finish_and_clear();
    let mut packages = Vec::new();
    for (set, chosen) in sets.image.iter().map(|c| (OsSet::Image, c)).chain(
        sets.build
            .iter()
            .filter(|c| !sets.image.contains(c))
            .map(|c| (OsSet::Build, c)),
    ) {
        let roles = match set {
            OsSet::Build => vec!["build".to_owned()],
            // Pulled in only by the union of the roles: every role shares the image.
            OsSet::Image => sets.asked.get(chosen).map_or_else(
                || spec.roles.keys().cloned().collect(),
                |r| r.iter().cloned().collect(),
            ),
        };
        packages.push(locked(&indexes, chosen, set, roles)?);
    }
    packages.sort_by(|a, b| (&a.name, &a.architecture).cmp(&(&b.name, &b.architecture)));
    store(&client, &indexes, &packages, reporter)?;
    Ok(Ok(OsLock {
        schema: SCHEMA.to_owned(),
        architecture: spec.architecture.clone(),
        indexes: indexes.iter().map(os_index).collect(),
        packages,
    }))
}

/// What apt puts in the root filesystems, and who asked for what.
struct Sets {
    /// The base's and every role's packages: one image.
    image: Vec<Chosen>,
    /// The image's and the build packages: the build root.
    build: Vec<Chosen>,
    /// `base` for the base's closure; a role for what it adds to it.
    asked: BTreeMap<Chosen, BTreeSet<String>>,
}

/// Resolve the base (the essential and required set and the file's base packages), each role
/// over it, the image (every role), and the build root (the image and the build packages).
fn resolve(
    spec: &Spec,
    indexes: &[Index],
    keep: &BTreeMap<String, String>,
) -> anyhow::Result<Result<Sets, String>> {
    let solver = Solver::new(spec, indexes, keep)?;
    let mut base: BTreeSet<String> = indexes
        .iter()
        .flat_map(|i| &i.records)
        .filter(|p| p.essential || p.priority.as_deref() == Some("required"))
        .map(|p| p.name.clone())
        .collect();
    base.extend(spec.base.iter().cloned());
    let resolve = |extra: &[&String], what: &str| -> anyhow::Result<Result<Vec<Chosen>, String>> {
        let mut wanted: Vec<String> = base.iter().cloned().collect();
        wanted.extend(extra.iter().map(|s| (*s).clone()));
        Ok(solver
            .resolve(&wanted)?
            .map_err(|why| format!("{what} cannot be installed together:\n{why}")))
    };
    let mut asked: BTreeMap<Chosen, BTreeSet<String>> = BTreeMap::new();
    let base_set = match resolve(&[], "the base's packages")? {
        Ok(set) => set,
        Err(why) => return Ok(Err(why)),
    };
    for chosen in &base_set {
        asked.entry(chosen.clone()).or_default().insert("base".to_owned());
    }
    for (role, packages) in &spec.roles {
        let wanted: Vec<&String> = packages.iter().collect();
        let set = match resolve(&wanted, &format!("role {role}'s packages and the base's"))? {
            Ok(set) => set,
            Err(why) => return Ok(Err(why)),
        };
        for chosen in set.into_iter().filter(|c| !base_set.contains(c)) {
            asked.entry(chosen).or_default().insert(role.clone());
        }
    }
    let roles: Vec<&String> = spec.roles.values().flatten().collect();
    let image = match resolve(&roles, "the roles' packages (one image holds them all)")? {
        Ok(set) => set,
        Err(why) => return Ok(Err(why)),
    };
    let mut with_build = roles.clone();
    with_build.extend(&spec.build);
    let build = match resolve(&with_build, "the build packages and the image's")? {
        Ok(set) => set,
        Err(why) => return Ok(Err(why)),
    };
    let image_names: BTreeMap<&str, &Chosen> = image.iter().map(|c| (c.name.as_str(), c)).collect();
    for chosen in &build {
        if let Some(in_image) = image_names.get(chosen.name.as_str())
            && *in_image != chosen
        {
            bail!(
                "the build packages would change {} from {} (the image's) to {}: a build root must hold the image's packages unchanged",
                chosen.name,
                in_image.version,
                chosen.version
            );
        }
    }
    Ok(Ok(Sets { image, build, asked }))
}

/// A chosen package as locked: its record in the first index that has it.
fn locked(indexes: &[Index], chosen: &Chosen, set: OsSet, roles: Vec<String>) -> anyhow::Result<OsPackage> {
    for index in indexes {
        if let Some(record) = index.records.iter().find(|r| {
            r.name == chosen.name && r.version == chosen.version && r.architecture == chosen.architecture
        }) {
            return Ok(OsPackage {
                name: record.name.clone(),
                version: record.version.clone(),
                architecture: record.architecture.clone(),
                sha256: record.file.sha256,
                size: record.file.size,
                filename: record.filename.clone(),
                index: index.id.clone(),
                set,
                roles,
            });
        }
    }
    bail!(
        "apt chose {} {} ({}), which no verified index lists",
        chosen.name,
        chosen.version,
        chosen.architecture
    )
}

/// Every locked `.deb` into the store, checked.
fn store(
    client: &HttpClient,
    indexes: &[Index],
    packages: &[OsPackage],
    reporter: &Reporter,
) -> anyhow::Result<()> {
    let progress = reporter.items("storing .deb files", packages.len() as u64);
    for package in packages {
        lastmile_process::interrupt::check()?;
        progress.set_message(package.name.clone());
        let index = indexes
            .iter()
            .find(|i| i.id == package.index)
            .expect("a locked package names one of the indexes");
        let record = index
            .records
            .iter()
            .find(|r| {
                r.name == package.name
                    && r.version == package.version
                    && r.architecture == package.architecture
            })
            .expect("a locked package has its record");
        archive::store_deb(client, index, record)?;
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(())
}

fn os_index(index: &Index) -> OsIndex {
    OsIndex {
        id: index.id.clone(),
        uri: index.uri.clone(),
        suite: index.suite.clone(),
        component: index.component.clone(),
        codename: index.release.codename.clone(),
        date: index.release.date.clone(),
        inrelease_sha256: index.inrelease_sha256,
        packages_sha256: index.packages_sha256,
    }
}
