//! "Simple" project pages: the links to a project's files, in PEP 503 HTML or PEP 691 JSON, with
//! what a resolver needs before touching a file: the sha256, `Requires-Python`, PEP 592 yanking,
//! PEP 658/714 metadata files and PEP 700 upload times.

use serde::Deserialize;

use lastmile_fs::{InputError, Location};

/// The `Accept` header of a project page request: PEP 691 JSON first, HTML as the fallback.
pub const ACCEPT: &str =
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

/// One file link of a project page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The URL as written (relative to the page), without its fragment.
    pub href: String,
    pub filename: String,
    /// From a `#sha256=...` fragment.
    pub sha256: Option<String>,
    pub requires_python: Option<String>,
    /// `Some(reason)` (possibly empty) when the file is yanked (PEP 592).
    pub yanked: Option<String>,
    /// `Some(sha256 if given)` when the index serves the file's metadata at `URL.metadata`
    /// (PEP 658/714).
    pub core_metadata: Option<Option<String>>,
    /// PEP 700 `upload-time` (RFC 3339), JSON pages only.
    pub upload_time: Option<String>,
    pub size: Option<u64>,
}

/// Parse a project page by its content type: PEP 691 JSON, else HTML.
pub fn parse_page(body: &[u8], content_type: &str, location: &Location) -> Result<Vec<Link>, InputError> {
    if content_type.contains("json") {
        parse_project_json(body, location)
    } else {
        let html = String::from_utf8_lossy(body);
        parse_project_page(&html, location)
    }
}

#[derive(Deserialize)]
struct JsonPage {
    files: Vec<JsonFile>,
}

#[derive(Deserialize)]
struct JsonFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: std::collections::BTreeMap<String, String>,
    #[serde(rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: Option<serde_json::Value>,
    #[serde(rename = "core-metadata")]
    core_metadata: Option<serde_json::Value>,
    #[serde(rename = "dist-info-metadata")]
    dist_info_metadata: Option<serde_json::Value>,
    #[serde(rename = "upload-time")]
    upload_time: Option<String>,
    size: Option<u64>,
}

/// `true`, `false` or `{"sha256": ...}` (PEP 691/714).
fn metadata_flag(value: Option<&serde_json::Value>) -> Option<Option<String>> {
    match value? {
        serde_json::Value::Bool(true) => Some(None),
        serde_json::Value::Object(hashes) => {
            Some(hashes.get("sha256").and_then(|v| v.as_str()).map(str::to_owned))
        }
        _ => None,
    }
}

/// Parse a PEP 691 JSON project page.
pub fn parse_project_json(body: &[u8], location: &Location) -> Result<Vec<Link>, InputError> {
    let page: JsonPage = serde_json::from_slice(body)
        .map_err(|e| InputError::new(location.clone(), format!("not a PEP 691 project page: {e}")))?;
    Ok(page
        .files
        .into_iter()
        .map(|file| {
            let (href, fragment) = match file.url.split_once('#') {
                Some((url, fragment)) => (url.to_owned(), Some(fragment.to_owned())),
                None => (file.url.clone(), None),
            };
            let sha256 = file.hashes.get("sha256").cloned().or_else(|| {
                fragment
                    .as_deref()
                    .and_then(|f| f.strip_prefix("sha256="))
                    .map(str::to_owned)
            });
            let yanked = match file.yanked {
                Some(serde_json::Value::Bool(true)) => Some(String::new()),
                Some(serde_json::Value::String(reason)) => Some(reason),
                _ => None,
            };
            let core_metadata = metadata_flag(file.core_metadata.as_ref())
                .or_else(|| metadata_flag(file.dist_info_metadata.as_ref()));
            Link {
                href,
                filename: file.filename,
                sha256,
                requires_python: file.requires_python.filter(|r| !r.is_empty()),
                yanked,
                core_metadata,
                upload_time: file.upload_time,
                size: file.size,
            }
        })
        .collect())
}

/// `data-core-metadata` / `data-dist-info-metadata`: `true` or `sha256=...`.
fn html_metadata_flag(value: Option<String>) -> Option<Option<String>> {
    let value = value?;
    match value.split_once('=') {
        Some(("sha256", hash)) => Some(Some(hash.to_owned())),
        Some(_) => Some(None),
        None if value == "true" || value.is_empty() => Some(None),
        None => None,
    }
}

