//! The names the documents carry and the tools turn into container names, unit names, variable
//! names and argv words: one rule each, checked where a document is read and where an
//! environment file or a bake's services are read, so what one tool writes the next accepts.

/// An environment or node name: lower-case letters, digits and `-`, from a letter or digit, at
/// most 32 (part of container names and of variable names).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A role: lower-case letters, digits, `-` and `_` (part of a unit name and a variable name).
pub fn valid_role(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A service's unit name (without `.service`): letters, digits and `- _ .`, not from `-` (it
/// is an argument of `systemctl` and `journalctl`, never an option).
pub fn valid_unit_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A `[config]` variable: letters, digits and `_`, not from a digit (a shell and systemd both
/// read it), and not one of deploy-lxc's own `LASTMILE_*`.
pub fn valid_config_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("LASTMILE_")
}

/// An LXC container name as deploy-lxc makes them: letters, digits, `- _ .`, not from `-`.
pub fn valid_container_name(name: &str) -> bool {
    valid_unit_name(name) && name.len() <= 100
}

/// A value that may fill one argv word or one line of a file: no control characters (a
/// newline in a unit's command would be a second directive).
pub fn one_line(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_refused_when_they_could_be_more_than_names() {
        assert!(valid_name("sim-1") && !valid_name("Sim") && !valid_name("-x") && !valid_name("a_b"));
        assert!(!valid_name(&"a".repeat(33)));
        assert!(valid_role("data_rx") && !valid_role("a b") && !valid_role(""));
        assert!(valid_unit_name("katcp-proxy.v2") && !valid_unit_name("--user") && !valid_unit_name("a;b"));
        assert!(
            valid_config_name("KATCP_LOG") && !valid_config_name("1X") && !valid_config_name("LASTMILE_ENV")
        );
        assert!(one_line("a b") && !one_line("a\nExecStartPre=/bin/sh"));
    }
}
