//! Endpoints written the way Open vSwitch users already write them.
//!
//! To connect: `tcp:HOST:PORT`, `ssl:HOST:PORT`, `unix:PATH`. To listen:
//! `ptcp:PORT[:IP]`, `pssl:PORT[:IP]`, `punix:PATH`. An IPv6 address goes in
//! brackets (`tcp:[::1]:6640`, `ptcp:6640:[::1]`). A listening TCP or TLS
//! endpoint with no IP listens on every IPv4 address, as ovsdb-server does.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::str::FromStr;

/// Where to connect.
///
/// ```
/// use jsonrpc_transport::Endpoint;
/// let e: Endpoint = "tcp:[::1]:6640".parse().unwrap();
/// assert_eq!(e, Endpoint::Tcp { host: "::1".into(), port: 6640 });
/// assert_eq!(e.to_string(), "tcp:[::1]:6640");
/// assert!("tcp:localhost".parse::<Endpoint>().unwrap_err().to_string().contains("PORT"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `tcp:HOST:PORT`
    Tcp {
        /// A host name or an IP address (IPv6 without brackets).
        host: String,
        /// The port.
        port: u16,
    },
    /// `ssl:HOST:PORT`: TCP with TLS.
    Ssl {
        /// A host name or an IP address; also the name checked in the
        /// server's certificate.
        host: String,
        /// The port.
        port: u16,
    },
    /// `unix:PATH`
    Unix(PathBuf),
}

/// Where to listen.
///
/// ```
/// use jsonrpc_transport::ListenEndpoint;
/// let e: ListenEndpoint = "ptcp:6640:127.0.0.1".parse().unwrap();
/// assert_eq!(e.to_string(), "ptcp:6640:127.0.0.1");
/// let any: ListenEndpoint = "pssl:6640".parse().unwrap();
/// assert_eq!(any.to_string(), "pssl:6640:0.0.0.0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ListenEndpoint {
    /// `ptcp:PORT[:IP]` (port 0: any free port).
    Tcp {
        /// The port.
        port: u16,
        /// The address to bind.
        ip: IpAddr,
    },
    /// `pssl:PORT[:IP]`: TCP with TLS.
    Ssl {
        /// The port.
        port: u16,
        /// The address to bind.
        ip: IpAddr,
    },
    /// `punix:PATH`
    Unix(PathBuf),
}

/// An endpoint string that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid endpoint `{input}`: {reason}")]
pub struct EndpointError {
    /// What was given.
    pub input: String,
    /// What is wrong with it, and what was expected.
    pub reason: String,
}

fn fail<T>(input: &str, reason: impl Into<String>) -> Result<T, EndpointError> {
    Err(EndpointError {
        input: input.to_owned(),
        reason: reason.into(),
    })
}

/// Splits `HOST:PORT`, with IPv6 hosts in brackets.
fn host_port(input: &str, rest: &str, form: &str) -> Result<(String, u16), EndpointError> {
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return fail(input, format!("unclosed `[` in the host; expected {form}"));
        };
        let Some(port) = after.strip_prefix(':') else {
            return fail(
                input,
                format!("missing `:PORT` after the host; expected {form}"),
            );
        };
        (host, port)
    } else {
        let Some((host, port)) = rest.rsplit_once(':') else {
            return fail(input, format!("missing `:PORT`; expected {form}"));
        };
        if host.contains(':') {
            return fail(
                input,
                format!("an IPv6 address goes in brackets, as in `[::1]`; expected {form}"),
            );
        }
        (host, port)
    };
    if host.is_empty() {
        return fail(input, format!("missing the host; expected {form}"));
    }
    let port = parse_port(input, port, form)?;
    if port == 0 {
        return fail(input, "port 0 cannot be connected to");
    }
    Ok((host.to_owned(), port))
}

fn parse_port(input: &str, port: &str, form: &str) -> Result<u16, EndpointError> {
    port.parse().or_else(|_| {
        fail(
            input,
            format!("`{port}` is not a port number (0-65535); expected {form}"),
        )
    })
}

/// Splits `PORT[:IP]`.
fn port_ip(input: &str, rest: &str, form: &str) -> Result<(u16, IpAddr), EndpointError> {
    let (port, ip) = match rest.split_once(':') {
        None => (rest, None),
        Some((port, ip)) => (port, Some(ip)),
    };
    let port = parse_port(input, port, form)?;
    let ip = match ip {
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(ip) => {
            let bare = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .unwrap_or(ip);
            match bare.parse() {
                Ok(ip) => ip,
                Err(_) => {
                    return fail(
                        input,
                        format!("`{ip}` is not an IP address; expected {form}"),
                    )
                }
            }
        }
    };
    Ok((port, ip))
}

