//! `bake-image verify IMAGE`: the file's sha256 against the digest in its name, every file of
//! every installed distribution against its `RECORD`, and the distributions against the manifest
//! (`/etc/lastmile/candidate.json`). Reads the archive once, as a stream.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use lastmile_core::candidate::CandidateDocument;
use lastmile_core::exit::Exit;
use sha2::{Digest, Sha256};

pub(crate) fn verify(image: &Path) -> anyhow::Result<Exit> {
    let shown = image.display().to_string();
    let mut problems: Vec<String> = Vec::new();
    let file_sha = lastmile_core::finder::sha256_file(image)?;
    let name = image.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name
        .strip_prefix("autobuild-")
        .and_then(|n| n.strip_suffix(".tar.gz"))
    {
        Some(digest) if file_sha.starts_with(digest) && digest.len() >= 12 => {}
        Some(digest) => problems.push(format!("the file's sha256 is {file_sha}, its name says {digest}")),
        None => problems.push(format!("{name}: not named autobuild-<sha256>.tar.gz")),
    }

    // One pass: the hash of every regular file, every RECORD, the manifest.
    let file = std::fs::File::open(image).with_context(|| format!("opening {shown}"))?;
    let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)));
    let mut hashes: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut records: BTreeMap<String, String> = BTreeMap::new();
    let mut manifest: Option<String> = None;
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    let mut links: BTreeMap<String, String> = BTreeMap::new();
    for entry in archive
        .entries()
        .with_context(|| format!("{shown}: not a tar.gz"))?
    {
        lastmile_core::interrupt::check()?;
        let mut entry = entry.with_context(|| format!("{shown}: corrupt archive"))?;
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        match entry.header().entry_type() {
            tar::EntryType::Regular => {}
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name()?.map(|t| t.to_string_lossy().into_owned());
                links.insert(path, target.unwrap_or_default());
                continue;
            }
            _ => continue,
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data)?;
        if path.ends_with(".dist-info/RECORD") {
            records.insert(path.clone(), String::from_utf8_lossy(&data).into_owned());
        }
        if path == "etc/lastmile/candidate.json" {
            manifest = Some(String::from_utf8_lossy(&data).into_owned());
        }
        if path.starts_with("etc/systemd/system/") || path == "etc/lastmile/sbom.cdx.json" {
            texts.insert(path.clone(), String::from_utf8_lossy(&data).into_owned());
        }
        let digest = Sha256::digest(&data);
        hashes.insert(
            path,
            (
                format!(
                    "sha256={}",
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
                ),
                data.len() as u64,
            ),
        );
    }
    let Some(manifest) = manifest else {
        problems.push("no /etc/lastmile/candidate.json".to_owned());
        return report(&shown, &problems);
    };
    let candidate = CandidateDocument::from_json(&manifest, "/etc/lastmile/candidate.json")?;
    let mut installed: BTreeMap<String, String> = BTreeMap::new();
    let mut listed: BTreeSet<String> = BTreeSet::new();
    let mut checked = 0usize;
    for (record_path, text) in &records {
        let site = record_path
            .rsplit_once('/')
            .and_then(|(dir, _)| dir.rsplit_once('/'))
            .map_or("", |(site, _)| site);
        let dist = record_path.rsplit('/').nth(1).unwrap_or("");
        installed.insert(
            dist.trim_end_matches(".dist-info").to_lowercase(),
            format!("{:x}", Sha256::digest(text.as_bytes())),
        );
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut fields = line.rsplitn(3, ',');
            let (size, hash, path) = (fields.next(), fields.next(), fields.next());
            let (Some(size), Some(hash), Some(path)) = (size, hash, path) else {
                problems.push(format!("{record_path}: bad row {line:?}"));
                continue;
            };
            if hash.is_empty() {
                listed.insert(normalize(&format!("{site}/{}", path.trim_matches('"'))));
                continue;
            }
            let path = path.trim_matches('"');
            let full = normalize(&format!("{site}/{path}"));
            listed.insert(full.clone());
            match hashes.get(&full) {
                None => problems.push(format!("/{full}: listed in {record_path} but missing")),
                Some((got, got_size)) => {
                    if got != hash || size.parse::<u64>().ok() != Some(*got_size) {
                        problems.push(format!("/{full}: differs from {record_path} ({hash}, got {got})"));
                    }
                }
            }
            checked += 1;
        }
    }
    // The manifest → RECORD link: each package installed, with the RECORD the bake wrote.
    for package in &candidate.packages {
        let stem = format!("{}-{}", package.name.replace('-', "_"), package.version).to_lowercase();
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
    // Nothing in the venv that no RECORD lists, but the venv's own files and bytecode.
    let venv = candidate.prefix.trim_start_matches('/').to_owned() + "/";
    let own = |rel: &str| {
        rel == "pyvenv.cfg"
            || rel == "lib64"
            || rel.starts_with("bin/python")
            || rel.contains("/__pycache__/") && rel.ends_with(".pyc")
    };
    for path in hashes.keys().chain(links.keys()) {
        if let Some(rel) = path.strip_prefix(&venv)
            && !own(rel)
            && !listed.contains(path)
        {
            problems.push(format!("/{path}: in the venv but in no RECORD"));
        }
    }
    // Units and SBOM: what the manifest says they are.
    match crate::services::unit_files(&candidate.services, &candidate.prefix, &candidate.packages) {
        Ok(units) => {
            for (path, expected) in &units {
                match texts.get(path) {
                    None => problems.push(format!("/{path}: missing")),
                    Some(text) if text != expected => {
                        problems.push(format!("/{path}: differs from the unit the manifest describes"));
                    }
                    Some(_) => {}
                }
            }
            for (link, target) in crate::services::enable_links(&candidate.services) {
                if links.get(&link) != Some(&target) {
                    let service = link.rsplit('/').next().unwrap_or("").trim_end_matches(".service");
                    problems.push(format!("/{link}: missing, so {service} would not start"));
                }
            }
        }
        Err(e) => problems.push(format!("the manifest's services: {e}")),
    }
    if texts.get("etc/lastmile/sbom.cdx.json") != Some(&crate::sbom::cyclonedx(&candidate)) {
        problems.push("/etc/lastmile/sbom.cdx.json: missing or not the SBOM of the manifest".to_owned());
    }
    if problems.is_empty() {
        let _ = writeln!(
            std::io::stderr().lock(),
            "bake-image: {shown}: ok ({} packages, {checked} files checked against their RECORD)",
            candidate.packages.len()
        );
    }
    report(&shown, &problems)
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
