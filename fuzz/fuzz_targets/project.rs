//! Project files: pyproject.toml, setup.cfg and setup.py, read statically. The input is split
//! into the three files at NUL bytes.
#![no_main]

use std::sync::OnceLock;

use lastmile_project::{ReadOptions, read_project};
use libfuzzer_sys::fuzz_target;

fn dir() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fuzz_target!(|bytes: &[u8]| {
    let dir = dir();
    let mut parts = bytes.split(|b| *b == 0);
    for name in ["pyproject.toml", "setup.cfg", "setup.py"] {
        let path = dir.join(name);
        match parts.next() {
            Some(part) if !part.is_empty() => std::fs::write(&path, part).unwrap(),
            _ => {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let _ = read_project(dir, &ReadOptions::default());
});
