//! Reading inputs named on the command line, where `-` is standard input (read at most once).

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

static STDIN_TAKEN: AtomicBool = AtomicBool::new(false);

/// The display name of standard input in messages.
pub const STDIN_NAME: &str = "<stdin>";

/// Read all of standard input; a second call is refused, since the first one consumed it.
pub fn read_stdin() -> io::Result<String> {
    if STDIN_TAKEN.swap(true, Ordering::SeqCst) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "standard input (-) can only be read once",
        ));
    }
    lastmile_fs::read_text_limited(io::stdin().lock(), lastmile_fs::TEXT_LIMIT)
}

/// Read a file, or standard input for `-`. Returns the text and the name to use in messages.
pub fn read_path_or_stdin(path: &Path) -> io::Result<(String, String)> {
    if path == Path::new("-") {
        Ok((read_stdin()?, STDIN_NAME.to_owned()))
    } else {
        let text = lastmile_fs::read_text(path)?;
        Ok((text, path.display().to_string()))
    }
}

/// True when standard input is an interactive terminal (so nothing is being piped in).
pub fn stdin_is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdin().is_terminal()
}
