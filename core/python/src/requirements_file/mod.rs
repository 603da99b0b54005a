//! pip requirements files (`requirements.in`, constraints): PEP 508 lines plus every option pip
//! accepts in a file: `-r`/`-c` includes, `--index-url`, `--extra-index-url`, `--find-links`,
//! `--no-index`, `--pre`, `--only-binary`, `--no-binary`, `--prefer-binary`, `--trusted-host`,
//! `--require-hashes`, `--use-feature`, and per line `--hash`, `--config-settings`,
//! `--global-option`; `#` comments, `\` continuations and `${VAR}` expansion. Options that change
//! nothing for a resolver are kept in [`RequirementsFile::ignored`], so the caller can say so.
//! Every requirement keeps the file and line it came from.

use std::path::{Path, PathBuf};

use pep508_rs::Requirement;

use crate::requirement::parse_requirement;
use lastmile_fs::{InputError, Location};

mod format;
mod lines;
mod pinned;

pub use format::FormatControl;
pub(crate) use format::normalize;
use lines::{expand_env, logical_lines, split_line_options, split_option};
pub use pinned::PinnedRequirement;

/// A path a file names, relative to the file's folder `base` (unless absolute), and as shown.
fn relative(base: &Path, value: &str) -> (PathBuf, String) {
    let joined = if Path::new(value).is_absolute() {
        PathBuf::from(value)
    } else {
        base.join(value)
    };
    let shown = joined.display().to_string();
    (
        joined,
        shown.strip_prefix("./").map(str::to_owned).unwrap_or(shown),
    )
}

/// How deep `-r`/`-c` includes are followed (each level is a call; a chain of thousands would
/// overflow the stack).
pub const MAX_INCLUDE_DEPTH: usize = 32;

/// One requirement line.
#[derive(Debug, Clone)]
pub struct FileRequirement {
    pub requirement: Requirement,
    pub location: Location,
    /// The file as a user names it in annotations (`-r requirements.in`, `-c constraints.txt`).
    pub file: String,
    /// `--hash=ALGO:HEX` options of the line (pip's hash-checking mode), as `(algo, hex)`.
    pub hashes: Vec<(String, String)>,
}

/// Everything read from a requirements file and the files it includes.
#[derive(Debug, Clone, Default)]
pub struct RequirementsFile {
    pub requirements: Vec<FileRequirement>,
    pub constraints: Vec<FileRequirement>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    /// `--find-links` values; relative paths are made relative to the file that names them.
    pub find_links: Vec<String>,
    pub no_index: bool,
    pub pre: bool,
    /// `--only-binary` and `--no-binary`, in the order given.
    pub formats: FormatControl,
    pub prefer_binary: bool,
    /// `--trusted-host` values (`host` or `host:port`).
    pub trusted_hosts: Vec<String>,
    /// Options that change nothing for a resolver, where they were written.
    pub ignored: Vec<(Location, String)>,
}

impl RequirementsFile {
    /// Read `path` (as named on the command line) and everything it includes.
    pub fn read(path: &Path) -> Result<Self, InputError> {
        let mut out = RequirementsFile::default();
        let mut stack = Vec::new();
        out.read_into(path, path.display().to_string(), false, &mut stack)?;
        Ok(out)
    }

    /// Read `path` as a constraints file (`-c FILE`, pip's `--constraint`): its requirements
    /// narrow the versions of whatever else asks for them, and ask for nothing themselves.
    pub fn read_constraints(path: &Path) -> Result<Self, InputError> {
        let mut out = RequirementsFile::default();
        let mut stack = Vec::new();
        out.read_into(path, path.display().to_string(), true, &mut stack)?;
        Ok(out)
    }

    /// Read `text` as if it were the file `name` in the current folder.
    pub fn parse(text: &str, name: &str) -> Result<Self, InputError> {
        let mut out = RequirementsFile::default();
        let mut stack = vec![PathBuf::from(name)];
        out.parse_into(text, Path::new(name), name, false, &mut stack)?;
        Ok(out)
    }

