//! Scripts a wheel asks for: console and GUI launchers from `entry_points.txt`, and `#!python`
//! shebangs of `.data/scripts` rewritten to the venv's interpreter, as pip writes them.

/// `#!python` (and `#!pythonw`) become the venv's interpreter.
pub(crate) fn rewrite_shebang(data: Vec<u8>, python: &str) -> Vec<u8> {
    for marker in [&b"#!pythonw"[..], b"#!python"] {
        if let Some(rest) = data.strip_prefix(marker)
            && matches!(rest.first(), Some(b'\n' | b'\r' | b' '))
        {
            let mut out = format!("#!{python}").into_bytes();
            out.extend_from_slice(rest);
            return out;
        }
    }
    data
}

/// A console-script launcher for `module:object.attr`, as pip writes them.
pub(crate) fn launcher(python: &str, target: &str) -> Option<String> {
    let target = target.split('[').next()?.trim();
    let (module, object) = target.split_once(':')?;
    let (module, object) = (module.trim(), object.trim());
    if module.is_empty() || object.is_empty() {
        return None;
    }
    let head = object.split('.').next()?;
    Some(format!(
        "#!{python}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom {module} import {head}\nif __name__ == \"__main__\":\n    sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({object}())\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_and_shebangs() {
        let text = launcher("/opt/v/bin/python", "katcp.server:Server.main [extra]").unwrap();
        assert!(text.starts_with("#!/opt/v/bin/python\n"));
        assert!(text.contains("from katcp.server import Server\n"));
        assert!(text.contains("sys.exit(Server.main())"));
        assert!(launcher("/p", "nocolon").is_none());
        assert_eq!(
            rewrite_shebang(b"#!python\nprint(1)\n".to_vec(), "/v/bin/python"),
            b"#!/v/bin/python\nprint(1)\n"
        );
        assert_eq!(
            rewrite_shebang(b"#!/bin/sh\n".to_vec(), "/v/bin/python"),
            b"#!/bin/sh\n"
        );
    }
}
