//! `bake-image verify IMAGE`: the file's sha256 against the digest in its name, every file of
//! every installed distribution against its `RECORD`, and the distributions against the manifest
//! (`/etc/lastmile/candidate.json`). Reads the archive once, as a stream.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use lastmile_cli::Exit;
use lastmile_dist::record;
use lastmile_documents::Document;
use lastmile_documents::candidate::{CANDIDATE_PATH, CandidateDocument, ImageName};
use lastmile_fs::Sha256;
use lastmile_image::ImageError;

/// What one pass over the image found.
#[derive(Default)]
struct Contents {
    /// Every regular file: its RECORD hash and size.
    hashes: BTreeMap<String, (String, u64)>,
    /// Every installed `RECORD`'s text, by path.
    records: BTreeMap<String, String>,
    manifest: Option<String>,
    /// Units and the SBOM, to compare with what the manifest describes.
    texts: BTreeMap<String, String>,
    /// Symbolic and hard links, to their targets.
    links: BTreeMap<String, String>,
}

/// Check an image; exit 1 naming each difference.
pub(crate) fn verify(image: &Path) -> anyhow::Result<Exit> {
    let shown = image.display().to_string();
    let mut problems = check_name(image)?;
    let contents = read(image)?;
    let Some(manifest) = &contents.manifest else {
        problems.push(format!("no /{CANDIDATE_PATH}"));
        return report(&shown, &problems);
    };
    let candidate = CandidateDocument::from_json(manifest, &format!("/{CANDIDATE_PATH}"))?;
    let (installed, listed, checked) = check_records(&contents, &mut problems);
    check_packages(&candidate, installed, &mut problems);
    check_unlisted(&candidate, &contents, &listed, &mut problems);
    check_units_and_sbom(&candidate, &contents, &mut problems);
    if problems.is_empty() {
        let _ = writeln!(
            std::io::stderr().lock(),
            "bake-image: {shown}: ok ({} packages, {checked} files checked against their RECORD)",
            candidate.packages.len()
        );
    }
    report(&shown, &problems)
}

/// The file's sha256 against the digest its name carries.
fn check_name(image: &Path) -> anyhow::Result<Vec<String>> {
    let file_sha = Sha256::of_file(image).with_context(|| format!("reading {}", image.display()))?;
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("");
    Ok(match name.parse::<ImageName>() {
        Ok(named) if named.matches(&file_sha) => Vec::new(),
        Ok(named) => vec![format!(
            "the file's sha256 is {file_sha}, its name says {}",
            named.short()
        )],
        Err(e) => vec![e.to_string()],
    })
}

/// One pass over the archive.
fn read(image: &Path) -> anyhow::Result<Contents> {
    let read = |e| ImageError::reading(image, e);
    let (file, _) = lastmile_fs::open_regular(image).map_err(read)?;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)));
    let mut contents = Contents::default();
    for entry in archive.entries().map_err(read)? {
        lastmile_process::interrupt::check()?;
        let mut entry = entry.map_err(read)?;
        let path = entry
            .path()
            .map_err(read)?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        match entry.header().entry_type() {
            tar::EntryType::Regular => {}
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name()?.map(|t| t.to_string_lossy().into_owned());
                contents.links.insert(path, target.unwrap_or_default());
                continue;
            }
            _ => continue,
        }
        let wanted = path.ends_with(".dist-info/RECORD")
            || path == CANDIDATE_PATH
            || path.starts_with("etc/systemd/system/")
            || path == "etc/lastmile/sbom.cdx.json";
        if !wanted {
            // Hashed as it streams: a file of any size costs no memory.
            let mut hashing = lastmile_fs::Sha256Writer::new(std::io::sink());
            std::io::copy(&mut entry, &mut hashing).map_err(read)?;
            let (digest, size, _) = hashing.finish();
            contents
                .hashes
                .insert(path, (record::hash_of_digest(&digest), size));
            continue;
        }
        let mut data = Vec::new();
        (&mut entry)
            .take(lastmile_fs::TEXT_LIMIT)
            .read_to_end(&mut data)
            .map_err(read)?;
        let text = || String::from_utf8_lossy(&data).into_owned();
        if path.ends_with(".dist-info/RECORD") {
            contents.records.insert(path.clone(), text());
        } else if path == CANDIDATE_PATH {
            contents.manifest = Some(text());
        } else {
            contents.texts.insert(path.clone(), text());
        }
        contents
            .hashes
            .insert(path, (record::hash_of(&data), data.len() as u64));
    }
    Ok(contents)
}

