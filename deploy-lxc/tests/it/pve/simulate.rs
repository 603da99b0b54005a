//! What the test cluster does with a valid call: containers, templates, tasks.

use std::collections::BTreeMap;
use std::net::TcpListener;

use serde_json::{Value, json};

use super::{Container, State, TOKEN};

/// What the cluster does with a valid call.
pub(super) fn simulate(
    state: &mut State,
    method: &str,
    template: &str,
    params: &BTreeMap<String, String>,
    file: Option<String>,
) -> Result<Value, String> {
    let node = params.get("node").cloned().unwrap_or_default();
    let vmid = params.get("vmid").and_then(|v| v.parse::<u64>().ok());
    let task = |state: &mut State, kind: &str| new_task(state, &node, kind, vmid);
    match (method, template) {
        ("GET", "/nodes/{node}/storage/{storage}/content") => {
            let list: Vec<Value> = state
                .templates
                .keys()
                .filter(|(n, _)| *n == node)
                .map(|(_, volid)| json!({"volid": volid, "format": "tgz", "size": 1, "content": "vztmpl"}))
                .collect();
            Ok(json!(list))
        }
        ("POST", "/nodes/{node}/storage/{storage}/upload") => {
            upload(state, &node, params, file)?;
            Ok(task(state, "imgcopy"))
        }
        ("DELETE", "/nodes/{node}/storage/{storage}/content/{volume}") => {
            let volid = params["volume"].clone();
            state
                .templates
                .remove(&(node.clone(), volid))
                .ok_or("no such volume")?;
            Ok(json!(null))
        }
        ("POST", "/nodes/{node}/lxc") => {
            create(state, &node, vmid.ok_or("vmid")?, params)?;
            Ok(task(state, "vzcreate"))
        }
        ("POST", "/nodes/{node}/lxc/{vmid}/status/start") => {
            start(state, &node, vmid)?;
            Ok(task(state, "vzstart"))
        }
        ("POST", "/nodes/{node}/lxc/{vmid}/status/shutdown")
        | ("POST", "/nodes/{node}/lxc/{vmid}/status/stop") => {
            let container = container(state, &node, vmid)?;
            container.running = false;
            container.listeners.clear();
            Ok(task(state, "vzshutdown"))
        }
        ("GET", "/nodes/{node}/lxc/{vmid}/status/current") => {
            let container = container(state, &node, vmid)?;
            Ok(json!({"status": if container.running { "running" } else { "stopped" }, "vmid": vmid}))
        }
        ("DELETE", "/nodes/{node}/lxc/{vmid}") => {
            let container = container(state, &node, vmid)?;
            if container.running {
                return Err(format!("CT {} is running", vmid.unwrap_or(0)));
            }
            state.containers.remove(&vmid.unwrap_or(0));
            Ok(task(state, "vzdestroy"))
        }
        ("GET", "/cluster/resources") => {
            let list: Vec<Value> = state
                .containers
                .iter()
                .map(|(vmid, c)| {
                    json!({"id": format!("lxc/{vmid}"), "type": "lxc", "node": c.node, "vmid": vmid,
                           "status": if c.running { "running" } else { "stopped" },
                           "tags": c.params.get("tags").cloned().unwrap_or_default()})
                })
                .collect();
            Ok(json!(list))
        }
        ("GET", "/nodes/{node}/tasks/{upid}/status") => {
            let upid = params["upid"].clone();
            let left = state.tasks.get_mut(&upid).ok_or("no such task")?;
            if *left > 0 {
                *left -= 1;
                return Ok(json!({"status": "running", "upid": upid}));
            }
            Ok(json!({"status": "stopped", "exitstatus": "OK", "upid": upid}))
        }
        _ => Err(format!(
            "{method} {template} is valid but this test cluster does not do it"
        )),
    }
}

/// `GET /cluster/nextid`: the VMID asked for if it is free, else a parameter error (400, as the
/// real API raises it); without one, the lowest free VMID from 100.
pub(super) fn nextid(state: &State, params: &BTreeMap<String, String>) -> (u16, Value) {
    match params.get("vmid").and_then(|v| v.parse::<u64>().ok()) {
        Some(vmid) if state.containers.contains_key(&vmid) => {
            (400, json!({"vmid": format!("VM {vmid} already exists")}))
        }
        Some(vmid) => (200, json!(vmid)),
        None => {
            let free = (100..).find(|v| !state.containers.contains_key(v)).unwrap_or(100);
            (200, json!(free))
        }
    }
}

/// A task (UPID) of `kind`: one poll says running, the next one done.
fn new_task(state: &mut State, node: &str, kind: &str, vmid: Option<u64>) -> Value {
    state.next_task += 1;
    let upid = format!(
        "UPID:{node}:0000{:04X}:00000000:00000000:{kind}:{}:{TOKEN}:",
        state.next_task,
        vmid.unwrap_or(0)
    );
    state.tasks.insert(upid.clone(), 1);
    json!(upid)
}

/// A template uploaded with its sha256, which must be the file's.
fn upload(
    state: &mut State,
    node: &str,
    params: &BTreeMap<String, String>,
    file: Option<String>,
) -> Result<(), String> {
    let sha = file.ok_or("no file part")?;
    if params.get("checksum") != Some(&sha) {
        return Err(format!("checksum mismatch: the file's sha256 is {sha}"));
    }
    let volid = format!("{}:vztmpl/{}", params["storage"], params["filename"]);
    state.templates.insert((node.to_owned(), volid), sha);
    Ok(())
}

/// A container made from a template the node holds, under a free VMID.
fn create(state: &mut State, node: &str, vmid: u64, params: &BTreeMap<String, String>) -> Result<(), String> {
    if state.containers.contains_key(&vmid) {
        return Err(format!("CT {vmid} already exists"));
    }
    if !state
        .templates
        .contains_key(&(node.to_owned(), params["ostemplate"].clone()))
    {
        return Err(format!(
            "volume {} does not exist on {node}",
            params["ostemplate"]
        ));
    }
    let container = Container {
        node: node.to_owned(),
        params: params.clone(),
        running: false,
        listeners: Vec::new(),
    };
    state.containers.insert(vmid, container);
    Ok(())
}

/// A container started: it listens on the test's ports at its net0 address.
fn start(state: &mut State, node: &str, vmid: Option<u64>) -> Result<(), String> {
    let ports = state.ports.clone();
    let container = container(state, node, vmid)?;
    if container.running {
        return Err("already running".into());
    }
    let address = container.params.get("net0").and_then(|n| {
        n.split(',')
            .find_map(|p| p.strip_prefix("ip="))
            .and_then(|ip| ip.split('/').next().map(str::to_owned))
    });
    if let Some(address) = address {
        for port in ports {
            container
                .listeners
                .push(TcpListener::bind((address.as_str(), port)).map_err(|e| e.to_string())?);
        }
    }
    container.running = true;
    Ok(())
}

fn container<'a>(state: &'a mut State, node: &str, vmid: Option<u64>) -> Result<&'a mut Container, String> {
    let vmid = vmid.ok_or("no vmid")?;
    match state.containers.get_mut(&vmid) {
        Some(c) if c.node == node => Ok(c),
        Some(_) => Err(format!("CT {vmid} is not on {node}")),
        None => Err(format!(
            "Configuration file 'nodes/{node}/lxc/{vmid}.conf' does not exist"
        )),
    }
}
