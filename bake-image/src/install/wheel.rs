//! One wheel being installed: its zip, its `.dist-info`, and the hashes its `RECORD` promises,
//! which every member is checked against as it is read.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use lastmile_dist::record;

use super::{InstallError, bad};

pub(crate) type Zip = zip::ZipArchive<BufReader<std::fs::File>>;

/// An opened wheel.
pub(crate) struct Wheel {
    pub(crate) path: PathBuf,
    /// The wheel's path, for messages.
    pub(crate) shown: String,
    pub(crate) zip: Zip,
    /// `katcp-0.9.4.dist-info`.
    pub(crate) dist_info: String,
    pub(crate) name: String,
    pub(crate) version: String,
    /// RECORD rows: member → `sha256=...` (`None` for rows without a hash).
    pub(crate) expected: BTreeMap<String, Option<String>>,
}

impl Wheel {
    pub(crate) fn open(path: &Path) -> Result<Self, InstallError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| InstallError::Io(e, shown.clone()))?;
        let mut zip = zip::ZipArchive::new(BufReader::new(file))
            .map_err(|e| bad(&shown, format!("not a wheel (zip): {e}")))?;
        let dist_info = zip
            .file_names()
            .filter_map(|n| n.strip_suffix("/WHEEL"))
            .find(|d| d.ends_with(".dist-info") && !d.contains('/'))
            .ok_or_else(|| bad(&shown, "no *.dist-info/WHEEL"))?
            .to_owned();
        let stem = dist_info.trim_end_matches(".dist-info");
        let (name, version) = stem
            .split_once('-')
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .ok_or_else(|| bad(&shown, format!("{dist_info}: not NAME-VERSION.dist-info")))?;
        check_no_overlaps(&mut zip, &shown)?;
        let text = read_member(&mut zip, &format!("{dist_info}/RECORD"), &shown)?;
        let expected = record::parse(&String::from_utf8_lossy(&text))
            .map_err(|e| bad(&shown, format!("{dist_info}/RECORD: {e}")))?
            .into_iter()
            .map(|row| (row.path, row.hash))
            .collect();
        Ok(Self {
            path: path.to_path_buf(),
            shown,
            zip,
            dist_info,
            name,
            version,
            expected,
        })
    }

    /// `NAME-VERSION.data/`, where a wheel keeps files for other schemes.
    pub(crate) fn data_dir(&self) -> String {
        format!("{}.data/", self.dist_info.trim_end_matches(".dist-info"))
    }

    /// A member's bytes, if the wheel has it.
    pub(crate) fn member(&mut self, name: &str) -> Result<Vec<u8>, InstallError> {
        read_member(&mut self.zip, name, &self.shown)
    }

    /// Check a member's bytes against the wheel's RECORD.
    pub(crate) fn check_hash(&self, member: &str, record_hash: &str) -> Result<(), InstallError> {
        match self.expected.get(member) {
            Some(Some(want)) if want != record_hash => Err(bad(
                &self.shown,
                format!(
                    "{member}: its hash does not match the wheel's RECORD; the wheel is corrupt or was altered"
                ),
            )),
            Some(_) => Ok(()),
            None => Err(bad(
                &self.shown,
                format!("{member}: not listed in the wheel's RECORD"),
            )),
        }
    }
}

/// Refuse a zip whose entries overlap: several entries reading the same compressed bytes is how
/// a tiny "wheel" expands into gigabytes (a zip bomb); no real wheel does it.
fn check_no_overlaps(zip: &mut Zip, shown: &str) -> Result<(), InstallError> {
    let mut spans = Vec::with_capacity(zip.len());
    for index in 0..zip.len() {
        let entry = zip.by_index_raw(index).map_err(|e| bad(shown, e.to_string()))?;
        let end = entry.data_start().saturating_add(entry.compressed_size());
        spans.push((entry.header_start(), end, entry.name().to_owned()));
    }
    spans.sort();
    for pair in spans.windows(2) {
        if pair[1].0 < pair[0].1 {
            return Err(bad(
                shown,
                format!(
                    "entries {} and {} overlap in the zip (a zip bomb?); refusing the wheel",
                    pair[0].2, pair[1].2
                ),
            ));
        }
    }
    Ok(())
}

/// Whether the member is the wheel's RECORD itself or its signature (never installed as is).
pub(crate) fn is_record(dist_info: &str, member: &str) -> bool {
    member == format!("{dist_info}/RECORD")
        || member.ends_with("/RECORD.jws")
        || member.ends_with("/RECORD.p7s")
}

fn read_member<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    shown: &str,
) -> Result<Vec<u8>, InstallError> {
    let mut entry = zip
        .by_name(name)
        .map_err(|_| bad(shown, format!("no {name} in the wheel")))?;
    let mut data = Vec::new();
    entry
        .read_to_end(&mut data)
        .map_err(|e| InstallError::Io(e, shown.to_owned()))?;
    Ok(data)
}

/// Refuse member names that would land outside the venv.
pub(crate) fn check_member(member: &str, shown: &str) -> Result<(), InstallError> {
    let path = Path::new(member);
    let escapes = member.starts_with('/')
        || member.contains('\\')
        || member.contains('\0')
        || path.components().any(|c| !matches!(c, Component::Normal(_)));
    if escapes {
        return Err(bad(
            shown,
            format!(
                "{member:?}: an absolute path or `..` in a wheel entry; refusing to install outside the venv"
            ),
        ));
    }
    Ok(())
}

/// A wheel's zip, opened once per run (for reading deferred members back).
pub(crate) fn open_zip<'a>(
    zips: &'a mut HashMap<PathBuf, Zip>,
    wheel: &Path,
) -> std::io::Result<&'a mut Zip> {
    if !zips.contains_key(wheel) {
        let file = std::fs::File::open(wheel)?;
        let zip = zip::ZipArchive::new(BufReader::new(file)).map_err(std::io::Error::other)?;
        zips.insert(wheel.to_path_buf(), zip);
    }
    Ok(zips.get_mut(wheel).expect("just inserted"))
}

/// The sha256 a RECORD (`expected`, a wheel's rows) gives a member, when it gives one in the
/// canonical form.
pub(crate) fn recorded_sha256(
    expected: &BTreeMap<String, Option<String>>,
    member: &str,
) -> Option<lastmile_fs::Sha256> {
    use base64::Engine;
    let recorded = expected.get(member)?.as_ref()?;
    let encoded = recorded.strip_prefix("sha256=")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()?;
    let digest = lastmile_fs::Sha256::from(<[u8; 32]>::try_from(bytes).ok()?);
    (record::hash_of_digest(&digest) == *recorded).then_some(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_outside_the_venv_are_refused() {
        for member in ["/etc/passwd", "../../etc/passwd", "pkg/../../x", "a\\b"] {
            assert!(check_member(member, "w.whl").is_err(), "{member}");
        }
        assert!(check_member("pkg/__init__.py", "w.whl").is_ok());
    }
}
