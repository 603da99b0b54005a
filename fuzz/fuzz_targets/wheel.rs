//! Wheels: the zip, its METADATA and entry points, read as the finder reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = lastmile_dist::read_wheel_from(std::io::Cursor::new(bytes), "fuzz.whl");
    let _ = lastmile_dist::wheel_metadata_text(std::io::Cursor::new(bytes), "fuzz.whl");
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = text.parse::<lastmile_python::filename::WheelName>();
        let _ = lastmile_python::filename::parse_sdist_name(text);
    }
});
