//! The system's services: read from `--services FILE` and `--service NAME=COMMAND`, written into
//! the image as systemd units, one per service, and one `lastmile-role-ROLE.target` per role.
//!
//! ```toml
//! [services.katportal]
//! command = "katportal --address 0.0.0.0 --port 8080"
//! roles = ["portal"]
//! health = "http://127.0.0.1:8080/health"
//! description = "the operator web portal"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;
use lastmile_documents::candidate::{CandidatePackage, Service, role_target, valid_role, valid_unit_name};
use lastmile_settings::Spanned;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ServicesFile {
    #[serde(default)]
    services: BTreeMap<String, Spanned<Service>>,
    /// The base's units to mask, or keep, besides the defaults ([`crate::units`]).
    units: Option<Spanned<crate::units::UnitsTable>>,
}

/// The services of `--services` files and `--service` options (a name given twice is refused),
/// and the units the files say to mask or keep.
pub(crate) fn load(
    files: &[std::path::PathBuf],
    options: &[String],
) -> anyhow::Result<(BTreeMap<String, Service>, crate::units::Masking)> {
    let mut services: BTreeMap<String, (Service, String)> = BTreeMap::new();
    let mut masking = crate::units::Masking::default();
    for file in files {
        let file = lastmile_settings::load(file)?;
        let parsed: ServicesFile = file.parse()?;
        if let Some(units) = parsed.units {
            let origin = file.location(units.span()).to_string();
            masking.add(units.into_inner(), &origin)?;
        }
        for (name, service) in parsed.services {
            let origin = file.location(service.span()).to_string();
            add(&mut services, name, service.into_inner(), origin)?;
        }
    }
    for option in options {
        let Some((name, command)) = option
            .split_once('=')
            .filter(|(n, c)| !n.is_empty() && !c.trim().is_empty())
        else {
            bail!("--service {option:?}: expected NAME=COMMAND");
        };
        let service = Service {
            command: command.trim().to_owned(),
            roles: Vec::new(),
            health: None,
            description: None,
            wait_for: Vec::new(),
        };
        add(
            &mut services,
            name.to_owned(),
            service,
            format!("--service {option}"),
        )?;
    }
    let services = services
        .into_iter()
        .map(|(name, (service, _))| (name, service))
        .collect();
    Ok((services, masking))
}

fn add(
    services: &mut BTreeMap<String, (Service, String)>,
    name: String,
    service: Service,
    origin: String,
) -> anyhow::Result<()> {
    if !valid_unit_name(&name) {
        bail!("{origin}: service {name:?}: a unit name holds letters, digits and - _ . only");
    }
    if service.command.trim().is_empty() {
        bail!("{origin}: service {name}: the command is empty");
    }
    for role in &service.roles {
        if !valid_role(role) {
            bail!(
                "{origin}: service {name}: role {role:?}: a role holds lower-case letters, digits, - and _ only"
            );
        }
    }
    if let Some((_, first)) = services.get(&name) {
        bail!("{origin}: service {name} is already defined at {first}");
    }
    services.insert(name, (service, origin));
    Ok(())
}

