//! deploy-lxc on real LXC containers with systemd inside: the example system baked by
//! bake-image (three candidates: two good ones and one whose simulator listens on the wrong
//! port) deployed to three-node environments whose nodes share the host's network, each on its
//! own loopback address (127.77.N.2-4). Containers are named `lmtest-<pid>-...` and live under a
//! temporary state folder; every test removes them, also when it fails. Needs root.

use std::path::PathBuf;
use std::process::Command;

use lastmile_tests::{run_command, tool, workspace};

use lastmile_tests::lab::{Lab, answers, candidates, digest, json, valid};
use lastmile_tests::schema::assert_valid;

mod drift;
mod instances;

#[test]
fn first_deploy_second_candidate_noop_rollback_status_destroy() {
    let c = candidates();
    let lab = Lab::new("first", 11, "timeout = \"60s\"\nretries = 1");
    plan_and_status_leave_no_trace(&lab, &c.good);
    let first = lab.apply(&c.good);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let doc = json(&first);
    valid(&doc);
    assert_eq!(doc["outcome"], "deployed");
    assert_eq!(doc["generation"], 1);
    assert_eq!(doc["candidate"]["digest"], digest(&c.good));
    each_node_runs_its_roles(&lab, &doc);
    status_elsewhere_names_where_they_run(&lab);
    writes_stay_in_their_node(&lab, &doc, &c.good);
    // The same candidate again: nothing happens.
    let again = lab.apply(&c.good);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(json(&again)["outcome"], "unchanged");
    assert!(again.stderr.contains("already runs"), "{}", again.stderr);
    let plan = lab.run(&["plan"], Some(&c.good), &[]);
    assert_eq!(json(&plan)["unchanged"], true);
    assert_valid(&json(&plan), "deploy-plan.v1");

    // A second candidate switches every node, each down for a moment only.
    let plan = lab.run(&["plan"], Some(&c.second), &[]);
    let steps = json(&plan)["steps"].to_string();
    assert!(
        steps.contains("stop lmtest-") && steps.contains("start lmtest-"),
        "{steps}"
    );
    let second = lab.apply(&c.second);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let doc2 = json(&second);
    valid(&doc2);
    assert_eq!(doc2["generation"], 2);
    assert_eq!(doc2["candidate"]["digest"], digest(&c.second));
    assert_eq!(doc2["kept"][0]["generation"], 1);
    for node in doc2["nodes"].as_array().unwrap() {
        let downtime = node["downtime_ms"].as_u64().unwrap();
        assert!(downtime > 0 && downtime < 60_000, "{node}");
    }
    let running = lab.running();
    assert_eq!(running.len(), 3, "{running:?}");
    assert!(running.iter().all(|n| n.ends_with("-2")), "{running:?}");

    rolled_back(&lab, &c.good);
    // The files written into monctl before are drift: status names them.
    let status = lab.run(&["status"], None, &[]);
    assert_eq!(status.code, 1, "{}", status.stderr);
    assert_eq!(json(&status)["outcome"], "status");
    assert!(
        status.stderr.contains(
            "monctl: 2 files of the image changed in the node: /etc/lastmile/canary (added), /opt/lastmile/canary (added)"
        ),
        "{}",
        status.stderr
    );

    // A third candidate with keep = 1: the oldest generation and its image go.
    let third = lab.apply(&c.second);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(json(&third)["generation"], 3);
    let names: Vec<String> = lab.containers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 6, "current and one kept generation only: {names:?}");

    let destroyed = lab.run(&["destroy"], None, &[]);
    assert_eq!(destroyed.code, 0, "{}", destroyed.stderr);
    assert!(lab.containers().is_empty());
    assert!(
        std::fs::read_dir(lab.state.path().join("images"))
            .unwrap()
            .all(|e| [".lock", ".in-use"].contains(&e.unwrap().file_name().to_str().unwrap()))
    );
    assert!(!answers(&lab.address(2), 7147));
}

