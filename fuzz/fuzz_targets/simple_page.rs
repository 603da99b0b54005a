//! Simple-API project pages, PEP 503 HTML and PEP 691 JSON, and what the finder takes from their
//! links (URLs joined to the page, hashes).
#![no_main]

use lastmile_fs::{Location, Sha256};
use lastmile_index::simple::parse_page;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let location = Location::file("page");
    let base = url::Url::parse("https://pypi.example/simple/x/").unwrap();
    for content_type in ["text/html", "application/vnd.pypi.simple.v1+json"] {
        if let Ok(links) = parse_page(bytes, content_type, &location) {
            for link in links {
                let _ = base.join(&link.href);
                if let Some(hash) = link.sha256 {
                    let _ = hash.parse::<Sha256>();
                }
                let _ = link.filename.parse::<lastmile_python::filename::WheelName>();
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = lastmile_index::http::redact(text);
    }
});
