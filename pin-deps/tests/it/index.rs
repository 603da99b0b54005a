//! File-based PEP 503 simple indexes: links with hashes, PEP 592 yanked files, and
//! `data-requires-python`.

use crate::testenv::{Pins, TestEnv, Wheel};

/// Write `simple/NAME/index.html` pages linking to files in `dist/`, with extra attributes.
fn page(env: &TestEnv, name: &str, links: &[(&str, &str)]) {
    let anchors: String = links
        .iter()
        .map(|(file, attrs)| format!("    <a href=\"../../dist/{file}\" {attrs}>{file}</a><br/>\n"))
        .collect();
    env.write(
        &format!("simple/{name}/index.html"),
        &format!("<!DOCTYPE html>\n<html><body>\n{anchors}</body></html>\n"),
    );
}

fn index_url(env: &TestEnv) -> String {
    format!("file://{}", env.path("simple").display())
}

#[test]
fn yanked_versions_are_used_only_when_pinned_exactly() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("katcp", "0.9.3"))
        .wheel(Wheel::new("katcp", "0.9.4"));
    page(
        &env,
        "katcp",
        &[
            ("katcp-0.9.3-py3-none-any.whl", ""),
            ("katcp-0.9.4-py3-none-any.whl", "data-yanked=\"broken release\""),
        ],
    );
    let url = index_url(&env);
    let out = env.run_pin(&["-i", &url], "katcp\n").success();
    assert_eq!(out.pins(), ["katcp==0.9.3"]);
    assert_eq!(out.stderr, "");
    let out = env.run_pin(&["-i", &url], "katcp==0.9.4\n").success();
    assert_eq!(out.pins(), ["katcp==0.9.4"]);
    assert_eq!(
        out.stderr,
        "pin-deps: warning: katcp==0.9.4 is yanked (broken release); it is pinned because a requirement names it exactly\n"
    );
    // A range that only a yanked version meets does not select it.
    let out = env.run_pin(&["-i", &url], "katcp>=0.9.4\n");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "  - the versions of katcp>=0.9.4 are yanked (0.9.4); a yanked version is used only when pinned exactly (==)\n"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn data_requires_python_excludes_files_for_the_target() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("lib", "1.0"))
        .wheel(Wheel::new("lib", "2.0"));
    page(
        &env,
        "lib",
        &[
            ("lib-1.0-py3-none-any.whl", ""),
            ("lib-2.0-py3-none-any.whl", "data-requires-python=\"&gt;=3.12\""),
        ],
    );
    let url = index_url(&env);
    assert_eq!(
        env.run_pin(&["-i", &url, "--python-version", "3.11"], "lib\n")
            .success()
            .pins(),
        ["lib==1.0"]
    );
    assert_eq!(
        env.run_pin(&["-i", &url, "--python-version", "3.12"], "lib\n")
            .success()
            .pins(),
        ["lib==2.0"]
    );
}

#[test]
fn index_and_find_links_merge_and_no_index_ignores_the_index() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("a", "1.0").requires("b"))
        .wheel(Wheel::new("b", "1.0"));
    page(&env, "a", &[("a-1.0-py3-none-any.whl", "")]);
    std::fs::create_dir_all(env.path("more")).unwrap();
    std::fs::rename(
        env.path("dist/b-1.0-py3-none-any.whl"),
        env.path("more/b-1.0-py3-none-any.whl"),
    )
    .unwrap();
    let url = index_url(&env);
    assert_eq!(
        env.run_pin(&["-i", &url, "-f", "more"], "a\n").success().pins(),
        ["a==1.0", "b==1.0"]
    );
    let out = env.run_pin(&["-i", &url, "-f", "more", "--no-index"], "a\n");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("  - a is not in the package sources (looked in: -f more)\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_file_index_may_be_a_flat_folder_or_project_folders_without_pages() {
    let env = TestEnv::new();
    env.wheel(Wheel::new("Kat_Core", "1.0").requires("katcp"))
        .wheel(Wheel::new("katcp", "0.9"));
    // Flat: every file in one folder, no page anywhere.
    let flat = format!("file://{}", env.path("dist").display());
    let out = env.run_pin(&["-i", &flat], "kat-core\n").success();
    assert_eq!(out.pins(), ["kat-core==1.0", "katcp==0.9"]);
    // PEP 503 project folders holding the files, no index.html.
    for (project, file) in [
        ("kat-core", "Kat_Core-1.0-py3-none-any.whl"),
        ("katcp", "katcp-0.9-py3-none-any.whl"),
    ] {
        std::fs::create_dir_all(env.path(&format!("tree/{project}"))).unwrap();
        std::fs::copy(
            env.path(&format!("dist/{file}")),
            env.path(&format!("tree/{project}/{file}")),
        )
        .unwrap();
    }
    let tree = format!("file://{}", env.path("tree").display());
    let out = env.run_pin(&["-i", &tree], "kat-core\n").success();
    assert_eq!(out.pins(), ["kat-core==1.0", "katcp==0.9"]);
    // What is missing is said with where it was looked for.
    let out = env.run_pin(&["-i", &tree], "tornado\n");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(&format!(
            "tornado is not in the package sources (looked in: {tree}/)"
        )),
        "{}",
        out.stderr
    );
}
