//! The provider's base URL, parsed strictly enough that nothing surprising reaches `fetch`: http(s)
//! only, plain `http:` only to this machine unless the host opts in, no credentials (a URL's
//! `user:password@` would be sent along and printed in errors), no fragment. A query (Azure's
//! `?api-version=`) is kept and appended after the endpoint path. A small parser of our own: the
//! `url` crate would add its IDNA tables to the wasm module for a check this narrow.

use crate::error::DrillgenError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub secure: bool,
    /// Lower case; IPv6 literals keep their brackets.
    pub host: String,
    pub port: Option<u16>,
    /// Without the trailing `/`.
    pub path: String,
    pub query: Option<String>,
}

const MAX_URL_LEN: usize = 2048;

impl BaseUrl {
    /// OpenAI's own API (its token field, `prompt_cache_key`), not a compatible server.
    pub fn is_openai(&self) -> bool {
        self.host == "api.openai.com"
    }

    pub fn parse(text: &str, allow_insecure_http: bool) -> Result<Self, DrillgenError> {
        let bad = |why: &str| {
            Err(DrillgenError::InvalidOptions(format!(
                "llm.baseUrl {why} (got {})",
                describe(text)
            )))
        };
        if text.len() > MAX_URL_LEN || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return bad(
                "must be at most 2048 printable ASCII characters without spaces (write international host names in punycode)",
            );
        }
        let lower = text.to_ascii_lowercase();
        let (secure, rest) = if lower.starts_with("https://") {
            (true, &text[8..])
        } else if lower.starts_with("http://") {
            (false, &text[7..])
        } else {
            return bad("must be an absolute http:// or https:// URL");
        };
        if rest.contains('#') {
            return bad("must not have a #fragment");
        }
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return bad(
                "must not contain credentials (user:password@); give the key as llm.apiKey or a header in llm.headers",
            );
        }
        let Some((host, port)) = split_host_port(authority) else {
            return bad("has no valid host[:port]");
        };
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (tail, None),
        };
        let url = Self {
            secure,
            host: host.to_ascii_lowercase(),
            port,
            path: path.trim_end_matches('/').to_owned(),
            query: query.filter(|q| !q.is_empty()),
        };
        if !secure && !allow_insecure_http && !url.is_loopback() {
            return bad(
                "uses plain http:// for a host other than this machine; the key and the prompts would travel unencrypted. Use https://, or set llm.allowInsecureHttp: true for a trusted network",
            );
        }
        Ok(url)
    }

    /// `localhost`, `*.localhost`, 127.0.0.0/8 or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.as_str();
        h == "localhost"
            || h.ends_with(".localhost")
            || h == "[::1]"
            || h.strip_prefix("127.").is_some_and(|r| {
                r.split('.').count() == 3 && r.split('.').all(|p| p.parse::<u8>().is_ok())
            })
    }

    /// `{base}/{path}?{query}`.
    pub fn endpoint(&self, path: &str) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = self
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        format!("{scheme}://{}{port}{}/{path}{query}", self.host, self.path)
    }
}

fn split_host_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']')?;
        let (host, rest) = authority.split_at(close + 1);
        let inner = &host[1..host.len() - 1];
        if inner.is_empty()
            || !inner
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return None;
        }
        (host, rest.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let valid_name = !host.is_empty()
        && (host.starts_with('[')
            || host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'));
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok().filter(|&n| n > 0)?),
    };
    valid_name.then_some((host, port))
}

/// The URL as an error may show it: scheme and host only (a path or query may hold a token).
fn describe(text: &str) -> String {
    let shown: String = text.chars().take(80).filter(|c| !c.is_control()).collect();
    match shown.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
            let host = host.rsplit('@').next().unwrap_or_default();
            format!("{scheme}://{host}/…")
        }
        None => format!("{:?}", crate::text::bound(&shown, 40)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> BaseUrl {
        BaseUrl::parse(text, false).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn refused(text: &str, insecure: bool) -> String {
        match BaseUrl::parse(text, insecure) {
            Err(e) => {
                assert_eq!(e.code(), "INVALID_OPTIONS");
                e.to_string()
            }
            Ok(u) => panic!("{text} was accepted: {u:?}"),
        }
    }

    #[test]
    fn providers_proxies_and_local_servers_are_accepted() {
        assert_eq!(
            ok("https://api.openai.com/v1/").endpoint("chat/completions"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            ok("HTTPS://Proxy.Example.COM:8443/llm").endpoint("messages"),
            "https://proxy.example.com:8443/llm/messages"
        );
        let azure = ok("https://x.openai.azure.com/openai/deployments/d?api-version=2024-10-21");
        assert_eq!(
            azure.endpoint("chat/completions"),
            "https://x.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21"
        );
        for local in [
            "http://127.0.0.1:8080/v1",
            "http://localhost:11434/v1",
            "http://[::1]:1234",
            "http://llm.localhost/v1",
        ] {
            assert!(ok(local).is_loopback(), "{local}");
        }
        assert!(
            BaseUrl::parse("http://10.0.0.5:8000/v1", true).is_ok(),
            "opted in"
        );
    }

    #[test]
    fn unsafe_or_malformed_urls_are_refused_without_echoing_secrets() {
        let m = refused("https://user:hunter2@api.example.com/v1", false);
        assert!(m.contains("credentials") && !m.contains("hunter2"), "{m}");
        assert!(refused("http://api.example.com/v1", false).contains("allowInsecureHttp"));
        assert!(refused("http://127.0.0.1.evil.com/v1", false).contains("allowInsecureHttp"));
        for bad in [
            "ftp://x",
            "api.openai.com/v1",
            "https://",
            "https://a b",
            "https://x/#f",
            "https://x:0",
            "https://x:99999",
            "https://[zz]/",
            "javascript:alert(1)",
            "https://ex\u{00e4}mple.com",
            "https://x\r\nHost: y",
        ] {
            refused(bad, true);
        }
        let long = format!("https://x.com/{}", "a".repeat(3000));
        refused(&long, false);
    }
}
