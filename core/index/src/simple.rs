//! "Simple" project pages: the links to a project's files, in PEP 503 HTML or PEP 691 JSON, with
//! what a resolver needs before touching a file: the sha256, `Requires-Python`, PEP 592 yanking,
//! PEP 658/714 metadata files and PEP 700 upload times.

use std::borrow::Cow;

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
    parse_page_with(body, content_type, location, &|_| true)
}

/// Parse a project page, keeping only the links whose file name `keep` accepts. The others
/// are skipped as they are read: a page of a package with many platform wheels lists tens of
/// thousands of files, most of which a target can never use.
pub fn parse_page_with(
    body: &[u8],
    content_type: &str,
    location: &Location,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<Link>, InputError> {
    if content_type.contains("json") {
        parse_project_json(body, location, keep)
    } else {
        let html = String::from_utf8_lossy(body);
        let mut links = parse_project_page(&html, location)?;
        links.retain(|link| keep(&link.filename));
        Ok(links)
    }
}

/// One file of a PEP 691 page, its strings borrowed from the page where they can be.
#[derive(Deserialize)]
struct JsonFile<'a> {
    #[serde(borrow)]
    filename: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(default, borrow)]
    hashes: JsonHashes<'a>,
    #[serde(rename = "requires-python", default, borrow)]
    requires_python: Option<Cow<'a, str>>,
    #[serde(default)]
    yanked: Option<Yanked>,
    #[serde(rename = "core-metadata", default)]
    core_metadata: Option<MetadataFlag>,
    #[serde(rename = "dist-info-metadata", default)]
    dist_info_metadata: Option<MetadataFlag>,
    #[serde(rename = "upload-time", default, borrow)]
    upload_time: Option<Cow<'a, str>>,
    #[serde(default)]
    size: Option<u64>,
}

#[derive(Deserialize, Default)]
struct JsonHashes<'a> {
    #[serde(default, borrow)]
    sha256: Option<Cow<'a, str>>,
}

/// `"yanked"`: `false`, `true`, or the reason (PEP 592).
struct Yanked(Option<String>);

impl<'de> Deserialize<'de> for Yanked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Yanked;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean or a reason")
            }
            fn visit_bool<E>(self, yanked: bool) -> Result<Yanked, E> {
                Ok(Yanked(yanked.then(String::new)))
            }
            fn visit_str<E>(self, reason: &str) -> Result<Yanked, E> {
                Ok(Yanked(Some(reason.to_owned())))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// `"core-metadata"`: `true`, `false` or `{"sha256": ...}` (PEP 691/714): `Some(hash if given)`
/// when the index serves the metadata file.
struct MetadataFlag(Option<Option<String>>);

impl<'de> Deserialize<'de> for MetadataFlag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = MetadataFlag;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a boolean or a map of hashes")
            }
            fn visit_bool<E>(self, served: bool) -> Result<MetadataFlag, E> {
                Ok(MetadataFlag(served.then_some(None)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<MetadataFlag, A::Error> {
                let mut sha256 = None;
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if key == "sha256" {
                        sha256 = map.next_value::<Option<String>>()?;
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(MetadataFlag(Some(sha256)))
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

impl JsonFile<'_> {
    fn into_link(self) -> Link {
        let (href, fragment) = match self.url.split_once('#') {
            Some((url, fragment)) => (url, Some(fragment)),
            None => (self.url.as_ref(), None),
        };
        let sha256 = self.hashes.sha256.map(Cow::into_owned).or_else(|| {
            fragment
                .and_then(|f| f.strip_prefix("sha256="))
                .map(str::to_owned)
        });
        let core_metadata = self
            .core_metadata
            .and_then(|flag| flag.0)
            .or_else(|| self.dist_info_metadata.and_then(|flag| flag.0));
        Link {
            href: href.to_owned(),
            filename: self.filename.into_owned(),
            sha256,
            requires_python: self
                .requires_python
                .filter(|r| !r.is_empty())
                .map(Cow::into_owned),
            yanked: self.yanked.and_then(|y| y.0),
            core_metadata,
            upload_time: self.upload_time.map(Cow::into_owned),
            size: self.size,
        }
    }
}

/// The page: its `files`, read one by one and kept when `keep` accepts the name; every other
/// key is skipped.
struct PageSeed<'k>(&'k dyn Fn(&str) -> bool);

impl<'de> serde::de::DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Vec<Link>;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Link>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PageSeed<'_> {
    type Value = Vec<Link>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a PEP 691 project page")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<Link>, A::Error> {
        let mut files = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "files" {
                files = Some(map.next_value_seed(FilesSeed(self.0))?);
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        files.ok_or_else(|| serde::de::Error::missing_field("files"))
    }
}

struct FilesSeed<'k>(&'k dyn Fn(&str) -> bool);

impl<'de> serde::de::DeserializeSeed<'de> for FilesSeed<'_> {
    type Value = Vec<Link>;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Vec<Link>, D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for FilesSeed<'_> {
    type Value = Vec<Link>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of files")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Link>, A::Error> {
        let mut links = Vec::new();
        while let Some(file) = seq.next_element::<JsonFile<'de>>()? {
            if (self.0)(&file.filename) {
                links.push(file.into_link());
            }
        }
        Ok(links)
    }
}

