//! Which provider to call and how, checked before any request: everything here ends up in a URL or
//! a header, where a stray CR/LF or non-Latin-1 character makes `fetch` throw instead of answering.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::url::BaseUrl;
use crate::error::DrillgenError;
use crate::text::Redactor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// OpenAI-compatible Chat Completions (`{baseUrl}/chat/completions`).
    Openai,
    /// Anthropic Messages (`{baseUrl}/messages`).
    Anthropic,
}

/// How an OpenAI-compatible server is asked for JSON. Servers that claim compatibility differ:
/// `json_schema` (strict structured output), `json_object` (JSON mode, with the schema in a
/// `schema` field that llama.cpp-style servers enforce), or `text` (the prompt alone asks for JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    JsonSchema,
    JsonObject,
    Text,
}

/// The request field that carries the output token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
pub enum MaxTokensField {
    /// What OpenAI-compatible servers (llama.cpp, vLLM, Ollama, LM Studio) and older OpenAI models read.
    #[serde(rename = "max_tokens")]
    MaxTokens,
    /// What api.openai.com wants (GPT-5.x and o-series reject `max_tokens` with HTTP 400).
    #[serde(rename = "max_completion_tokens")]
    MaxCompletionTokens,
}

impl MaxTokensField {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxTokens => "max_tokens",
            Self::MaxCompletionTokens => "max_completion_tokens",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::MaxTokens => Self::MaxCompletionTokens,
            Self::MaxCompletionTokens => Self::MaxTokens,
        }
    }
}

/// An API key. It has no `Serialize` and prints as `[redacted]`, so it cannot leak into an error,
/// an event, a result or a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Secret)
    }
}

pub const DEFAULT_TIMEOUT_MS: u64 = 120_000;
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 2 * 1024 * 1024;
/// Timers take a signed 32-bit millisecond count; Node turns anything larger into 1 ms.
pub const MAX_TIMER_MS: u64 = (1 << 31) - 1;
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct LlmConfig {
    pub provider: Provider,
    /// E.g. `https://api.openai.com/v1`, `https://api.anthropic.com/v1`, or the host's own proxy
    /// (the way to keep a key out of a browser page: a key given here is visible to the page's user).
    /// `http:` only for this machine (localhost, 127.0.0.1, [::1]) unless `allowInsecureHttp`.
    pub base_url: String,
    pub model: String,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "string"))]
    pub api_key: Option<Secret>,
    /// Extra headers sent with every call (a proxy's auth, `anthropic-beta`, …); they replace
    /// drillgen's own headers of the same name. Values are redacted from every message.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(type = "Record<string, string>"))]
    pub headers: BTreeMap<String, String>,
    /// OpenAI-compatible only. Default: negotiated — `json_schema`, then `json_object` with the
    /// schema, then `text`, each step taken only when the server rejects the previous one.
    #[serde(default)]
    pub response_format: Option<ResponseFormat>,
    /// OpenAI-compatible only. Default: `max_completion_tokens` for api.openai.com, `max_tokens`
    /// elsewhere; switched once if the server names the other one in a rejection.
    #[serde(default)]
    pub max_tokens_field: Option<MaxTokensField>,
    /// OpenAI only: routes the batches of a series to the same prompt cache. Default: derived from
    /// the shared prefix for api.openai.com, not sent elsewhere.
    #[serde(default)]
    pub prompt_cache_key: Option<String>,
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Output token limit of one call; default 1,200 per drill plus 400.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Per attempt, 1 to 2^31 − 1; default 120,000.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Larger answers are an error (`RESPONSE_TOO_LARGE`); default 2 MiB, at most 64 MiB. Of a
    /// streamed answer it bounds the model's text; the events around it may add up to 16 times
    /// as much.
    #[serde(default)]
    pub max_response_bytes: Option<u64>,
    /// Stream the answers, so each drill reaches `onProgress` (`drillReady`) the moment it is
    /// written. Default true; a server that refuses streaming is asked again without it (once per
    /// run). `false`: plain answers, drills shown when their whole answer has been read.
    #[serde(default)]
    pub stream: Option<bool>,
    /// Anthropic from a web page: sends `anthropic-dangerous-direct-browser-access: true`, without
    /// which api.anthropic.com refuses browser calls. Default false: a key in a page is visible to
    /// everyone who opens it; a proxy that holds the key is the safe setup.
    #[serde(default)]
    pub dangerously_allow_browser: bool,
    /// Allows `http:` to hosts other than this machine. Default false.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// Headers `fetch` manages itself or refuses: setting them is always a mistake.
const FORBIDDEN_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "expect",
];

