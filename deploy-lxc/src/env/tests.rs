use super::*;

const LAB: &str = r#"name = "lab"
backend = "lxc"
keep = 2

[config]
KATCP_LOG_LEVEL = "info"
RETRIES = 3

[health]
timeout = "60s"
retries = 3

[nodes.monctl]
roles = ["monctl"]
address = "127.77.0.2"
network = "none"
memory = "512M"
cpus = 1

[nodes.sim-1]
roles = ["sim"]
address = "127.77.0.3"
"#;

fn error(text: &str) -> String {
    parse(text, "lab.toml").unwrap_err().to_string()
}

#[test]
fn a_good_file_is_read_with_its_defaults() {
    let env = parse(LAB, "lab.toml").unwrap();
    assert_eq!(env.name, "lab");
    assert_eq!(env.backend, Backend::Lxc(LxcSettings::default()));
    assert_eq!(env.config["RETRIES"], "3");
    assert_eq!(env.health.timeout, Duration::from_secs(60));
    assert_eq!(env.nodes.len(), 2);
    assert_eq!(env.nodes[0].memory, Some(512 << 20));
    assert_eq!(env.nodes[1].name, "sim-1");
    assert_eq!(env.nodes[1].env_name(), "SIM_1");
    assert_eq!(env.nodes[1].network, Network::None);
    // keep does not shape a node; everything else does.
    let kept = parse(&LAB.replace("keep = 2", "keep = 5"), "lab.toml").unwrap();
    assert_eq!(kept.digest, env.digest);
    let other = parse(&LAB.replace("\"info\"", "\"debug\""), "lab.toml").unwrap();
    assert_ne!(other.digest, env.digest);
}

#[test]
fn bad_files_name_the_file_line_and_key() {
    let cases = [
        (
            LAB.replace("memory = \"512M\"", "memory = \"lots\""),
            "lab.toml:17: nodes.monctl.memory: ",
        ),
        (
            LAB.replace("cpus = 1", "cpus = 0"),
            "lab.toml:18: nodes.monctl.cpus: ",
        ),
        (
            LAB.replace("network = \"none\"", "network = \"bridge\""),
            "lab.toml:16: nodes.monctl.network: ",
        ),
        (
            LAB.replace("127.77.0.3", "127.77.0.2"),
            "lab.toml:22: nodes.sim-1.address: ",
        ),
        (
            LAB.replace("127.77.0.2", "10.1.2.3"),
            "lab.toml:16: nodes.monctl.network: ",
        ),
        (
            LAB.replace("backend = \"lxc\"", "backend = \"docker\""),
            "lab.toml:2: backend: ",
        ),
        (
            LAB.replace("RETRIES = 3", "LASTMILE_NODE = 3"),
            "lab.toml:7: config.LASTMILE_NODE: ",
        ),
        (
            LAB.replace("timeout = \"60s\"", "timeout = \"soon\""),
            "lab.toml:10: health.timeout: ",
        ),
        (
            LAB.replace("cpus = 1", "cpus = 1\ncolour = \"red\""),
            "lab.toml:19: ",
        ),
        (
            LAB.replace("name = \"lab\"", "name = \"Lab One\""),
            "lab.toml:1: name: ",
        ),
        (
            LAB.replace("backend = \"lxc\"", "backend = \"proxmox\""),
            "lab.toml:2: ",
        ),
        (
            LAB.replace("\"info\"", "\"a\\nb\""),
            "lab.toml:6: config.KATCP_LOG_LEVEL: ",
        ),
    ];
    for (text, expected) in cases {
        let message = error(&text);
        assert!(
            message.starts_with(expected),
            "{message:?} should start with {expected:?}"
        );
    }
    assert!(error(&LAB.replace("cpus = 1", "cpus = 1\ncolour = \"red\"")).contains("colour"));
}

