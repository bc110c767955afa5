//! OpenAI-compatible Chat Completions.

use serde_json::{Value, json};

use super::{
    CallFailure, Completion, HttpRequest, LlmConfig, ResponseFormat, Usage, json_body, truncate,
};
use crate::prompt::BatchPrompt;

pub fn build_request(config: &LlmConfig, prompt: &BatchPrompt, schema: &Value) -> HttpRequest {
    let drills = schema["properties"]["drills"]["maxItems"]
        .as_u64()
        .unwrap_or(5) as usize;
    let mut body = json!({
        "model": config.model,
        "messages": [
            { "role": "system", "content": prompt.system },
            { "role": "user", "content": prompt.user },
        ],
        "max_tokens": config.max_tokens_for(drills),
    });
    if let Some(t) = config.temperature {
        body["temperature"] = json!(t);
    }
    match config.response_format.unwrap_or(ResponseFormat::JsonSchema) {
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
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(key) = &config.api_key {
        headers.push((
            "authorization".to_owned(),
            format!("Bearer {}", key.expose()),
        ));
    }
    headers.extend(config.custom_headers());
    HttpRequest {
        url: config.endpoint("chat/completions"),
        headers,
        body: body.to_string(),
    }
}

pub fn parse_response(body: &str) -> Result<Completion, CallFailure> {
    let v = json_body(body)?;
    let u = &v["usage"];
    let usage = Usage {
        input_tokens: u["prompt_tokens"].as_u64().unwrap_or(0),
        cached_input_tokens: u["prompt_tokens_details"]["cached_tokens"]
            .as_u64()
            .unwrap_or(0),
        output_tokens: u["completion_tokens"].as_u64().unwrap_or(0),
    };
    let choice = &v["choices"][0];
    let fail = |m: String| CallFailure::invalid_output(m, usage);
    if choice["finish_reason"] == "length" {
        return Err(fail(
            "the answer was cut off at the output token limit (finish_reason: length)".into(),
        ));
    }
    if let Some(refusal) = choice["message"]["refusal"].as_str() {
        return Err(fail(format!(
            "the model refused: {}",
            truncate(refusal, 200)
        )));
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
    use crate::llm::Provider;

    fn prompt() -> BatchPrompt {
        BatchPrompt {
            system: "shared".into(),
            user: "batch".into(),
        }
    }

    fn schema() -> Value {
        crate::drill::batch_output_schema(&["P1"], &[0, 1])
    }

    #[test]
    fn requests_carry_model_messages_auth_and_format() {
        let mut config = LlmConfig::for_tests(Provider::Openai);
        let r = build_request(&config, &prompt(), &schema());
        assert_eq!(r.url, "http://127.0.0.1:9/v1/chat/completions");
        assert!(
            r.headers
                .contains(&("authorization".into(), "Bearer sk-test-123456".into()))
        );
        assert!(r.headers.contains(&("x-proxy-token".into(), "p1".into())));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["messages"][0]["content"], "shared");
        assert_eq!(body["messages"][1]["content"], "batch");
        assert_eq!(body["max_tokens"], 400 + 2 * 1200);
        assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        assert_eq!(body["response_format"]["json_schema"]["schema"], schema());

        config.response_format = Some(ResponseFormat::JsonObject);
        let body: Value =
            serde_json::from_str(&build_request(&config, &prompt(), &schema()).body).unwrap();
        assert_eq!(body["response_format"]["type"], "json_object");
        assert_eq!(body["response_format"]["schema"], schema());

        config.response_format = Some(ResponseFormat::Text);
        config.api_key = None;
        let r = build_request(&config, &prompt(), &schema());
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert!(body.get("response_format").is_none());
        assert!(!r.headers.iter().any(|(k, _)| k == "authorization"));
    }

    #[test]
    fn responses_yield_content_and_usage_with_cached_tokens() {
        let body = r#"{"choices":[{"message":{"role":"assistant","content":"{\"drills\":[]}"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":1200,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1024}}}"#;
        let c = parse_response(body).unwrap();
        assert_eq!(c.content, r#"{"drills":[]}"#);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 1200,
                cached_input_tokens: 1024,
                output_tokens: 300
            }
        );
    }

    #[test]
    fn truncated_or_empty_answers_are_retryable_invalid_output() {
        let cut = r#"{"choices":[{"message":{"content":"{\"dri"},"finish_reason":"length"}],"usage":{"prompt_tokens":10,"completion_tokens":99}}"#;
        let f = parse_response(cut).unwrap_err();
        assert_eq!(f.error.code(), "INVALID_OUTPUT");
        assert!(f.error.is_retryable());
        assert_eq!(
            f.usage.output_tokens, 99,
            "a failed call still costs tokens"
        );
        assert_eq!(
            parse_response("<html>").unwrap_err().error.code(),
            "INVALID_OUTPUT"
        );
        assert_eq!(
            parse_response(r#"{"choices":[]}"#)
                .unwrap_err()
                .error
                .code(),
            "INVALID_OUTPUT"
        );
    }
}
