//! deploy-lxc's integration tests that need no LXC: the proxmox backend against a validating
//! Proxmox VE API server on loopback. (The lxc backend runs real containers in
//! `tests/tests/deploy.rs`.)

mod proxmox;
mod pve;
