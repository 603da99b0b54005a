//! The command prefix that runs a program inside a node, as deploy-lxc writes it into a
//! deployment document: aqf-run runs it on the host as root, so a document whose `exec` is not
//! exactly what deploy-lxc writes for its backend is refused when it is read.
//!
//! - lxc: `lxc-attach -P LXCPATH -n CONTAINER --clear-env --set-var PATH=... --`, LXCPATH
//!   absolute, CONTAINER the node's own container.
//! - proxmox: `pct exec VMID --`, or `ssh [USER@]HOST pct exec VMID --` with HOST and VMID the
//!   node's own container's.

use crate::deployment::Backend;
use crate::names::{one_line, valid_container_name};

/// Why `exec` is not what deploy-lxc writes for a node of `backend` in `container`.
pub fn check_exec(backend: Backend, container: &str, exec: &[String]) -> Result<(), String> {
    let words: Vec<&str> = exec.iter().map(String::as_str).collect();
    let problem = match backend {
        Backend::Lxc => lxc(container, &words),
        Backend::Proxmox => proxmox(container, &words),
    };
    problem.map_err(|why| format!("exec {exec:?}: {why}"))
}

fn lxc(container: &str, words: &[&str]) -> Result<(), String> {
    let expected = "lxc-attach -P LXCPATH -n CONTAINER --clear-env --set-var PATH=... --";
    let [
        "lxc-attach",
        "-P",
        lxcpath,
        "-n",
        name,
        "--clear-env",
        "--set-var",
        path,
        "--",
    ] = words
    else {
        return Err(format!("the lxc backend's is {expected}"));
    };
    if !lxcpath.starts_with('/') || !one_line(lxcpath) || lxcpath.split('/').any(|part| part == "..") {
        return Err(format!("LXCPATH {lxcpath:?} is not an absolute path"));
    }
    if *name != container || !valid_container_name(name) {
        return Err(format!("names container {name:?}, not the node's {container:?}"));
    }
    let valid_path = path.strip_prefix("PATH=").is_some_and(|dirs| {
        dirs.split(':').all(|dir| {
            dir.starts_with('/')
                && dir
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/_.-".contains(c))
        })
    });
    if !valid_path {
        return Err(format!("{path:?} is not PATH=/dir:/dir..."));
    }
    Ok(())
}

fn proxmox(container: &str, words: &[&str]) -> Result<(), String> {
    let Some((host, vmid)) = container.split_once('/') else {
        return Err(format!("container {container:?} is not HOST/VMID"));
    };
    let tail = ["pct", "exec", vmid, "--"];
    match words {
        [a, b, c, d] if [*a, *b, *c, *d] == tail => Ok(()),
        ["ssh", target, a, b, c, d] if [*a, *b, *c, *d] == tail => {
            let (user, named) = target.split_once('@').unwrap_or(("root", target));
            let user_ok = user.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && user
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
            if named != host || !user_ok {
                return Err(format!("ssh goes to {target:?}, not to the node's host {host}"));
            }
            Ok(())
        }
        _ => Err(format!(
            "the proxmox backend's is pct exec {vmid} -- or ssh [USER@]{host} pct exec {vmid} --"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn only_what_deploy_lxc_writes_is_accepted() {
        let lxc = "lxc-attach -P /var/lib/lastmile/lab/lxc -n lm-lab-a-1 --clear-env --set-var PATH=/usr/bin:/bin --";
        assert_eq!(check_exec(Backend::Lxc, "lm-lab-a-1", &words(lxc)), Ok(()));
        for bad in [
            "sh -c touch /tmp/x; --",
            "lxc-attach -P /x -n other --clear-env --set-var PATH=/usr/bin --",
            "lxc-attach -P x -n lm-lab-a-1 --clear-env --set-var PATH=/usr/bin --",
            "lxc-attach -P /x -n lm-lab-a-1 --clear-env --set-var LD_PRELOAD=/x.so --",
            "lxc-attach -P /x -n lm-lab-a-1 --clear-env --set-var PATH=/usr/bin -- sh",
        ] {
            assert!(
                check_exec(Backend::Lxc, "lm-lab-a-1", &words(bad)).is_err(),
                "{bad}"
            );
        }
        let ssh = "ssh root@pve1 pct exec 9101 --";
        assert_eq!(check_exec(Backend::Proxmox, "pve1/9101", &words(ssh)), Ok(()));
        assert_eq!(
            check_exec(Backend::Proxmox, "pve1/9101", &words("pct exec 9101 --")),
            Ok(())
        );
        for bad in [
            "ssh -oProxyCommand=touch pct exec 9101 --",
            "ssh root@pve2 pct exec 9101 --",
            "ssh root@pve1 pct exec 9102 --",
            "ssh root@pve1 pct exec 9101 -- sh",
        ] {
            assert!(
                check_exec(Backend::Proxmox, "pve1/9101", &words(bad)).is_err(),
                "{bad}"
            );
        }
    }
}
