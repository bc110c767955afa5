//! Anthropic Messages: structured output through one forced tool whose input schema is the batch
//! schema, and `cache_control` on the shared system prefix when it is long enough to be cached
//! (Anthropic caches tools, then system, up to the marked block; shorter prefixes are silently not
//! cached, so the marker is left out and the run reports it).

use serde_json::{Value, json};

use super::config::ANTHROPIC_VERSION;
use super::url::BaseUrl;
use super::{CallFailure, CallShape, Completion, HttpRequest, LlmConfig, Usage, token_count};
use crate::prompt::BatchPrompt;

pub(crate) const TOOL: &str = "submit_drills";

pub fn build_request(
    config: &LlmConfig,
    url: &BaseUrl,
    prompt: &BatchPrompt,
    schema: &Value,
    max_tokens: u32,
    shape: &CallShape,
) -> HttpRequest {
    let mut system = json!({ "type": "text", "text": prompt.system });
    if shape.cache_control {
        system["cache_control"] = json!({ "type": "ephemeral" });
    }
    let mut body = json!({
        "model": config.model,
        "max_tokens": max_tokens,
        "system": [system],
        "messages": [{ "role": "user", "content": prompt.user }],
        "tools": [{
            "name": TOOL,
            "description": "Submit the drills of this batch.",
            "input_schema": schema,
        }],
        "tool_choice": { "type": "tool", "name": TOOL },
    });
    if let Some(t) = config.temperature {
        body["temperature"] = json!(t.min(1.0));
    }
    if shape.stream {
        body["stream"] = json!(true);
    }
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("anthropic-version".to_owned(), ANTHROPIC_VERSION.to_owned()),
    ];
    if let Some(key) = &config.api_key {
        headers.push(("x-api-key".to_owned(), key.expose().to_owned()));
    }
    if config.dangerously_allow_browser {
        headers.push((
            "anthropic-dangerous-direct-browser-access".to_owned(),
            "true".to_owned(),
        ));
    }
    HttpRequest {
        url: url.endpoint("messages"),
        headers,
        body: body.to_string(),
    }
}

pub fn parse_response(v: &Value) -> Result<Completion, CallFailure> {
    let u = &v["usage"];
    let (plain, read, created) = (
        token_count(&u["input_tokens"]),
        token_count(&u["cache_read_input_tokens"]),
        token_count(&u["cache_creation_input_tokens"]),
    );
    let usage = Usage {
        input_tokens: plain.saturating_add(read).saturating_add(created),
        cached_input_tokens: read,
        cache_write_input_tokens: created,
        output_tokens: token_count(&u["output_tokens"]),
    };
    let fail = |m: String| CallFailure::invalid_output(m, usage);
    if v["stop_reason"] == "max_tokens" {
        return Err(fail(
            "the answer was cut off at the output token limit (stop_reason: max_tokens)".into(),
        ));
    }
    let blocks = v["content"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if let Some(tool) = blocks
        .iter()
        .find(|b| b["type"] == "tool_use" && b["name"] == TOOL)
    {
        return Ok(Completion {
            content: tool["input"].to_string(),
            usage,
        });
    }
    // A model that answered in text instead of calling the tool may still have written the JSON.
    let text: String = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
    if text.trim().is_empty() {
        return Err(fail(format!("the response has no {TOOL} tool call")));
    }
    Ok(Completion {
        content: text,
        usage,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::{Provider, Runtime, build_request as build, json_body};

    fn request(config: &LlmConfig, shape: &CallShape) -> (HttpRequest, Value) {
        let url = config.check(Runtime::Server).unwrap();
        let prompt = BatchPrompt {
            system: "shared".into(),
            user: "batch".into(),
        };
        let schema = crate::drill::batch_output_schema(1);
        let r = build(config, &url, &prompt, &schema, 1, shape);
        let body = serde_json::from_str(&r.body).unwrap();
        (r, body)
    }

    #[test]
    fn requests_force_the_tool_and_mark_the_prefix_only_when_cacheable() {
        let mut config = LlmConfig::for_tests(Provider::Anthropic);
        let shape = CallShape {
            cache_control: true,
            ..CallShape::default()
        };
        let (r, body) = request(&config, &shape);
        assert_eq!(r.url, "http://127.0.0.1:9/v1/messages");
        assert!(
            r.headers
                .contains(&("x-api-key".into(), "sk-test-123456".into()))
        );
        assert!(
            r.headers
                .contains(&("anthropic-version".into(), "2023-06-01".into()))
        );
        assert!(
            !r.headers
                .iter()
                .any(|(k, _)| k == "anthropic-dangerous-direct-browser-access")
        );
        assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(body["system"][0]["text"], "shared");
        assert_eq!(body["tool_choice"]["name"], TOOL);
        assert_eq!(
            body["tools"][0]["input_schema"],
            crate::drill::batch_output_schema(1)
        );
        assert_eq!(body["max_tokens"], 1600);
        let (_, short) = request(&config, &CallShape::default());
        assert!(short["system"][0].get("cache_control").is_none());
        config.dangerously_allow_browser = true;
        let (r, _) = request(&config, &shape);
        assert!(r.headers.contains(&(
            "anthropic-dangerous-direct-browser-access".into(),
            "true".into()
        )));
    }

    #[test]
    fn tool_input_and_cache_usage_are_read() {
        let body = r#"{"content":[{"type":"tool_use","name":"submit_drills","input":{"drills":[]}}],"stop_reason":"tool_use",
            "usage":{"input_tokens":200,"cache_read_input_tokens":1800,"cache_creation_input_tokens":300,"output_tokens":500}}"#;
        let c = json_body(body).and_then(|v| parse_response(&v)).unwrap();
        assert_eq!(c.content, r#"{"drills":[]}"#);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 2300,
                cached_input_tokens: 1800,
                cache_write_input_tokens: 300,
                output_tokens: 500
            }
        );
        let cut = r#"{"content":[],"stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":4000}}"#;
        let f = json_body(cut).and_then(|v| parse_response(&v)).unwrap_err();
        assert_eq!(f.error.code(), "INVALID_OUTPUT");
    }
}
