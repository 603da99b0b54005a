//! Drift on real nodes: a freshly deployed environment has none (what its nodes write while they
//! run is not drift); then a node.env edited by hand, a role enabled by hand and a file of the
//! image changed inside a node are each named by `status`, which exits 1.

use lastmile_tests::lab::{Lab, candidates, json};

#[test]
fn status_names_a_node_that_drifted_from_its_generation() {
    let c = candidates();
    let lab = Lab::new("drift", 17, "timeout = \"60s\"");
    let applied = lab.apply(&c.good);
    assert_eq!(applied.code, 0, "{}", applied.stderr);
    let doc = json(&applied);
    assert!(doc["configuration"].is_string(), "{doc}");
    // Running and answering for a while writes logs, state and bytecode: none of it is drift.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let clean = lab.run(&["status"], None, &[]);
    assert_eq!(clean.code, 0, "a fresh environment drifted: {}", clean.stderr);

    let tamper = |node: &str, script: &str| {
        let out = lab.exec(&doc, node, &["sh", "-c", script]);
        assert_eq!(out.code, 0, "{node}: {script}: {}", out.stderr);
    };
    tamper(
        "monctl",
        "sed -i 's/^KATCP_LOG_LEVEL=.*/KATCP_LOG_LEVEL=\"info\"/' /etc/lastmile/node.env",
    );
    tamper(
        "sim",
        "ln -s /etc/systemd/system/lastmile-role-portal.target /etc/systemd/system/multi-user.target.wants/",
    );
    tamper(
        "portal",
        "echo '# patched by hand' >> \"$(/opt/lastmile/venv/bin/python -c 'import katportal, sys; sys.stdout.write(katportal.__file__)')\"",
    );
    let drifted = lab.run(&["status"], None, &[]);
    assert_eq!(drifted.code, 1, "{}", drifted.stderr);
    for said in [
        "monctl: /etc/lastmile/node.env differs from what generation 1 wrote: KATCP_LOG_LEVEL is \"info\", not \"debug\"",
        "sim: role portal is enabled, which generation 1 did not give it",
        "portal: 1 file of the image changed in the node: /opt/lastmile/venv/lib/python3.11/site-packages/katportal/__init__.py (changed)",
    ] {
        assert!(
            drifted.stderr.contains(said),
            "{said}\nnot in:\n{}",
            drifted.stderr
        );
    }
}