fn path(input: &str, rest: &str, form: &str) -> Result<PathBuf, EndpointError> {
    if rest.is_empty() {
        return fail(input, format!("missing the socket path; expected {form}"));
    }
    Ok(PathBuf::from(rest))
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(input: &str) -> Result<Self, EndpointError> {
        let Some((kind, rest)) = input.split_once(':') else {
            return fail(input, "expected tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH");
        };
        match kind {
            "tcp" => host_port(input, rest, "tcp:HOST:PORT")
                .map(|(host, port)| Endpoint::Tcp { host, port }),
            "ssl" => host_port(input, rest, "ssl:HOST:PORT")
                .map(|(host, port)| Endpoint::Ssl { host, port }),
            "unix" => path(input, rest, "unix:PATH").map(Endpoint::Unix),
            "ptcp" | "pssl" | "punix" => fail(
                input,
                format!("`{kind}:` is for listening; to connect use tcp:, ssl: or unix:"),
            ),
            other => fail(
                input,
                format!(
                    "unknown kind `{other}:`; expected tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH"
                ),
            ),
        }
    }
}

impl FromStr for ListenEndpoint {
    type Err = EndpointError;

    fn from_str(input: &str) -> Result<Self, EndpointError> {
        let Some((kind, rest)) = input.split_once(':') else {
            return fail(
                input,
                "expected ptcp:PORT[:IP], pssl:PORT[:IP] or punix:PATH",
            );
        };
        match kind {
            "ptcp" => port_ip(input, rest, "ptcp:PORT[:IP]").map(|(port, ip)| ListenEndpoint::Tcp { port, ip }),
            "pssl" => port_ip(input, rest, "pssl:PORT[:IP]").map(|(port, ip)| ListenEndpoint::Ssl { port, ip }),
            "punix" => path(input, rest, "punix:PATH").map(ListenEndpoint::Unix),
            "tcp" | "ssl" | "unix" => fail(
                input,
                format!("`{kind}:` is for connecting; to listen use ptcp:, pssl: or punix:"),
            ),
            other => fail(
                input,
                format!("unknown kind `{other}:`; expected ptcp:PORT[:IP], pssl:PORT[:IP] or punix:PATH"),
            ),
        }
    }
}

/// Writes a host, bracketing IPv6 addresses.
fn write_host(f: &mut fmt::Formatter<'_>, host: &str) -> fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]")
    } else {
        f.write_str(host)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } | Endpoint::Ssl { host, port } => {
                f.write_str(if matches!(self, Endpoint::Tcp { .. }) {
                    "tcp:"
                } else {
                    "ssl:"
                })?;
                write_host(f, host)?;
                write!(f, ":{port}")
            }
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl fmt::Display for ListenEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenEndpoint::Tcp { port, ip } | ListenEndpoint::Ssl { port, ip } => {
                let kind = if matches!(self, ListenEndpoint::Tcp { .. }) {
                    "ptcp"
                } else {
                    "pssl"
                };
                write!(f, "{kind}:{port}:")?;
                write_host(f, &ip.to_string())
            }
            ListenEndpoint::Unix(path) => write!(f, "punix:{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_endpoints_parse_and_print_back() {
        for text in [
            "tcp:127.0.0.1:6640",
            "tcp:ovsdb.example.com:6640",
            "tcp:[::1]:6640",
            "ssl:[fe80::1]:6641",
            "unix:/var/run/openvswitch/db.sock",
            "unix:relative.sock",
        ] {
            let e: Endpoint = text.parse().unwrap();
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn listen_endpoints_parse_and_print_back() {
        let cases = [
            ("ptcp:6640", "ptcp:6640:0.0.0.0"),
            ("ptcp:0:127.0.0.1", "ptcp:0:127.0.0.1"),
            ("pssl:6640:[::1]", "pssl:6640:[::1]"),
            ("ptcp:6640:::", "ptcp:6640:[::]"),
            ("punix:/tmp/db.sock", "punix:/tmp/db.sock"),
        ];
        for (text, printed) in cases {
            let e: ListenEndpoint = text.parse().unwrap();
            assert_eq!(e.to_string(), printed, "{text}");
        }
    }

    #[test]
    fn errors_say_what_was_expected() {
        let err = |t: &str| t.parse::<Endpoint>().unwrap_err().reason;
        assert!(err("tcp:127.0.0.1").contains("tcp:HOST:PORT"));
        assert!(err("tcp:::1:6640").contains("brackets"));
        assert!(err("tcp:[::1:6640").contains("unclosed"));
        assert!(err("tcp:host:99999").contains("not a port"));
        assert!(err("tcp::6640").contains("missing the host"));
        assert!(err("tcp:host:0").contains("port 0"));
        assert!(err("unix:").contains("socket path"));
        assert!(err("ptcp:6640").contains("for listening"));
        assert!(err("http://x").contains("unknown kind"));
        assert!(err("nothing").contains("expected"));
        let lerr = |t: &str| t.parse::<ListenEndpoint>().unwrap_err().reason;
        assert!(lerr("ptcp:x").contains("not a port"));
        assert!(lerr("ptcp:1:nope").contains("not an IP"));
        assert!(lerr("tcp:1.2.3.4:5").contains("for connecting"));
        assert!(lerr("punix:").contains("socket path"));
    }
}
