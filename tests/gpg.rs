//! OpenPGP keys made for a test (gpg in a temporary home): a keyring to trust and clearsigned
//! files, as an archive signs its `InRelease`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A signing key with its own gpg home under a test's folder.
pub struct TestKey {
    home: PathBuf,
    /// The public keyring file (what `gpgv --keyring` and `signed-by=` take).
    pub keyring: PathBuf,
}

impl TestKey {
    /// A new ed25519 key named `name`, its home and keyring in `dir`.
    pub fn new(dir: &Path, name: &str) -> TestKey {
        let home = dir.join(format!("gnupg-{name}"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let key = TestKey {
            keyring: dir.join(format!("{name}.gpg")),
            home,
        };
        key.gpg(&[
            "--quick-gen-key",
            &format!("{name} <{name}@example.invalid>"),
            "ed25519",
            "sign",
            "never",
        ]);
        std::fs::write(&key.keyring, key.gpg(&["--export"])).unwrap();
        key
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .arg("--homedir")
            .arg(&self.home)
            .args([
                "--batch",
                "--quiet",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .expect("gpg (the gnupg package) is installed");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// `text`, clearsigned by this key, written to `out`.
    pub fn clearsign(&self, text: &str, out: &Path) {
        let input = out.with_extension("unsigned");
        std::fs::write(&input, text).unwrap();
        self.gpg(&[
            "--clearsign",
            "--output",
            &out.display().to_string(),
            &input.display().to_string(),
        ]);
        std::fs::remove_file(input).unwrap();
    }
}
