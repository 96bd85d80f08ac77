//! The key under which a builder's wait learns how long its transition
//! takes: the cloud endpoint's host and port, the operation, a size class.

use imagebake_http::WaitKey;

/// The [`WaitKey`] of `operation` (`"triton machine provision"`) on the
/// cloud at `endpoint` (a base URL: its host and port are kept) for a
/// resource of size class `size` (a package, a disk size; `""` if none).
pub fn wait_key(endpoint: &str, operation: &str, size: impl Into<String>) -> WaitKey {
    WaitKey::new(endpoint_host(endpoint), operation, size)
}

/// The `host:port` of a base URL (`https://user@h:8443/api` → `h:8443`).
fn endpoint_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_host_and_port_of_the_endpoint() {
        assert_eq!(
            endpoint_host("https://user@h.example:8443/api/v1"),
            "h.example:8443"
        );
        assert_eq!(endpoint_host("http://127.0.0.1:3000/"), "127.0.0.1:3000");
        assert_eq!(endpoint_host("cloudapi.example"), "cloudapi.example");
        let k = wait_key("https://c.example/", "triton image create", "g1.small");
        assert_eq!(
            k,
            WaitKey::new("c.example", "triton image create", "g1.small")
        );
    }
}
