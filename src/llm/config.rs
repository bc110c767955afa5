//! Which provider to call and how.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::DrillgenError;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "snake_case")]
pub enum ResponseFormat {
    JsonSchema,
    JsonObject,
    Text,
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

    /// Removes the key from text that came back from elsewhere (an error body echoing headers).
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            text.to_owned()
        } else {
            text.replace(&self.0, "[redacted]")
        }
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
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct LlmConfig {
    pub provider: Provider,
    /// E.g. `https://api.openai.com/v1`, `https://api.anthropic.com/v1`, or the host's own proxy
    /// (the way to keep a key out of a browser page: a key given here is visible to the page's user).
    pub base_url: String,
    pub model: String,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional, type = "string"))]
    pub api_key: Option<Secret>,
    /// Extra headers sent with every call (a proxy's auth, `anthropic-beta`, …).
    #[serde(default)]
    #[cfg_attr(
        target_arch = "wasm32",
        tsify(optional, type = "Record<string, string>")
    )]
    pub headers: BTreeMap<String, String>,
    /// OpenAI-compatible only; default `json_schema`.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub response_format: Option<ResponseFormat>,
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub temperature: Option<f64>,
    /// Output token limit of one call; default 1,200 per drill plus 400.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub max_tokens: Option<u32>,
    /// Per attempt; default 120,000.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub timeout_ms: Option<u64>,
    /// Larger response bodies are an error; default 2 MiB.
    #[serde(default)]
    #[cfg_attr(target_arch = "wasm32", tsify(optional))]
    pub max_response_bytes: Option<u64>,
}

impl LlmConfig {
    pub fn validate(&self) -> Result<(), DrillgenError> {
        let bad = |m: String| Err(DrillgenError::InvalidOptions(m));
        if !(self.base_url.starts_with("http://") || self.base_url.starts_with("https://")) {
            return bad(format!(
                "llm.baseUrl must be an absolute http(s) URL, got {:?}",
                self.base_url
            ));
        }
        if self.model.trim().is_empty() {
            return bad("llm.model is empty".into());
        }
        if let Some(t) = self.temperature
            && !(0.0..=2.0).contains(&t)
        {
            return bad(format!("llm.temperature must be from 0 to 2, got {t}"));
        }
        if self.timeout_ms == Some(0)
            || self.max_tokens == Some(0)
            || self.max_response_bytes == Some(0)
        {
            return bad(
                "llm.timeoutMs, llm.maxTokens and llm.maxResponseBytes must be positive".into(),
            );
        }
        for name in self.headers.keys() {
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                return bad(format!("llm.headers has an invalid header name {name:?}"));
            }
        }
        Ok(())
    }

    pub fn timeout_ms(&self) -> u64 {
        self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)
    }

    pub fn max_response_bytes(&self) -> u64 {
        self.max_response_bytes
            .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES)
    }

    pub fn max_tokens_for(&self, drills: usize) -> u32 {
        self.max_tokens.unwrap_or(400 + 1200 * drills as u32)
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.trim_end_matches('/'))
    }

    pub(crate) fn custom_headers(&self) -> impl Iterator<Item = (String, String)> + '_ {
        self.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
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
            temperature: Some(0.4),
            max_tokens: None,
            timeout_ms: None,
            max_response_bytes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_never_prints() {
        let c = LlmConfig::for_tests(Provider::Openai);
        assert!(!format!("{c:?}").contains("sk-test"));
        let key = c.api_key.as_ref().unwrap();
        assert_eq!(
            key.redact("echo: Bearer sk-test-123456"),
            "echo: Bearer [redacted]"
        );
    }

    #[test]
    fn bad_configs_are_invalid_options() {
        let mut c = LlmConfig::for_tests(Provider::Openai);
        c.base_url = "api.openai.com".into();
        assert_eq!(c.validate().unwrap_err().code(), "INVALID_OPTIONS");
        let mut c = LlmConfig::for_tests(Provider::Openai);
        c.headers.insert("bad header".into(), "x".into());
        assert_eq!(c.validate().unwrap_err().code(), "INVALID_OPTIONS");
        assert!(LlmConfig::for_tests(Provider::Anthropic).validate().is_ok());
    }
}
