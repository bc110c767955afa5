//! What a model or a server can send back, fuzzed natively:
//! - every instance of the batch schema (drawn by a small generator that walks the schema we send)
//!   is accepted, or repaired without a rejection: the schema and the reader agree;
//! - arbitrary JSON, arbitrary bytes and arbitrary HTTP responses never panic and always end in a
//!   drill reading or a coded error with a bounded message.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(not(target_arch = "wasm32"))]

use drillgen::drill::{
    EXPLANATION_MAX, PRINCIPLE_MAX, QUESTION_MAX, TITLE_MAX, batch_output_schema,
};
use drillgen::input::{Argument, from_json};
use drillgen::llm::{CallShape, HttpResponse, LlmConfig, parse_response};
use drillgen::output::read_batch_output;
use drillgen::types::Position;
use proptest::prelude::*;
use proptest::test_runner::TestRng;
use serde_json::{Map, Value, json};

fn library() -> &'static [Position] {
    static LIBRARY: std::sync::OnceLock<Vec<Position>> = std::sync::OnceLock::new();
    LIBRARY.get_or_init(|| {
        let text = include_str!("../data/positions.json");
        from_json(Argument::Positions, serde_json::from_str(text).unwrap()).unwrap()
    })
}

/// A string the schema admits (any: the schema has no length or pattern keywords), drawn from a
/// mix of plain text, blanks, control characters, bidi overrides, emoji and very long runs.
fn text(rng: &mut TestRng) -> String {
    let pieces = [
        "Make the 5-point",
        " ",
        "\n",
        "\t",
        "\u{0007}",
        "\u{202E}",
        "é",
        "🎲",
        "24/18*",
        "\"quoted\"",
        "x",
    ];
    let len = match rng.random_range(0..10) {
        0 => rng.random_range(300..3000),
        1 => 0,
        _ => rng.random_range(1..12),
    };
    (0..len)
        .map(|_| pieces[rng.random_range(0..pieces.len())])
        .collect()
}

/// A random instance of `schema` (object, array, string with enum or pattern), as a decoder held
/// to it could write it.
fn instance(schema: &Value, rng: &mut TestRng) -> Value {
    match schema["type"].as_str() {
        Some("object") => {
            let mut out = Map::new();
            for (name, sub) in schema["properties"].as_object().unwrap() {
                out.insert(name.clone(), instance(sub, rng));
            }
            Value::Object(out)
        }
        Some("array") => {
            let min = schema["minItems"].as_u64().unwrap_or(0);
            let max = schema["maxItems"].as_u64().unwrap_or(min + 3);
            let n = rng.random_range(min..=max);
            Value::Array((0..n).map(|_| instance(&schema["items"], rng)).collect())
        }
        Some("string") => match schema["enum"].as_array() {
            Some(values) => values[rng.random_range(0..values.len())].clone(),
            None => Value::String(text(rng)),
        },
        other => panic!("the generator does not know {other:?}: extend it with the schema"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn every_schema_instance_is_accepted_or_repaired(n in 1usize..=6, seed in any::<u64>()) {
        let schema = batch_output_schema(n);
        let mut rng = TestRng::from_seed(proptest::test_runner::RngAlgorithm::ChaCha, &seed.to_le_bytes().repeat(4));
        let value = instance(&schema, &mut rng);
        let lib = library();
        let slots: Vec<&Position> = lib.iter().take(n).collect();
        let reading = read_batch_output(&value.to_string(), &slots).expect("an admitted instance is read");
        prop_assert_eq!(reading.slots.len(), n);
        for slot in &reading.slots {
                let draft = slot.as_ref().expect("an admitted drill is never rejected (blank texts come from the engine)");
            for (text, max) in [(&draft.title, TITLE_MAX), (&draft.principle, PRINCIPLE_MAX), (&draft.question, QUESTION_MAX), (&draft.explanation, EXPLANATION_MAX)] {
                prop_assert!(!text.trim().is_empty());
                prop_assert!(text.chars().count() <= max, "{} > {max}", text.chars().count());
                prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
            }
        }
    }

    #[test]
    fn arbitrary_json_is_read_or_refused_with_a_code(value in arbitrary_json()) {
        let lib = library();
        let slots: Vec<&Position> = lib.iter().take(3).collect();
        match read_batch_output(&value.to_string(), &slots) {
            Ok(reading) => prop_assert_eq!(reading.slots.len(), 3),
            Err(e) => {
                prop_assert_eq!(e.code(), "INVALID_OUTPUT");
                prop_assert!(e.to_string().len() <= 2100);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let lib = library();
        let slots: Vec<&Position> = lib.iter().take(2).collect();
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = read_batch_output(&text, &slots) {
            prop_assert_eq!(e.code(), "INVALID_OUTPUT");
        }
    }

    #[test]
    fn arbitrary_responses_are_a_completion_or_a_coded_failure(
        status in prop_oneof![Just(200u16), Just(400), Just(429), Just(500), 100u16..600],
        body in prop_oneof![arbitrary_json().prop_map(|v| v.to_string()), ".{0,300}", Just(String::new())],
        anthropic in any::<bool>(),
        stream in any::<bool>(),
    ) {
        let provider = if anthropic { "anthropic" } else { "openai" };
        let config: LlmConfig = from_json(Argument::Options, json!({ "provider": provider, "baseUrl": "http://127.0.0.1:1/v1", "model": "m" })).unwrap();
        let shape = CallShape { stream, ..CallShape::default() };
        let response = HttpResponse { status, headers: vec![("retry-after".into(), "1e400".into())], body };
        match parse_response(&config, &shape, &response, 0.0) {
            Ok(c) => prop_assert!(c.usage.input_tokens <= drillgen::llm::MAX_TOKENS_PER_CALL * 3),
            Err(f) => {
                prop_assert!(!f.error.code().as_str().is_empty());
                prop_assert!(f.error.to_string().len() <= 2200, "{}", f.error.to_string().len());
            }
        }
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        prop_oneof![
            Just("title"),
            Just("drills"),
            Just("explanation"),
            Just("difficulty"),
            Just("__proto__")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    prop_oneof![
                        Just("drills".to_owned()),
                        Just("title".to_owned()),
                        Just("principle".to_owned()),
                        Just("question".to_owned()),
                        Just("explanation".to_owned()),
                        Just("difficulty".to_owned()),
                        ".{0,8}"
                    ],
                    inner
                ),
                0..8
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

#[test]
fn the_generator_draws_every_field_the_schema_names() {
    let schema = batch_output_schema(2);
    let mut rng = TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha);
    let value = instance(&schema, &mut rng);
    let item = &value["drills"][0];
    for field in [
        "title",
        "principle",
        "question",
        "explanation",
        "difficulty",
    ] {
        assert!(item.get(field).is_some(), "{field}");
    }
    assert_eq!(value["drills"].as_array().map(Vec::len), Some(2));
}
