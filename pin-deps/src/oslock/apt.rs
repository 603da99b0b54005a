//! apt's own solver, in a throw-away state folder: the verified indexes are laid out as a local
//! archive (`file:`), apt reads them (checking the `InRelease` signature once more, against the
//! same keyrings), and `apt-get --simulate install` says what a root filesystem holding the
//! wanted packages consists of, starting from nothing. Nothing is installed, nothing on the host
//! changes; only the result is recorded.

use anyhow::{Context, bail};

use super::archive::Index;
use super::spec::Spec;

/// A package apt chose: name, version, architecture.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Chosen {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) architecture: String,
}

/// apt, set up on the verified indexes.
pub(crate) struct Solver {
    dir: tempfile::TempDir,
}

impl Solver {
    /// apt on `indexes`, preferring the versions in `keep` (name → version, a previous lock's)
    /// wherever the indexes still have them.
    pub(crate) fn new(
        spec: &Spec,
        indexes: &[Index],
        keep: &std::collections::BTreeMap<String, String>,
    ) -> anyhow::Result<Solver> {
        let dir = tempfile::Builder::new()
            .prefix("lastmile-apt-")
            .tempdir()
            .context("a state folder for apt")?;
        let root = dir.path();
        for sub in [
            "etc/apt.conf.d",
            "etc/preferences.d",
            "etc/sources.list.d",
            "state/lists/partial",
            "cache/archives/partial",
            "log",
        ] {
            std::fs::create_dir_all(root.join(sub)).with_context(|| format!("creating {sub} for apt"))?;
        }
        std::fs::write(root.join("status"), "").context("an empty dpkg status for apt")?;
        // A pin above 1000 makes apt take that version over a newer one (apt_preferences(5));
        // a version no index has any more is no candidate, and apt takes the newest.
        let preferences: String = keep
            .iter()
            .map(|(name, version)| format!("Package: {name}\nPin: version {version}\nPin-Priority: 1001\n\n"))
            .collect();
        std::fs::write(root.join("etc/preferences.d/lastmile-keep.pref"), preferences)
            .context("writing apt's preferences")?;
        let keyrings: Vec<String> = spec.keyrings.iter().map(|k| k.display().to_string()).collect();
        let mut sources = String::new();
        for (number, index) in indexes.iter().enumerate() {
            // Each index its own local archive: dists/SUITE/InRelease and the Packages it covers.
            let archive = root.join(format!("archive/{number}"));
            let dists = archive.join("dists").join(&index.suite);
            let packages = dists.join(format!("{}/binary-{}", index.component, spec.architecture));
            std::fs::create_dir_all(&packages).context("laying out the indexes for apt")?;
            std::fs::write(dists.join("InRelease"), &index.inrelease).context("writing InRelease for apt")?;
            std::fs::write(packages.join("Packages.gz"), &index.packages_gz)
                .context("writing Packages.gz for apt")?;
            sources.push_str(&format!(
                "deb [signed-by={}] file:{} {} {}\n",
                keyrings.join(","),
                archive.display(),
                index.suite,
                index.component
            ));
        }
        std::fs::write(root.join("etc/sources.list"), sources).context("writing sources.list for apt")?;
        let r = root.display();
        let conf = format!(
            "Dir \"{r}/\";\nDir::State \"{r}/state/\";\nDir::State::status \"{r}/status\";\n\
             Dir::Cache \"{r}/cache/\";\nDir::Etc \"{r}/etc/\";\nDir::Etc::main \"{r}/etc/apt.conf\";\n\
             Dir::Etc::parts \"{r}/etc/apt.conf.d/\";\nDir::Log \"{r}/log/\";\n\
             APT::Architecture \"{arch}\";\nAPT::Architectures {{ \"{arch}\"; }};\n\
             APT::Install-Recommends \"false\";\nAPT::Install-Suggests \"false\";\n\
             APT::Sandbox::User \"root\";\nDebug::NoLocking \"true\";\nAcquire::Languages \"none\";\nAcquire::CompressionTypes::Order:: \"gz\";\n\
             Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled \"false\";\n",
            arch = spec.architecture
        );
        std::fs::write(root.join("apt.conf"), conf).context("writing apt.conf")?;
        let solver = Solver { dir };
        let update = solver.apt(&["update"])?;
        if !update.status.success() || String::from_utf8_lossy(&update.stdout).contains("\nW: ") {
            bail!("apt-get update on the verified indexes failed: {}", said(&update));
        }
        Ok(solver)
    }

    fn apt(&self, args: &[&str]) -> anyhow::Result<std::process::Output> {
        let conf = self.dir.path().join("apt.conf");
        lastmile_process::output(
            &duct::cmd("apt-get", args)
                .env("APT_CONFIG", &conf)
                .env("LC_ALL", "C")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .stderr_to_stdout(),
        )
        .context("running apt-get (install the apt package)")
    }

    /// What a root filesystem holding `wanted` consists of, from nothing; `Err` with apt's own
    /// explanation when no set of packages satisfies them.
    pub(crate) fn resolve(&self, wanted: &[String]) -> anyhow::Result<Result<Vec<Chosen>, String>> {
        let mut args = vec!["--simulate", "--quiet", "--yes", "install"];
        args.extend(wanted.iter().map(String::as_str));
        let out = self.apt(&args)?;
        if !out.status.success() {
            return Ok(Err(said(&out)));
        }
        let mut chosen: Vec<Chosen> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(inst_line)
            .collect();
        chosen.sort();
        Ok(Ok(chosen))
    }
}

/// `Inst NAME (VERSION RELEASE [ARCH])`, as apt's simulation prints it.
fn inst_line(line: &str) -> Option<Chosen> {
    let rest = line.strip_prefix("Inst ")?;
    let name = rest.split_whitespace().next()?.to_owned();
    let inside = rest.split_once('(')?.1.rsplit_once(')')?.0;
    let version = inside.split_whitespace().next()?.to_owned();
    let architecture = inside.rsplit_once('[')?.1.split_once(']')?.0.to_owned();
    Some(Chosen {
        name,
        version,
        architecture,
    })
}

/// apt's messages, without its progress lines.
fn said(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("Reading ") && !l.starts_with("Building ") && !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apts_simulation_lines_give_name_version_and_architecture() {
        let chosen = inst_line("Inst libc6 (2.36-9+deb12u14 Debian:12.14/stable [amd64])").unwrap();
        assert_eq!(
            (
                chosen.name.as_str(),
                chosen.version.as_str(),
                chosen.architecture.as_str()
            ),
            ("libc6", "2.36-9+deb12u14", "amd64")
        );
        let upgraded =
            inst_line("Inst tzdata [2024a-0] (2025b-0+deb12u1 Debian:12.14/stable [all])").unwrap();
        assert_eq!(
            (upgraded.version.as_str(), upgraded.architecture.as_str()),
            ("2025b-0+deb12u1", "all")
        );
        assert!(inst_line("Conf libc6 (2.36-9+deb12u14 Debian:12.14/stable [amd64])").is_none());
    }
}
