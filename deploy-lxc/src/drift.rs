//! Drift: a running node that no longer is what its generation made: another image under it,
//! a `node.env` that says other things than the generation gave it, roles enabled or disabled by
//! hand, or files of the image changed, added or removed inside it. `status` names each.

use std::collections::{BTreeMap, BTreeSet};

use lastmile_documents::node_env;

use crate::backend::Inspection;
use crate::state::{Generation, GenerationNode};

/// The most changed files named for one node (then how many more).
const NAMED: usize = 5;

/// Every way `node` (what it holds: `seen`) differs from what `generation` made, in words;
/// `node.env` is compared when `expected_env` says what the generation wrote.
pub fn differences(
    generation: &Generation,
    node: &GenerationNode,
    expected_env: Option<&str>,
    seen: &Inspection,
) -> Vec<String> {
    let name = &node.name;
    let number = generation.number;
    let mut said = Vec::new();
    if let Some(image) = seen.image
        && image != generation.digest
    {
        said.push(format!(
            "{name}: runs image {}, generation {number} has {}",
            image.short(12),
            generation.digest.short(12)
        ));
    }
    match (&seen.node_env, expected_env) {
        (_, None) => {}
        (None, Some(_)) => said.push(format!(
            "{name}: /{} is gone (generation {number} wrote it)",
            node_env::NODE_ENV_PATH
        )),
        (Some(text), Some(expected)) if text != expected => said.push(format!(
            "{name}: /{} differs from what generation {number} wrote: {}",
            node_env::NODE_ENV_PATH,
            env_differences(expected, text)
        )),
        (Some(_), Some(_)) => {}
    }
    let expected_roles: BTreeSet<String> = node
        .roles
        .iter()
        .filter(|r| seen.image_roles.contains(*r))
        .cloned()
        .collect();
    for role in expected_roles.difference(&seen.enabled_roles) {
        said.push(format!(
            "{name}: role {role} is not enabled (generation {number} enabled it)"
        ));
    }
    for role in seen.enabled_roles.difference(&expected_roles) {
        said.push(format!(
            "{name}: role {role} is enabled, which generation {number} did not give it"
        ));
    }
    if let Some(changed) = seen.changed.as_ref().filter(|c| !c.is_empty()) {
        let mut listed: Vec<String> = changed
            .iter()
            .take(NAMED)
            .map(|c| format!("{} ({})", c.path, c.kind))
            .collect();
        if changed.len() > NAMED {
            listed.push(format!("and {} more", changed.len() - NAMED));
        }
        said.push(format!(
            "{name}: {} file{} of the image changed in the node: {}",
            changed.len(),
            if changed.len() == 1 { "" } else { "s" },
            listed.join(", ")
        ));
    }
    said
}

/// `KEY is "b", not "a"`, `KEY added`, `KEY missing`, for each key of two `node.env` texts.
fn env_differences(expected: &str, found: &str) -> String {
    let parse = |text: &str| -> BTreeMap<String, String> {
        node_env::read(text)
            .map(|vars| vars.into_iter().collect())
            .unwrap_or_default()
    };
    let (expected, found) = (parse(expected), parse(found));
    let keys: BTreeSet<&String> = expected.keys().chain(found.keys()).collect();
    let mut said = Vec::new();
    for key in keys {
        match (expected.get(key), found.get(key)) {
            (Some(a), Some(b)) if a != b => said.push(format!("{key} is {b:?}, not {a:?}")),
            (None, Some(b)) => said.push(format!("{key}={b:?} added")),
            (Some(_), None) => said.push(format!("{key} missing")),
            _ => {}
        }
    }
    if said.is_empty() {
        "its lines differ (order or spacing)".to_owned()
    } else {
        said.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_env_differences_are_said_key_by_key() {
        let expected = "LASTMILE_NODE=\"sim\"\nKATCP_LOG_LEVEL=\"info\"\n";
        let found = "LASTMILE_NODE=\"sim\"\nKATCP_LOG_LEVEL=\"debug\"\nEXTRA=\"1\"\n";
        assert_eq!(
            env_differences(expected, found),
            "EXTRA=\"1\" added, KATCP_LOG_LEVEL is \"debug\", not \"info\""
        );
    }
}
