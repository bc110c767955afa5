//! Format negotiation with OpenAI-compatible servers. They differ in what they accept: llama.cpp's
//! Python server answers HTTP 500 to `response_format: json_schema`, LM Studio refuses
//! `json_object`, OpenAI's newer models refuse `max_tokens`, some servers refuse unknown fields
//! like `prompt_cache_key` or `stream_options`. With default settings a run must still work: when a
//! rejection names a feature we sent, the run steps that feature down once, remembers it for every
//! later call, reports it, and the rejected call does not count against the batch's retries.

use serde::Serialize;

use super::{HttpResponse, LlmConfig, MaxTokensField, Provider, ResponseFormat, error_parts};
use crate::types::Warning;

/// How one call is shaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallShape {
    pub format: ResponseFormat,
    pub tokens_field: MaxTokensField,
    pub cache_key: Option<String>,
    /// Anthropic: `cache_control` on the shared prefix (only when it is long enough to be cached).
    pub cache_control: bool,
    pub stream: bool,
    /// OpenAI streaming: ask for the usage chunk (`stream_options.include_usage`).
    pub stream_usage: bool,
}

impl Default for CallShape {
    fn default() -> Self {
        Self {
            format: ResponseFormat::JsonSchema,
            tokens_field: MaxTokensField::MaxTokens,
            cache_key: None,
            cache_control: false,
            stream: false,
            stream_usage: false,
        }
    }
}

/// A part of a request a server may refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    ResponseFormat,
    TokensField,
    CacheKey,
    StreamUsage,
    Stream,
}

/// Statuses with which servers refuse a request they cannot parse or do not support.
fn is_refusal(status: u16) -> bool {
    matches!(status, 400 | 404 | 415 | 422 | 500 | 501)
}

/// Words with which servers say a field itself is not accepted (OpenAI "Unsupported parameter",
/// Azure/OpenAI "Unrecognized request argument", pydantic "Extra inputs are not permitted", serde
/// "unknown field"), as opposed to an error about its value ("max_tokens is too large: 40000").
const FIELD_REFUSED: [&str; 7] = [
    "unsupported",
    "not supported",
    "does not support",
    "unrecognized",
    "unknown field",
    "not permitted",
    "not allowed",
];

/// The feature of `shape` that `response` refuses, if its error names one we sent.
pub fn refused_feature(response: &HttpResponse, shape: &CallShape) -> Option<Feature> {
    if !is_refusal(response.status) {
        return None;
    }
    let (message, kind) = error_parts(&response.body);
    let text = format!("{message} {kind}").to_ascii_lowercase();
    let names = |words: &[&str]| words.iter().any(|w| text.contains(w));
    // The token field and `stream` are always sent, so a mention alone (a value error, a proxy's
    // "upstream" failure) is not a refusal; the optional fields are refused by being there.
    let refused = names(&FIELD_REFUSED);
    if shape.cache_key.is_some() && names(&["prompt_cache_key"]) {
        return Some(Feature::CacheKey);
    }
    if shape.stream_usage && names(&["stream_options", "include_usage"]) {
        return Some(Feature::StreamUsage);
    }
    if refused && names(&[shape.tokens_field.as_str()]) {
        return Some(Feature::TokensField);
    }
    let format_words: &[&str] = match shape.format {
        ResponseFormat::JsonSchema => &["response_format", "json_schema"],
        ResponseFormat::JsonObject => &["response_format", "json_object"],
        ResponseFormat::Text => &[],
    };
    if names(format_words) {
        return Some(Feature::ResponseFormat);
    }
    let says_stream = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .any(|w| w == "stream" || w == "streaming");
    (shape.stream && refused && says_stream).then_some(Feature::Stream)
}

/// What the run has learned about the server; shared by all its batches.
#[derive(Debug, Clone, PartialEq)]
pub struct Negotiation {
    pub format: ResponseFormat,
    pub tokens_field: MaxTokensField,
    pub cache_key: Option<String>,
    pub stream_ok: bool,
    pub stream_usage_ok: bool,
    format_pinned: bool,
    tokens_pinned: bool,
    tokens_switched: bool,
    pub warnings: Vec<Warning>,
}

/// What negotiation settled on, reported in the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase")]
pub struct Negotiated {
    pub response_format: ResponseFormat,
    pub max_tokens_field: MaxTokensField,
    pub streaming: bool,
}

