//! Wire formats of the LLM providers, as pure functions: a batch prompt and schema in, an
//! `HttpRequest` out; an `HttpResponse` in, the drills' JSON text and token usage out. No I/O here:
//! the orchestrator sends requests through its `Transport`. What a server refuses (a response
//! format, a token-limit field, streaming) is recognised here and negotiated by `negotiate`.

mod anthropic;
mod config;
pub mod negotiate;
mod openai;
pub mod scan;
pub mod stream;
pub mod url;

pub use config::{
    LlmConfig, MAX_TIMER_MS, MaxTokensField, Provider, ResponseFormat, Runtime, Secret, credentials,
};
pub use negotiate::{CallShape, Feature, Negotiation};

use serde::Serialize;
use serde_json::Value;

use crate::error::DrillgenError;
use crate::prompt::BatchPrompt;
use crate::retry::{retry_after_ms, should_retry_override, status_is_retryable};
use crate::text::bound;
use url::BaseUrl;

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

/// Tokens of one call, as the provider bills them. `input_tokens` counts every prompt token:
/// those read from the prompt cache (`cached_input_tokens`, billed at a discount) and those written
/// to it (`cache_write_input_tokens`, Anthropic bills them at 1.25×; OpenAI does not bill writes)
/// included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub input_tokens: u64,
    pub cached_input_tokens: u64,
    pub cache_write_input_tokens: u64,
    pub output_tokens: u64,
}

/// More tokens than any call can use: a provider's `usage` above it is not believed.
pub const MAX_TOKENS_PER_CALL: u64 = 100_000_000;

impl Usage {
    pub fn add(&mut self, other: Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.cached_input_tokens = self
            .cached_input_tokens
            .saturating_add(other.cached_input_tokens);
        self.cache_write_input_tokens = self
            .cache_write_input_tokens
            .saturating_add(other.cache_write_input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
    }
}

/// A token count from a provider's `usage`: a non-negative integer, clamped; anything else is 0.
pub(crate) fn token_count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0).min(MAX_TOKENS_PER_CALL)
}

/// What a successful call produced: the JSON text of the batch output, and its cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    pub content: String,
    pub usage: Usage,
}

/// A failed call: the error, what it cost (a truncated answer still consumed tokens), how long the
/// provider asked us to wait, and which feature of the request it refused, if that is the reason.
#[derive(Debug, Clone, PartialEq)]
pub struct CallFailure {
    pub error: DrillgenError,
    pub usage: Usage,
    pub retry_after_ms: Option<u64>,
    pub refused: Option<Feature>,
}

impl CallFailure {
    /// The model answered, at a cost, but not with usable output (retryable).
    pub(crate) fn invalid_output(message: String, usage: Usage) -> Self {
        Self {
            usage,
            ..Self::from(DrillgenError::InvalidOutput(
                bound(&message, 2048).into_owned(),
            ))
        }
    }
}

impl From<DrillgenError> for CallFailure {
    fn from(error: DrillgenError) -> Self {
        Self {
            error,
            usage: Usage::default(),
            retry_after_ms: None,
            refused: None,
        }
    }
}

/// A call asking for `drills` drills (`schema`: their batch schema) at the run's checked `url`.
pub fn build_request(
    config: &LlmConfig,
    url: &BaseUrl,
    prompt: &BatchPrompt,
    schema: &Value,
    drills: usize,
    shape: &CallShape,
) -> HttpRequest {
    let max_tokens = config.max_tokens_for(drills);
    let mut request = match config.provider {
        Provider::Openai => openai::build_request(config, url, prompt, schema, max_tokens, shape),
        Provider::Anthropic => {
            anthropic::build_request(config, url, prompt, schema, max_tokens, shape)
        }
    };
    // The host's headers replace drillgen's own of the same name (a proxy's Authorization, say).
    for (name, value) in &config.headers {
        let name = name.to_ascii_lowercase();
        request.headers.retain(|(k, _)| *k != name);
        request.headers.push((name, value.trim().to_owned()));
    }
    request
}

/// Classifies the response: non-2xx statuses become coded errors (with `x-should-retry`,
/// Retry-After and rate-limit headers honoured, and a refused request feature recognised), 2xx
/// bodies are parsed by the provider's format, streamed or not.
pub fn parse_response(
    config: &LlmConfig,
    shape: &CallShape,
    response: &HttpResponse,
    now_ms: f64,
) -> Result<Completion, CallFailure> {
    if !(200..300).contains(&response.status) {
        return Err(CallFailure {
            error: status_error(response),
            usage: Usage::default(),
            retry_after_ms: retry_after_ms(response.status, &response.headers, now_ms),
            refused: negotiate::refused_feature(response, shape),
        });
    }
    let body = if shape.stream && looks_like_sse(&response.body) {
        stream::assemble(config.provider, &response.body)
            .map_err(|m| CallFailure::invalid_output(m, Usage::default()))?
    } else {
        json_body(&response.body)?
    };
    match config.provider {
        Provider::Openai => openai::parse_response(&body),
        Provider::Anthropic => anthropic::parse_response(&body),
    }
}

