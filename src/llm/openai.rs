//! OpenAI-compatible Chat Completions.

use serde_json::{Value, json};

use super::url::BaseUrl;
use super::{
    CallFailure, CallShape, Completion, HttpRequest, LlmConfig, ResponseFormat, Usage, token_count,
};
use crate::prompt::BatchPrompt;
use crate::text::bound;

pub fn build_request(
    config: &LlmConfig,
    url: &BaseUrl,
    prompt: &BatchPrompt,
    schema: &Value,
    max_tokens: u32,
    shape: &CallShape,
) -> HttpRequest {
    let mut body = json!({
        "model": config.model,
        "messages": [
            { "role": "system", "content": prompt.system },
            { "role": "user", "content": prompt.user },
        ],
    });
    body[shape.tokens_field.as_str()] = json!(max_tokens);
    if let Some(t) = config.temperature {
        body["temperature"] = json!(t);
    }
    match shape.format {
        ResponseFormat::JsonSchema => {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": { "name": "drill_batch", "strict": true, "schema": schema },
            });
        }
        ResponseFormat::JsonObject => {
            body["response_format"] = json!({ "type": "json_object", "schema": schema });
        }
        ResponseFormat::Text => {}
    }
    if let Some(key) = &shape.cache_key {
        body["prompt_cache_key"] = json!(key);
    }
    if shape.stream {
        body["stream"] = json!(true);
        if shape.stream_usage {
            body["stream_options"] = json!({ "include_usage": true });
        }
    }
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(key) = &config.api_key {
        headers.push((
            "authorization".to_owned(),
            format!("Bearer {}", key.expose()),
        ));
    }
    HttpRequest {
        url: url.endpoint("chat/completions"),
        headers,
        body: body.to_string(),
    }
}

pub fn parse_response(v: &Value) -> Result<Completion, CallFailure> {
    let u = &v["usage"];
    let usage = Usage {
        input_tokens: token_count(&u["prompt_tokens"]),
        cached_input_tokens: token_count(&u["prompt_tokens_details"]["cached_tokens"]),
        cache_write_input_tokens: 0,
        output_tokens: token_count(&u["completion_tokens"]),
    };
    let choice = &v["choices"][0];
    let fail = |m: String| CallFailure::invalid_output(m, usage);
    if choice["finish_reason"] == "length" {
        return Err(fail(
            "the answer was cut off at the output token limit (finish_reason: length)".into(),
        ));
    }
    if let Some(refusal) = choice["message"]["refusal"].as_str() {
        return Err(fail(format!("the model refused: {}", bound(refusal, 200))));
    }
    match choice["message"]["content"].as_str() {
        Some(content) if !content.trim().is_empty() => Ok(Completion {
            content: content.to_owned(),
            usage,
        }),
        _ => Err(fail("the response has no message content".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{MaxTokensField, Provider, Runtime, build_request as build};

    fn prompt() -> BatchPrompt {
        BatchPrompt {
            system: "shared".into(),
            user: "batch".into(),
        }
    }

    fn schema() -> Value {
        crate::drill::batch_output_schema(2)
    }

    fn request(config: &LlmConfig, shape: &CallShape) -> (HttpRequest, Value) {
        let url = config.check(Runtime::Server).unwrap();
        let r = build(config, &url, &prompt(), &schema(), 2, shape);
        let body = serde_json::from_str(&r.body).unwrap();
        (r, body)
    }

    #[test]
    fn requests_carry_model_messages_auth_and_format() {
        let mut config = LlmConfig::for_tests(Provider::Openai);
        let (r, body) = request(&config, &CallShape::default());
        assert_eq!(r.url, "http://127.0.0.1:9/v1/chat/completions");
        assert!(
            r.headers
                .contains(&("authorization".into(), "Bearer sk-test-123456".into()))
        );
        assert!(r.headers.contains(&("x-proxy-token".into(), "p1".into())));
        assert_eq!(body["messages"][0]["content"], "shared");
        assert_eq!(body["messages"][1]["content"], "batch");
        assert_eq!(body["max_tokens"], 400 + 2 * 1200);
        assert!(body.get("max_completion_tokens").is_none());
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        assert_eq!(body["response_format"]["json_schema"]["schema"], schema());
        assert!(body.get("prompt_cache_key").is_none() && body.get("stream").is_none());

        let shape = CallShape {
            format: ResponseFormat::JsonObject,
            ..CallShape::default()
        };
        let (_, body) = request(&config, &shape);
        assert_eq!(body["response_format"]["type"], "json_object");
        assert_eq!(body["response_format"]["schema"], schema());

        config.api_key = None;
        config
            .headers
            .insert("Authorization".into(), "Bearer proxy-token".into());
        let shape = CallShape {
            format: ResponseFormat::Text,
            ..CallShape::default()
        };
        let (r, body) = request(&config, &shape);
        assert!(body.get("response_format").is_none());
        let auth: Vec<&(String, String)> = r
            .headers
            .iter()
            .filter(|(k, _)| k == "authorization")
            .collect();
        assert_eq!(
            auth,
            [&("authorization".to_owned(), "Bearer proxy-token".to_owned())],
            "the host's header replaces ours"
        );
    }

    #[test]
    fn newer_openai_models_get_max_completion_tokens_a_cache_key_and_streaming() {
        let config = LlmConfig::for_tests(Provider::Openai);
        let shape = CallShape {
            tokens_field: MaxTokensField::MaxCompletionTokens,
            cache_key: Some("drillgen-abc".into()),
            stream: true,
            stream_usage: true,
            ..CallShape::default()
        };
        let (_, body) = request(&config, &shape);
        assert_eq!(body["max_completion_tokens"], 2800);
        assert!(body.get("max_tokens").is_none());
        assert_eq!(body["prompt_cache_key"], "drillgen-abc");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    fn parse(body: &str) -> Result<Completion, CallFailure> {
        crate::llm::json_body(body).and_then(|v| parse_response(&v))
    }

    #[test]
    fn responses_yield_content_and_usage_with_cached_tokens() {
        let body = r#"{"choices":[{"message":{"role":"assistant","content":"{\"drills\":[]}"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":1200,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1024}}}"#;
        let c = parse(body).unwrap();
        assert_eq!(c.content, r#"{"drills":[]}"#);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 1200,
                cached_input_tokens: 1024,
                cache_write_input_tokens: 0,
                output_tokens: 300
            }
        );
        let hostile = r#"{"choices":[{"message":{"content":"x"}}],"usage":{"prompt_tokens":"9","completion_tokens":1e300,"prompt_tokens_details":{"cached_tokens":-4}}}"#;
        assert_eq!(
            parse(hostile).unwrap().usage,
            Usage::default(),
            "wrong types in usage count as 0"
        );
    }

    #[test]
    fn truncated_or_empty_answers_are_retryable_invalid_output() {
        let cut = r#"{"choices":[{"message":{"content":"{\"dri"},"finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":99}}"#;
        let f = parse(cut).unwrap_err();
        assert_eq!(f.error.code(), "INVALID_OUTPUT");
        assert!(f.error.is_retryable());
        assert_eq!(
            f.usage.output_tokens, 99,
            "a failed call still costs tokens"
        );
        assert_eq!(parse("<html>").unwrap_err().error.code(), "INVALID_OUTPUT");
        assert_eq!(
            parse(r#"{"choices":[]}"#).unwrap_err().error.code(),
            "INVALID_OUTPUT"
        );
    }
}
