//! The lines of a requirements file: `\\` continuations and comments joined and stripped, an
//! option split from its value, `${VAR}` expanded, and a requirement's trailing options.

use lastmile_fs::{InputError, Location};

type Hashes = Vec<(String, String)>;

/// A requirement line without its trailing per-requirement options: the `--hash=ALGO:HEX`
/// values, and the options that change nothing for a resolver (`--config-settings`,
/// `--global-option`), as written.
pub(super) fn split_line_options<'a>(
    line: &'a str,
    at: &Location,
) -> Result<(&'a str, Hashes, Vec<String>), InputError> {
    let Some(start) = [" --hash", " --config-settings", " --global-option"]
        .iter()
        .filter_map(|option| line.find(option))
        .min()
    else {
        return Ok((line, Vec::new(), Vec::new()));
    };
    let mut hashes = Vec::new();
    let mut ignored = Vec::new();
    let mut words = line[start..].split_whitespace();
    while let Some(word) = words.next() {
        let (option, inline) = match word.split_once('=') {
            Some((option, value)) => (option, Some(value)),
            None => (word, None),
        };
        let mut value = || {
            inline
                .map(str::to_owned)
                .or_else(|| words.next().map(str::to_owned))
                .unwrap_or_default()
        };
        match option {
            "--hash" => {
                let value = value();
                match value.split_once(':') {
                    Some((algo, hex)) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        hashes.push((algo.to_ascii_lowercase(), hex.to_ascii_lowercase()));
                    }
                    _ => {
                        return Err(InputError::new(
                            at.clone(),
                            format!("--hash {value:?}: expected ALGORITHM:HEX, like sha256:2c26b46b..."),
                        ));
                    }
                }
            }
            "--config-settings" | "--global-option" => ignored.push(format!("{option} {}", value())),
            _ => {
                return Err(InputError::new(
                    at.clone(),
                    format!("unexpected {word:?} after the requirement's options"),
                ));
            }
        }
    }
    Ok((line[..start].trim_end(), hashes, ignored))
}

/// Lines with comments removed and `\` continuations joined, each with its first line number.
pub(super) fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, raw) in text.lines().enumerate() {
        let content = match raw.find(" #").or_else(|| raw.find("\t#")) {
            _ if raw.trim_start().starts_with('#') => "",
            Some(at) => &raw[..at],
            None => raw,
        };
        let (start, mut joined) = pending.take().unwrap_or((index + 1, String::new()));
        if let Some(head) = content.strip_suffix('\\') {
            joined.push_str(head);
            pending = Some((start, joined));
        } else {
            joined.push_str(content);
            out.push((start, joined));
        }
    }
    out.extend(pending);
    out
}

/// `--opt=value`, `--opt value`, `-r file`, `-rfile`.
pub(super) fn split_option(line: &str) -> (String, Option<String>) {
    if let Some((option, value)) = line
        .split_once('=')
        .filter(|(o, _)| o.starts_with("--") && !o.contains(' '))
    {
        return (option.to_owned(), Some(value.trim().to_owned()));
    }
    match line.split_once(char::is_whitespace) {
        Some((option, value)) => (option.to_owned(), Some(value.trim().to_owned())),
        // `-rfile`: a dash, one letter, the value (any characters, so split on a char boundary).
        None if !line.starts_with("--") => {
            let mut chars = line.char_indices();
            match (chars.next(), chars.next(), chars.next()) {
                (Some(_), Some(_), Some((at, _))) => (line[..at].to_owned(), Some(line[at..].to_owned())),
                _ => (line.to_owned(), None),
            }
        }
        None => (line.to_owned(), None),
    }
}

/// Expand `${NAME}` from the environment, as pip does; an unset variable is an error.
pub(super) fn expand_env(line: &str, at: &Location) -> Result<String, InputError> {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &rest[start + 2..start + end];
        let value = std::env::var(name)
            .map_err(|_| InputError::new(at.clone(), format!("environment variable {name} is not set")))?;
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
