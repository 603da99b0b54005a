//! The environment asked, at promotion, what it runs now: each node's `/etc/lastmile/node.env`
//! (which deploy-lxc writes for every generation) read through the node's exec (checked, when
//! the deployment document was read, to be what deploy-lxc writes for its backend). A node that
//! cannot be asked, or that runs another candidate or generation, refuses the promotion.

use std::time::Duration;

use lastmile_documents::deployment::DeploymentDocument;
use lastmile_documents::node_env::{self, NODE_ENV_PATH};
use lastmile_fs::Sha256;

/// How long one node may take to answer.
const LIMIT: Duration = Duration::from_secs(30);

/// Why the environment does not run `digest` in `generation` now, if it does not.
pub fn refusal(deployment: &DeploymentDocument, digest: &Sha256, generation: u64) -> Option<String> {
    let inside = format!("/{NODE_ENV_PATH}");
    for node in &deployment.nodes {
        let name = &node.name;
        let asked =
            crate::context::probe_node(node).and_then(|probe| probe.exec(&["cat", &inside], None, LIMIT));
        let text = match asked {
            Ok(ran) if ran.code == Some(0) => ran.stdout,
            Ok(ran) => {
                let said = ran.stderr.lines().last().unwrap_or("").to_owned();
                return Some(format!(
                    "node {name} could not be asked what it runs (reading {inside} ended {}: {said})",
                    ran.code
                        .map_or_else(|| "by a signal".to_owned(), |c| format!("with {c}"))
                ));
            }
            Err(e) => return Some(format!("node {name} could not be asked what it runs: {e}")),
        };
        let vars = match node_env::read(&text) {
            Ok(vars) => vars,
            Err(e) => return Some(format!("node {name}: {inside}: {e}")),
        };
        let get = |key: &str| vars.get(key).map_or("", String::as_str);
        let mut expected = vec![
            ("LASTMILE_ENV", deployment.environment.clone()),
            ("LASTMILE_NODE", name.clone()),
            ("LASTMILE_CANDIDATE", digest.to_string()),
            ("LASTMILE_GENERATION", generation.to_string()),
        ];
        if let Some(configuration) = &deployment.configuration {
            expected.push(("LASTMILE_CONFIGURATION", configuration.to_string()));
        }
        for (key, value) in expected {
            if get(key) != value {
                return Some(format!(
                    "node {name} says {key}={:?}, not {value:?}: the environment does not run what was qualified now",
                    get(key)
                ));
            }
        }
    }
    None
}
