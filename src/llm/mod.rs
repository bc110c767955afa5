//! Wire formats of the LLM providers, as pure functions: a batch prompt and schema in, an
//! `HttpRequest` out; an `HttpResponse` in, the drills' JSON text and token usage out. No I/O here:
//! the orchestrator sends requests through its `Transport`.

mod anthropic;
mod config;
mod openai;

pub use config::{LlmConfig, Provider, ResponseFormat, Secret};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DrillgenError;
use crate::prompt::BatchPrompt;
use crate::retry::{retry_after_ms, should_retry_override, status_is_retryable};

#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HttpResponse {
    pub status: u16,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Tokens of one call. `input_tokens` counts every prompt token, cached ones included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub output_tokens: u64,
}

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.output_tokens += other.output_tokens;
    }
}

/// What a successful call produced: the JSON text of the batch output, and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub content: String,
    pub usage: Usage,
}

/// A failed call: the error, what it cost (a truncated answer still consumed tokens), and how long
/// the provider asked us to wait.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFailure {
    pub error: DrillgenError,
    pub usage: Usage,
    pub retry_after_ms: Option<u64>,
}

impl CallFailure {
    /// The model answered, at a cost, but not with usable output (retryable).
    pub(crate) fn invalid_output(message: String, usage: Usage) -> Self {
        Self {
            error: DrillgenError::InvalidOutput(message),
            usage,
            retry_after_ms: None,
        }
    }
}

impl From<DrillgenError> for CallFailure {
    fn from(error: DrillgenError) -> Self {
        Self {
            error,
            usage: Usage::default(),
            retry_after_ms: None,
        }
    }
}

pub fn build_request(config: &LlmConfig, prompt: &BatchPrompt, schema: &Value) -> HttpRequest {
    match config.provider {
        Provider::Openai => openai::build_request(config, prompt, schema),
        Provider::Anthropic => anthropic::build_request(config, prompt, schema),
    }
}

/// Classifies the response: non-2xx statuses become coded errors (with `x-should-retry` and
/// Retry-After honoured), 2xx bodies are parsed by the provider's format.
pub fn parse_response(
    config: &LlmConfig,
    response: &HttpResponse,
    now_ms: f64,
) -> Result<Completion, CallFailure> {
    if !(200..300).contains(&response.status) {
        let retry_after = retry_after_ms(&response.headers, now_ms);
        let error = status_error(response);
        return Err(CallFailure {
            error,
            usage: Usage::default(),
            retry_after_ms: retry_after,
        });
    }
    match config.provider {
        Provider::Openai => openai::parse_response(&response.body),
        Provider::Anthropic => anthropic::parse_response(&response.body),
    }
}

fn status_error(response: &HttpResponse) -> DrillgenError {
    let body: Value = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    let error = &body["error"];
    let message = error["message"]
        .as_str()
        .or_else(|| error.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| truncate(response.body.trim(), 300));
    let kind = error["code"]
        .as_str()
        .or_else(|| error["type"].as_str())
        .unwrap_or_default();
    if response.status == 429 && kind == "insufficient_quota" {
        return DrillgenError::InsufficientQuota(message);
    }
    let retryable = should_retry_override(&response.headers)
        .unwrap_or_else(|| status_is_retryable(response.status));
    DrillgenError::Http {
        status: response.status,
        detail: message,
        retryable,
    }
}

/// A 2xx body that must be JSON; anything else is invalid output (retryable).
pub(crate) fn json_body(body: &str) -> Result<Value, CallFailure> {
    serde_json::from_str(body).map_err(|e| {
        CallFailure::from(DrillgenError::InvalidOutput(format!(
            "the response is not JSON ({e}): {}",
            truncate(body, 200)
        )))
    })
}

pub(crate) fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
        }
    }

    fn config() -> LlmConfig {
        LlmConfig::for_tests(Provider::Openai)
    }

    #[test]
    fn statuses_become_coded_errors() {
        let cases = [
            (500, "", true),
            (503, "", true),
            (529, "", true),
            (408, "", true),
            (409, "", true),
            (429, "", true),
            (400, "", false),
            (401, "", false),
            (403, "", false),
            (404, "", false),
            (422, "", false),
            (503, "false", false),
            (400, "true", true),
        ];
        for (status, should_retry, retryable) in cases {
            let headers: Vec<(&str, &str)> = if should_retry.is_empty() {
                vec![]
            } else {
                vec![("x-should-retry", should_retry)]
            };
            let failure =
                parse_response(&config(), &response(status, &headers, "{}"), 0.0).unwrap_err();
            assert_eq!(failure.error.code(), "HTTP_ERROR");
            assert_eq!(
                failure.error.is_retryable(),
                retryable,
                "{status} {should_retry}"
            );
            assert_eq!(failure.error.status(), Some(status));
        }
    }

    #[test]
    fn quota_exhaustion_is_permanent_and_retry_after_is_read() {
        let body = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        let failure = parse_response(&config(), &response(429, &[], body), 0.0).unwrap_err();
        assert_eq!(failure.error.code(), "INSUFFICIENT_QUOTA");
        assert!(!failure.error.is_retryable());
        let failure = parse_response(
            &config(),
            &response(429, &[("retry-after", "3")], "slow down"),
            0.0,
        )
        .unwrap_err();
        assert_eq!(failure.retry_after_ms, Some(3000));
        assert!(failure.error.to_string().contains("slow down"));
    }
}
