//! How TCP sockets are set up: no Nagle delay, and keepalive probes.
//!
//! A peer that vanishes without a word (a host powered off, a NAT that
//! forgot the flow, a client whose reset was lost) leaves a TCP connection
//! that looks open forever on our side: nothing is ever read and, while we
//! have nothing to send, nothing fails. Keepalive probes find such
//! connections; every TCP socket we accept or connect has them by default.

use std::time::Duration;

use tokio::net::TcpStream;

/// TCP keepalive: after `idle` without traffic the kernel probes the peer
/// every `interval`, and after `retries` unanswered probes the connection
/// fails (its reads end with an error, and it is closed).
///
/// The default finds a vanished peer within about a minute (30 s + 3 x 10 s),
/// where the operating system's own default takes over two hours.
///
/// ```
/// use std::time::Duration;
/// use jsonrpc_transport::Keepalive;
/// let quick = Keepalive { idle: Duration::from_secs(5), ..Keepalive::default() };
/// assert_eq!(quick.retries, 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe.
    pub idle: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is given up.
    pub retries: u32,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(30),
            interval: Duration::from_secs(10),
            retries: 3,
        }
    }
}

/// Sets up an accepted or connected TCP socket. Failures are logged, not
/// returned: a socket without these options still works.
pub(crate) fn tune(stream: &TcpStream, keepalive: Option<&Keepalive>) {
    // Replies are small and often single: don't let Nagle hold them back.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let Some(keepalive) = keepalive else {
        return;
    };
    let params = socket2::TcpKeepalive::new()
        .with_time(keepalive.idle)
        .with_interval(keepalive.interval)
        .with_retries(keepalive.retries);
    if let Err(e) = socket2::SockRef::from(stream).set_tcp_keepalive(&params) {
        tracing::debug!(error = %e, "could not enable TCP keepalive");
    }
}