/// Each node runs exactly its roles' services, each answering at the node's own address, and the
/// proxy on monctl reaches the simulator on sim through the address deploy-lxc wrote.
fn each_node_runs_its_roles(lab: &Lab, doc: &serde_json::Value) {
    let expected = [
        (
            "monctl",
            2,
            vec![("katconfserver", 7147), ("katcomp", 7148), ("katproxy", 7150)],
        ),
        ("sim", 3, vec![("katsim", 7149)]),
        ("portal", 4, vec![("katportal", 8080), ("katportal-front", 8000)]),
    ];
    // nginx.service is Debian's own unit of the portal role's package: disabled in the base,
    // on every node (katportal-front runs nginx on the portal node's address).
    let all = [
        "katconfserver",
        "katcomp",
        "katproxy",
        "katsim",
        "katportal",
        "katportal-front",
        "nginx",
    ];
    for (node, n, services) in &expected {
        for service in all {
            let active = lab.exec(doc, node, &["systemctl", "is-active", service]);
            let wanted = services.iter().any(|(s, _)| *s == service);
            assert_eq!(
                active.stdout.trim() == "active",
                wanted,
                "{service} on {node}: {}",
                active.stdout
            );
        }
        for (service, port) in services {
            assert!(
                answers(&lab.address(*n), *port),
                "{service} does not answer at {}:{port}",
                lab.address(*n)
            );
        }
        let hostname = lab.exec(doc, node, &["hostname"]);
        assert_eq!(hostname.stdout.trim(), *node);
    }
    // The proxy on monctl reaches the simulator on sim through the address deploy-lxc wrote.
    let env = lab.exec(doc, "monctl", &["cat", "/etc/lastmile/node.env"]);
    assert!(
        env.stdout
            .contains(&format!("LASTMILE_ROLE_SIM=\"{}\"", lab.address(3))),
        "{}",
        env.stdout
    );
    assert!(env.stdout.contains("KATCP_LOG_LEVEL=\"debug\""), "{}", env.stdout);
    let proxied = lab.exec(
        doc,
        "monctl",
        &[
            "/opt/lastmile/venv/bin/katcp-cmd",
            &format!("{}:7150", lab.address(2)),
            "proxy",
            "m000",
            "sensor-value",
        ],
    );
    assert!(
        proxied.stdout.contains("!proxy ok"),
        "{}{}",
        proxied.stdout,
        proxied.stderr
    );
    assert!(
        proxied.stdout.contains("m000.ap.actual-elev"),
        "{}",
        proxied.stdout
    );
}

/// A node's writes stay in that node: not in the image store, not in another node.
fn writes_stay_in_their_node(lab: &Lab, doc: &serde_json::Value, good: &std::path::Path) {
    let wrote = lab.exec(
        doc,
        "monctl",
        &[
            "sh",
            "-c",
            "echo x > /opt/lastmile/canary && echo x > /etc/lastmile/canary",
        ],
    );
    assert_eq!(wrote.code, 0, "{}", wrote.stderr);
    let store = lab.state.path().join("images").join(digest(good));
    assert!(store.join("etc/os-release").exists());
    assert!(!store.join("opt/lastmile/canary").exists() && !store.join("etc/lastmile/canary").exists());
    assert!(
        !store.join("etc/lastmile/node.env").exists(),
        "node.env reached the shared image"
    );
    let other = lab.exec(doc, "sim", &["ls", "/opt/lastmile/canary"]);
    assert_ne!(other.code, 0, "monctl's file is visible on sim");
}

/// Rollback: generation 1 serves again, the same node, with what was written into it.
fn rolled_back(lab: &Lab, good: &std::path::Path) {
    let back = lab.run(&["rollback"], None, &[]);
    assert_eq!(back.code, 0, "{}", back.stderr);
    let doc3 = json(&back);
    assert_eq!(doc3["outcome"], "rolled-back");
    assert_eq!(doc3["generation"], 1);
    assert_eq!(doc3["candidate"]["digest"], digest(good));
    assert!(lab.running().iter().all(|n| n.ends_with("-1")));
    assert!(answers(&lab.address(3), 7149));
    // Written before the rollback into generation 1's monctl, still there: the same node.
    assert_eq!(
        lab.exec(&doc3, "monctl", &["cat", "/opt/lastmile/canary"])
            .stdout
            .trim(),
        "x"
    );
}