/// The unit file of one service.
pub(crate) fn unit_text(
    name: &str,
    service: &Service,
    prefix: &str,
    packages: &[CandidatePackage],
) -> anyhow::Result<String> {
    // `${LASTMILE_VENV}` is the candidate's venv, known when baking (systemd would not expand
    // it in the program's place).
    let command = service.command.trim().replace("${LASTMILE_VENV}", prefix);
    let (program, rest) = command.split_once(char::is_whitespace).unwrap_or((&command, ""));
    let executable = if program.starts_with('/') {
        program.to_owned()
    } else if matches!(program, "python" | "python3") {
        // `python -m MODULE ...`: the venv's interpreter, with its packages.
        format!("{prefix}/bin/python")
    } else if packages.iter().any(|p| p.scripts.iter().any(|s| s == program)) {
        format!("{prefix}/bin/{program}")
    } else {
        bail!(
            "service {name}: {program} is not a console script of the installed packages (give `python -m MODULE`, ${{LASTMILE_VENV}}/bin/PROGRAM, or an absolute path for anything else)"
        );
    };
    let exec = if rest.trim().is_empty() {
        executable
    } else {
        format!("{executable} {}", rest.trim())
    };
    let description = service.description.as_deref().unwrap_or(name);
    // Each service it waits for: a node of that role accepting TCP on the port, waited for by
    // the service's own process, which then becomes the command (so the unit is started and the
    // node boots while it waits). `$VAR` (not `${VAR}`) so systemd splits a role's addresses.
    let waits: String = service
        .wait_for
        .iter()
        .map(|w| {
            format!(
                "+{}:{} $LASTMILE_ROLE_{} ",
                w.role,
                w.port,
                lastmile_documents::deployment::env_word(&w.role)
            )
        })
        .collect();
    let exec = if waits.is_empty() {
        exec
    } else {
        format!("{prefix}/bin/python -I /{WAIT_FOR} {waits}-- {exec}")
    };
    let wanted_by = if service.roles.is_empty() {
        "multi-user.target".to_owned()
    } else {
        service
            .roles
            .iter()
            .map(|r| role_target(r))
            .collect::<Vec<_>>()
            .join(" ")
    };
    Ok(format!(
        "# Written by bake-image: part of the release candidate, not edited on the node.\n\
         [Unit]\nDescription={description} (lastmile release candidate)\nAfter=network.target\n\n\
         [Service]\nType=simple\nExecStart={exec}\nRestart=on-failure\nRestartSec=2\n\
         Environment=PYTHONUNBUFFERED=1\nEnvironment=LASTMILE_VENV={prefix}\n\
         # Who this node is and where the others are (LASTMILE_NODE_ADDR, LASTMILE_ROLE_<ROLE>, ...):\n\
         # written by deploy-lxc into each node, never into the image.\n\
         EnvironmentFile=-/run/lastmile/node.env\n\
         EnvironmentFile=-/etc/lastmile/node.env\n\n[Install]\nWantedBy={wanted_by}\n"
    ))
}

/// Waits for roles' services, then runs the service (`wait-for.py +ROLE:PORT ADDRESS... --
/// COMMAND...`), run by the venv's Python.
pub(crate) const WAIT_FOR: &str = "usr/lib/lastmile/wait-for.py";

/// [`WAIT_FOR`]: until one address of each role accepts TCP on its port (at most 300 s), then
/// the command in the same process.
pub(crate) const WAIT_FOR_SCRIPT: &str = include_str!("wait-for.py");

/// The generator that turns a node's values given as the container's environment (Proxmox VE)
/// into `/run/lastmile/node.env` and enabled roles at boot.
pub(crate) const GENERATOR: &str = "etc/systemd/system-generators/lastmile-node";
const GENERATOR_SCRIPT: &str = include_str!("lastmile-node.sh");

/// The target that starts one role's services.
pub(crate) fn role_target_text(role: &str) -> String {
    format!(
        "# Written by bake-image: a node runs this role when deploy-lxc links this target into\n\
         # multi-user.target.wants.\n[Unit]\nDescription=lastmile role {role}\n\n\
         [Install]\nWantedBy=multi-user.target\n"
    )
}

/// Every unit file the services make, by path inside the image, with its contents.
pub(crate) fn unit_files(
    services: &BTreeMap<String, Service>,
    prefix: &str,
    packages: &[CandidatePackage],
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for (name, service) in services {
        files.insert(
            format!("etc/systemd/system/{name}.service"),
            unit_text(name, service, prefix, packages)?,
        );
        for role in &service.roles {
            files.insert(
                format!("etc/systemd/system/{}", role_target(role)),
                role_target_text(role),
            );
        }
    }
    Ok(files)
}

/// Write the units and enable each service for its roles (or for every node).
pub(crate) fn write(
    root: &lastmile_fs::Root,
    prefix: &str,
    services: &BTreeMap<String, Service>,
    packages: &[CandidatePackage],
) -> anyhow::Result<()> {
    for (path, text) in unit_files(services, prefix, packages)? {
        crate::base::write_fixed(root, Path::new(&path), text.as_bytes())?;
    }
    if !services.is_empty() {
        root.write(Path::new(GENERATOR), GENERATOR_SCRIPT.as_bytes(), 0o755)?;
    }
    if services.values().any(|s| !s.wait_for.is_empty()) {
        root.create_parents(Path::new(WAIT_FOR))?;
        root.write(Path::new(WAIT_FOR), WAIT_FOR_SCRIPT.as_bytes(), 0o644)?;
    }
    for (link, target) in enable_links(services) {
        root.symlink(Path::new(&target), Path::new(&link))?;
    }
    Ok(())
}

