//! Step 2: the package sources, from the options, the requirements files and pip's environment
//! variables, in pip's order of precedence (`lastmile_index::SourceOptions`).

use lastmile_index::{SourceOptions, Sources};
use lastmile_python::requirements_file::RequirementsFile;

/// The sources to resolve against.
pub(crate) fn collect(options: &SourceOptions, files: &RequirementsFile) -> anyhow::Result<Sources> {
    Ok(options.sources(Some(files), false)?)
}
