//! A request's parameters against the API definition of its path and method.

use std::collections::BTreeMap;

use serde_json::Value;

/// Check parameters against a definition's `parameters`.
pub(crate) fn validate(definition: &Value, params: &BTreeMap<String, String>) -> Result<(), String> {
    let properties = definition["properties"].as_object().cloned().unwrap_or_default();
    let property = |key: &str| -> Option<&Value> {
        properties.get(key).or_else(|| {
            let stem = key.trim_end_matches(|c: char| c.is_ascii_digit());
            (stem.len() < key.len())
                .then(|| properties.get(&format!("{stem}[n]")))
                .flatten()
        })
    };
    for (key, value) in params {
        let Some(schema) = property(key) else {
            if definition["additionalProperties"] == 0 {
                return Err(format!("unknown parameter {key}"));
            }
            continue;
        };
        check_value(key, value, schema)?;
        if let Some(required) = schema["requires"].as_str()
            && !params.contains_key(required)
        {
            return Err(format!("{key} requires {required}"));
        }
    }
    for (key, schema) in &properties {
        if schema["optional"] != 1 && !key.contains("[n]") && !params.contains_key(key) {
            return Err(format!("missing required parameter {key}"));
        }
    }
    Ok(())
}

fn check_value(key: &str, value: &str, schema: &Value) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{key}={value:?}: {why}"));
    match schema["type"].as_str().unwrap_or("string") {
        "integer" => {
            let Ok(n) = value.parse::<i64>() else {
                return bad("not an integer");
            };
            if let Some(min) = number(&schema["minimum"])
                && (n as f64) < min
            {
                return bad("below the minimum");
            }
            if let Some(max) = number(&schema["maximum"])
                && (n as f64) > max
            {
                return bad("above the maximum");
            }
        }
        "number" => {
            if value.parse::<f64>().is_err() {
                return bad("not a number");
            }
        }
        "boolean" => {
            if !matches!(value, "0" | "1") {
                return bad("booleans are sent as 0 or 1");
            }
        }
        _ => {
            if let Some(options) = schema["enum"].as_array()
                && !options.iter().any(|o| o == value)
            {
                return bad("not one of the enum");
            }
            if let Some(max) = schema["maxLength"].as_u64()
                && value.len() as u64 > max
            {
                return bad("too long");
            }
            if let Some(pattern) = schema["pattern"].as_str() {
                let pattern = format!("^(?:{})$", pattern.replace("(?^:", "(?:").replace("\\0", "\\x00"));
                let regex = regex::Regex::new(&pattern).map_err(|e| format!("{key}: bad pattern: {e}"))?;
                if !regex.is_match(value) {
                    return bad("does not match the pattern");
                }
            }
            match &schema["format"] {
                Value::String(format) => check_format(format, value).or_else(|why| bad(&why))?,
                Value::Object(keys) => check_property_string(value, keys).or_else(|why| bad(&why))?,
                _ => {}
            }
        }
    }
    Ok(())
}

fn number(value: &Value) -> Option<f64> {
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// `key=value,...` against the sub-keys of a property string (`net0`, `rootfs`, `features`).
fn check_property_string(value: &str, keys: &serde_json::Map<String, Value>) -> Result<(), String> {
    let default_key = keys
        .iter()
        .find(|(_, s)| s["default_key"] == 1)
        .map(|(k, _)| k.clone());
    for part in value.split(',') {
        let (key, sub) = match part.split_once('=') {
            Some((k, v)) => (k.to_owned(), v),
            None => (
                default_key.clone().ok_or(format!("{part:?} without a key"))?,
                part,
            ),
        };
        let schema = keys.get(&key).ok_or(format!("unknown key {key}"))?;
        check_value(&key, sub, schema)?;
    }
    for (key, schema) in keys {
        if schema["optional"] != 1
            && schema["default_key"] != 1
            && !value.split(',').any(|p| p.starts_with(&format!("{key}=")))
        {
            return Err(format!("missing {key}"));
        }
    }
    Ok(())
}

fn check_format(format: &str, value: &str) -> Result<(), String> {
    let matches = |pattern: &str| {
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .unwrap()
            .is_match(value)
    };
    let ok = match format {
        "pve-node" => matches("[a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?"),
        "pve-vmid" => value
            .parse::<u64>()
            .is_ok_and(|v| (100..=999_999_999).contains(&v)),
        "pve-storage-id" => matches("[a-z][a-z0-9\\-_.]*[a-z0-9]"),
        "dns-name" => matches(
            "([a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?)(\\.[a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?)*",
        ),
        "pve-tag-list" => value.split([';', ',', ' ']).filter(|t| !t.is_empty()).all(|t| {
            regex::Regex::new("^[a-zA-Z0-9_][a-zA-Z0-9_\\-+.]*$")
                .unwrap()
                .is_match(t)
        }),
        "pve-storage-content" => matches("iso|vztmpl|backup|rootdir|images|snippets|import"),
        "ipv4" => value.parse::<std::net::Ipv4Addr>().is_ok(),
        "pve-ipv4-config" => {
            value == "dhcp"
                || value == "manual"
                || value.split_once('/').is_some_and(|(a, p)| {
                    a.parse::<std::net::Ipv4Addr>().is_ok() && p.parse::<u8>().is_ok_and(|p| p <= 32)
                })
        }
        "mac-addr" => matches("[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}"),
        "disk-size" => matches("\\d+(\\.\\d+)?[KMGT]?"),
        // STORAGE:SIZE_IN_GIB for a new volume, or an existing volume id.
        "pve-lxc-mp-string" | "pve-volume-id" => matches("[a-z][a-z0-9\\-_.]*[a-z0-9]:[^,]+"),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("not a valid {format}"))
    }
}
