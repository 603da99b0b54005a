//! pip requirements files, single requirements and markers.
#![no_main]

use lastmile_fs::Location;
use lastmile_python::requirement::{Dependency, RawDependency, parse_marker};
use lastmile_python::requirements_file::RequirementsFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = RequirementsFile::parse(text, "fuzz.in");
    let _ = lastmile_python::requirement_lines::parse_requirement_lines(text, &Location::file("r"));
    for line in text.lines().take(64) {
        let _ = Dependency::parse(&RawDependency::new(line, Location::line("r", 1)));
        let _ = parse_marker(line, &Location::file("m"));
    }
});