/// RFC 9110 token characters (a header name).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Printable ASCII, space and tab: what every runtime's `fetch` accepts in a header value (no
/// CR/LF, no NUL, nothing outside Latin-1).
fn is_field_value(value: &str) -> bool {
    value.len() <= 8192
        && value
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// A browser page calling api.anthropic.com directly: refused unless the host says it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Runtime {
    Browser,
    #[default]
    Server,
}

impl LlmConfig {
    pub fn check(&self, runtime: Runtime) -> Result<BaseUrl, DrillgenError> {
        let bad = |m: String| Err(DrillgenError::InvalidOptions(m));
        let url = BaseUrl::parse(&self.base_url, self.allow_insecure_http)?;
        if self.model.trim().is_empty() || self.model.len() > 200 || !is_field_value(&self.model) {
            return bad("llm.model must be 1 to 200 printable ASCII characters".into());
        }
        if let Some(key) = &self.api_key
            && !(key.0.len() <= 4096 && key.0.bytes().all(|b| b.is_ascii_graphic()))
        {
            return bad("llm.apiKey must be printable ASCII without spaces or line breaks (is it pasted with a newline?)".into());
        }
        if self.headers.len() > 50 {
            return bad("llm.headers has more than 50 headers".into());
        }
        for (name, value) in &self.headers {
            if !is_token(name) || FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return bad(format!(
                    "llm.headers has an invalid or forbidden header name {:?}",
                    crate::text::bound(name, 100)
                ));
            }
            if !is_field_value(value) {
                return bad(format!(
                    "llm.headers[{name:?}] must be printable ASCII without line breaks, at most 8 KiB"
                ));
            }
        }
        if let Some(key) = &self.prompt_cache_key
            && (key.is_empty() || key.len() > 256 || !is_field_value(key))
        {
            return bad("llm.promptCacheKey must be 1 to 256 printable ASCII characters".into());
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return bad(format!(
                "llm.temperature must be from 0 to 2, got {}",
                crate::text::num(t)
            ));
        }
        if self.timeout_ms.is_some_and(|t| t == 0 || t > MAX_TIMER_MS) {
            return bad(format!(
                "llm.timeoutMs must be from 1 to {MAX_TIMER_MS} (timers cannot wait longer)"
            ));
        }
        if self.max_tokens.is_some_and(|t| t == 0 || t > 1_000_000) {
            return bad("llm.maxTokens must be from 1 to 1,000,000".into());
        }
        if self
            .max_response_bytes
            .is_some_and(|b| b == 0 || b > 64 * 1024 * 1024)
        {
            return bad("llm.maxResponseBytes must be from 1 to 64 MiB".into());
        }
        if runtime == Runtime::Browser
            && self.provider == Provider::Anthropic
            && url.host == "api.anthropic.com"
            && !self.dangerously_allow_browser
        {
            return bad("calling api.anthropic.com from a web page exposes llm.apiKey to everyone who opens the page; call it from your server or a proxy, or set llm.dangerouslyAllowBrowser: true if you accept that".into());
        }
        Ok(url)
    }

    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)
    }

    pub fn streams(&self) -> bool {
        self.stream.unwrap_or(true)
    }

    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES)
    }

    pub fn max_tokens_for(&self, drills: usize) -> u32 {
        self.max_tokens
            .unwrap_or(400 + 1200 * drills.min(500) as u32)
    }

    /// Every credential this configuration carries, for redaction (see [`credentials`]).
    pub fn redactor(&self) -> Redactor {
        credentials(
            self.api_key.as_ref().map(|k| k.0.as_str()),
            self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            Some(&self.base_url),
        )
    }

    #[cfg(test)]
    pub(crate) fn for_tests(provider: Provider) -> Self {
        Self {
            provider,
            base_url: "http://127.0.0.1:9/v1/".into(),
            model: "test-model".into(),
            api_key: Some(Secret::new("sk-test-123456".into())),
            headers: BTreeMap::from([("X-Proxy-Token".into(), "p1".into())]),
            response_format: None,
            max_tokens_field: None,
            prompt_cache_key: None,
            temperature: Some(0.4),
            max_tokens: None,
            timeout_ms: None,
            max_response_bytes: None,
            stream: None,
            dangerously_allow_browser: false,
            allow_insecure_http: false,
        }
    }
}

/// A redactor for the credentials of an LLM configuration, read from parsed options or, for an
/// error about options that did not parse, from the raw ones: the key, custom header values (short
/// values not under a credential-like name would only mangle text), the base URL's query values
/// and any `user:password@` in it.
/// A credential header's value, and its token alone when it has a scheme (`Bearer x`, `Basic x`):
/// a proxy's error that echoes just the token must not reveal it.
fn with_token(value: &str) -> impl Iterator<Item = String> {
    let token = value
        .split_once(' ')
        .filter(|(scheme, _)| !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()))
        .map(|(_, token)| token.trim().to_owned());
    std::iter::once(value.to_owned()).chain(token)
}