impl Negotiation {
    /// Starting points: the host's pinned choices, else json_schema, and the token field the
    /// server is known for (api.openai.com: `max_completion_tokens`).
    pub fn new(config: &LlmConfig, openai_host: bool, cache_key: Option<String>) -> Self {
        let default_field = if openai_host {
            MaxTokensField::MaxCompletionTokens
        } else {
            MaxTokensField::MaxTokens
        };
        Self {
            format: config.response_format.unwrap_or(ResponseFormat::JsonSchema),
            tokens_field: config.max_tokens_field.unwrap_or(default_field),
            cache_key: config.prompt_cache_key.clone().or(cache_key),
            stream_ok: true,
            // `stream_options` is OpenAI's; Anthropic streams report usage anyway.
            stream_usage_ok: config.provider == Provider::Openai,
            format_pinned: config.response_format.is_some()
                || config.provider == Provider::Anthropic,
            // Anthropic's Messages API has one field (`max_tokens`); a 400 naming it is about its
            // value (e.g. "max_tokens: 100000 > 64000"), never the field's name.
            tokens_pinned: config.max_tokens_field.is_some()
                || config.provider == Provider::Anthropic,
            tokens_switched: false,
            warnings: Vec::new(),
        }
    }

    /// The most refusals a batch can still meet before every feature has stepped down (each costs
    /// a call): for the run's worst-case call budget. `streamed`: the batch streams (the warm-up).
    pub fn max_steps(&self, streamed: bool) -> u32 {
        let format = match self.format {
            _ if self.format_pinned => 0,
            ResponseFormat::JsonSchema => 2,
            ResponseFormat::JsonObject => 1,
            ResponseFormat::Text => 0,
        };
        let tokens = u32::from(!self.tokens_pinned && !self.tokens_switched);
        let cache_key = u32::from(self.cache_key.is_some());
        let stream = if streamed {
            u32::from(self.stream_ok) + u32::from(self.stream_ok && self.stream_usage_ok)
        } else {
            0
        };
        format + tokens + cache_key + stream
    }

    /// The shape of the next call (`stream` when the schedule wants this call streamed).
    pub fn shape(&self, stream: bool, cache_control: bool) -> CallShape {
        let stream = stream && self.stream_ok;
        CallShape {
            format: self.format,
            tokens_field: self.tokens_field,
            cache_key: self.cache_key.clone(),
            cache_control,
            stream,
            stream_usage: stream && self.stream_usage_ok,
        }
    }

    /// Steps `feature` down after a refusal of a call shaped `sent`. Returns false when there is
    /// nothing left to step down (the refusal is then an ordinary failure). A refusal of a shape
    /// another batch already stepped past needs no change and is simply tried again.
    pub fn step_down(&mut self, feature: Feature, sent: &CallShape) -> bool {
        match feature {
            Feature::ResponseFormat if sent.format != self.format => true,
            Feature::ResponseFormat
                if self.format_pinned || self.format == ResponseFormat::Text =>
            {
                false
            }
            Feature::ResponseFormat => {
                let from = self.format;
                self.format = if from == ResponseFormat::JsonSchema {
                    ResponseFormat::JsonObject
                } else {
                    ResponseFormat::Text
                };
                self.note(format!(
                    "the server refused response_format {}; using {} for the rest of the run",
                    name(from),
                    name(self.format)
                ));
                true
            }
            Feature::TokensField if sent.tokens_field != self.tokens_field => true,
            Feature::TokensField if self.tokens_pinned || self.tokens_switched => false,
            Feature::TokensField => {
                self.tokens_field = self.tokens_field.other();
                self.tokens_switched = true;
                self.note(format!(
                    "the server refused {}; using {} for the rest of the run",
                    sent.tokens_field.as_str(),
                    self.tokens_field.as_str()
                ));
                true
            }
            Feature::CacheKey => self.cache_key.take().is_some() || sent.cache_key.is_some(),
            Feature::StreamUsage => {
                std::mem::replace(&mut self.stream_usage_ok, false) || sent.stream_usage
            }
            Feature::Stream => std::mem::replace(&mut self.stream_ok, false) || sent.stream,
        }
    }

    fn note(&mut self, message: String) {
        self.warnings
            .push(Warning::new(crate::WarningCode::FORMAT_NEGOTIATED, message));
    }

    pub fn settled(&self) -> Negotiated {
        Negotiated {
            response_format: self.format,
            max_tokens_field: self.tokens_field,
            streaming: self.stream_ok,
        }
    }
}

