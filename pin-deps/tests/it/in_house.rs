//! Dependency confusion: in-house packages (named by --internal or by the graph) come only from
//! the in-house sources (find-links folders, --internal-index), and another index is never even
//! asked for their names; each pin says where it came from.

use crate::index_server::*;
use crate::testenv::{Pins, TestEnv, Wheel, run_in};

/// A "public" index offering newer releases of the in-house names, and tornado.
fn public_index() -> (TestEnv, MockIndex) {
    let elsewhere = TestEnv::new();
    let public = wheels(
        &elsewhere,
        vec![
            Wheel::new("katcore", "2.0"),
            Wheel::new("katcp", "5.0"),
            Wheel::new("tornado", "6.0"),
        ],
    );
    let index = MockIndex::start(move |seen, _| {
        if let Some(project) = seen
            .path
            .strip_prefix("/simple/")
            .and_then(|p| p.strip_suffix('/'))
        {
            return json_page(project, &public, |_| serde_json::json!({}));
        }
        file_named(&public, &seen.path).map_or(Reply::Status(404), |b| Reply::File(b.clone()))
    });
    (elsewhere, index)
}

fn in_house_wheels() -> TestEnv {
    let env = TestEnv::new();
    env.wheel(Wheel::new("katcore", "1.0").requires("katcp").requires("tornado"))
        .wheel(Wheel::new("katcp", "0.9"));
    env
}

