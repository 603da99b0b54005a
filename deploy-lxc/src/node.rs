//! What one node gets outside the shared image: `/etc/lastmile/node.env` (who it is, where every
//! other node is, the environment's values: the variables the deployment document defines), its
//! hostname, and its roles enabled (a link to each role's target in `multi-user.target.wants`,
//! before its first boot).

use lastmile_documents::candidate::{CandidateDocument, role_target};
use lastmile_documents::deployment::{DeployedNode, DeploymentDocument};

use crate::backend::NodeFiles;
use crate::env::{Environment, Node};

/// The services of the candidate that run on `node`: those without roles and those of its roles.
pub fn services<'a>(candidate: &'a CandidateDocument, node: &Node) -> Vec<&'a str> {
    candidate
        .services_for(&node.roles)
        .map(|(name, _)| name.as_str())
        .collect()
}

/// Every file and link `node` gets, as the document of its generation describes it.
pub fn files(planned: &DeploymentDocument, node: &DeployedNode, candidate: &CandidateDocument) -> NodeFiles {
    let vars = planned.variables(Some(node));
    let mut files = vec![
        (
            lastmile_documents::node_env::NODE_ENV_PATH.to_owned(),
            lastmile_documents::node_env::write(&planned.environment, &node.name, &vars),
        ),
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