/// Every installed file against its RECORD. Returns each distribution's RECORD digest (by
/// `name-version`, lower case), every path some RECORD lists, and how many files were checked.
fn check_records(
    contents: &Contents,
    problems: &mut Vec<String>,
) -> (BTreeMap<String, Sha256>, BTreeSet<String>, usize) {
    let mut installed = BTreeMap::new();
    let mut listed = BTreeSet::new();
    let mut checked = 0usize;
    for (record_path, text) in &contents.records {
        let site = record_path
            .rsplit_once('/')
            .and_then(|(dir, _)| dir.rsplit_once('/'))
            .map_or("", |(site, _)| site);
        let dist = record_path.rsplit('/').nth(1).unwrap_or("");
        installed.insert(
            distribution_key(dist.trim_end_matches(".dist-info")),
            Sha256::of(text.as_bytes()),
        );
        let rows = match record::parse(text) {
            Ok(rows) => rows,
            Err(e) => {
                problems.push(format!("/{record_path}: {e}"));
                continue;
            }
        };
        for row in rows {
            let full = normalize(&format!("{site}/{}", row.path));
            listed.insert(full.clone());
            let Some(hash) = row.hash else { continue };
            match contents.hashes.get(&full) {
                None => problems.push(format!("/{full}: listed in {record_path} but missing")),
                Some((got, got_size)) => {
                    if *got != hash || row.size != Some(*got_size) {
                        problems.push(format!("/{full}: differs from {record_path} ({hash}, got {got})"));
                    }
                }
            }
            checked += 1;
        }
    }
    (installed, listed, checked)
}

/// The manifest → RECORD link: each package installed, with the RECORD the bake wrote.
fn check_packages(
    candidate: &CandidateDocument,
    mut installed: BTreeMap<String, Sha256>,
    problems: &mut Vec<String>,
) {
    for package in &candidate.packages {
        let stem = distribution_key(&format!("{}-{}", package.name, package.version));
        match installed.remove(&stem) {
            None => problems.push(format!(
                "{}=={}: in the manifest but not installed",
                package.name, package.version
            )),
            Some(record) if record != package.record_sha256 => problems.push(format!(
                "{}=={}: its RECORD has sha256 {record}, the manifest says {}",
                package.name, package.version, package.record_sha256
            )),
            Some(_) => {}
        }
    }
    for stem in installed.keys() {
        problems.push(format!("{stem}: installed but not in the manifest"));
    }
}

/// Nothing in the venv that no RECORD lists, but the venv's own files and bytecode.
fn check_unlisted(
    candidate: &CandidateDocument,
    contents: &Contents,
    listed: &BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    let venv = candidate.prefix.trim_start_matches('/').to_owned() + "/";
    let own = |rel: &str| {
        rel == "pyvenv.cfg"
            || rel == "lib64"
            || rel.starts_with("bin/python")
            || rel.contains("/__pycache__/") && rel.ends_with(".pyc")
    };
    for path in contents.hashes.keys().chain(contents.links.keys()) {
        if let Some(rel) = path.strip_prefix(&venv)
            && !own(rel)
            && !listed.contains(path)
        {
            problems.push(format!("/{path}: in the venv but in no RECORD"));
        }
    }
}

/// Units and SBOM: what the manifest says they are.
fn check_units_and_sbom(candidate: &CandidateDocument, contents: &Contents, problems: &mut Vec<String>) {
    match crate::services::unit_files(&candidate.services, &candidate.prefix, &candidate.packages) {
        Ok(units) => {
            for (path, expected) in &units {
                match contents.texts.get(path) {
                    None => problems.push(format!("/{path}: missing")),
                    Some(text) if text != expected => {
                        problems.push(format!("/{path}: differs from the unit the manifest describes"));
                    }
                    Some(_) => {}
                }
            }
            for (link, target) in crate::services::enable_links(&candidate.services) {
                if contents.links.get(&link) != Some(&target) {
                    let service = link.rsplit('/').next().unwrap_or("").trim_end_matches(".service");
                    problems.push(format!("/{link}: missing, so {service} would not start"));
                }
            }
        }
        Err(e) => problems.push(format!("the manifest's services: {e}")),
    }
    if contents.texts.get("etc/lastmile/sbom.cdx.json") != Some(&crate::sbom::cyclonedx(candidate)) {
        problems.push("/etc/lastmile/sbom.cdx.json: missing or not the SBOM of the manifest".to_owned());
    }
}

fn report(shown: &str, problems: &[String]) -> anyhow::Result<Exit> {
    if problems.is_empty() {
        return Ok(Exit::Success);
    }
    let mut err = std::io::stderr().lock();
    for problem in problems {
        let _ = writeln!(err, "bake-image: {shown}: {problem}");
    }
    Ok(Exit::Negative)
}

/// `name-version` with the name normalized (PEP 503: runs of `-`, `_`, `.` as one `-`, lower
/// case), so `zope.interface-5.0`, `zope_interface-5.0` and the manifest's `zope-interface` meet.
fn distribution_key(stem: &str) -> String {
    let (name, version) = stem.rsplit_once('-').unwrap_or((stem, ""));
    let mut normal = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normal.ends_with('-') {
                normal.push('-');
            }
        } else {
            normal.push(c.to_ascii_lowercase());
        }
    }
    format!("{normal}-{}", version.to_lowercase())
}

/// Resolve `..` in a relative path.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_and_underscored_dist_info_names_meet_the_manifest() {
        assert_eq!(distribution_key("zope.interface-5.0"), "zope-interface-5.0");
        assert_eq!(distribution_key("Zope_Interface-5.0"), "zope-interface-5.0");
        assert_eq!(distribution_key("zope-interface-5.0"), "zope-interface-5.0");
        assert_eq!(
            distribution_key("backports.zoneinfo-0.2.1"),
            distribution_key("backports-zoneinfo-0.2.1")
        );
    }
}
