//! The values of an environment file that carry a rule: networks, sizes, durations, config values.

use std::net::Ipv4Addr;

use serde::{Deserialize, Deserializer};

/// A value that breaks a rule of the environment file, in words (the caller says where).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Broken(pub(crate) String);

/// A node's network.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Network {
    /// The host's network namespace: the node binds its own loopback address (tests, the demo).
    #[default]
    None,
    /// Only the node's own loopback: isolated.
    Empty,
    /// A veth pair on a host bridge, with a real address (production).
    Veth {
        link: String,
        /// `10.8.0.2/24`.
        ipv4: String,
        gateway: Option<Ipv4Addr>,
    },
}

impl Network {
    /// The address rule of each kind.
    pub(crate) fn check(&self, address: Ipv4Addr) -> Result<(), Broken> {
        match self {
            Network::None if !address.is_loopback() => Err(Broken(format!(
                "network \"none\" shares the host's network: give the node a loopback address of its own (127.x.y.z), not {address}"
            ))),
            Network::None => Ok(()),
            Network::Empty if address != Ipv4Addr::LOCALHOST => Err(Broken(format!(
                "network \"empty\" isolates the node: its address is 127.0.0.1, not {address}"
            ))),
            Network::Empty => Ok(()),
            Network::Veth { link, ipv4, .. } => {
                if link.is_empty()
                    || !link
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
                {
                    return Err(Broken(format!("link {link:?}: a bridge name")));
                }
                let (ip, prefix) = ipv4
                    .split_once('/')
                    .ok_or_else(|| Broken(format!("ipv4 {ipv4:?}: expected ADDRESS/PREFIX")))?;
                let ip: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| Broken(format!("ipv4 {ipv4:?}: not an IPv4 address")))?;
                match prefix.parse::<u8>() {
                    Ok(0..=32) => {}
                    _ => return Err(Broken(format!("ipv4 {ipv4:?}: prefix 0-32"))),
                }
                if ip != address {
                    return Err(Broken(format!("ipv4 {ipv4} is not the node's address {address}")));
                }
                Ok(())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Network {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Kind(String),
            Table(Table),
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            r#type: String,
            link: Option<String>,
            ipv4: Option<String>,
            gateway: Option<Ipv4Addr>,
        }
        let kind_error = |kind: &str| {
            serde::de::Error::custom(format!(
                "{kind:?}: expected \"none\", \"empty\" or {{ type = \"veth\", link = BRIDGE, ipv4 = \"ADDR/PREFIX\", gateway = ADDR }}"
            ))
        };
        match Raw::deserialize(deserializer)? {
            Raw::Kind(kind) => match kind.as_str() {
                "none" => Ok(Network::None),
                "empty" => Ok(Network::Empty),
                _ => Err(kind_error(&kind)),
            },
            Raw::Table(table) => match (table.r#type.as_str(), table.link, table.ipv4) {
                ("veth", Some(link), Some(ipv4)) => Ok(Network::Veth {
                    link,
                    ipv4,
                    gateway: table.gateway,
                }),
                ("veth", _, _) => Err(serde::de::Error::custom("a veth network needs link and ipv4")),
                ("none", None, None) if table.gateway.is_none() => Ok(Network::None),
                ("empty", None, None) if table.gateway.is_none() => Ok(Network::Empty),
                (kind, _, _) => Err(kind_error(kind)),
            },
        }
    }
}

/// `[pool] addresses`: the loopback addresses the nodes of every instance of the environment take
/// theirs from, written `127.77.8.2-127.77.8.250` or `127.77.8.0/24` (its first and last
/// address, the network's and the broadcast's, left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl Pool {
    /// Its addresses, in order.
    pub fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> {
        (u32::from(self.first)..=u32::from(self.last)).map(Ipv4Addr::from)
    }

    /// How many addresses it holds (at least one).
    pub fn size(&self) -> u64 {
        u64::from(u32::from(self.last) - u32::from(self.first)) + 1
    }
}

impl std::fmt::Display for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