    fn read_into(
        &mut self,
        path: &Path,
        shown: String,
        constraint: bool,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), InputError> {
        let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        if stack.contains(&canonical) {
            return Err(InputError::new(
                Location::file(&shown),
                "includes itself (a -r/-c cycle)",
            ));
        }
        if stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(InputError::new(
                Location::file(&shown),
                format!("included {MAX_INCLUDE_DEPTH} files deep (-r/-c); at most that many are followed"),
            ));
        }
        let text = lastmile_fs::read_text(path)
            .map_err(|e| InputError::new(Location::file(&shown), format!("cannot read: {e}")))?;
        stack.push(canonical);
        let result = self.parse_into(&text, path, &shown, constraint, stack);
        stack.pop();
        result
    }

    /// An option line (`-r FILE`, `--index-url URL`, ...), relative paths taken from `base`.
    fn option(
        &mut self,
        line: &str,
        at: Location,
        base: &Path,
        constraint: bool,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), InputError> {
        let (option, value) = split_option(line);
        let need = || {
            value
                .clone()
                .ok_or_else(|| InputError::new(at.clone(), format!("{option} needs a value")))
        };
        match option.as_str() {
            "-r" | "--requirement" => {
                let (file, name) = relative(base, &need()?);
                self.read_into(&file, name, constraint, stack)?;
            }
            "-c" | "--constraint" => {
                let (file, name) = relative(base, &need()?);
                self.read_into(&file, name, true, stack)?;
            }
            "-i" | "--index-url" => self.index_url = Some(need()?),
            "--extra-index-url" => self.extra_index_urls.push(need()?),
            "-f" | "--find-links" => {
                let value = need()?;
                if value.contains("://") {
                    self.find_links.push(value);
                } else {
                    self.find_links
                        .push(relative(base, &value).0.display().to_string());
                }
            }
            "--no-index" => self.no_index = true,
            "--pre" => self.pre = true,
            "--only-binary" => self.formats.only_binary(&need()?),
            "--no-binary" => self.formats.no_binary(&need()?),
            "--prefer-binary" => self.prefer_binary = true,
            "--trusted-host" => self.trusted_hosts.push(need()?),
            // Valid in a requirements file, but nothing to a resolver: said, not an error.
            "--require-hashes" => self.ignored.push((
                at.clone(),
                "--require-hashes (the pins always carry hashes)".into(),
            )),
            "--use-feature" => self
                .ignored
                .push((at.clone(), format!("--use-feature {}", need()?))),
            "-e" | "--editable" => {
                return Err(InputError::new(
                    at,
                    "editable requirements cannot be pinned; build the project and require it by name",
                ));
            }
            _ => return Err(InputError::new(at, format!("unknown option {option}"))),
        }
        Ok(())
    }

    fn parse_into(
        &mut self,
        text: &str,
        path: &Path,
        shown: &str,
        constraint: bool,
        stack: &mut Vec<PathBuf>,
    ) -> Result<(), InputError> {
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        for (line_no, line) in logical_lines(text) {
            let at = Location::line(shown, line_no);
            let line = expand_env(&line, &at)?;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('-') {
                self.option(line, at, base, constraint, stack)?;
                continue;
            }
            let (line, hashes, ignored) = split_line_options(line, &at)?;
            self.ignored
                .extend(ignored.into_iter().map(|option| (at.clone(), option)));
            let requirement = parse_requirement(line, &at)?;
            let entry = FileRequirement {
                requirement,
                location: at,
                file: shown.to_owned(),
                hashes,
            };
            if constraint {
                self.constraints.push(entry);
            } else {
                self.requirements.push(entry);
            }
        }
        Ok(())
    }
}

