//! Anthropic Messages: structured output through one forced tool whose input schema is the batch
//! schema, and `cache_control` on the shared system prefix.

use serde_json::{Value, json};

use super::config::ANTHROPIC_VERSION;
use super::{CallFailure, Completion, HttpRequest, LlmConfig, Usage, json_body};
use crate::prompt::BatchPrompt;

const TOOL: &str = "submit_drills";

pub fn build_request(config: &LlmConfig, prompt: &BatchPrompt, schema: &Value) -> HttpRequest {
    let drills = schema["properties"]["drills"]["maxItems"]
        .as_u64()
        .unwrap_or(5) as usize;
    let mut body = json!({
        "model": config.model,
        "max_tokens": config.max_tokens_for(drills),
        "system": [{ "type": "text", "text": prompt.system, "cache_control": { "type": "ephemeral" } }],
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
    let mut headers = vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("anthropic-version".to_owned(), ANTHROPIC_VERSION.to_owned()),
    ];
    if let Some(key) = &config.api_key {
        headers.push(("x-api-key".to_owned(), key.expose().to_owned()));
    }
    headers.extend(config.custom_headers());
    HttpRequest {
        url: config.endpoint("messages"),
        headers,
        body: body.to_string(),
    }
}

pub fn parse_response(body: &str) -> Result<Completion, CallFailure> {
    let v = json_body(body)?;
    let u = &v["usage"];
    let (plain, read, created) = (
        u["input_tokens"].as_u64().unwrap_or(0),
        u["cache_read_input_tokens"].as_u64().unwrap_or(0),
        u["cache_creation_input_tokens"].as_u64().unwrap_or(0),
    );
    let usage = Usage {
        input_tokens: plain + read + created,
        cached_input_tokens: read,
        output_tokens: u["output_tokens"].as_u64().unwrap_or(0),
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
    use crate::llm::Provider;

    #[test]
    fn requests_force_the_tool_and_cache_the_prefix() {
        let config = LlmConfig::for_tests(Provider::Anthropic);
        let schema = crate::drill::batch_output_schema(&["P1"], &[0]);
        let r = build_request(
            &config,
            &BatchPrompt {
                system: "shared".into(),
                user: "batch".into(),
            },
            &schema,
        );
        assert_eq!(r.url, "http://127.0.0.1:9/v1/messages");
        assert!(
            r.headers
                .contains(&("x-api-key".into(), "sk-test-123456".into()))
        );
        assert!(
            r.headers
                .contains(&("anthropic-version".into(), "2023-06-01".into()))
        );
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["system"][0]["cache_control"]["type"], "ephemeral");
        assert_eq!(body["system"][0]["text"], "shared");
        assert_eq!(body["tool_choice"]["name"], TOOL);
        assert_eq!(body["tools"][0]["input_schema"], schema);
        assert_eq!(body["max_tokens"], 1600);
    }

    #[test]
    fn tool_input_and_cache_usage_are_read() {
        let body = r#"{"content":[{"type":"tool_use","name":"submit_drills","input":{"drills":[]}}],"stop_reason":"tool_use",
            "usage":{"input_tokens":200,"cache_read_input_tokens":1800,"cache_creation_input_tokens":0,"output_tokens":500}}"#;
        let c = parse_response(body).unwrap();
        assert_eq!(c.content, r#"{"drills":[]}"#);
        assert_eq!(
            c.usage,
            Usage {
                input_tokens: 2000,
                cached_input_tokens: 1800,
                output_tokens: 500
            }
        );
        let cut = r#"{"content":[],"stop_reason":"max_tokens","usage":{"input_tokens":1,"output_tokens":4000}}"#;
        assert_eq!(
            parse_response(cut).unwrap_err().error.code(),
            "INVALID_OUTPUT"
        );
    }
}
