//! `bake-image`: not implemented yet (see the README's roadmap).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let _ = writeln!(std::io::stderr(), "bake-image: not implemented yet");
    ExitCode::from(2)
}
