//! `bake-image`: pinned requirements + a base root filesystem → a bit-for-bit reproducible
//! LXC/Proxmox template, `autobuild-<digest>.tar.gz`, with a manifest, an SBOM and its SLSA
//! provenance.
//!
//! [`bake`] runs the steps ([`bake.rs`](bake)): pins ([`pins`]), base ([`base`]), wheels
//! ([`wheels`], and [`build`] for pins that have only an sdist), the native installer ([`install`]), services ([`services`]), SBOM ([`sbom`]),
//! the reproducible archive with parallel gzip ([`archive`]), and the provenance beside it
//! ([`provenance`]); [`verify`] checks an image.
//! [`run`] is the command line's thin shell over them.

pub mod cli;
pub mod options;

mod archive;
mod bake;
mod base;
mod base_files;
mod build;
mod complete;
mod digests;
mod install;
mod oslock;
mod pins;
mod provenance;
mod sbom;
mod services;
mod tree;
mod units;
mod verify;
mod wheels;

pub use bake::bake;

use lastmile_cli::{Exit, Reporter};

use crate::cli::{Cli, Command};

/// Run `bake-image` from its command line.
pub fn run(cli: Cli) -> anyhow::Result<Exit> {
    lastmile_cli::logging::init("bake-image", &cli.global);
    lastmile_process::interrupt::install("bake-image");
    match &cli.command {
        Some(Command::Verify { image }) => verify::verify(image),
        None => {
            let document = bake(&cli.bake.options()?, &Reporter::new("bake-image", &cli.global))?;
            lastmile_cli::emit(
                cli.global.output.as_deref(),
                lastmile_documents::to_string(&document).as_bytes(),
            )?;
            Ok(Exit::Success)
        }
    }
}
