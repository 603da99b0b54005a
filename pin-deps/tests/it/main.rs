//! Integration tests: they run the `pin-deps` binary against package folders built on the fly.

mod build;
mod conflicts;
mod constraints;
mod hostile;
mod http;
mod in_house;
mod index;
mod index_server;
mod inputs;
mod options;
mod os_archive;
mod os_lock;
mod pypiserver;
mod resolve;
mod testenv;
