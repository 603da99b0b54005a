//! Step 2: the package sources, from the options, the requirements files and pip's environment
//! variables, in pip's order of precedence.

use anyhow::bail;
use lastmile_index::http::HttpOptions;
use lastmile_index::{PYPI, Sources, find_links_dirs};
use lastmile_python::requirements_file::RequirementsFile;

use crate::options::SourceOptions;

/// The sources to resolve against.
pub(crate) fn collect(options: &SourceOptions, files: &RequirementsFile) -> anyhow::Result<Sources> {
    let env_list = |name: &str| -> Vec<String> {
        std::env::var(name)
            .map(|v| v.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    let no_index = options.no_index || files.no_index;
    let mut indexes = Vec::new();
    if !no_index {
        let first = options
            .index_url
            .clone()
            .or_else(|| files.index_url.clone())
            .or_else(|| std::env::var("PIP_INDEX_URL").ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| PYPI.to_owned());
        indexes.push(first);
        indexes.extend(options.extra_index_urls.iter().cloned());
        indexes.extend(files.extra_index_urls.iter().cloned());
        if options.extra_index_urls.is_empty() {
            indexes.extend(env_list("PIP_EXTRA_INDEX_URL"));
        }
    }
    let env_links = if options.find_links.is_empty() {
        env_list("PIP_FIND_LINKS")
    } else {
        Vec::new()
    };
    let values: Vec<String> = options
        .find_links
        .iter()
        .chain(&files.find_links)
        .chain(&env_links)
        .cloned()
        .collect();
    let find_links = find_links_dirs(&values)?;
    if find_links.is_empty() && indexes.is_empty() {
        bail!("no package source: --no-index leaves only --find-links, and none was given");
    }
    let exclude_newer = match &options.exclude_newer {
        None => None,
        Some(text) => Some(parse_time(text)?),
    };
    if options.offline && options.cache_dir.is_none() {
        bail!("--offline needs a cache: drop --no-cache, or give --cache-dir");
    }
    if !(options.timeout_seconds > 0.0 && options.timeout_seconds.is_finite()) {
        bail!(
            "--timeout {}: give a positive number of seconds",
            options.timeout_seconds
        );
    }
    Ok(Sources {
        find_links,
        indexes,
        strategy: options.index_strategy,
        exclude_newer,
        http: HttpOptions {
            cache_dir: options.cache_dir.clone(),
            offline: options.offline,
            timeout: std::time::Duration::from_secs_f64(options.timeout_seconds),
            retries: options.retries,
            ..Default::default()
        },
        concurrency: options.concurrency.max(1),
        formats: {
            // The files' options first, the command line's after (it wins, name by name).
            let mut formats = files.formats.clone();
            formats.extend(&options.formats);
            formats
        },
        trusted_hosts: options
            .trusted_hosts
            .iter()
            .chain(&files.trusted_hosts)
            .cloned()
            .collect(),
        keep_all_files: false,
    })
}

/// An RFC 3339 time, or a date (the start of that day, UTC).
fn parse_time(text: &str) -> anyhow::Result<jiff::Timestamp> {
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Ok(time);
    }
    let date: jiff::civil::Date = text.parse().map_err(|_| {
        anyhow::anyhow!(
            "--exclude-newer {text:?}: give an RFC 3339 time (2024-05-01T12:00:00Z) or a date (2024-05-01)"
        )
    })?;
    Ok(date.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp())
}
