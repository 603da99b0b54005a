//! deploy-lxc's environment files, read as `deploy-lxc --env FILE` reads them: every error is an
//! error (never a panic), and what is accepted holds the rules the backends rely on.
#![no_main]

use deploy_lxc::env::{Backend, Network};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(env) = deploy_lxc::env::parse(text, "fuzz.toml") else {
        return;
    };
    assert!(!env.nodes.is_empty(), "an environment without nodes was accepted");
    let mut addresses = std::collections::BTreeSet::new();
    for node in &env.nodes {
        assert!(deploy_lxc::env::valid_name(&node.name), "node name {:?}", node.name);
        assert!(addresses.insert(node.address), "address {} twice", node.address);
        match node.network {
            Network::None => assert!(node.address.is_loopback(), "{} on the host's network", node.address),
            Network::Empty => assert_eq!(node.address, std::net::Ipv4Addr::LOCALHOST),
            _ => {}
        }
        let _ = node.env_name();
    }
    if let Backend::Proxmox(proxmox) = &env.backend {
        for host in &proxmox.hosts {
            assert!(!host.contains(['/', '.', ',', '=']), "host {host:?} would reach an API path");
        }
        for storage in [&proxmox.template_storage, &proxmox.rootfs_storage] {
            assert!(!storage.contains([',', '=', ':', '/']), "storage {storage:?} carries a property");
        }
    }
});
