//! What every client's HTTP transport shares: the connect timeout, and the
//! warning when TLS certificates are not verified.

use std::time::Duration;

/// The longest a client waits for a TCP (and TLS) connection: 15 s (as the
/// official Oxide SDK), or the request timeout when that is shorter.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The connect timeout of a client whose requests time out after
/// `request_timeout`: [`CONNECT_TIMEOUT`] or less.
pub fn connect_timeout(request_timeout: Duration) -> Duration {
    request_timeout.min(CONNECT_TIMEOUT)
}

/// Logs a warning when `insecure`: `client` will not verify the TLS
/// certificates of `endpoint`. Every client calls it when it is built.
pub fn warn_if_tls_unverified(insecure: bool, client: &str, endpoint: &str) {
    if insecure {
        tracing::warn!(
            client,
            endpoint,
            "TLS certificate verification is off: any server can pose as {endpoint} \
             (insecure setting); use it only against test endpoints"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_timeout_is_15_s_or_the_request_timeout() {
        assert_eq!(connect_timeout(Duration::from_secs(60)), CONNECT_TIMEOUT);
        assert_eq!(
            connect_timeout(Duration::from_secs(2)),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn a_warning_only_when_verification_is_off() {
        let logs = imagebake_testing::capture_logs(|| {
            warn_if_tls_unverified(true, "outscale", "https://api.example");
        });
        assert!(logs.contains("WARN"), "{logs}");
        assert!(
            logs.contains("TLS certificate verification is off"),
            "{logs}"
        );
        assert!(logs.contains("https://api.example"), "{logs}");
        let quiet = imagebake_testing::capture_logs(|| {
            warn_if_tls_unverified(false, "outscale", "https://api.example");
        });
        assert_eq!(quiet, "");
    }
}