/// Parse a PEP 691 JSON project page, keeping the links `keep` accepts.
fn parse_project_json(
    body: &[u8],
    location: &Location,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Vec<Link>, InputError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde::de::DeserializeSeed::deserialize(PageSeed(keep), &mut deserializer)
        .and_then(|links| deserializer.end().map(|()| links))
        .map_err(|e| InputError::new(location.clone(), format!("not a PEP 691 project page: {e}")))
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

    #[test]
    fn json_pages_pep_691_592_714_700_and_the_keep_filter() {
        let body = br#"{"meta": {"api-version": "1.1", "_last-serial": 7}, "name": "a", "versions": ["1.0"],
            "files": [
              {"filename": "a-1.0-py3-none-any.whl", "url": "https://f.example/a-1.0-py3-none-any.whl#sha256=ff",
               "hashes": {"md5": "00", "sha256": "ab"}, "requires-python": ">=3.9",
               "core-metadata": {"sha256": "cd"}, "upload-time": "2024-01-01T00:00:00Z", "size": 10,
               "data-dist-info-metadata": false, "yanked": false},
              {"filename": "a-1.0.tar.gz", "url": "../../a-1.0.tar.gz#sha256=ee", "hashes": {},
               "requires-python": "", "yanked": "broken \"build\"", "dist-info-metadata": true},
              {"filename": "a-1.0-cp312-cp312-win_amd64.whl", "url": "a.whl", "hashes": {"sha256": "99"},
               "yanked": true, "core-metadata": false, "requires-python": null}
            ]}"#;
        let location = Location::file("page.json");
        let links = parse_page(body, "application/vnd.pypi.simple.v1+json", &location).unwrap();
        assert_eq!(links.len(), 3);
        assert_eq!(links[0].href, "https://f.example/a-1.0-py3-none-any.whl");
        assert_eq!(links[0].sha256.as_deref(), Some("ab"));
        assert_eq!(links[0].requires_python.as_deref(), Some(">=3.9"));
        assert_eq!(links[0].core_metadata, Some(Some("cd".to_owned())));
        assert_eq!(links[0].upload_time.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!((links[0].size, links[0].yanked.as_deref()), (Some(10), None));
        // The fragment's hash when `hashes` has none; an escaped reason; the legacy key.
        assert_eq!(links[1].sha256.as_deref(), Some("ee"));
        assert_eq!(links[1].requires_python, None);
        assert_eq!(links[1].yanked.as_deref(), Some("broken \"build\""));
        assert_eq!(links[1].core_metadata, Some(None));
        assert_eq!(
            (links[2].yanked.as_deref(), &links[2].core_metadata),
            (Some(""), &None)
        );

        let kept = parse_page_with(body, "application/vnd.pypi.simple.v1+json", &location, &|name| {
            !name.ends_with("win_amd64.whl")
        })
        .unwrap();
        let names: Vec<&str> = kept.iter().map(|l| l.filename.as_str()).collect();
        assert_eq!(names, ["a-1.0-py3-none-any.whl", "a-1.0.tar.gz"]);

        for bad in [
            &br#"{"name": "a"}"#[..],
            br#"{"files": [{"url": "x"}]}"#,
            br#"{"files": []} x"#,
        ] {
            let err = parse_page(bad, "application/vnd.pypi.simple.v1+json", &location).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("page.json: not a PEP 691 project page"),
                "{err}"
            );
        }
    }
}