/// Parse a project page.
pub fn parse_project_page(html: &str, location: &Location) -> Result<Vec<Link>, InputError> {
    let dom = tl::parse(html, tl::ParserOptions::default())
        .map_err(|e| InputError::new(location.clone(), format!("not an HTML page: {e}")))?;
    let parser = dom.parser();
    let anchors = dom
        .query_selector("a")
        .ok_or_else(|| InputError::new(location.clone(), "cannot search the page for links"))?;
    let mut links = Vec::new();
    for handle in anchors {
        let Some(tag) = handle.get(parser).and_then(|n| n.as_tag()) else {
            continue;
        };
        let attributes = tag.attributes();
        let attribute = |name: &str| -> Option<String> {
            attributes.get(name).map(|value| {
                let raw = value.map(|v| v.as_utf8_str().into_owned()).unwrap_or_default();
                html_escape::decode_html_entities(&raw).into_owned()
            })
        };
        let Some(href) = attribute("href") else { continue };
        let (url, fragment) = href
            .split_once('#')
            .map_or((href.as_str(), None), |(u, f)| (u, Some(f)));
        let filename = url.rsplit('/').next().unwrap_or(url).to_owned();
        if filename.is_empty() {
            continue;
        }
        let sha256 = fragment
            .and_then(|f| f.strip_prefix("sha256="))
            .map(str::to_owned);
        links.push(Link {
            href: url.to_owned(),
            filename,
            sha256,
            requires_python: attribute("data-requires-python").filter(|r| !r.is_empty()),
            yanked: attribute("data-yanked"),
            core_metadata: html_metadata_flag(
                attribute("data-core-metadata").or_else(|| attribute("data-dist-info-metadata")),
            ),
            upload_time: None,
            size: None,
        });
    }
    Ok(links)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_with_pep_503_and_592_attributes() {
        let html = r#"<!DOCTYPE html><html><body>
            <a href="../../files/katcp-0.9.4-py3-none-any.whl#sha256=abc" data-requires-python="&gt;=3.9">katcp-0.9.4-py3-none-any.whl</a>
            <a href="../../files/katcp-0.9.3.tar.gz" data-yanked="broken build">katcp-0.9.3.tar.gz</a>
            <a href="../../files/katcp-0.9.2.tar.gz" data-yanked>katcp-0.9.2.tar.gz</a>
        </body></html>"#;
        let links = parse_project_page(html, &Location::file("index.html")).unwrap();
        assert_eq!(links.len(), 3);
        assert_eq!(links[0].filename, "katcp-0.9.4-py3-none-any.whl");
        assert_eq!(links[0].sha256.as_deref(), Some("abc"));
        assert_eq!(links[0].requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(links[0].yanked, None);
        assert_eq!(links[1].yanked.as_deref(), Some("broken build"));
        assert_eq!(links[2].yanked.as_deref(), Some(""));
    }

    #[test]
    fn html_metadata_files_pep_714_and_legacy() {
        let html = r#"<a href="a-1-py3-none-any.whl" data-core-metadata="sha256=beef">a</a>
            <a href="b-1-py3-none-any.whl" data-dist-info-metadata="true">b</a>
            <a href="c-1-py3-none-any.whl">c</a>"#;
        let links = parse_project_page(html, &Location::file("index.html")).unwrap();
        assert_eq!(links[0].core_metadata, Some(Some("beef".into())));
        assert_eq!(links[1].core_metadata, Some(None));
        assert_eq!(links[2].core_metadata, None);
    }

    #[test]
    fn json_pages_pep_691_700_714() {
        let json = br#"{"meta": {"api-version": "1.1"}, "name": "katcp", "versions": ["0.9.4"],
          "files": [
            {"filename": "katcp-0.9.4-py3-none-any.whl", "url": "https://files.example/katcp-0.9.4-py3-none-any.whl",
             "hashes": {"sha256": "abc"}, "requires-python": ">=3.9", "core-metadata": {"sha256": "def"},
             "upload-time": "2024-05-01T10:00:00.123456Z", "size": 1234, "yanked": false},
            {"filename": "katcp-0.9.3.tar.gz", "url": "../../files/katcp-0.9.3.tar.gz", "hashes": {},
             "yanked": "broken build", "dist-info-metadata": true}
          ]}"#;
        let links = parse_page(
            json,
            "application/vnd.pypi.simple.v1+json",
            &Location::file("page"),
        )
        .unwrap();
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].sha256.as_deref(), Some("abc"));
        assert_eq!(links[0].core_metadata, Some(Some("def".into())));
        assert_eq!(
            links[0].upload_time.as_deref(),
            Some("2024-05-01T10:00:00.123456Z")
        );
        assert_eq!(links[0].size, Some(1234));
        assert_eq!(links[0].yanked, None);
        assert_eq!(links[1].yanked.as_deref(), Some("broken build"));
        assert_eq!(links[1].core_metadata, Some(None));
        assert!(
            parse_page(
                b"{}",
                "application/vnd.pypi.simple.v1+json",
                &Location::file("page")
            )
            .is_err()
        );
    }
}