#[test]
fn in_house_packages_come_only_from_in_house_sources_and_their_names_never_leave() {
    let env = in_house_wheels();
    let (_public, index) = public_index();
    // pip's way (every source merged): the public releases win, and a warning says so.
    let out = pin(&env, &index.url, "katcore\n", &["-f", "dist", "--no-hashes"]).success();
    assert_eq!(out.pins(), ["katcore==2.0"]);
    assert!(
        out.stderr.contains("katcore 2.0 comes from http://127.0.0.1:")
            && out.stderr.contains("though the find-links folders hold katcore 1.0; if katcore is in-house, say --internal katcore"),
        "{}",
        out.stderr
    );

    let before = index.requests_for("/simple/katcore/").len();
    let out = pin(
        &env,
        &index.url,
        "katcore\n",
        &["-f", "dist", "--no-hashes", "--internal", "kat*"],
    )
    .success();
    assert_eq!(out.pins(), ["katcore==1.0", "katcp==0.9", "tornado==6.0"]);
    assert!(
        out.stdout
            .contains("katcore==1.0\n    # via -r <stdin>\n    # from dist (in-house)\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("tornado==6.0\n    # via katcore\n    # from http://127.0.0.1:"),
        "{}",
        out.stdout
    );
    assert_eq!(
        index.requests_for("/simple/katcore/").len(),
        before,
        "the public index was asked for katcore"
    );
    assert!(!out.stderr.contains("comes from"), "{}", out.stderr);
}

#[test]
fn the_graphs_in_house_packages_are_in_house_without_being_named() {
    let env = in_house_wheels();
    let (_public, index) = public_index();
    let graph = serde_json::json!({
        "schema": "lastmile.graph/v1",
        "nodes": [
            {"name": "katcore", "version": "1.0", "internal": true, "source": null, "requires_python": null, "extras": [], "scripts": {}},
            {"name": "katcp", "version": "0.9", "internal": true, "source": null, "requires_python": null, "extras": [], "scripts": {}},
            {"name": "tornado", "version": null, "internal": false, "source": null, "requires_python": null, "extras": [], "scripts": {}}
        ],
        "edges": [
            {"from": "katcore", "to": "katcp", "specifier": "", "extras": [], "extra": null, "marker": null, "url": null, "declared_at": null},
            {"from": "katcore", "to": "tornado", "specifier": "", "extras": [], "extra": null, "marker": null, "url": null, "declared_at": null}
        ],
        "roots": ["tornado"], "leaves": ["katcore"], "build_order": [["katcp"], ["katcore"]], "cycles": [], "duplicates": []
    });
    env.write("graph.json", &graph.to_string());
    let url = format!("{}/simple/", index.url);
    let out = run_in(
        env.dir.path(),
        &[
            "--from-graph",
            "graph.json",
            "-f",
            "dist",
            "-i",
            &url,
            "--no-header",
            "--no-hashes",
        ],
        None,
    )
    .success();
    assert_eq!(out.pins(), ["katcore==1.0", "katcp==0.9", "tornado==6.0"]);
    assert!(
        index.requests_for("/simple/katcp/").is_empty(),
        "the public index was asked for katcp"
    );
}

#[test]
fn an_in_house_package_no_in_house_source_has_is_refused_naming_where_it_was_looked_for() {
    let env = in_house_wheels();
    std::fs::remove_file(env.path("dist/katcp-0.9-py3-none-any.whl")).unwrap();
    let (_public, index) = public_index();
    let out = pin(
        &env,
        &index.url,
        "katcore\n",
        &["-f", "dist", "--internal", "kat*"],
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "katcp is in-house and no in-house source has it (asked: -f dist; another index is never asked for an in-house package"
        ),
        "{}",
        out.stderr
    );
    env.write("requirements.in", "katcore\n");
    let bad = run_in(
        env.dir.path(),
        &["requirements.in", "-f", "dist", "--internal", "kat[*"],
        None,
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("\"kat[*\": not a name glob"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_constraints_file_pins_the_graph_to_the_builds_of_one_commit_not_the_newest() {
    // Two builds of katcore in the in-house folder; the commit being pinned built the older one.
    let env = in_house_wheels();
    env.wheel(
        Wheel::new("katcore", "1.0.post2+gbbbbbbbbbbbb")
            .requires("katcp")
            .requires("tornado"),
    )
    .wheel(
        Wheel::new("katcore", "1.0.post1+gaaaaaaaaaaaa")
            .requires("katcp")
            .requires("tornado"),
    )
    .wheel(Wheel::new("tornado", "6.0"));
    let graph = serde_json::json!({
        "schema": "lastmile.graph/v1",
        "nodes": [
            {"name": "katcore", "version": "1.0", "internal": true, "source": null, "requires_python": null, "extras": [], "scripts": {}},
            {"name": "katcp", "version": "0.9", "internal": true, "source": null, "requires_python": null, "extras": [], "scripts": {}},
            {"name": "tornado", "version": null, "internal": false, "source": null, "requires_python": null, "extras": [], "scripts": {}}
        ],
        "edges": [
            {"from": "katcore", "to": "katcp", "specifier": "", "extras": [], "extra": null, "marker": null, "url": null, "declared_at": null},
            {"from": "katcore", "to": "tornado", "specifier": "", "extras": [], "extra": null, "marker": null, "url": null, "declared_at": null}
        ],
        "roots": ["tornado"], "leaves": ["katcore"], "build_order": [["katcp"], ["katcore"]], "cycles": [], "duplicates": []
    });
    env.write("graph.json", &graph.to_string());
    let pins = |extra: &[&str]| {
        let mut args = vec![
            "--from-graph",
            "graph.json",
            "-f",
            "dist",
            "--no-index",
            "--no-header",
            "--no-hashes",
        ];
        args.extend_from_slice(extra);
        run_in(env.dir.path(), &args, None)
    };
    assert_eq!(
        pins(&[]).success().pins(),
        ["katcore==1.0.post2+gbbbbbbbbbbbb", "katcp==0.9", "tornado==6.0"]
    );
    env.write(
        "versions.txt",
        "katcore==1.0.post1+gaaaaaaaaaaaa\nkatcp==0.9\nunbuilt==1.0\n",
    );
    let out = pins(&["-c", "versions.txt"]).success();
    assert_eq!(
        out.pins(),
        ["katcore==1.0.post1+gaaaaaaaaaaaa", "katcp==0.9", "tornado==6.0"]
    );
    assert!(
        out.stdout
            .contains("katcore==1.0.post1+gaaaaaaaaaaaa\n    # via\n    #   -c versions.txt\n"),
        "{}",
        out.stdout
    );
    // A build the constraints name that no in-house source has: no resolution, said.
    env.write("versions.txt", "katcore==1.0.post3+gcccccccccccc\n");
    let out = pins(&["-c", "versions.txt"]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "graph.json (leaf katcore) requires katcore==1.0.post3+gcccccccccccc (narrowed by the constraint in versions.txt:1)"
        ),
        "{}",
        out.stderr
    );
    let out = pins(&["-c", "missing.txt"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("missing.txt: cannot read"), "{}", out.stderr);
}
