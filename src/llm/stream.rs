//! Streamed answers (server-sent events), turned back into the provider's non-streamed JSON so one
//! parser reads both. A batch is streamed only to learn early that its response has begun (the cue
//! to release the other batches onto a warm prompt cache); the whole stream is still read before
//! the drills are.

use serde_json::{Map, Value, json};

use super::Provider;
use crate::text::bound;

/// The JSON payloads of the `data:` lines, `[DONE]` excluded.
fn events(body: &str) -> impl Iterator<Item = Value> + '_ {
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty() && *data != "[DONE]")
        .filter_map(|data| serde_json::from_str(data).ok())
}

pub fn assemble(provider: Provider, body: &str) -> Result<Value, String> {
    match provider {
        Provider::Openai => openai(body),
        Provider::Anthropic => anthropic(body),
    }
}

fn stream_error(event: &Value) -> Option<String> {
    let error = event.get("error")?;
    let message = error["message"].as_str().unwrap_or("unknown error");
    Some(format!(
        "the stream reported an error: {}",
        bound(message, 300)
    ))
}

fn openai(body: &str) -> Result<Value, String> {
    let (mut content, mut refusal) = (String::new(), String::new());
    let (mut finish, mut usage) = (Value::Null, Value::Null);
    for event in events(body) {
        if let Some(e) = stream_error(&event) {
            return Err(e);
        }
        if event.get("usage").is_some_and(Value::is_object) {
            usage = event["usage"].clone();
        }
        let choice = &event["choices"][0];
        content.push_str(choice["delta"]["content"].as_str().unwrap_or_default());
        refusal.push_str(choice["delta"]["refusal"].as_str().unwrap_or_default());
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
    }
    if finish.is_null() {
        return Err("the stream ended before the answer was complete".into());
    }
    let mut message = json!({ "content": content });
    if !refusal.is_empty() {
        message["refusal"] = json!(refusal);
    }
    Ok(json!({ "choices": [{ "message": message, "finish_reason": finish }], "usage": usage }))
}

fn anthropic(body: &str) -> Result<Value, String> {
    let mut usage = Map::new();
    let mut blocks: Vec<(Value, String)> = Vec::new();
    let mut stop = Value::Null;
    for event in events(body) {
        if let Some(e) = stream_error(&event) {
            return Err(e);
        }
        match event["type"].as_str().unwrap_or_default() {
            "message_start" => merge(&mut usage, &event["message"]["usage"]),
            "content_block_start" => blocks.push((event["content_block"].clone(), String::new())),
            "content_block_delta" => {
                let delta = &event["delta"];
                let piece = delta["partial_json"]
                    .as_str()
                    .or_else(|| delta["text"].as_str());
                if let (Some((_, text)), Some(piece)) = (blocks.last_mut(), piece) {
                    text.push_str(piece);
                }
            }
            "message_delta" => {
                stop = event["delta"]["stop_reason"].clone();
                merge(&mut usage, &event["usage"]);
            }
            _ => {}
        }
    }
    if stop.is_null() {
        return Err("the stream ended before the answer was complete".into());
    }
    let content: Vec<Value> = blocks
        .into_iter()
        .map(|(start, text)| block(start, text))
        .collect();
    Ok(json!({ "content": content, "stop_reason": stop, "usage": usage }))
}

/// A finished content block: a tool call's input parsed from its JSON pieces (kept as text when
/// the pieces do not parse, for the output reader to judge), or a text block.
fn block(mut start: Value, text: String) -> Value {
    if start["type"] == "tool_use" {
        match serde_json::from_str::<Value>(&text) {
            Ok(input) => start["input"] = input,
            Err(_) => return json!({ "type": "text", "text": text }),
        }
        return start;
    }
    json!({ "type": "text", "text": text })
}

fn merge(into: &mut Map<String, Value>, from: &Value) {
    if let Some(fields) = from.as_object() {
        for (k, v) in fields {
            into.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_chunks_become_one_completion_with_usage() {
        let body = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"{\\\"dri\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lls\\\":[]}\"},\"finish_reason\":\"stop\"}]}\n\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1500,\"completion_tokens\":7,\"prompt_tokens_details\":{\"cached_tokens\":1024}}}\n\n",
            "data: [DONE]\n\n"
        );
        let v = assemble(Provider::Openai, body).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], "{\"drills\":[]}");
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 1024);
        let cut = &body[..body.find("finish_reason\":\"stop").unwrap_or(0)];
        assert!(
            assemble(Provider::Openai, cut).is_err(),
            "a stream cut short is not an answer"
        );
    }

    #[test]
    fn anthropic_events_rebuild_the_tool_call_and_usage() {
        let body = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":20,\"cache_read_input_tokens\":1800,\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"submit_drills\",\"input\":{}}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"drills\\\":\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"[]}\"}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":42}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        );
        let v = assemble(Provider::Anthropic, body).unwrap();
        assert_eq!(v["content"][0]["input"], json!({"drills": []}));
        assert_eq!(v["usage"]["cache_read_input_tokens"], 1800);
        assert_eq!(v["usage"]["output_tokens"], 42);
        let overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
        assert!(
            assemble(Provider::Anthropic, overloaded)
                .unwrap_err()
                .contains("Overloaded")
        );
    }
}