#[test]
fn proxmox_settings_are_checked() {
    let proxmox = LAB.replace("backend = \"lxc\"", "backend = \"proxmox\"")
        + "\n[proxmox]\nurl = \"https://pve.example:8006\"\ntoken = \"deploy@pve!lastmile\"\nhosts = [\"pve1\", \"pve2\"]\n";
    let env = parse(&proxmox, "lab.toml").unwrap();
    let Backend::Proxmox(settings) = &env.backend else {
        panic!()
    };
    assert_eq!(settings.token_secret_env, "PROXMOX_TOKEN_SECRET");
    let secret_inline = proxmox.replace("lastmile\"", "lastmile=s3cret\"");
    let message = error(&secret_inline);
    assert!(
        message.contains("proxmox: token") && !message.contains("s3cret"),
        "{message}"
    );
    let bad_host = proxmox.replace("cpus = 1", "cpus = 1\nhost = \"pve9\"");
    assert!(
        error(&bad_host).contains("nodes.monctl.host"),
        "{}",
        error(&bad_host)
    );
}

#[test]
fn proxmox_values_that_reach_api_paths_match_the_apis_own_patterns() {
    let proxmox = LAB.replace("backend = \"lxc\"", "backend = \"proxmox\"")
        + "\n[proxmox]\nurl = \"https://pve.example:8006\"\ntoken = \"deploy@pve!lastmile\"\nhosts = [\"pve1\", \"pve2\"]\n";
    for (from, to, expected) in [
        (
            "\"pve2\"",
            "\"pve1/../../access/acl\"",
            "hosts: \"pve1/../../access/acl\" is not a Proxmox node name",
        ),
        (
            "hosts =",
            "template_storage = \"local,rootfs=x\"\nhosts =",
            "template_storage: \"local,rootfs=x\" is not a Proxmox storage id",
        ),
        (
            "hosts =",
            "rootfs_storage = \"Local\"\nhosts =",
            "rootfs_storage: \"Local\" is not a Proxmox storage id",
        ),
        (
            "hosts =",
            "token_secret_env = \"HOME\"\nhosts =",
            "token_secret_env: \"HOME\": expected PROXMOX_TOKEN_SECRET",
        ),
        (
            "hosts =",
            "token_secret_env = \"PROXMOX_\"\nhosts =",
            "token_secret_env: \"PROXMOX_\": expected PROXMOX_TOKEN_SECRET",
        ),
        (
            "https://",
            "http://",
            "url \"http://pve.example:8006\": plain http sends the token in clear",
        ),
        (
            "hosts =",
            "vmid_base = 999999990\nhosts =",
            "vmid_base: at most 999000000",
        ),
    ] {
        let message = error(&proxmox.replace(from, to));
        assert!(message.contains(expected), "{to}: {message}");
        assert!(message.starts_with("lab.toml:"), "{message}");
    }
    // A secret in a PROXMOX_ variable of one's own choosing, and http when asked for.
    let own = proxmox.replace("hosts =", "token_secret_env = \"PROXMOX_LAB_SECRET\"\nhosts =");
    assert!(parse(&own, "lab.toml").is_ok());
    let http = proxmox
        .replace("https://", "http://")
        .replace("hosts =", "insecure_http = true\nhosts =");
    assert!(parse(&http, "lab.toml").is_ok());
}

#[test]
fn the_state_folder_is_the_files_and_a_flag_may_only_repeat_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.toml");
    std::fs::write(&path, LAB.replace("keep = 2", "keep = 2\nstate_dir = \"state\"")).unwrap();
    let env = load(&path).unwrap();
    let own = dir.path().join("state");
    assert_eq!(env.state_dir.as_deref(), Some(own.as_path()));
    assert_eq!(state_dir(&env, None).unwrap(), own);
    assert_eq!(state_dir(&env, Some(&own)).unwrap(), own);
    let err = state_dir(&env, Some(Path::new("/elsewhere"))).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "state_dir is {}, but --state-dir (or LASTMILE_STATE_DIR) says /elsewhere",
            own.display()
        )),
        "{err}"
    );
    // Without one in the file: the flag, else the default.
    let plain = parse(LAB, "lab.toml").unwrap();
    assert_eq!(state_dir(&plain, None).unwrap(), PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(
        state_dir(&plain, Some(Path::new("/x"))).unwrap(),
        PathBuf::from("/x")
    );
}
