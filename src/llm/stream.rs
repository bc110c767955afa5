//! Streamed answers (server-sent events): read piece by piece while they arrive (`Deltas`: the
//! model's text as it is written, for the drills that close early), and turned back into the
//! provider's non-streamed JSON once whole (`assemble`), so one parser reads both.

use serde_json::{Map, Value, json};

use super::Provider;
use crate::text::bound;

/// The JSON payloads of the `data:` lines, `[DONE]` excluded.
fn events(body: &str) -> impl Iterator<Item = Value> + '_ {
    body.trim_start_matches('\u{feff}')
        .lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty() && *data != "[DONE]")
        .filter_map(|data| serde_json::from_str(data).ok())
}

/// What a line of server-sent events begins with: a field name and its colon, or a comment.
pub const FIELDS: [&str; 5] = ["data:", "event:", "id:", "retry:", ":"];

/// Whether a body whose first character (BOM and whitespace aside) is `first` is events: the
/// first byte decides, since a piece of the body may end inside the field's name.
pub fn events_begin_with(first: u8) -> bool {
    FIELDS.iter().any(|field| field.as_bytes()[0] == first)
}

/// A piece of the model's text in a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// More text of the current block.
    Text(String),
    /// A new content block begins (Anthropic). `drills`: it is the block a whole answer's reading
    /// takes the drills from (the first call of the drills tool); the text of any other block is
    /// not the answer.
    Block { drills: bool },
}

/// The model's text as a stream delivers it: body bytes in (split anywhere, even inside a
/// character), text pieces out. OpenAI: `choices[0].delta.content`; Anthropic: a
/// `content_block_start`, then its `content_block_delta`s (`partial_json` of a tool call, `text`).
pub struct Deltas {
    provider: Provider,
    pending: Vec<u8>,
    /// Bytes of `pending` already searched for a line end.
    searched: usize,
    /// The drills tool's call has begun (Anthropic): a later call of it is not read.
    tool_seen: bool,
}

impl Deltas {
    pub fn new(provider: Provider) -> Self {
        Self {
            provider,
            pending: Vec::new(),
            searched: 0,
            tool_seen: false,
        }
    }

    /// Adds body bytes; returns the pieces of text their complete lines carried.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Piece> {
        self.pending.extend_from_slice(bytes);
        let mut pieces = Vec::new();
        let mut start = 0;
        while let Some(end) = self.pending[self.searched..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| self.searched + i)
        {
            // A whole line is whole UTF-8 (a line end is never inside a character).
            if let Ok(line) = std::str::from_utf8(&self.pending[start..end]) {
                let line = line.to_owned();
                pieces.extend(self.piece(&line));
            }
            start = end + 1;
            self.searched = start;
        }
        self.pending.drain(..start);
        self.searched = self.pending.len();
        pieces
    }

    fn piece(&mut self, line: &str) -> Option<Piece> {
        let data = line
            .trim_start_matches('\u{feff}')
            .strip_prefix("data:")?
            .trim();
        let event: Value = serde_json::from_str(data).ok()?;
        let text = match self.provider {
            Provider::Openai => event["choices"][0]["delta"]["content"].as_str(),
            Provider::Anthropic => match event["type"].as_str()? {
                "content_block_start" => {
                    let block = &event["content_block"];
                    let tool =
                        block["type"] == "tool_use" && block["name"] == super::anthropic::TOOL;
                    let drills = tool && !std::mem::replace(&mut self.tool_seen, true);
                    return Some(Piece::Block { drills });
                }
                "content_block_delta" => event["delta"]["partial_json"]
                    .as_str()
                    .or_else(|| event["delta"]["text"].as_str()),
                _ => None,
            },
        }?;
        (!text.is_empty()).then(|| Piece::Text(text.to_owned()))
    }
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

    /// Every split of the body, even inside a multi-byte character, gives the same text.
    #[test]
    fn deltas_are_the_same_text_at_every_split() {
        let openai = concat!(
            "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"{\\\"dri\"},\"finish_reason\":null}]}\n\n",
            ": keep-alive comment\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"lls: é🎲\"},\"finish_reason\":\"stop\"}]}\r\n\r\n",
            "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n",
            "data: [DONE]\n\n"
        );
        let anthropic = concat!(
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"Here:\"}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"name\":\"submit_drills\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"drills\\\":ü\"}}\n\n",
        );
        let text = |p: &[Piece]| -> Vec<String> {
            p.iter()
                .map(|p| match p {
                    Piece::Text(t) => t.clone(),
                    Piece::Block { drills: true } => "|drills:".into(),
                    Piece::Block { drills: false } => "|".into(),
                })
                .collect::<Vec<_>>()
                .concat()
                .split('|')
                .map(str::to_owned)
                .collect()
        };
        for (provider, body, want) in [
            (Provider::Openai, openai, vec!["{\"drills: é🎲"]),
            (
                Provider::Anthropic,
                anthropic,
                vec!["", "Here:", "drills:{\"drills\":ü"],
            ),
        ] {
            let bytes = body.as_bytes();
            for cut in 0..=bytes.len() {
                let mut d = Deltas::new(provider);
                let mut pieces = d.push(&bytes[..cut]);
                pieces.extend(d.push(&bytes[cut..]));
                assert_eq!(text(&pieces), want, "{provider:?} split at byte {cut}");
            }
        }
    }

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
