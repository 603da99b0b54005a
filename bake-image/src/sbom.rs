//! A CycloneDX 1.5 SBOM of the candidate: one `library` component per installed distribution,
//! with its `pkg:pypi/NAME@VERSION` purl and the wheel's sha256, and, when the base was checked
//! against an OS lock, one per Debian package with its `pkg:deb/debian/NAME@VERSION?arch=ARCH`
//! purl, the `.deb`'s sha256 and the roles that asked for it. Deterministic: no serial number
//! or timestamp that would change between two bakes of the same inputs.

use lastmile_documents::candidate::CandidateDocument;
use serde_json::json;

pub(crate) fn cyclonedx(candidate: &CandidateDocument) -> String {
    let mut components: Vec<serde_json::Value> = candidate
        .packages
        .iter()
        .map(|p| {
            json!({
                "type": "library",
                "bom-ref": format!("pkg:pypi/{}@{}", p.name, p.version),
                "name": p.name,
                "version": p.version,
                "purl": format!("pkg:pypi/{}@{}?file_name={}", p.name, p.version, p.filename),
                "hashes": [{"alg": "SHA-256", "content": p.sha256}],
            })
        })
        .collect();
    let lock = candidate.base.lock.as_ref();
    for deb in lock.iter().flat_map(|l| &l.packages) {
        components.push(json!({
            "type": "library",
            "bom-ref": deb.purl(),
            "name": deb.name,
            "version": deb.version,
            "purl": deb.purl(),
            "hashes": [{"alg": "SHA-256", "content": deb.sha256}],
            "properties": [{"name": "lastmile:roles", "value": deb.roles.join(",")}],
        }));
    }
    let mut properties = vec![
        json!({"name": "lastmile:base-digest", "value": candidate.base.digest}),
        json!({"name": "lastmile:base-os", "value": candidate.base.os}),
        json!({"name": "lastmile:source-date-epoch", "value": candidate.source_date_epoch.to_string()}),
    ];
    if let Some(lock) = lock {
        properties.push(json!({"name": "lastmile:os-lock", "value": lock.sha256}));
        for (tool, version) in &lock.built_with {
            properties.push(json!({"name": format!("lastmile:base-built-with:{tool}"), "value": version}));
        }
    }
    for (repo, commit) in &candidate.source_commits {
        properties.push(json!({"name": format!("lastmile:source-commit:{repo}"), "value": commit}));
    }
    let document = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{"type": "application", "name": "bake-image", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {"type": "container", "name": "lastmile-release-candidate"},
            "properties": properties,
        },
        "components": components,
    });
    let mut text = serde_json::to_string_pretty(&document).expect("JSON values serialize");
    text.push('\n');
    text
}