/// The links that enable the services at boot, as (path inside the image, link target): in
/// `multi-user.target.wants` for a service without roles, else in each role target's `.wants`.
pub(crate) fn enable_links(services: &BTreeMap<String, Service>) -> Vec<(String, String)> {
    let mut links = Vec::new();
    for (name, service) in services {
        let unit = format!("/etc/systemd/system/{name}.service");
        if service.roles.is_empty() {
            links.push((
                format!("etc/systemd/system/multi-user.target.wants/{name}.service"),
                unit,
            ));
            continue;
        }
        for role in &service.roles {
            links.push((
                format!("etc/systemd/system/{}.wants/{name}.service", role_target(role)),
                unit.clone(),
            ));
        }
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_turns_the_container_environment_into_node_env_and_roles() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
        std::fs::write(root.join("etc/systemd/system/lastmile-role-sim.target"), "").unwrap();
        let script = dir.path().join("lastmile-node");
        std::fs::write(&script, GENERATOR_SCRIPT).unwrap();
        let environ = dir.path().join("environ");
        std::fs::write(
            &environ,
            "container=lxc\0LASTMILE_NODE=sim-1\0LASTMILE_ROLES=sim portal\0GREETING=say \"hi\" $x\0\
             LASTMILE_VARS=LASTMILE_NODE LASTMILE_ROLES GREETING\0",
        )
        .unwrap();
        let run = |args: &[&std::path::Path]| {
            std::process::Command::new("sh")
                .arg(&script)
                .args(args)
                .env("LASTMILE_ROOT", &root)
                .env("LASTMILE_ENVIRON", &environ)
                .env("LASTMILE_RUN", dir.path().join("run"))
                .status()
                .unwrap()
        };
        let generated = dir.path().join("generator");
        assert!(run(&[&generated]).success());
        let env = std::fs::read_to_string(dir.path().join("run/node.env")).unwrap();
        assert!(env.contains("LASTMILE_NODE=\"sim-1\"\n"), "{env}");
        assert!(env.contains("GREETING=\"say \\\"hi\\\" \\$x\"\n"), "{env}");
        assert!(!env.contains("container="), "{env}");
        let wants = generated.join("multi-user.target.wants");
        assert!(wants.join("lastmile-role-sim.target").is_symlink());
        // A role the image has no target for is not linked.
        assert!(!wants.join("lastmile-role-portal.target").exists());
        // Where deploy-lxc wrote node.env itself, the generator leaves everything alone.
        std::fs::create_dir_all(root.join("etc/lastmile")).unwrap();
        std::fs::write(root.join("etc/lastmile/node.env"), "").unwrap();
        std::fs::remove_dir_all(dir.path().join("run")).unwrap();
        assert!(run(&[&generated]).success());
        assert!(!dir.path().join("run/node.env").exists());
    }

    fn package() -> CandidatePackage {
        CandidatePackage {
            name: "katportal".to_owned(),
            version: "1.0".to_owned(),
            filename: "katportal-1.0-py3-none-any.whl".to_owned(),
            sha256: lastmile_fs::Sha256::of(b""),
            scripts: vec!["katportal".to_owned()],
            record_sha256: lastmile_fs::Sha256::of(b""),
            built_from: None,
        }
    }

    #[test]
    fn a_services_file_with_roles_and_health() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services.toml");
        std::fs::write(
            &file,
            "[services.katportal]\ncommand = \"katportal --port 8080\"\nroles = [\"portal\"]\nhealth = \"tcp:8080\"\n",
        )
        .unwrap();
        let (services, _) = load(&[file], &["katsim=/usr/bin/true".to_owned()]).unwrap();
        assert_eq!(services["katportal"].roles, ["portal"]);
        let unit = unit_text("katportal", &services["katportal"], "/opt/v", &[package()]).unwrap();
        assert!(
            unit.contains("ExecStart=/opt/v/bin/katportal --port 8080\n"),
            "{unit}"
        );
        assert!(unit.contains("WantedBy=lastmile-role-portal.target\n"), "{unit}");
        let unit = unit_text("katsim", &services["katsim"], "/opt/v", &[package()]).unwrap();
        assert!(unit.contains("ExecStart=/usr/bin/true\n") && unit.contains("WantedBy=multi-user.target\n"));
    }

    #[test]
    fn a_module_or_the_venv_runs_in_the_candidates_venv() {
        let service = |command: &str| Service {
            command: command.to_owned(),
            roles: Vec::new(),
            health: None,
            description: None,
            wait_for: Vec::new(),
        };
        let unit = unit_text(
            "sim",
            &service("python -m katsim.server --port 7149"),
            "/opt/v",
            &[],
        )
        .unwrap();
        assert!(
            unit.contains("ExecStart=/opt/v/bin/python -m katsim.server --port 7149\n"),
            "{unit}"
        );
        assert!(unit.contains("Environment=LASTMILE_VENV=/opt/v\n"), "{unit}");
        let unit = unit_text(
            "sim",
            &service("${LASTMILE_VENV}/bin/sim.py --data ${LASTMILE_VENV}/share"),
            "/opt/v",
            &[],
        )
        .unwrap();
        assert!(
            unit.contains("ExecStart=/opt/v/bin/sim.py --data /opt/v/share\n"),
            "{unit}"
        );
        let err = unit_text("sim", &service("sim.py"), "/opt/v", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("give `python -m MODULE`, ${LASTMILE_VENV}/bin/PROGRAM, or an absolute path"),
            "{err}"
        );
    }

    #[test]
    fn a_service_waits_for_another_roles_port_before_it_starts() {
        let mut service = Service {
            command: "python -m katproxy".to_owned(),
            roles: vec!["monctl".into()],
            health: None,
            description: None,
            wait_for: vec!["sim-a:7149".parse().unwrap()],
        };
        let unit = unit_text("katproxy", &service, "/opt/v", &[]).unwrap();
        assert!(
            unit.contains("\nExecStart=/opt/v/bin/python -I /usr/lib/lastmile/wait-for.py +sim-a:7149 $LASTMILE_ROLE_SIM_A -- /opt/v/bin/python -m katproxy\n"),
            "{unit}"
        );
        // The wait is in the service's own process: nothing holds the unit (or the boot) in
        // "starting" while it waits.
        assert!(
            !unit.contains("ExecStartPre") && !unit.contains("TimeoutStartSec"),
            "{unit}"
        );
        service.wait_for.clear();
        assert!(
            unit_text("katproxy", &service, "/opt/v", &[])
                .unwrap()
                .contains("\nExecStart=/opt/v/bin/python -m katproxy\n")
        );
        assert_eq!(
            "sim:0"
                .parse::<lastmile_documents::candidate::WaitFor>()
                .unwrap_err(),
            "\"sim:0\": expected ROLE:PORT (a role and a TCP port from 1 to 65535)"
        );

        // The script itself: once one address of each role answers, it becomes the command
        // (the same process); it says when no node has a role.
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("wait-for.py");
        std::fs::write(&script, WAIT_FOR_SCRIPT).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let run = |args: &[&str]| {
            std::process::Command::new("python3")
                .arg(&script)
                .args(args)
                .output()
                .unwrap()
        };
        let wait = format!("+sim:{port}");
        let answered = run(&[
            &wait,
            "127.0.0.9",
            "127.0.0.1",
            &wait,
            "127.0.0.1",
            "--",
            "/bin/sh",
            "-c",
            "echo ran as $$",
        ]);
        assert!(answered.status.success(), "{answered:?}");
        assert!(
            String::from_utf8_lossy(&answered.stdout).starts_with("ran as "),
            "{answered:?}"
        );
        let nobody = run(&[&wait, "--", "/bin/true"]);
        assert_eq!(nobody.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&nobody.stderr).contains("no node has role sim"),
            "{nobody:?}"
        );
    }

    #[test]
    fn bad_services_name_the_place() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("services.toml");
        let shown = file.display().to_string();
        let load_text = |text: &str| {
            std::fs::write(&file, text).unwrap();
            load(std::slice::from_ref(&file), &["a=x".to_owned()])
                .unwrap_err()
                .to_string()
        };
        let err = load_text("[services.a]\ncommand = \"x\"\n");
        assert!(
            err.contains(&format!(
                "--service a=x: service a is already defined at {shown}:1"
            )),
            "{err}"
        );
        let err = load_text("\n[services.b]\ncommand = \"x\"\nhealth = \"ping\"\n");
        assert!(
            err.contains(&format!("{shown}:4: services.b.health: \"ping\"")),
            "{err}"
        );
        let err = load_text("[services.b]\ncommand = \"x\"\nrole = [\"p\"]\n");
        assert!(
            err.starts_with(&format!("{shown}:3:")) && err.contains("unknown field `role`"),
            "{err}"
        );
        let err = load_text("[services.b]\ncommand = \"x\"\nroles = [\"Portal\"]\n");
        assert!(err.contains("role \"Portal\""), "{err}");
        let err = unit_text(
            "b",
            &load(&[], &["b=nothere --x".to_owned()]).unwrap().0["b"],
            "/v",
            &[package()],
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("nothere is not a console script"),
            "{err}"
        );
    }
}
