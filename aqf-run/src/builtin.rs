//! The built-in checks of a node, each one function: `package` (the installed version is the
//! pinned one), `deb` (the installed Debian package is the locked one), `service`, `process`, `port`, `file` and `http`.

use std::time::{Duration, Instant};

use lastmile_documents::deployment::DeployedNode;
use lastmile_documents::report::Outcome;
use lastmile_probe::Node;

use crate::context::{Context, NotRun, Tried, clip};
use crate::suite::{
    DebTest, FileTest, HttpTest, Kind, PackageTest, PortTest, ProcessTest, ServiceTest, UnitState,
};

/// One attempt of a built-in check on `node`.
pub fn run(ctx: &Context, kind: &Kind, node: &DeployedNode, limit: Duration, started: Instant) -> Tried {
    let probe = ctx.node(node);
    let result = match kind {
        Kind::Package(test) => package(ctx, test, probe, limit, started),
        Kind::Deb(test) => deb(ctx, test, probe, limit, started),
        Kind::Service(test) => service(test, probe, limit, started),
        Kind::Process(test) => process(test, probe, limit, started),
        Kind::Port(test) => Ok(port(test, probe, started)),
        Kind::File(test) => file(test, probe, limit, started),
        Kind::Http(test) => http(ctx, test, node, limit, started),
        Kind::Command(_) | Kind::Pytest(_) => Err(NotRun(format!("{} is not a built-in check", kind.word()))),
    };
    Tried::or_not_run(result, started)
}

fn package(
    ctx: &Context,
    test: &PackageTest,
    node: &Node,
    limit: Duration,
    started: Instant,
) -> Result<Tried, NotRun> {
    let manifest = ctx
        .manifest
        .ok_or_else(|| NotRun("no candidate manifest to compare versions with".into()))?;
    let package = &test.package;
    let expected = match &test.version {
        Some(v) => v.clone(),
        None => manifest
            .packages
            .iter()
            .find(|p| normalize(&p.name) == normalize(package))
            .map(|p| p.version.clone())
            .ok_or_else(|| NotRun(format!("the candidate pins no package {package}")))?,
    };
    let python = format!("{}/bin/python", manifest.prefix);
    let script = "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))";
    let ran = node.exec(&[&python, "-c", script, package], None, limit)?;
    let found = ran.stdout.trim().to_owned();
    let mut tried = Tried::from_ran(&ran, started, || {
        if ran.code != Some(0) {
            vec![format!("{package} is not installed in {}", manifest.prefix)]
        } else if found != expected {
            vec![format!(
                "{package} {found} is installed; the candidate pins {expected}"
            )]
        } else {
            Vec::new()
        }
    });
    tried.stdout = format!("{package} {found}");
    Ok(tried)
}

fn deb(
    ctx: &Context,
    test: &DebTest,
    node: &Node,
    limit: Duration,
    started: Instant,
) -> Result<Tried, NotRun> {
    let package = &test.package;
    let expected = match &test.version {
        Some(v) => v.clone(),
        None => {
            let lock = ctx
                .manifest
                .ok_or_else(|| NotRun("no candidate manifest to compare versions with".into()))?
                .base
                .lock
                .as_ref()
                .ok_or_else(|| {
                    NotRun(
                        "the candidate's base was not checked against an OS lock (bake-image --os-lock)"
                            .into(),
                    )
                })?;
            lock.packages
                .iter()
                .find(|p| &p.name == package)
                .map(|p| p.version.clone())
                .ok_or_else(|| NotRun(format!("the candidate's OS lock locks no package {package}")))?
        }
    };
    let format = "${Version} ${db:Status-Status}";
    let ran = node.exec(&["dpkg-query", "-W", "-f", format, "--", package], None, limit)?;
    let found = ran.stdout.trim().to_owned();
    let mut tried = Tried::from_ran(&ran, started, || match found.split_once(' ') {
        _ if ran.code != Some(0) => vec![format!("{package} is not a package of this node")],
        Some((version, "installed")) if version == expected => Vec::new(),
        Some((version, "installed")) => vec![format!(
            "{package} {version} is installed; the OS lock locks {expected}"
        )],
        _ => vec![format!("{package} is {found:?}, not installed")],
    });
    tried.stdout = format!("{package} {found}");
    Ok(tried)
}