/// `(algorithm, hex digest)` pairs.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_options_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("base.in"), "katcp>=0.9  # protocol\n").unwrap();
        std::fs::write(dir.path().join("constraints.txt"), "numpy<2\n").unwrap();
        std::fs::write(
            dir.path().join("requirements.in"),
            "--find-links wheels\n-r base.in\n-c constraints.txt\n--extra-index-url=https://example.invalid/simple\n\
             katcore[monitoring] \\\n  >=1.3 ; python_version >= '3.9'\n",
        )
        .unwrap();
        let file = RequirementsFile::read(&dir.path().join("requirements.in")).unwrap();
        let names: Vec<_> = file
            .requirements
            .iter()
            .map(|r| (r.requirement.name.to_string(), r.location.line))
            .collect();
        assert_eq!(names, [("katcp".into(), Some(1)), ("katcore".into(), Some(5))]);
        assert_eq!(file.constraints[0].requirement.name.as_ref(), "numpy");
        assert!(file.constraints[0].file.ends_with("constraints.txt"));
        assert_eq!(file.extra_index_urls, ["https://example.invalid/simple"]);
        assert!(file.find_links[0].ends_with("wheels"));
    }

    #[test]
    fn pinned_lines_carry_their_hashes() {
        let text = "katcp==0.9.4 \\
    --hash=sha256:AB12 \\
    --hash sha256:cd34
    # via katcore
numpy==2.0 ; python_version >= '3.9' --hash=sha256:ef56
plain==1.0
";
        let file = RequirementsFile::parse(text, "pinned.txt").unwrap();
        let hashes: Vec<_> = file.requirements.iter().map(|r| r.hashes.clone()).collect();
        assert_eq!(
            hashes,
            [
                vec![("sha256".into(), "ab12".into()), ("sha256".into(), "cd34".into())],
                vec![("sha256".into(), "ef56".into())],
                vec![],
            ]
        );
        assert_eq!(
            file.requirements[1].requirement.to_string(),
            "numpy==2.0 ; python_full_version >= '3.9'"
        );
        let err = RequirementsFile::parse("a==1 --hash=md5\n", "p.txt").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("p.txt:1: --hash \"md5\": expected ALGORITHM:HEX"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = RequirementsFile::parse("ok\n--frobnicate\n", "req.in").unwrap_err();
        assert_eq!(err.to_string(), "req.in:2: unknown option --frobnicate");
        let err = RequirementsFile::parse("a\n\nb >> 1\n", "req.in").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("req.in:3: invalid requirement \"b >> 1\"")
        );
        // An option of non-ASCII letters is named, not a panic.
        let err = RequirementsFile::parse("-éx\n", "req.in").unwrap_err();
        assert_eq!(err.to_string(), "req.in:1: unknown option -é");
        let err = RequirementsFile::parse("-e .\n", "req.in").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("req.in:1: editable requirements cannot be pinned")
        );
        let err = RequirementsFile::parse("x @ ${LASTMILE_SURELY_UNSET}/x.whl\n", "req.in").unwrap_err();
        assert_eq!(
            err.to_string(),
            "req.in:1: environment variable LASTMILE_SURELY_UNSET is not set"
        );
    }

    #[test]
    fn every_option_pip_accepts_in_a_file() {
        let text = "--only-binary :all:\n--no-binary katcp,Kat_Core\n--prefer-binary\n--trusted-host pypi.example:8080\n\
                    --require-hashes\n--use-feature=truststore\n\
                    katcp==0.9.4 --hash=sha256:ab --config-settings=--build-option=--x --global-option x\n";
        let file = RequirementsFile::parse(text, "r.in").unwrap();
        assert!(file.prefer_binary);
        assert_eq!(file.trusted_hosts, ["pypi.example:8080"]);
        assert_eq!(
            file.requirements[0].hashes,
            [("sha256".to_owned(), "ab".to_owned())]
        );
        let ignored: Vec<String> = file.ignored.iter().map(|(at, o)| format!("{at}: {o}")).collect();
        assert_eq!(
            ignored,
            [
                "r.in:5: --require-hashes (the pins always carry hashes)",
                "r.in:6: --use-feature truststore",
                "r.in:7: --config-settings --build-option=--x",
                "r.in:7: --global-option x",
            ]
        );
        // --only-binary :all: then --no-binary for two names: those two from sdists, the rest wheels.
        assert_eq!(file.formats.allowed("katcp"), (false, true));
        assert_eq!(file.formats.allowed("kat-core"), (false, true));
        assert_eq!(file.formats.allowed("numpy"), (true, false));
    }

    #[test]
    fn format_control_follows_pip() {
        let mut formats = FormatControl::default();
        assert_eq!(formats.allowed("x"), (true, true));
        formats.no_binary(":all:");
        assert_eq!(formats.allowed("x"), (false, true));
        formats.only_binary("x");
        assert_eq!(formats.allowed("x"), (true, false));
        assert_eq!(formats.allowed("y"), (false, true));
        formats.no_binary(":none:");
        assert_eq!(formats.allowed("y"), (true, true));
        assert_eq!(formats.allowed("x"), (true, false));
    }

    #[test]
    fn include_chains_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..2000 {
            std::fs::write(dir.path().join(format!("r{i}.in")), format!("-r r{}.in\n", i + 1)).unwrap();
        }
        std::fs::write(dir.path().join("r2000.in"), "x\n").unwrap();
        let err = RequirementsFile::read(&dir.path().join("r0.in")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("included 32 files deep (-r/-c); at most that many are followed"),
            "{err}"
        );
        // 31 levels are fine.
        let err = RequirementsFile::read(&dir.path().join("r1969.in"));
        assert!(err.is_ok(), "{err:?}");
    }

    #[test]
    fn include_cycles_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.in"), "-r b.in\n").unwrap();
        std::fs::write(dir.path().join("b.in"), "-r a.in\n").unwrap();
        let err = RequirementsFile::read(&dir.path().join("a.in")).unwrap_err();
        assert!(
            err.to_string().ends_with("includes itself (a -r/-c cycle)"),
            "{err}"
        );
    }
}
