//! The floor under depgraph in scripts/bench-depgraph: what any tool must pay to answer the same
//! question. With no argument it is an empty Rust program (process start and exit only); with
//! FILE it also lists the folders FILE names on `dir ` lines and reads, whole, every file on its
//! other lines (the files depgraph opened on the same input, as strace saw them), one after the
//! other, parsing nothing. Built by the benchmark with `rustc -O`, no crates.
use std::io::Read;

fn main() {
    let Some(list) = std::env::args_os().nth(1) else { return };
    let list = std::fs::read_to_string(list).expect("the file list");
    let mut bytes = 0usize;
    let mut buffer = Vec::with_capacity(1 << 16);
    for line in list.lines() {
        if let Some(dir) = line.strip_prefix("dir ") {
            bytes += std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
        } else if let Ok(mut file) = std::fs::File::open(line) {
            buffer.clear();
            bytes += file.read_to_end(&mut buffer).unwrap_or(0);
        }
    }
    // Used, so the reads cannot be optimised away.
    std::process::exit(i32::from(bytes == usize::MAX));
}
