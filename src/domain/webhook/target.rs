//! Which URLs may receive callbacks.
//!
//! Only `http` and `https`, and (unless the operator allows private targets with
//! `ALLOW_PRIVATE_WEBHOOKS=1`, as `make dev` does for local receivers) never a private, loopback,
//! link-local or unspecified address, nor `localhost` and its subdomains. The refusal names the
//! rule that matched, so the fix is obvious.
//!
//! The check is on the URL as written: the `url` crate normalises hosts first (`0x7f.1` is
//! `127.0.0.1`, `[::ffff:127.0.0.1]` is read as the IPv4 address it maps). A public name that
//! resolves to a private address is not caught here (Workers cannot resolve names); on Cloudflare
//! a Worker's `fetch` does not reach private networks anyway (see docs/adr/0017).

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// Longest accepted URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// A URL that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Parses and checks `raw`; `allow_private` lifts the private-address rules only.
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("url is required: the http(s) address that receives the callbacks".into());
        }
        if raw.len() > MAX_URL_BYTES {
            return Err(format!("url must be at most {MAX_URL_BYTES} bytes"));
        }
        let url = Url::parse(raw).map_err(|e| {
            format!(
                "url '{}' is not a valid absolute URL ({e}); use e.g. https://example.com/hooks/kiln",
                crate::domain::email::clip(raw)
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "url must use http or https, not '{}'",
                crate::domain::email::clip(url.scheme())
            ));
        }
        let host = url
            .host()
            .ok_or_else(|| "url must name a host".to_string())?;
        if !allow_private {
            if let Some(rule) = private_rule(&host) {
                return Err(format!(
                    "url host '{}' is {rule}; webhooks must reach a public address (an operator can allow private targets with ALLOW_PRIVATE_WEBHOOKS=1, as `make dev` does)",
                    crate::domain::email::clip(&host.to_string())
                ));
            }
        }
        Ok(WebhookUrl(url.to_string()))
    }

    /// Wraps a URL read back from storage (it was checked when stored).
    pub fn from_stored(url: String) -> Self {
        WebhookUrl(url)
    }

    /// The normalised URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule a host breaks, if it is not a public target.
pub fn private_rule(host: &Host<&str>) -> Option<&'static str> {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            (name == "localhost" || name.ends_with(".localhost"))
                .then_some("a loopback name (localhost, *.localhost)")
        }
        Host::Ipv4(ip) => ipv4_rule(*ip),
        Host::Ipv6(ip) => ipv6_rule(*ip),
    }
}

fn ipv4_rule(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    match (a, b) {
        (0, _) => Some("an unspecified address (0.0.0.0/8)"),
        (10, _) => Some("a private address (10.0.0.0/8)"),
        (127, _) => Some("a loopback address (127.0.0.0/8)"),
        (169, 254) => Some("a link-local address (169.254.0.0/16)"),
        (172, 16..=31) => Some("a private address (172.16.0.0/12)"),
        (192, 168) => Some("a private address (192.168.0.0/16)"),
        _ => None,
    }
}

fn ipv6_rule(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return ipv4_rule(v4);
    }
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address (::1)")
    } else if ip.is_unspecified() {
        Some("an unspecified address (::)")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique local address (fc00::/7)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address (fe80::/10)")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(url: &str) -> String {
        WebhookUrl::parse(url, false).expect_err(url)
    }

    #[test]
    fn public_http_and_https_urls_are_accepted_and_normalised() {
        assert_eq!(
            WebhookUrl::parse(" https://Example.COM/hooks?x=1 ", false)
                .unwrap()
                .as_str(),
            "https://example.com/hooks?x=1"
        );
        assert!(WebhookUrl::parse("http://8.8.8.8:8080/h", false).is_ok());
        assert!(WebhookUrl::parse("https://[2606:4700::1111]/h", false).is_ok());
        assert!(WebhookUrl::parse("https://172.32.0.1/", false).is_ok());
        assert!(WebhookUrl::parse("https://notlocalhost.com/", false).is_ok());
    }

    #[test]
    fn other_schemes_and_malformed_urls_are_refused() {
        assert!(refused("ftp://example.com/").contains("http or https"));
        assert!(refused("file:///etc/passwd").contains("http or https"));
        assert!(refused("example.com/hook").contains("not a valid absolute URL"));
        assert!(refused("").contains("required"));
        assert!(refused(&format!("https://example.com/{}", "a".repeat(3000))).contains("2048"));
    }

    #[test]
    fn each_private_rule_is_named() {
        for (url, rule) in [
            ("http://10.1.2.3/", "10.0.0.0/8"),
            ("http://172.16.0.1/", "172.16.0.0/12"),
            ("http://172.31.255.255/", "172.16.0.0/12"),
            ("http://192.168.1.1/", "192.168.0.0/16"),
            ("http://127.0.0.1:8787/", "127.0.0.0/8"),
            ("http://169.254.169.254/latest/meta-data", "169.254.0.0/16"),
            ("http://0.0.0.0/", "0.0.0.0/8"),
            ("http://[::1]/", "::1"),
            ("http://[fd00::1]/", "fc00::/7"),
            ("http://[fe80::1]/", "fe80::/10"),
            ("http://[::ffff:127.0.0.1]/", "127.0.0.0/8"),
            ("http://localhost:9000/", "localhost"),
            ("http://hooks.localhost/", "*.localhost"),
            ("http://LOCALHOST./", "localhost"),
            ("http://0x7f.1/", "127.0.0.0/8"),
            ("http://2130706433/", "127.0.0.0/8"),
        ] {
            let err = refused(url);
            assert!(err.contains(rule), "{url}: {err}");
            assert!(err.contains("ALLOW_PRIVATE_WEBHOOKS"), "{url}: {err}");
        }
    }

    #[test]
    fn the_operator_flag_allows_private_targets_but_not_other_schemes() {
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(WebhookUrl::parse("http://localhost/hook", true).is_ok());
        assert!(WebhookUrl::parse("gopher://127.0.0.1/", true).is_err());
    }
}
