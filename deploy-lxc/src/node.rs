//! What one node gets outside the shared image: `/etc/lastmile/node.env` (who it is, where every
//! other node is, the environment's values), its hostname, and its roles enabled (a link to each
//! role's target in `multi-user.target.wants`, before its first boot).

use std::collections::BTreeMap;

use lastmile_documents::candidate::{CandidateDocument, role_target};

use crate::backend::NodeFiles;
use crate::env::{Environment, Node, env_word};

/// The services of the candidate that run on `node`: those without roles and those of its roles.
pub fn services<'a>(candidate: &'a CandidateDocument, node: &Node) -> Vec<&'a str> {
    candidate
        .services
        .iter()
        .filter(|(_, s)| s.roles.is_empty() || s.roles.iter().any(|r| node.roles.contains(r)))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// The variables of `node.env`, in the order they are written.
pub fn variables(env: &Environment, node: &Node, generation: u64, candidate: &str) -> Vec<(String, String)> {
    let mut vars = vec![
        ("LASTMILE_ENV".to_owned(), env.name.clone()),
        ("LASTMILE_NODE".to_owned(), node.name.clone()),
        ("LASTMILE_ROLES".to_owned(), node.roles.join(" ")),
        ("LASTMILE_NODE_ADDR".to_owned(), node.address.to_string()),
        ("LASTMILE_GENERATION".to_owned(), generation.to_string()),
        ("LASTMILE_CANDIDATE".to_owned(), candidate.to_owned()),
    ];
    for other in &env.nodes {
        vars.push((
            format!("LASTMILE_ADDR_{}", other.env_name()),
            other.address.to_string(),
        ));
    }
    let mut by_role: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for other in &env.nodes {
        for role in &other.roles {
            by_role.entry(role).or_default().push(other.address.to_string());
        }
    }
    for (role, addresses) in by_role {
        vars.push((format!("LASTMILE_ROLE_{}", env_word(role)), addresses.join(" ")));
    }
    vars.extend(env.config.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}

/// `node.env` as systemd's `EnvironmentFile=` and a shell's `.` both read it: one
/// `NAME="value"` per line, with `\`, `"`, `$` and `` ` `` escaped.
pub fn env_file(env: &Environment, node: &Node, vars: &[(String, String)]) -> String {
    let mut text = format!(
        "# Written by deploy-lxc for node {} of environment {}; not part of the image.\n",
        node.name, env.name
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

/// Every file and link a node of `generation` gets.
pub fn files(
    env: &Environment,
    node: &Node,
    generation: u64,
    candidate: &CandidateDocument,
    digest: &str,
) -> NodeFiles {
    let vars = variables(env, node, generation, digest);
    let mut files = vec![
        ("etc/lastmile/node.env".to_owned(), env_file(env, node, &vars)),
        ("etc/hostname".to_owned(), format!("{}\n", node.name)),
    ];
    files.sort();
    let known_roles = candidate.roles();
    let links = node
        .roles
        .iter()
        .filter(|role| known_roles.contains(role))
        .map(|role| {
            (
                format!("etc/systemd/system/multi-user.target.wants/{}", role_target(role)),
                format!("/etc/systemd/system/{}", role_target(role)),
            )
        })
        .collect();
    NodeFiles {
        files,
        links,
        environment: vars,
    }
}

/// What does not fit between the environment and the candidate: a node role no service has, a
/// service role no node has. Said as warnings, not refused (a role may be empty on purpose).
pub fn mismatches(env: &Environment, candidate: &CandidateDocument) -> Vec<String> {
    let known = candidate.roles();
    let mut said = Vec::new();
    for node in &env.nodes {
        for role in &node.roles {
            if !known.contains(role) {
                said.push(format!(
                    "node {}: no service of the candidate has role {role}",
                    node.name
                ));
            }
        }
    }
    for role in &known {
        if !env.nodes.iter().any(|n| n.roles.contains(role)) {
            said.push(format!(
                "role {role}: no node of {} has it; its services run nowhere",
                env.name
            ));
        }
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_for_systemd_and_the_shell() {
        let env = crate::env::parse(
            "name = \"lab\"\nbackend = \"lxc\"\n[config]\nGREETING = 'say \"hi\" $HOME `x` \\\\'\n\
             [nodes.monctl]\nroles = [\"monctl\"]\naddress = \"127.77.0.2\"\n\
             [nodes.sim-1]\nroles = [\"sim\", \"monctl\"]\naddress = \"127.77.0.3\"\n",
            "lab.toml",
        )
        .unwrap();
        let node = &env.nodes[1];
        let vars = variables(&env, node, 3, "abc");
        let text = env_file(&env, node, &vars);
        assert!(text.contains("LASTMILE_NODE=\"sim-1\"\n"), "{text}");
        assert!(text.contains("LASTMILE_ROLES=\"monctl sim\"\n"), "{text}");
        assert!(text.contains("LASTMILE_ADDR_SIM_1=\"127.77.0.3\"\n"), "{text}");
        assert!(
            text.contains("LASTMILE_ROLE_MONCTL=\"127.77.0.2 127.77.0.3\"\n"),
            "{text}"
        );
        assert!(text.contains("LASTMILE_ROLE_SIM=\"127.77.0.3\"\n"), "{text}");
        // What a shell reads back is the value as written.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("node.env"), &text).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(". ./node.env; printf %s \"$GREETING\"")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "say \"hi\" $HOME `x` \\\\");
    }
}
