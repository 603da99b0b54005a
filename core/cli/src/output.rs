//! A tool's output: to stdout through a locked writer, or to the `-o` file, written atomically.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Write the whole output at once: to `file` atomically, or to stdout.
pub fn emit(file: Option<&Path>, bytes: &[u8]) -> anyhow::Result<()> {
    emit_with(file, |out| out.write_all(bytes))
}

/// Stream the output: into a temporary file beside `file` that is renamed over it once complete
/// (so a failure or a kill leaves the old file or none), or to stdout.
pub fn emit_with(
    file: Option<&Path>,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match file {
        Some(path) => lastmile_fs::write_atomic_with(path, |file| {
            let mut out = std::io::BufWriter::new(file);
            write(&mut out)?;
            out.flush()
        })
        .with_context(|| format!("writing {}", path.display())),
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out)?;
            out.flush()?;
            Ok(())
        }
    }
}