fn service(test: &ServiceTest, node: &Node, limit: Duration, started: Instant) -> Result<Tried, NotRun> {
    let found = node.unit_state(&test.unit, limit)?;
    let active = found == "active";
    let expected = match test.state {
        UnitState::Active => "active",
        UnitState::Inactive => "inactive",
    };
    Ok(Tried::check(
        active == (test.state == UnitState::Active),
        || format!("{} is {found}, expected {expected}", test.unit),
        started,
    ))
}

fn process(test: &ProcessTest, node: &Node, limit: Duration, started: Instant) -> Result<Tried, NotRun> {
    // Every process's command line, one per line (the script is fixed text, not a value).
    let script = "for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < \"$f\" 2>/dev/null; echo; done";
    let ran = node.exec(&["sh", "-c", script], None, limit)?;
    let pattern = &test.pattern;
    let found = ran.stdout.lines().any(|l| pattern.0.is_match(l.trim()));
    Ok(Tried::from_ran(&ran, started, || {
        if found == test.running {
            Vec::new()
        } else if test.running {
            vec![format!("no process matches /{pattern}/")]
        } else {
            vec![format!("a process matches /{pattern}/")]
        }
    }))
}

fn port(test: &PortTest, node: &Node, started: Instant) -> Tried {
    let port = test.port.0;
    let open = node.tcp(port, Duration::from_secs(2));
    Tried::check(
        open.is_ok() == test.listening,
        || match &open {
            Ok(()) => format!("something listens on {}:{port}", node.address()),
            Err(e) => e.0.clone(),
        },
        started,
    )
}

fn file(test: &FileTest, node: &Node, limit: Duration, started: Instant) -> Result<Tried, NotRun> {
    let path = &test.path;
    let ran = node.exec(&["stat", "-c", "%a %U", "--", path], None, limit)?;
    if ran.code != Some(0) {
        return Ok(Tried::check(
            !test.exists,
            || format!("{path} does not exist"),
            started,
        ));
    }
    if !test.exists {
        return Ok(Tried::new(Outcome::Failed, format!("{path} exists"), started));
    }
    let mut problems = Vec::new();
    let (found_mode, found_owner) = ran.stdout.trim().split_once(' ').unwrap_or(("", ""));
    if let Some(mode) = test.mode
        && u32::from_str_radix(found_mode, 8).ok() != Some(mode.0)
    {
        problems.push(format!("{path} has mode {found_mode}, expected {:o}", mode.0));
    }
    if let Some(owner) = &test.owner
        && found_owner != owner
    {
        problems.push(format!("{path} is owned by {found_owner}, expected {owner}"));
    }
    if let Some(pattern) = &test.contains {
        let content = node.exec(&["head", "-c", "1048576", "--", path], None, limit)?;
        if !pattern.0.is_match(&content.stdout) {
            problems.push(format!("{path} does not match /{pattern}/"));
        }
    }
    Ok(Tried::check(problems.is_empty(), || problems.join("; "), started))
}

fn http(
    ctx: &Context,
    test: &HttpTest,
    node: &DeployedNode,
    limit: Duration,
    started: Instant,
) -> Result<Tried, NotRun> {
    let url = ctx.substitute(&test.url.0, Some(node));
    let parsed = url::Url::parse(&url).map_err(|e| NotRun(format!("{url}: {e}")))?;
    let (port, path) = lastmile_probe::split_url(&url)?;
    let host: std::net::IpAddr = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.into(),
        Some(url::Host::Ipv6(ip)) => ip.into(),
        _ => {
            return Err(NotRun(format!(
                "{url}: the host is an IP address ({{address}}, {{addr:NODE}})"
            )));
        }
    };
    let answer = lastmile_probe::http_get(host, port, &path, limit.min(Duration::from_secs(10)))?;
    let status = test.status.0;
    let body = &test.body;
    let mut tried = Tried::check(
        answer.status == status && body.as_ref().is_none_or(|b| b.0.is_match(&answer.body)),
        || {
            if answer.status != status {
                format!("GET {url}: status {} (expected {status})", answer.status)
            } else {
                format!(
                    "GET {url}: the body does not match /{}/",
                    body.as_ref().map(ToString::to_string).unwrap_or_default()
                )
            }
        },
        started,
    );
    tried.stdout = clip(&answer.body);
    Ok(tried)
}

fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}
