//! The `[proxmox]` table's own rules. Every value that reaches an API path or a property string
//! is held to the pattern the API's own definition gives it (`pve-node`, `pve-storage-id`,
//! `pve-vmid` in `../shared/proxmox/pve-api-lxc.json`), so a host cannot become a path
//! (`pve1/../../access/acl`) nor a storage a second property (`local,rootfs=...`).

use super::ProxmoxSettings;
use super::values::Broken;

/// The largest VMID the API accepts (`pve-vmid`).
const VMID_MAX: u32 = 999_999_999;
/// Room above `vmid_base` for generations and nodes.
const VMID_ROOM: u32 = 999_999;

/// `pve-node`: `[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?`.
fn valid_node(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// `pve-storage-id`: `[a-z][a-z0-9\-_.]*[a-z0-9]`.
fn valid_storage(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && bytes.len() <= 64
        && bytes[0].is_ascii_lowercase()
        && matches!(bytes[bytes.len() - 1], b'a'..=b'z' | b'0'..=b'9')
        && bytes
            .iter()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.'))
}

/// The variable holding the token's secret: `PROXMOX_TOKEN_SECRET`, or another `PROXMOX_` name
/// (never `HOME`, `PATH` or a variable that holds something else).
fn valid_secret_env(name: &str) -> bool {
    name.strip_prefix("PROXMOX_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    })
}

/// Check the table.
pub(super) fn check(settings: &ProxmoxSettings) -> Result<(), Broken> {
    check_url(settings)?;
    // The token is never echoed: a secret pasted into it must not reach a log.
    let valid = settings.token.split_once('!').is_some_and(|(user, id)| {
        user.contains('@') && !id.is_empty() && !settings.token.contains(['=', ' ', ':'])
    });
    if !valid {
        return Err(Broken(format!(
            "token: expected USER@REALM!TOKENID (the secret goes in ${}, not here)",
            settings.token_secret_env
        )));
    }
    if !valid_secret_env(&settings.token_secret_env) {
        return Err(Broken(format!(
            "token_secret_env: {:?}: expected PROXMOX_TOKEN_SECRET or another PROXMOX_ name",
            settings.token_secret_env
        )));
    }
    if settings.hosts.is_empty() {
        return Err(Broken("hosts: name at least one Proxmox node".into()));
    }
    if let Some(host) = settings.hosts.iter().find(|h| !valid_node(h)) {
        return Err(Broken(format!(
            "hosts: {host:?} is not a Proxmox node name (letters, digits and -)"
        )));
    }
    for (key, storage) in [
        ("template_storage", &settings.template_storage),
        ("rootfs_storage", &settings.rootfs_storage),
    ] {
        if !valid_storage(storage) {
            return Err(Broken(format!(
                "{key}: {storage:?} is not a Proxmox storage id (lower-case letters, digits, -, _ and .)"
            )));
        }
    }
    check_exec(settings)?;
    if settings.vmid_base < 100 {
        return Err(Broken("vmid_base: Proxmox VMIDs start at 100".into()));
    }
    if settings.vmid_base > VMID_MAX - VMID_ROOM {
        return Err(Broken(format!(
            "vmid_base: at most {} (VMIDs end at {VMID_MAX})",
            VMID_MAX - VMID_ROOM
        )));
    }
    Ok(())
}

fn check_url(settings: &ProxmoxSettings) -> Result<(), Broken> {
    let url = url::Url::parse(&settings.url).map_err(|e| Broken(format!("url {:?}: {e}", settings.url)))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(Broken(format!(
            "url {:?}: expected https://HOST:8006",
            settings.url
        )));
    }
    if url.scheme() == "http" && !settings.insecure_http {
        return Err(Broken(format!(
            "url {:?}: plain http sends the token in clear; use https, or set insecure_http = true",
            settings.url
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Broken(
            "url: no credentials in the URL; give token and token_secret_env".into(),
        ));
    }
    Ok(())
}

/// What the setting makes for a node is what aqf-run will accept from the deployment.
fn check_exec(settings: &ProxmoxSettings) -> Result<(), Broken> {
    let sample: Vec<String> = settings
        .exec
        .split_whitespace()
        .map(|word| word.replace("{host}", "pve1").replace("{vmid}", "100"))
        .collect();
    lastmile_documents::exec::check_exec(
        lastmile_documents::deployment::Backend::Proxmox,
        "pve1/100",
        &sample,
    )
    .map_err(|why| {
        Broken(format!(
            "exec {:?}: expected `ssh [USER@]{{host}} pct exec {{vmid}} --` or `pct exec {{vmid}} --` \
             (with {{host}} and {{vmid}} as they will be filled: {why})",
            settings.exec
        ))
    })
}
