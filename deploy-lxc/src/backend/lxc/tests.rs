use super::*;

fn node(name: &str) -> Node {
    Node {
        name: name.to_owned(),
        roles: Vec::new(),
        address: "127.77.0.2".parse().unwrap(),
        network: Network::None,
        memory: None,
        cpus: None,
        host: None,
        pooled: false,
    }
}

#[test]
fn container_names_tell_environments_apart() {
    // Environment `lab` with node `x-1`, and `lab-x` with node `1`: the same readable text.
    let a = container_name("lastmile-", "lab", "x-1", 3);
    let b = container_name("lastmile-", "lab-x", "1", 3);
    assert_ne!(a, b);
    assert!(a.starts_with("lastmile-lab-x-1-") && a.ends_with("-3"), "{a}");
    assert_eq!(a, container_name("lastmile-", "lab", "x-1", 3), "stable");
}

#[test]
fn create_and_destroy_never_touch_another_environments_container() {
    let state = tempfile::tempdir().unwrap();
    let settings = LxcSettings {
        rootfs: RootfsKind::Overlay,
        ..LxcSettings::default()
    };
    let lab = Lxc::new(state.path(), "lab", &settings).unwrap();
    let other = Lxc::new(state.path(), "other", &settings).unwrap();
    let digest = Sha256::of("image");
    let id = lab.container_id(&node("monctl"), 0, 1);
    // Another environment's container under that very name (made by hand, or renamed).
    let ContainerId::Lxc(name) = &id else {
        unreachable!()
    };
    std::fs::create_dir_all(other.container_dir(name)).unwrap();
    std::fs::write(
        other.container_dir(name).join("config"),
        other.config(&node("monctl"), name, &digest),
    )
    .unwrap();
    std::fs::create_dir_all(other.node_dir(name).join("upper/srv")).unwrap();
    std::fs::write(other.node_dir(name).join("upper/srv/data"), "theirs").unwrap();

    let error = lab
        .create(&node("monctl"), &id, 1, &digest, &NodeFiles::default())
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("belongs to environment other, not lab"),
        "{message}"
    );
    // Destroying it (a generation whose create was refused is discarded) leaves it alone.
    lab.destroy(&id).unwrap();
    assert!(other.container_dir(name).join("config").exists());
    assert_eq!(
        std::fs::read_to_string(other.node_dir(name).join("upper/srv/data")).unwrap(),
        "theirs"
    );

    // A node folder another environment's create claimed first (its config not yet written).
    std::fs::remove_dir_all(other.container_dir(name)).unwrap();
    std::fs::write(other.node_dir(name).join("owner"), "other\n").unwrap();
    let message = format!(
        "{:#}",
        lab.create(&node("monctl"), &id, 1, &digest, &NodeFiles::default())
            .unwrap_err()
    );
    assert!(message.contains("belongs to environment other"), "{message}");
    assert!(other.node_dir(name).join("upper/srv/data").exists());

    // Its own leftover (a create stopped before the config): replaced.
    std::fs::write(other.node_dir(name).join("owner"), "lab\n").unwrap();
    lab.create(&node("monctl"), &id, 1, &digest, &NodeFiles::default())
        .unwrap();
    assert!(!other.node_dir(name).join("upper/srv/data").exists());
    assert_eq!(lab.containers().unwrap(), vec![id.clone()]);
    assert!(other.containers().unwrap().is_empty());
}

#[test]
fn an_image_another_run_may_be_deploying_is_not_pruned() {
    let state = tempfile::tempdir().unwrap();
    let lab = Lxc::new(state.path(), "lab", &LxcSettings::default()).unwrap();
    let other = Lxc::new(state.path(), "other", &LxcSettings::default()).unwrap();
    let image = lab.image_dir(&Sha256::of("image"));
    std::fs::create_dir_all(image.join("etc")).unwrap();
    // `other` provided it and has not recorded it in a state yet: it holds the store.
    drop(other.hold_images().unwrap());
    lab.prune_images(&BTreeSet::new()).unwrap();
    assert!(image.is_dir(), "pruned while another run used the store");
    drop(other);
    lab.prune_images(&BTreeSet::new()).unwrap();
    assert!(!image.exists());
}

#[test]
fn a_monitors_title_names_the_container_and_its_folder() {
    assert_eq!(
        monitor_title(b"[lxc monitor] /srv/state/lxc lastmile-lab-web-1a2b3c4d-2\0\0\0"),
        Some((
            "lastmile-lab-web-1a2b3c4d-2".to_owned(),
            PathBuf::from("/srv/state/lxc")
        ))
    );
    assert_eq!(monitor_title(b"/usr/bin/lxc-start\0-n\0x\0"), None);
}