fn name(format: ResponseFormat) -> &'static str {
    match format {
        ResponseFormat::JsonSchema => "json_schema",
        ResponseFormat::JsonObject => "json_object",
        ResponseFormat::Text => "text",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::tests::response;

    fn llama_cpp_refusal() -> HttpResponse {
        // llama-cpp-python 0.3.x: pydantic rejects the json_schema type with HTTP 500.
        response(
            500,
            &[],
            r#"{"error":{"message":"[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}]","type":"internal_server_error"}}"#,
        )
    }

    #[test]
    fn refusals_name_the_feature_that_was_sent() {
        let shape = CallShape {
            cache_key: Some("k".into()),
            stream: true,
            stream_usage: true,
            ..CallShape::default()
        };
        assert_eq!(
            refused_feature(&llama_cpp_refusal(), &shape),
            Some(Feature::ResponseFormat)
        );
        let openai = response(
            400,
            &[],
            r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#,
        );
        assert_eq!(refused_feature(&openai, &shape), Some(Feature::TokensField));
        let extra = response(
            422,
            &[],
            r#"{"detail":"Extra inputs are not permitted: prompt_cache_key"}"#,
        );
        assert_eq!(refused_feature(&extra, &shape), Some(Feature::CacheKey));
        let plain_500 = response(500, &[], r#"{"error":{"message":"CUDA out of memory"}}"#);
        // Errors about a value, or a proxy's, that name a field we always send: not refusals.
        for body in [
            r#"{"error":{"message":"'max_tokens' or 'max_completion_tokens' is too large: 40000."}}"#,
            r#"{"error":{"message":"upstream connect error or disconnect/reset before headers"}}"#,
            r#"{"error":{"message":"stream ended unexpectedly"}}"#,
        ] {
            assert_eq!(
                refused_feature(&response(400, &[], body), &shape),
                None,
                "{body}"
            );
        }
        let no_stream = response(
            400,
            &[],
            r#"{"error":{"message":"Streaming is not supported"}}"#,
        );
        assert_eq!(refused_feature(&no_stream, &shape), Some(Feature::Stream));
        assert_eq!(refused_feature(&plain_500, &shape), None);
        assert_eq!(
            refused_feature(
                &response(429, &[], r#"{"error":{"message":"response_format"}}"#),
                &shape
            ),
            None
        );
    }

    #[test]
    fn the_ladder_steps_down_once_per_rung_and_stops() {
        let config = LlmConfig::for_tests(Provider::Openai);
        let mut n = Negotiation::new(&config, false, None);
        let first = n.shape(false, false);
        assert_eq!(first.format, ResponseFormat::JsonSchema);
        assert!(n.step_down(Feature::ResponseFormat, &first));
        assert_eq!(n.format, ResponseFormat::JsonObject);
        // A second batch refused with the old shape: no further step, just try again.
        assert!(n.step_down(Feature::ResponseFormat, &first));
        assert_eq!(n.format, ResponseFormat::JsonObject);
        let second = n.shape(false, false);
        assert!(n.step_down(Feature::ResponseFormat, &second));
        assert_eq!(n.format, ResponseFormat::Text);
        assert!(
            !n.step_down(Feature::ResponseFormat, &n.shape(false, false)),
            "text is the last rung"
        );
        assert_eq!(n.warnings.len(), 2);
        let t = n.shape(false, false);
        assert!(n.step_down(Feature::TokensField, &t));
        assert!(
            !n.step_down(Feature::TokensField, &n.shape(false, false)),
            "switched once, not back and forth"
        );
    }

    #[test]
    fn the_budget_counts_every_step_a_batch_can_still_meet() {
        let config = LlmConfig::for_tests(Provider::Openai);
        // api.openai.com: 2 format rungs, the token field, the cache key; streamed, stream and its usage.
        let mut n = Negotiation::new(&config, true, Some("drillgen-k".into()));
        assert_eq!((n.max_steps(false), n.max_steps(true)), (4, 6));
        let s = n.shape(true, false);
        assert!(n.step_down(Feature::ResponseFormat, &s));
        assert!(n.step_down(Feature::CacheKey, &s));
        assert!(n.step_down(Feature::Stream, &s));
        assert_eq!((n.max_steps(false), n.max_steps(true)), (2, 2));
        // Anthropic (one format, one token field, no stream_options): only `stream` can step.
        let anthropic = Negotiation::new(&LlmConfig::for_tests(Provider::Anthropic), false, None);
        assert_eq!(
            (anthropic.max_steps(false), anthropic.max_steps(true)),
            (0, 1)
        );
    }

    #[test]
    fn pinned_choices_are_never_negotiated() {
        let mut config = LlmConfig::for_tests(Provider::Openai);
        config.response_format = Some(ResponseFormat::JsonSchema);
        config.max_tokens_field = Some(MaxTokensField::MaxCompletionTokens);
        let mut n = Negotiation::new(&config, false, None);
        let s = n.shape(false, false);
        assert!(!n.step_down(Feature::ResponseFormat, &s));
        assert!(!n.step_down(Feature::TokensField, &s));
        assert_eq!(
            Negotiation::new(&LlmConfig::for_tests(Provider::Openai), true, None).tokens_field,
            MaxTokensField::MaxCompletionTokens
        );
    }

    #[test]
    fn anthropic_max_tokens_errors_are_about_the_value_not_the_field() {
        // Anthropic's 400 for a too-large limit names `max_tokens`; the Messages API has no other
        // field, so switching would cost a call and report a false FORMAT_NEGOTIATED.
        let refusal = response(
            400,
            &[],
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: 100000 > 64000, which is the maximum allowed number of output tokens for claude-sonnet-4"}}"#,
        );
        let mut n = Negotiation::new(&LlmConfig::for_tests(Provider::Anthropic), false, None);
        let s = n.shape(false, false);
        assert_eq!(refused_feature(&refusal, &s), None);
        assert!(
            !n.step_down(Feature::TokensField, &s),
            "and the field is pinned anyway"
        );
        assert!(n.warnings.is_empty());
    }
}
