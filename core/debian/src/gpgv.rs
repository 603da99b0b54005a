//! `gpgv`: the signature of a clearsigned file (an `InRelease`) against keyrings, and the text
//! that was signed, as gpgv itself gives it back (never the text around the signature, which an
//! attacker could add to).

use std::path::{Path, PathBuf};

use crate::DebianError;

/// Verify the clearsigned `path` against `keyrings` (files such as
/// `/usr/share/keyrings/debian-archive-keyring.gpg`); returns the signed text.
pub fn verify_clearsigned(path: &Path, keyrings: &[PathBuf]) -> Result<String, DebianError> {
    let shown: Vec<String> = keyrings.iter().map(|k| k.display().to_string()).collect();
    let bad = |detail: String| DebianError::BadSignature {
        path: path.to_owned(),
        keyrings: shown.join(", "),
        detail,
    };
    if keyrings.is_empty() {
        return Err(bad("no keyring given".to_owned()));
    }
    for keyring in keyrings {
        if !keyring.is_file() {
            return Err(bad(format!("{}: no such keyring", keyring.display())));
        }
    }
    let out_dir = tempfile::tempdir().map_err(|e| DebianError::io("a temporary folder for gpgv", e))?;
    let signed = out_dir.path().join("signed");
    let mut args: Vec<std::ffi::OsString> = vec!["--status-fd".into(), "1".into()];
    for keyring in keyrings {
        args.push("--keyring".into());
        args.push(keyring.into());
    }
    args.push("--output".into());
    args.push(signed.clone().into());
    args.push(path.into());
    let out = lastmile_process::output(&duct::cmd("gpgv", args).env("LC_ALL", "C"))
        .map_err(|e| bad(format!("{e} (install the gpgv package)")))?;
    let status = String::from_utf8_lossy(&out.stdout);
    // A good signature by a key of the keyrings: GOODSIG and VALIDSIG, and nothing revoked or
    // expired (gpgv exits non-zero then too).
    let good = status.lines().any(|l| l.starts_with("[GNUPG:] VALIDSIG "))
        && status.lines().any(|l| l.starts_with("[GNUPG:] GOODSIG "));
    if !out.status.success() || !good {
        let said = String::from_utf8_lossy(&out.stderr);
        let detail = said
            .lines()
            .filter(|l| l.starts_with("gpgv:"))
            .map(|l| l.trim_start_matches("gpgv:").trim())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(bad(if detail.is_empty() {
            "gpgv refused it".to_owned()
        } else {
            detail
        }));
    }
    std::fs::read_to_string(&signed)
        .map_err(|e| DebianError::io(format!("{}: the signed text", path.display()), e))
}