pub fn credentials<'a>(
    api_key: Option<&str>,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    base_url: Option<&str>,
) -> Redactor {
    let mut secrets: Vec<String> = api_key.map(str::to_owned).into_iter().collect();
    secrets.extend(
        headers
            .filter(|(name, value)| crate::text::header_is_secret(name, value))
            .flat_map(|(_, value)| with_token(value.trim())),
    );
    if let Some(url) = base_url {
        if let Some((_, rest)) = url.split_once("://")
            && let Some((userinfo, _)) = rest.split('/').next().unwrap_or_default().rsplit_once('@')
        {
            secrets.extend(userinfo.split(':').map(str::to_owned));
        }
        if let Some((_, query)) = url.split_once('?') {
            let values = query.split('&').filter_map(|p| p.split_once('='));
            secrets.extend(values.map(|(_, v)| v.to_owned()));
        }
    }
    Redactor::new(secrets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_headers_token_is_a_secret_on_its_own() {
        let headers = [
            ("Authorization", "Bearer proxy-secret-123"),
            ("proxy-authorization", "Basic dXNlcjpwYXNz"),
        ];
        let r = credentials(None, headers.into_iter(), None);
        assert_eq!(
            r.redact("401: token proxy-secret-123 refused; basic dXNlcjpwYXNz unknown"),
            "401: token [redacted] refused; basic [redacted] unknown"
        );
    }

    #[test]
    fn the_key_never_prints_and_every_credential_is_redacted() {
        let mut c = LlmConfig::for_tests(Provider::Openai);
        c.headers.insert("x-trace".into(), "true".into());
        c.headers.insert("x-api-token".into(), "tok-abcdef".into());
        c.base_url = "http://127.0.0.1:9/v1?key=qs-secret-1".into();
        assert!(!format!("{c:?}").contains("sk-test"));
        c.check(Runtime::Server).unwrap();
        let r = c.redactor();
        assert_eq!(
            r.redact("Bearer sk-test-123456 token tok-abcdef key qs-secret-1 trace true p1"),
            "Bearer [redacted] token [redacted] key [redacted] trace true p1",
            "short values are not searched: they would mangle text and protect nothing"
        );
    }

    #[test]
    fn hostile_configs_are_invalid_options() {
        type Mutation = Box<dyn Fn(&mut LlmConfig)>;
        let cases: Vec<Mutation> = vec![
            Box::new(|c| c.base_url = "api.openai.com".into()),
            Box::new(|c| {
                c.headers.insert("bad header".into(), "x".into());
            }),
            Box::new(|c| {
                c.headers.insert("x-a".into(), "v\r\nx-injected: 1".into());
            }),
            Box::new(|c| {
                c.headers.insert("x-a".into(), "caf\u{e9}".into());
            }),
            Box::new(|c| {
                c.headers.insert("Host".into(), "evil".into());
            }),
            Box::new(|c| c.api_key = Some(Secret::new("sk-\u{2603}".into()))),
            Box::new(|c| c.api_key = Some(Secret::new("sk-abc\n".into()))),
            Box::new(|c| c.timeout_ms = Some(1_000_000_000_000)),
            Box::new(|c| c.timeout_ms = Some(0)),
            Box::new(|c| c.max_response_bytes = Some(u64::MAX)),
            Box::new(|c| c.model = "gpt\n4".into()),
            Box::new(|c| c.temperature = Some(9.0)),
            Box::new(|c| c.prompt_cache_key = Some(String::new())),
        ];
        for (i, mutate) in cases.iter().enumerate() {
            let mut c = LlmConfig::for_tests(Provider::Openai);
            mutate(&mut c);
            let e = c.check(Runtime::Server).expect_err(&format!("case {i}"));
            assert_eq!(e.code(), "INVALID_OPTIONS", "case {i}");
        }
        assert!(
            LlmConfig::for_tests(Provider::Anthropic)
                .check(Runtime::Browser)
                .is_ok(),
            "a proxy on loopback"
        );
    }

    #[test]
    fn anthropic_from_a_page_needs_the_explicit_opt_in() {
        let mut c = LlmConfig::for_tests(Provider::Anthropic);
        c.base_url = "https://api.anthropic.com/v1".into();
        assert!(c.check(Runtime::Server).is_ok());
        let e = c.check(Runtime::Browser).unwrap_err();
        assert!(e.to_string().contains("dangerouslyAllowBrowser"), "{e}");
        c.dangerously_allow_browser = true;
        assert!(c.check(Runtime::Browser).is_ok());
    }
}
