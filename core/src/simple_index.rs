//! PEP 503 "simple" project pages: the links to a project's files, with the PEP 503/592/658
//! attributes a resolver needs before touching a file (`#sha256=`, `data-requires-python`,
//! `data-yanked`).

use crate::location::{InputError, Location};

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
}