/// Planning and asking leave no trace: the state folder holds only the environment file.
fn plan_and_status_leave_no_trace(lab: &Lab, candidate: &std::path::Path) {
    let plan = lab.run(&["plan"], Some(candidate), &[]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert_eq!(json(&plan)["unchanged"], false);
    let status = lab.run(&["status"], None, &[]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let left: Vec<_> = std::fs::read_dir(lab.state.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        [lab.env.file_name().unwrap()],
        "plan and status wrote state"
    );
}

/// Asked with another state folder, status does not say "nothing": it names where they run.
fn status_elsewhere_names_where_they_run(lab: &Lab) {
    let elsewhere = run_command(
        Command::new(tool("deploy-lxc"))
            .args(["status", "--env"])
            .arg(&lab.env)
            .arg("--state-dir")
            .arg(lab.state.path().join("elsewhere")),
        None,
    );
    assert_eq!(elsewhere.code, 1, "{}", elsewhere.stderr);
    assert!(
        elsewhere.stderr.contains(&format!(
            "of this environment runs under {} (another state folder): give --state-dir {}",
            lab.lxcpath().display(),
            lab.state.path().display()
        )),
        "{}",
        elsewhere.stderr
    );
    assert!(elsewhere.stderr.contains("lxc-ls -P "), "{}", elsewhere.stderr);
}

#[test]
fn a_node_failing_its_checks_puts_the_old_generation_back_everywhere() {
    let c = candidates();
    let lab = Lab::new(
        "failing",
        12,
        "timeout = \"15s\"\nretries = 1\ninterval = \"250ms\"",
    );
    let first = lab.apply(&c.good);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let failed = lab.apply(&c.broken);
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let doc = json(&failed);
    valid(&doc);
    assert_eq!(doc["outcome"], "reverted");
    assert_eq!(doc["generation"], 1);
    assert_eq!(doc["candidate"]["digest"], digest(&c.good));
    assert_eq!(doc["refused"]["digest"], digest(&c.broken));
    // The failing node and its check are named, with what the service said.
    assert!(
        failed.stderr.contains("node sim failed its checks: katsim"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains(&format!("tcp:{}:7149", lab.address(3))),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("serves again on every node"),
        "{}",
        failed.stderr
    );
    let sim = doc["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "sim")
        .unwrap();
    assert_eq!(sim["state"], "failed");
    // Generation 1 serves on every node again, and the refused one left nothing behind.
    for (n, port) in [(2, 7147), (2, 7150), (3, 7149), (4, 8080)] {
        assert!(answers(&lab.address(n), port), "{}:{port}", lab.address(n));
    }
    let names: Vec<String> = lab.containers().into_iter().map(|(n, _)| n).collect();
    assert!(
        names.iter().all(|n| n.ends_with("-1")) && names.len() == 3,
        "{names:?}"
    );
    let status = lab.run(&["status"], None, &[]);
    assert_eq!(status.code, 0, "{}", status.stderr);
}

#[test]
fn a_tampered_image_and_a_second_deploy_at_once_are_refused() {
    let c = candidates();
    let lab = Lab::new("refusals", 13, "timeout = \"60s\"");
    // The image changed after the bake: refused before anything is made.
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&c.good).unwrap()).unwrap();
    let image = PathBuf::from(doc["image"]["path"].as_str().unwrap());
    let image = if image.is_absolute() {
        image
    } else {
        workspace().join(image)
    };
    let tampered = lab.state.path().join(image.file_name().unwrap());
    let mut bytes = std::fs::read(&image).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&tampered, bytes).unwrap();
    let refused = {
        let mut command = Command::new(tool("deploy-lxc"));
        command
            .args(["apply", "--env"])
            .arg(&lab.env)
            .arg("--state-dir")
            .arg(lab.state.path())
            .arg("--image")
            .arg(&tampered)
            .arg(&c.good);
        run_command(&mut command, None)
    };
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("refusing to deploy"),
        "{}",
        refused.stderr
    );
    assert!(lab.containers().is_empty());

    // While another process holds the environment's lock (as a running deploy does), a deploy
    // of the same environment is refused at once, and touches nothing.
    let lock = lab.state.path().join("environments/refusals.lock");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let mut holder = Command::new("flock")
        .args(["--exclusive", "--no-fork"])
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let second = loop {
        let out = lab.apply(&c.good);
        if out.code != 0 || started.elapsed() > std::time::Duration::from_secs(20) {
            break out;
        }
        // flock had not taken the lock yet: that deploy ran; undo it and try again.
        assert_eq!(lab.run(&["destroy"], None, &[]).code, 0);
    };
    let _ = holder.kill();
    let _ = holder.wait();
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second.stderr.contains("being deployed by another deploy-lxc"),
        "{}",
        second.stderr
    );
    assert!(lab.containers().is_empty());
    // Once it is free, the deploy goes through.
    let out = lab.apply(&c.good);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn a_deploy_killed_at_any_step_is_finished_by_the_next_run() {
    let c = candidates();
    let lab = Lab::new("killed", 14, "timeout = \"60s\"");
    let first = lab.apply(&c.good);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let mut current = c.good.clone();
    for step in ["recorded", "prepared", "switched-one", "switched"] {
        let next = if current == c.good {
            c.second.clone()
        } else {
            c.good.clone()
        };
        let killed = lab.run(
            &["apply", "--parallel", "1"],
            Some(&next),
            &[("LASTMILE_FAULT", step)],
        );
        assert_eq!(killed.code, -1, "not killed at {step}: {}", killed.stderr);
        let status = lab.run(&["status"], None, &[]);
        assert_eq!(
            status.code, 1,
            "status after a kill at {step} says nothing: {}",
            status.stderr
        );
        assert!(status.stderr.contains("did not finish"), "{}", status.stderr);

        let rerun = lab.apply(&next);
        assert_eq!(rerun.code, 0, "re-run after a kill at {step}: {}", rerun.stderr);
        let doc = json(&rerun);
        assert_eq!(doc["outcome"], "deployed", "{}", rerun.stderr);
        assert_eq!(doc["candidate"]["digest"], digest(&next));
        let running = lab.running();
        let generation = doc["generation"].as_u64().unwrap();
        assert_eq!(running.len(), 3, "after {step}: {running:?}");
        assert!(
            running.iter().all(|n| n.ends_with(&format!("-{generation}"))),
            "after {step}: {running:?}"
        );
        assert!(
            lab.containers().len() <= 6,
            "leftovers after {step}: {:?}",
            lab.containers()
        );
        assert!(answers(&lab.address(3), 7149));
        let status = lab.run(&["status"], None, &[]);
        assert_eq!(status.code, 0, "after {step}: {}", status.stderr);
        current = next;
    }
}