/// Server-sent events begin with a field or a comment (`stream::FIELDS`), maybe after a byte
/// order mark.
fn looks_like_sse(body: &str) -> bool {
    let start = body.trim_start_matches('\u{feff}').trim_start();
    stream::FIELDS.iter().any(|field| start.starts_with(field))
}

/// The provider's error message, type and code from an error body (OpenAI's and Anthropic's shapes).
pub(crate) fn error_parts(body: &str) -> (String, String) {
    let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let error = &value["error"];
    let message = error["message"]
        .as_str()
        .or_else(|| error.as_str())
        .or_else(|| value["message"].as_str())
        .or_else(|| value["detail"].as_str())
        .map(|m| bound(m, 500).into_owned())
        .unwrap_or_else(|| bound(body.trim(), 300).into_owned());
    let kind = [&error["code"], &error["type"], &value["type"]]
        .iter()
        .find_map(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    (message, kind)
}

/// Spend limits say so in words (Anthropic's 429 without `retry-after`, a 400 about the credit
/// balance): waiting does not help, and every other batch would hit the same wall.
fn is_spending_limit(status: u16, headers: &[(String, String)], message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    let words = [
        "spend limit",
        "spending limit",
        "usage limit",
        "credit balance",
        "billing",
    ];
    let no_wait = !headers
        .iter()
        .any(|(k, _)| k == "retry-after" || k == "retry-after-ms");
    matches!(status, 400 | 402 | 429) && no_wait && words.iter().any(|w| m.contains(w))
}

fn status_error(response: &HttpResponse) -> DrillgenError {
    let (message, kind) = error_parts(&response.body);
    if (response.status == 429 && kind == "insufficient_quota")
        || is_spending_limit(response.status, &response.headers, &message)
    {
        return DrillgenError::InsufficientQuota(message);
    }
    if (300..400).contains(&response.status) {
        return DrillgenError::RedirectRefused(format!(
            "the provider answered HTTP {} (a redirect); drillgen does not follow redirects, so credentials never go to another origin: set llm.baseUrl to the final URL",
            response.status
        ));
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
        CallFailure::invalid_output(
            format!("the response is not JSON ({e}): {}", bound(body, 200)),
            Usage::default(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
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

    fn parse(r: &HttpResponse) -> Result<Completion, CallFailure> {
        parse_response(&config(), &CallShape::default(), r, 0.0)
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
            let failure = parse(&response(status, &headers, "{}")).unwrap_err();
            assert_eq!(failure.error.code(), "HTTP_ERROR");
            assert_eq!(
                failure.error.is_retryable(),
                retryable,
                "{status} {should_retry}"
            );
            assert_eq!(failure.error.status(), Some(status));
        }
        let redirect =
            parse(&response(307, &[("location", "https://evil.example/")], "")).unwrap_err();
        assert_eq!(redirect.error.code(), "REDIRECT_REFUSED");
        assert!(!redirect.error.is_retryable());
    }

    #[test]
    fn quota_and_spending_limits_are_permanent_and_fatal_for_the_run() {
        let body = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;
        let failure = parse(&response(429, &[], body)).unwrap_err();
        assert_eq!(failure.error.code(), "INSUFFICIENT_QUOTA");
        assert!(!failure.error.is_retryable() && failure.error.is_fatal_for_run());
        // Anthropic: a 429 without retry-after that names the spend limit.
        let spend = r#"{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC."}}"#;
        assert_eq!(
            parse(&response(429, &[], spend)).unwrap_err().error.code(),
            "INSUFFICIENT_QUOTA"
        );
        let throttled = parse(&response(429, &[("retry-after", "3")], spend)).unwrap_err();
        assert_eq!(
            throttled.error.code(),
            "HTTP_ERROR",
            "a 429 that says when to come back is a throttle"
        );
        assert_eq!(throttled.retry_after_ms, Some(3000));
    }

    #[test]
    fn a_hostile_error_body_is_bounded() {
        let huge = format!(
            r#"{{"error":{{"message":"{}"}}}}"#,
            "x".repeat(2 * 1024 * 1024)
        );
        let failure = parse(&response(500, &[], &huge)).unwrap_err();
        assert!(failure.error.to_string().len() < 600);
        let raw = "y".repeat(2 * 1024 * 1024);
        assert!(
            parse(&response(502, &[], &raw))
                .unwrap_err()
                .error
                .to_string()
                .len()
                < 400
        );
    }

    #[test]
    fn usage_numbers_are_clamped_and_sums_saturate() {
        assert_eq!(
            token_count(&serde_json::json!(u64::MAX)),
            MAX_TOKENS_PER_CALL
        );
        for v in [
            serde_json::json!(-5),
            serde_json::json!("12"),
            serde_json::json!(1.5),
            serde_json::json!(null),
        ] {
            assert_eq!(token_count(&v), 0, "{v}");
        }
        let mut u = Usage {
            input_tokens: u64::MAX - 1,
            ..Usage::default()
        };
        u.add(Usage {
            input_tokens: 10,
            cached_input_tokens: 1,
            cache_write_input_tokens: 2,
            output_tokens: 3,
        });
        assert_eq!(u.input_tokens, u64::MAX);
        assert_eq!(
            (
                u.cached_input_tokens,
                u.cache_write_input_tokens,
                u.output_tokens
            ),
            (1, 2, 3),
            "every field is summed"
        );
    }
}
