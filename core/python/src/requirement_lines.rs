//! Plain requirement-list files as setuptools reads them for `dynamic` dependencies
//! (`[tool.setuptools.dynamic] dependencies = {file = [...]}`, `install_requires = file: ...`):
//! one PEP 508 string a line, `#` comments, `\` continuations, no pip options.

use crate::requirement::RawDependency;
use lastmile_fs::{InputError, Location};

/// Read the requirement lines of `text`, each with its 1-based line number.
pub fn parse_requirement_lines(text: &str, location: &Location) -> Result<Vec<RawDependency>, InputError> {
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let content = strip_comment(line);
        let (start, mut joined) = pending.take().unwrap_or((line_no, String::new()));
        if let Some(head) = content.strip_suffix('\\') {
            joined.push_str(head);
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(content);
        let requirement = joined.trim();
        if requirement.is_empty() {
            continue;
        }
        if requirement.starts_with('-') {
            return Err(InputError::new(
                location.at(start),
                format!("pip option {requirement:?} is not allowed in a setuptools dependency file"),
            ));
        }
        out.push(RawDependency::new(requirement, location.at(start)));
    }
    if let Some((start, joined)) = pending
        && !joined.trim().is_empty()
    {
        out.push(RawDependency::new(joined.trim(), location.at(start)));
    }
    Ok(out)
}

/// Remove a `#` comment: at the start of the line, or after whitespace (pip's rule).
fn strip_comment(line: &str) -> &str {
    if line.trim_start().starts_with('#') {
        return "";
    }
    match line.find(" #").or_else(|| line.find("\t#")) {
        Some(at) => &line[..at],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_comments_and_continuations() {
        let text = "# pinned by hand\nkatconf>=2.0  # config\n\nkatcore \\\n  >=1.3\n";
        let deps = parse_requirement_lines(text, &Location::file("requirements.txt")).unwrap();
        let got: Vec<_> = deps.iter().map(|d| (d.text.as_str(), d.location.line)).collect();
        assert_eq!(got, [("katconf>=2.0", Some(2)), ("katcore   >=1.3", Some(4))]);
    }

    #[test]
    fn pip_options_are_refused_with_the_line() {
        let err = parse_requirement_lines("a\n-r other.txt\n", &Location::file("req.txt")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "req.txt:2: pip option \"-r other.txt\" is not allowed in a setuptools dependency file"
        );
    }
}
