//! `/etc/lastmile/node.env`: the variables deploy-lxc gives a node (who it is, which generation
//! and candidate it runs, where the others are, the `[config]` values), written once here and
//! read back here: aqf-run reads it to confirm, at promotion, what a node runs now.
//!
//! Each line is `NAME="VALUE"` with `\`, `"`, `$` and `` ` `` escaped by a backslash: a file
//! both systemd's `EnvironmentFile=` and a POSIX shell's `.` read as the same values.

use std::collections::BTreeMap;

/// Where the file is inside a node, relative to its root.
pub const NODE_ENV_PATH: &str = "etc/lastmile/node.env";

/// The file's text for `node` of `environment`.
pub fn write(environment: &str, node: &str, vars: &[(String, String)]) -> String {
    let mut text = format!(
        "# Written by deploy-lxc for node {node} of environment {environment}; not part of the image.\n"
    );
    for (name, value) in vars {
        let mut quoted = String::with_capacity(value.len() + 2);
        for c in value.chars() {
            if matches!(c, '\\' | '"' | '$' | '`') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        text.push_str(&format!("{name}=\"{quoted}\"\n"));
    }
    text
}

/// The variables of a file [`write`] made; a line it would not write is an error naming it.
pub fn read(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut vars = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once('=').and_then(|(name, quoted)| {
            let inner = quoted.strip_prefix('"')?.strip_suffix('"')?;
            Some((name, unescape(inner)?))
        });
        match parsed {
            Some((name, value)) if !name.is_empty() => {
                vars.insert(name.to_owned(), value);
            }
            _ => return Err(format!("line {}: not NAME=\"VALUE\"", n + 1)),
        }
    }
    Ok(vars)
}

fn unescape(inner: &str) -> Option<String> {
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => value.push(chars.next().filter(|c| matches!(c, '\\' | '"' | '$' | '`'))?),
            '"' | '$' | '`' => return None,
            c => value.push(c),
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_the_same() {
        let vars: Vec<(String, String)> = [("LASTMILE_ENV", "lab"), ("ODD", r#"a "b" $c `d` \e"#)]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let text = write("lab", "monctl", &vars);
        assert!(text.contains(r#"ODD="a \"b\" \$c \`d\` \\e""#), "{text}");
        let back = read(&text).unwrap();
        assert_eq!(back.into_iter().collect::<Vec<_>>(), {
            let mut sorted = vars.clone();
            sorted.sort();
            sorted
        });
        assert_eq!(read("X=\"$(id)\"\n").unwrap_err(), "line 1: not NAME=\"VALUE\"");
        // What a shell reads back is the value as written.
        let mut shell = std::process::Command::new("sh")
            .args(["-c", ". /dev/stdin; printf %s \"$ODD\""])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut shell.stdin.take().unwrap(), text.as_bytes()).unwrap();
        let out = shell.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), vars[1].1);
        assert!(read("X=unquoted\n").is_err());
    }
}
