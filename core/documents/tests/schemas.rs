//! Each document type is tied to its schema under `schemas/`: its version string is the schema's
//! `$id`, and a document the type writes (a realistic one, every optional part filled) is valid
//! against it, while a document missing a required part or with an unknown field is not.

use std::collections::BTreeMap;

use lastmile_documents::Document;
use lastmile_documents::candidate::{
    BaseInfo, BaseLock, CandidateDocument, CandidatePackage, DebPackage, ImageInfo, SCHEMA as CANDIDATE,
    Service, TargetInfo,
};
use lastmile_documents::graph::{Edge, GraphDocument, Node, SCHEMA as GRAPH, Source, SourceKind};
use lastmile_documents::lock::{LockDocument, LockTarget, LockedFile, LockedPackage, SCHEMA as LOCK};
use lastmile_fs::Sha256;

fn errors<T: Document>(value: &serde_json::Value) -> Vec<String> {
    let schema: serde_json::Value = serde_json::from_str(T::JSON_SCHEMA).expect("the schema is JSON");
    assert_eq!(
        schema["$id"],
        T::SCHEMA,
        "the schema's $id is the document's version"
    );
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

/// The document is valid; without `drop` or with an extra field it is not.
fn check<T: Document>(document: &T, drop: &str) {
    let value: serde_json::Value = serde_json::from_str(&document.to_json()).unwrap();
    assert_eq!(errors::<T>(&value), Vec::<String>::new());
    let mut missing = value.clone();
    missing.as_object_mut().unwrap().remove(drop);
    assert!(!errors::<T>(&missing).is_empty(), "valid without {drop}");
    let mut extra = value.clone();
    extra["surprise"] = serde_json::json!(1);
    assert!(!errors::<T>(&extra).is_empty(), "valid with an unknown field");
    // And it reads back as the same document.
    let again = T::from_json(&document.to_json(), "test").unwrap();
    assert_eq!(again.to_json(), document.to_json());
}

fn name(text: &str) -> lastmile_python::PackageName {
    text.parse().unwrap()
}

#[test]
fn graph_documents_follow_their_schema() {
    let node = |n: &str, internal: bool| Node {
        name: name(n),
        version: Some("1.0".into()),
        internal,
        source: Some(Source {
            kind: SourceKind::Pyproject,
            path: format!("examples/{n}"),
        }),
        requires_python: Some(">=3.9".into()),
        extras: vec!["monitoring".parse().unwrap()],
        scripts: BTreeMap::from([("kat".into(), "kat.cli:main".into())]),
    };
    let document = GraphDocument {
        schema: GRAPH.into(),
        nodes: vec![node("katcore", true), node("katcp", true)],
        edges: vec![Edge {
            from: name("katcore"),
            to: name("katcp"),
            specifier: ">=0.9".into(),
            extras: vec![],
            extra: None,
            marker: Some("python_full_version >= '3.9'".into()),
            url: None,
            declared_at: Some("examples/katcore/pyproject.toml:12".into()),
            kind: lastmile_documents::graph::EdgeKind::Run,
        }],
        roots: vec![name("katcp")],
        leaves: vec![name("katcore")],
        build_order: Some(vec![vec![name("katcp")], vec![name("katcore")]]),
        cycles: vec![],
        duplicates: vec![],
    };
    check(&document, "edges");
}

#[test]
fn lock_documents_follow_their_schema() {
    let document = LockDocument {
        schema: LOCK.into(),
        target: LockTarget {
            python: "3.11".into(),
            platform: "x86_64-manylinux_2_36".into(),
        },
        requirements: vec!["katcore".into()],
        packages: vec![LockedPackage {
            name: name("katcore"),
            version: "1.3.0".into(),
            extras: vec![],
            dependencies: vec![name("katcp")],
            files: vec![LockedFile {
                filename: "katcore-1.3.0-py3-none-any.whl".into(),
                url: "file:///wheels/katcore-1.3.0-py3-none-any.whl".into(),
                sha256: Sha256::of(b"katcore"),
                size: 1234,
                upload_time: Some("2026-11-01T10:00:00Z".into()),
                installable: true,
            }],
        }],
    };
    check(&document, "packages");
}

#[test]
fn candidate_documents_follow_their_schema() {
    let document = CandidateDocument {
        schema: CANDIDATE.into(),
        image: Some(ImageInfo {
            path: "images/autobuild-0123456789ab.tar.gz".into(),
            sha256: Sha256::of(b"image"),
            size: 97_700_000,
        }),
        base: BaseInfo {
            digest: Sha256::of(b"base"),
            os: "debian 12 (bookworm)".into(),
            lock: Some(BaseLock {
                sha256: Sha256::of(b"lock"),
                built_with: [("mmdebstrap".to_owned(), "1.3.5-7".to_owned())].into(),
                packages: vec![DebPackage {
                    name: "nginx".into(),
                    version: "1.22.1-9+deb12u9".into(),
                    architecture: "amd64".into(),
                    sha256: Sha256::of(b"nginx.deb"),
                    roles: vec!["portal".into()],
                }],
            }),
        },
        target: TargetInfo {
            python: "3.11.2".into(),
            platform: "x86_64-manylinux_2_36".into(),
        },
        prefix: "/opt/lastmile/venv".into(),
        packages: vec![CandidatePackage {
            name: "katcore".into(),
            version: "1.3.0".into(),
            filename: "katcore-1.3.0-py3-none-any.whl".into(),
            sha256: Sha256::of(b"wheel"),
            scripts: vec!["katcore-report".into()],
            record_sha256: Sha256::of(b"record"),
            built_from: None,
        }],
        services: BTreeMap::from([(
            "katportal".into(),
            Service {
                command: "katportal --port 8080".into(),
                roles: vec!["portal".into()],
                health: Some("http://127.0.0.1:8080/health".parse().unwrap()),
                description: Some("the operator portal".into()),
                wait_for: vec!["monctl:7147".parse().unwrap()],
            },
        )]),
        source_commits: BTreeMap::from([("cam".into(), "0123456789abcdef".into())]),
        inputs: BTreeMap::from([("pinned".into(), Sha256::of(b"pins"))]),
        masked_units: vec!["apt-daily.timer".into(), "getty@tty1.service".into()],
        source_date_epoch: 1_700_000_000,
        tool: "bake-image 0.1.0".into(),
        compression: "gzip level 6, members cut at entries (up to 1024 KiB), flate2 (zlib-rs)".into(),
    };
    check(&document, "packages");
}

#[test]
fn deployment_documents_follow_their_schema() {
    use lastmile_documents::deployment::{
        Backend, DeployedCandidate, DeployedNode, DeploymentDocument, HealthResult, KeptGeneration,
        NodeState, Outcome, SCHEMA as DEPLOYMENT,
    };
    let document = DeploymentDocument {
        schema: DEPLOYMENT.into(),
        environment: "lab".into(),
        instance: Some("ci-42".into()),
        backend: Backend::Lxc,
        outcome: Outcome::Reverted,
        candidate: Some(DeployedCandidate {
            digest: Sha256::of(b"image"),
            image: "/images/autobuild-0123456789ab.tar.gz".into(),
            source_commits: BTreeMap::from([("cam".into(), "3f2c1e9".into())]),
        }),
        generation: Some(2),
        refused: Some(DeployedCandidate {
            digest: Sha256::of(b"new"),
            image: "/images/autobuild-ba9876543210.tar.gz".into(),
            source_commits: BTreeMap::new(),
        }),
        nodes: vec![DeployedNode {
            name: "monctl".into(),
            container: "lastmile-lab-monctl-2".into(),
            address: "127.77.0.2".parse().unwrap(),
            roles: vec!["monctl".into()],
            services: vec!["katproxy".into()],
            state: NodeState::Reverted,
            exec: "lxc-attach -P /var/lib/lastmile/lab/lxc -n lastmile-lab-monctl-2 --clear-env --set-var PATH=/usr/bin --"
                .split(' ')
                .map(Into::into)
                .collect(),
            health: vec![HealthResult {
                service: "katproxy".into(),
                check: "tcp:127.77.0.2:7150".into(),
                ok: true,
                attempts: 2,
                elapsed_ms: 300,
                detail: "ok".into(),
            }],
            downtime_ms: Some(1800),
        }],
        config: BTreeMap::from([("KATCP_LOG_LEVEL".into(), "info".into())]),
        configuration: Some(Sha256::of(b"configuration")),
        kept: vec![KeptGeneration {
            generation: 1,
            digest: Sha256::of(b"old"),
        }],
        timings_ms: BTreeMap::from([("total".into(), 9000)]),
    };
    check(&document, "nodes");
}

#[test]
fn promotion_entries_follow_their_schema() {
    use lastmile_documents::promotion::{Moved, PromotionEntry, Qualification, SCHEMA as PROMOTION};
    let qualification = |environment: &str| Qualification {
        environment: environment.into(),
        instance: Some("ci-42".into()),
        generation: 3,
        configuration: Some(Sha256::of(environment.as_bytes())),
        report_sha256: Sha256::of(b"report"),
    };
    let entry = PromotionEntry {
        schema: PROMOTION.into(),
        channel: "stable".into(),
        digest: Sha256::of(b"image"),
        previous: Some(Sha256::of(b"old")),
        moved: vec![Moved::Candidate, Moved::Configuration],
        time: "2026-12-02T10:00:00Z".into(),
        image: "/images/autobuild-0123456789ab.tar.gz".into(),
        qualified: vec![qualification("lab"), qualification("staging")],
    };
    check(&entry, "moved");
    // What the document cannot say by its shape alone.
    let inconsistent = |entry: &PromotionEntry, said: &str| {
        let err = PromotionEntry::from_json(&entry.to_json(), "log.jsonl:3").unwrap_err();
        assert!(err.to_string().contains(said), "{err}");
    };
    let mut same = entry.clone();
    same.previous = Some(same.digest);
    inconsistent(
        &same,
        "moved says the candidate moved, but the previous head is the same candidate",
    );
    let mut unsorted = entry.clone();
    unsorted.qualified.reverse();
    inconsistent(&unsorted, "qualified is not sorted by environment");
}
