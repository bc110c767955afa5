//! Servers as they are: what they refuse, and how a run still succeeds with default settings.

use super::*;
use crate::llm::{MaxTokensField, ResponseFormat};

/// llama-cpp-python 0.3: HTTP 500 for `json_schema` (pydantic allows only text/json_object).
fn llama_cpp() -> Personality {
    Box::new(|body: &Value| {
        (body["response_format"]["type"] == "json_schema").then(|| {
            (500, r#"{"error":{"message":"[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': \"Input should be 'text' or 'json_object'\"}]","type":"internal_server_error"}}"#.to_owned())
        })
    })
}

/// A server that takes no response_format at all.
fn text_only() -> Personality {
    Box::new(|body: &Value| {
        body.get("response_format").map(|_| (400, r#"{"error":{"message":"Unrecognized request argument supplied: response_format"}}"#.to_owned()))
    })
}

/// api.openai.com with a GPT-5 model: `max_tokens` is refused.
fn gpt5() -> Personality {
    Box::new(|body: &Value| {
        body.get("max_tokens").map(|_| (400, r#"{"error":{"message":"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.","type":"invalid_request_error","param":"max_tokens","code":"unsupported_parameter"}}"#.to_owned()))
    })
}

#[test]
fn a_llama_cpp_server_works_with_default_settings() {
    let w = world();
    *w.llm.personality.borrow_mut() = Some(llama_cpp());
    let r = run(&w, options(json!({ "concurrency": 1 })));
    assert_eq!((r.status, r.drills.len()), (RunStatus::Completed, 25));
    assert_eq!(r.negotiated.response_format, ResponseFormat::JsonObject);
    assert!(
        r.batches.iter().all(|b| b.attempts == 1),
        "negotiation is not a retry"
    );
    assert_eq!(
        r.calls, 6,
        "one refused call, remembered for the rest of the run"
    );
    assert!(r.warnings.iter().any(|wn| wn.code == "FORMAT_NEGOTIATED"));
    let last = &w.llm.calls.borrow()[5].body;
    assert_eq!(last["response_format"]["type"], "json_object");
    assert_eq!(
        last["response_format"]["schema"]["properties"]["drills"]["maxItems"],
        5
    );
}

#[test]
fn concurrent_refusals_step_down_once() {
    let w = world();
    *w.llm.personality.borrow_mut() = Some(text_only());
    let r = run(&w, options(json!({ "concurrency": 4 })));
    assert_eq!(r.drills.len(), 25);
    assert_eq!(r.negotiated.response_format, ResponseFormat::Text);
    let formats: Vec<String> = r
        .warnings
        .iter()
        .filter(|wn| wn.code == "FORMAT_NEGOTIATED")
        .map(|wn| wn.message.clone())
        .collect();
    assert_eq!(
        formats.len(),
        2,
        "json_schema → json_object → text, once each: {formats:?}"
    );
}

#[test]
fn openai_gets_max_completion_tokens_and_compatible_servers_max_tokens() {
    let w = world();
    *w.llm.personality.borrow_mut() = Some(gpt5());
    let llm = json!({ "provider": "openai", "baseUrl": "https://api.openai.com/v1", "model": "gpt-5.1", "apiKey": "sk-secret-key-42" });
    let r = run(&w, options(json!({ "llm": llm })));
    assert_eq!(r.calls, 5, "right the first time on api.openai.com");
    assert_eq!(
        r.negotiated.max_tokens_field,
        MaxTokensField::MaxCompletionTokens
    );
    let first = &w.llm.calls.borrow()[0].body;
    assert!(first["max_completion_tokens"].is_u64() && first.get("max_tokens").is_none());
    assert!(
        first["prompt_cache_key"]
            .as_str()
            .is_some_and(|k| k.starts_with("drillgen-"))
    );
    let keys: std::collections::HashSet<String> = w
        .llm
        .calls
        .borrow()
        .iter()
        .map(|c| c.body["prompt_cache_key"].to_string())
        .collect();
    assert_eq!(keys.len(), 1, "one cache key for the series");
    // A compatible server gets max_tokens and no prompt_cache_key.
    let w = world();
    run(&w, options(json!({})));
    let first = &w.llm.calls.borrow()[0].body;
    assert!(first["max_tokens"].is_u64() && first.get("prompt_cache_key").is_none());
    // A proxy in front of a GPT-5 model: refused once, switched, not counted as an attempt.
    let w = world();
    *w.llm.personality.borrow_mut() = Some(gpt5());
    let r = run(&w, options(json!({ "concurrency": 1 })));
    assert_eq!((r.drills.len(), r.calls), (25, 6));
    assert_eq!(
        r.negotiated.max_tokens_field,
        MaxTokensField::MaxCompletionTokens
    );
}

#[test]
fn a_pinned_format_is_never_negotiated() {
    let w = world();
    *w.llm.personality.borrow_mut() = Some(llama_cpp());
    let llm = json!({ "provider": "openai", "baseUrl": "http://127.0.0.1:1/v1", "model": "m", "responseFormat": "json_schema" });
    let r = run(&w, options(json!({ "llm": llm, "concurrency": 1 })));
    assert_eq!(
        r.status,
        RunStatus::Failed,
        "the host asked for json_schema and the server refuses it"
    );
    assert_eq!(r.batches[0].error.as_ref().unwrap().status, Some(500));
}

#[test]
fn anthropic_spend_limits_fail_fast_and_ratelimit_headers_set_the_wait() {
    let llm = json!({ "provider": "anthropic", "baseUrl": "http://127.0.0.1:1/v1", "model": "claude-sonnet-4-5", "apiKey": "sk-ant-secret-77" });
    let w = world();
    let spend = r#"{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your specified API usage limits."}}"#;
    *w.llm.default.borrow_mut() = Some(Reply::Status(429, vec![], spend.into()));
    let r = run(&w, options(json!({ "llm": llm.clone(), "concurrency": 1 })));
    assert_eq!(w.llm.calls.borrow().len(), 1);
    assert_eq!(
        r.batches[4].error.as_ref().unwrap().code,
        ErrorCode::INSUFFICIENT_QUOTA
    );
    let w = world();
    let reset = "2023-11-14T22:13:27Z"; // 7 s after the fake clock's start
    w.llm.script(
        0,
        &[Reply::Status(
            429,
            vec![
                ("anthropic-ratelimit-tokens-remaining", "0"),
                ("anthropic-ratelimit-tokens-reset", reset),
            ],
            r#"{"error":{"message":"rate limited"}}"#.into(),
        )],
    );
    let r = run(&w, options(json!({ "llm": llm })));
    assert_eq!(r.drills.len(), 25);
    let first_sleep = w.clock.sleeps.borrow()[0];
    assert!(
        (6000..=8000).contains(&first_sleep),
        "waited {first_sleep} ms for the token limit to reset"
    );
}
