//! Core metadata, egg-info requires.txt, entry_points.txt and RECORD files.
#![no_main]

use lastmile_fs::Location;
use lastmile_python::metadata::{CoreMetadata, parse_requires_txt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let location = Location::file("METADATA");
    if let Ok(meta) = CoreMetadata::parse(text, &location) {
        let _ = meta.has_static_dependencies();
    }
    let _ = parse_requires_txt(text, &location);
    let _ = lastmile_python::entry_points::parse(text, &location);
    let _ = lastmile_dist::record::parse(text);
    let _ = lastmile_dist::metadata_from_text(text, "x.metadata");
});