impl Pool {
    /// Read `FIRST-LAST` or `NETWORK/PREFIX`.
    pub(crate) fn parse(text: &str) -> Result<Self, Broken> {
        let address = |t: &str| {
            t.trim()
                .parse::<Ipv4Addr>()
                .map_err(|_| Broken(format!("{text:?}: {t:?} is not an IPv4 address")))
        };
        let pool = if let Some((network, prefix)) = text.split_once('/') {
            let network = u32::from(address(network)?);
            let prefix: u32 = match prefix.trim().parse() {
                Ok(p @ 8..=30) => p,
                _ => return Err(Broken(format!("{text:?}: a prefix from /8 to /30"))),
            };
            let mask = u32::MAX << (32 - prefix);
            if network & !mask != 0 {
                return Err(Broken(format!(
                    "{text:?}: {} is not the start of a /{prefix}",
                    Ipv4Addr::from(network)
                )));
            }
            Pool {
                first: Ipv4Addr::from(network + 1),
                last: Ipv4Addr::from((network | !mask) - 1),
            }
        } else if let Some((first, last)) = text.split_once('-') {
            Pool {
                first: address(first)?,
                last: address(last)?,
            }
        } else {
            return Err(Broken(format!(
                "{text:?}: expected FIRST-LAST (127.77.8.2-127.77.8.250) or a network (127.77.8.0/24)"
            )));
        };
        if pool.first > pool.last {
            return Err(Broken(format!(
                "{text:?}: {} comes after {}",
                pool.first, pool.last
            )));
        }
        if !pool.first.is_loopback() || !pool.last.is_loopback() {
            return Err(Broken(format!(
                "{text:?}: the nodes share the host's network, so their addresses are loopback ones (127.x.y.z)"
            )));
        }
        Ok(pool)
    }
}

/// A size in bytes, written `512M`, `2G`, `1024K` or a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size(pub(crate) u64);

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_size(&text)
            .map(Size)
            .ok_or_else(|| serde::de::Error::custom(format!("{text:?}: expected a size such as 512M or 2G")))
    }
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let number: u64 = number.parse().ok()?;
    let shift = match unit.trim_end_matches(['i', 'B']) {
        "" => 0,
        "K" | "k" => 10,
        "M" | "m" => 20,
        "G" | "g" => 30,
        "T" | "t" => 40,
        _ => return None,
    };
    number.checked_mul(1 << shift)
}

/// A `[config]` value: a string, integer or boolean, given to services as text. Newlines and
/// other control characters are refused (`node.env` holds one value per line).
pub(crate) struct ConfigValue(pub(crate) String);

impl<'de> Deserialize<'de> for ConfigValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Integer(i64),
            Boolean(bool),
        }
        let text = match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("expected a string, an integer or a boolean"))?
        {
            Raw::Text(text) => text,
            Raw::Integer(n) => n.to_string(),
            Raw::Boolean(b) => b.to_string(),
        };
        if text.chars().any(char::is_control) {
            return Err(serde::de::Error::custom(
                "a value holds no newline or other control character",
            ));
        }
        Ok(ConfigValue(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }

    #[test]
    fn pools_are_ranges_or_networks_of_loopback_addresses() {
        let range = Pool::parse("127.77.8.2-127.77.8.9").unwrap();
        assert_eq!(range.size(), 8);
        assert_eq!(range.to_string(), "127.77.8.2-127.77.8.9");
        let net = Pool::parse("127.77.8.0/24").unwrap();
        assert_eq!(net.to_string(), "127.77.8.1-127.77.8.254");
        assert_eq!(net.addresses().count(), 254);
        for (bad, said) in [
            ("127.77.8.9-127.77.8.2", "comes after"),
            ("10.0.0.1-10.0.0.5", "loopback"),
            ("127.77.8.1/24", "is not the start of a /24"),
            ("127.77.8.0/31", "a prefix from /8 to /30"),
            ("127.77.8.2", "expected FIRST-LAST"),
            ("127.77.8.x-127.77.8.9", "is not an IPv4 address"),
        ] {
            let err = Pool::parse(bad).unwrap_err().0;
            assert!(err.contains(said), "{bad}: {err}");
        }
    }

    #[test]
    fn networks_keep_their_address_rule() {
        let lo: Ipv4Addr = "127.77.0.2".parse().unwrap();
        assert!(Network::None.check(lo).is_ok());
        assert!(Network::None.check("10.0.0.2".parse().unwrap()).is_err());
        assert!(Network::Empty.check(lo).is_err());
        let veth = Network::Veth {
            link: "br0".into(),
            ipv4: "10.8.0.2/24".into(),
            gateway: None,
        };
        assert!(veth.check("10.8.0.2".parse().unwrap()).is_ok());
        assert!(veth.check("10.8.0.3".parse().unwrap()).is_err());
    }
}
