//! sdists (.tar.gz and .zip): PKG-INFO and the egg-info files inside.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fuzz_target!(|bytes: &[u8]| {
    for name in ["fuzz-1.0.tar.gz", "fuzz-1.0.zip"] {
        let path = dir().join(name);
        std::fs::write(&path, bytes).unwrap();
        let _ = lastmile_dist::read_sdist(&path);
    }
});
