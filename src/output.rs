//! Reading one batch's LLM output into drill drafts. ("Checking options" is `check`, elsewhere;
//! this module only reads what a model wrote.)
//!
//! The rule, after BAML's schema-aligned parsing: repair what cannot change meaning, reject and feed
//! back what can. Repaired: JSON wrapped in prose or a Markdown fence, trailing commas, a bare array
//! or a single drill instead of `{"drills": [...]}`, extra drills (dropped), field names in another
//! case, numbers where text was wanted, over-long or control-laden texts (cleaned and cut), and a
//! difficulty in another case or spelled easy/medium/hard (mapped) or unusable (derived from the
//! engine's equities), a blank text (filled from the engine's analysis of the position: the model
//! said nothing there, the engine did). Rejected, per drill: an item that is not an object, or a
//! missing drill (the schema admits neither); the drills that were read are kept and only the rest
//! is asked for again.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::codes::RepairCode;
use crate::drill::{
    Difficulty, DrillDraft, EXPLANATION_MAX, PRINCIPLE_MAX, QUESTION_MAX, TITLE_MAX,
};
use crate::engine::closest_gap;
use crate::error::DrillgenError;
use crate::text::{MAX_MESSAGE_BYTES, bound, clean};
use crate::types::Position;

/// What one answer gave: per requested slot, in order, a draft or why that slot was rejected; and
/// how often each repair was applied (stable codes, reported per batch).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReading {
    pub slots: Vec<Result<DrillDraft, String>>,
    pub repairs: BTreeMap<RepairCode, u32>,
}

impl BatchReading {
    fn repaired(&mut self, code: RepairCode) {
        *self.repairs.entry(code).or_default() += 1;
    }
}

/// Reads the answer for `slots` (the positions of the drills asked, in order). Fails only when
/// nothing usable is in it at all (no JSON, no drills), with a message fit to feed back.
pub fn read_batch_output(
    content: &str,
    slots: &[&Position],
) -> Result<BatchReading, DrillgenError> {
    let mut reading = BatchReading {
        slots: Vec::with_capacity(slots.len()),
        repairs: BTreeMap::new(),
    };
    let (value, extracted) = extract_json(content).ok_or_else(|| {
        invalid(format!(
            "the answer is not a JSON object with a \"drills\" array (got: {})",
            bound(content.trim(), 200)
        ))
    })?;
    if extracted {
        reading.repaired(RepairCode::JSON_EXTRACTED);
    }
    let (items, wrapped) = drills_of(value)
        .ok_or_else(|| invalid("the JSON has no \"drills\" array of drill objects".to_owned()))?;
    if wrapped {
        reading.repaired(RepairCode::DRILLS_WRAPPED);
    }
    if items.len() > slots.len() {
        reading.repaired(RepairCode::EXTRA_DRILLS_DROPPED);
    }
    let mut items = items.into_iter();
    for (k, position) in slots.iter().enumerate() {
        let slot = match items.next() {
            Some(Value::Object(fields)) => Ok(read_drill(&fields, position, &mut reading)),
            Some(_) => Err("is not a JSON object".to_owned()),
            None => Err("is missing".to_owned()),
        };
        reading
            .slots
            .push(slot.map_err(|why| format!("drill {} of {} {why}", k + 1, slots.len())));
    }
    if reading.slots.iter().all(Result::is_err) {
        return Err(invalid(feedback(&reading)));
    }
    Ok(reading)
}

/// The rejections of a reading, as one bounded message for the model's next attempt.
pub fn feedback(reading: &BatchReading) -> String {
    let problems: Vec<&str> = reading
        .slots
        .iter()
        .filter_map(|s| s.as_ref().err().map(String::as_str))
        .collect();
    bound(&problems.join("; "), MAX_MESSAGE_BYTES).into_owned()
}

fn invalid(message: String) -> DrillgenError {
    DrillgenError::InvalidOutput(bound(&message, MAX_MESSAGE_BYTES).into_owned())
}

fn read_drill(
    fields: &Map<String, Value>,
    position: &Position,
    reading: &mut BatchReading,
) -> DrillDraft {
    let text = |name: &'static str, max: usize, multiline: bool, reading: &mut BatchReading| {
        let raw = field(fields, name, reading)
            .map(as_text)
            .unwrap_or_default();
        let cleaned = clean(&raw, max, multiline);
        if cleaned.is_empty() {
            reading.repaired(RepairCode::TEXT_FROM_ENGINE);
            return clean(&from_engine(name, position), max, multiline);
        }
        if cleaned != raw {
            reading.repaired(RepairCode::TEXT_CLEANED);
        }
        cleaned
    };
    DrillDraft {
        title: text("title", TITLE_MAX, false, reading),
        principle: text("principle", PRINCIPLE_MAX, false, reading),
        question: text("question", QUESTION_MAX, true, reading),
        explanation: text("explanation", EXPLANATION_MAX, true, reading),
        difficulty: difficulty(field(fields, "difficulty", reading), position, reading),
    }
}

/// A text the model left blank, from what the engine says about the position.
fn from_engine(name: &str, p: &Position) -> String {
    let phase = p.game_phase.as_str();
    match name {
        "title" => format!(
            "{}{} · {} to play",
            &phase[..1],
            phase[1..].to_ascii_lowercase(),
            p.dice_roll
        ),
        "question" => format!("You are on roll with {}. Which play is best?", p.dice_roll),
        "principle" => lesson(&p.analysis),
        _ => p.analysis.clone(),
    }
}

/// An analysis ends on its lesson ("Principle: …", "Remember: …"): its last sentence.
fn lesson(analysis: &str) -> String {
    let trimmed = analysis.trim().trim_end_matches(['.', '!']);
    let last = trimmed.rsplit(". ").next().unwrap_or(trimmed);
    let lesson = last
        .split_once(": ")
        .filter(|(head, _)| head.len() < 40)
        .map_or(last, |(_, rest)| rest);
    format!("{lesson}.")
}

/// The field `name`, or one whose name differs only in case (a repair).
fn field<'a>(
    fields: &'a Map<String, Value>,
    name: &str,
    reading: &mut BatchReading,
) -> Option<&'a Value> {
    if let Some(v) = fields.get(name) {
        return Some(v);
    }
    let found = fields
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v);
    if found.is_some() {
        reading.repaired(RepairCode::FIELD_NAME_CASE);
    }
    found
}

fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => serde_json::to_string(n).unwrap_or_default(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn difficulty(
    value: Option<&Value>,
    position: &Position,
    reading: &mut BatchReading,
) -> Difficulty {
    let said = value
        .and_then(Value::as_str)
        .map(|s| s.trim().to_ascii_uppercase());
    let named = match said.as_deref() {
        Some("BEGINNER" | "EASY") => Some(Difficulty::Beginner),
        Some("INTERMEDIATE" | "MEDIUM") => Some(Difficulty::Intermediate),
        Some("ADVANCED" | "HARD") => Some(Difficulty::Advanced),
        _ => None,
    };
    if let Some(d) = named {
        if value.and_then(Value::as_str) != Some(d.as_str()) {
            reading.repaired(RepairCode::DIFFICULTY_NORMALIZED);
        }
        return d;
    }
    reading.repaired(RepairCode::DIFFICULTY_DERIVED);
    // A big error is easy to see, a small one is subtle: the equity the closest distractor gives up.
    match closest_gap(position) {
        Some(gap) if gap >= 0.1 => Difficulty::Beginner,
        Some(gap) if gap < 0.03 => Difficulty::Advanced,
        _ => Difficulty::Intermediate,
    }
}

/// The drills array, and whether it had to be found in another shape.
fn drills_of(value: Value) -> Option<(Vec<Value>, bool)> {
    match value {
        Value::Array(items) => Some((items, true)),
        Value::Object(mut map) => match map.remove("drills") {
            Some(Value::Array(items)) => Some((items, false)),
            Some(_) => None,
            None if ["title", "explanation", "question"]
                .iter()
                .any(|k| map.contains_key(*k)) =>
            {
                Some((vec![Value::Object(map)], true))
            }
            None => {
                let mut arrays = map.into_iter().filter_map(|(_, v)| match v {
                    Value::Array(items) => Some(items),
                    _ => None,
                });
                let only = arrays.next()?;
                arrays.next().is_none().then_some((only, true))
            }
        },
        _ => None,
    }
}

/// The JSON in an answer, and whether it had to be dug out (fence, prose, trailing commas).
fn extract_json(content: &str) -> Option<(Value, bool)> {
    let text = content.trim();
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Some((v, false));
    }
    let mut best: Option<Value> = None;
    for span in json_spans(text).into_iter().take(8) {
        let Some(v) = parse_relaxed(span) else {
            continue;
        };
        if v.get("drills").is_some_and(Value::is_array) {
            return Some((v, true));
        }
        if best.is_none() && (v.is_object() || v.is_array()) {
            best = Some(v);
        }
    }
    best.map(|v| (v, true))
}

/// Strict JSON, else with the syntax a small model gets wrong repaired (`repaired`).
fn parse_relaxed(span: &str) -> Option<Value> {
    serde_json::from_str(span)
        .ok()
        .or_else(|| serde_json::from_str(&repaired(span)).ok())
}

/// One pass: a comma before a closing bracket, outside strings, removed (`[1, 2,]` → `[1, 2]`);
/// raw control characters inside strings escaped (a small model under a loose grammar writes a
/// real line break in a text).
fn repaired(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if in_string {
            if !escaped && (c as u32) < 0x20 {
                match c {
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    '\r' => out.push_str("\\r"),
                    _ => out.push_str(&format!("\\u{:04x}", c as u32)),
                }
                continue;
            }
            escaped = !escaped && c == '\\';
            in_string = escaped || c != '"';
        } else if c == ',' && matches!(chars.clone().find(|n| !n.is_whitespace()), Some('}' | ']'))
        {
            continue;
        } else {
            in_string = c == '"';
        }
        out.push(c);
    }
    out
}

/// Top-level balanced `{…}` / `[…]` spans, outside strings, in order of appearance.
fn json_spans(text: &str) -> Vec<&str> {
    let (mut spans, mut depth, mut start) = (Vec::new(), 0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' if depth > 0 => in_string = true,
            '{' | '[' => {
                if depth == 0 {
                    start = i;
                }
                depth += 1;
            }
            '}' | ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    spans.push(&text[start..=i]);
                }
            }
            _ => {}
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sample::fixtures::position;
    use crate::types::GamePhase;

    fn positions(n: usize) -> Vec<Position> {
        (0..n)
            .map(|i| position(&format!("P{i}"), GamePhase::Early, "3-1"))
            .collect()
    }

    fn drill(title: &str) -> Value {
        json!({"title": title, "principle": "Make points", "question": "Which play?",
               "explanation": "B makes the point.", "difficulty": "BEGINNER"})
    }

    fn read(content: &str, n: usize) -> Result<BatchReading, DrillgenError> {
        let p = positions(n);
        let refs: Vec<&Position> = p.iter().collect();
        read_batch_output(content, &refs)
    }

    fn titles(r: &BatchReading) -> Vec<String> {
        r.slots
            .iter()
            .map(|s| s.as_ref().map_or("-".into(), |d| d.title.clone()))
            .collect()
    }

    #[test]
    fn a_clean_answer_is_read_without_repairs() {
        let r = read(&json!({"drills": [drill("a"), drill("b")]}).to_string(), 2).unwrap();
        assert_eq!(titles(&r), ["a", "b"]);
        assert!(r.repairs.is_empty(), "{:?}", r.repairs);
    }

    #[test]
    fn wrappers_that_cannot_change_meaning_are_repaired_and_counted() {
        let body = json!({"drills": [drill("a"), drill("b")]}).to_string();
        let cases = [
            (format!("```json\n{body}\n```"), RepairCode::JSON_EXTRACTED),
            (
                format!("Here you go:\n{body}\nHope this helps!"),
                RepairCode::JSON_EXTRACTED,
            ),
            (body.replace("}]}", "},]}"), RepairCode::JSON_EXTRACTED),
            (
                body.replace("Make points", "Make\npoints\t"),
                RepairCode::JSON_EXTRACTED,
            ),
            (
                json!([drill("a"), drill("b")]).to_string(),
                RepairCode::DRILLS_WRAPPED,
            ),
            (
                json!({"items": [drill("a"), drill("b")]}).to_string(),
                RepairCode::DRILLS_WRAPPED,
            ),
            (
                json!({"drills": [drill("a"), drill("b"), drill("c")]}).to_string(),
                RepairCode::EXTRA_DRILLS_DROPPED,
            ),
        ];
        for (content, code) in cases {
            let r = read(&content, 2).unwrap_or_else(|e| panic!("{content}: {e}"));
            assert_eq!(titles(&r), ["a", "b"], "{content}");
            assert_eq!(r.repairs.get(&code), Some(&1), "{content}: {:?}", r.repairs);
        }
    }

    #[test]
    fn field_level_repairs_keep_meaning() {
        let d = json!({"Title": 42, "principle": "P\u{0007}", "question": "Q?",
                       "explanation": "x ".repeat(2000), "difficulty": "easy"});
        let r = read(&json!({"drills": [d]}).to_string(), 1).unwrap();
        let Ok(draft) = &r.slots[0] else {
            panic!("{:?}", r.slots)
        };
        assert_eq!(
            (draft.title.as_str(), draft.principle.as_str()),
            ("42", "P")
        );
        assert!(draft.explanation.chars().count() <= EXPLANATION_MAX);
        assert_eq!(draft.difficulty, Difficulty::Beginner);
        for code in [
            RepairCode::FIELD_NAME_CASE,
            RepairCode::TEXT_CLEANED,
            RepairCode::DIFFICULTY_NORMALIZED,
        ] {
            assert!(r.repairs.contains_key(&code), "{code}: {:?}", r.repairs);
        }
        let unknown = json!({"drills": [{"title": "t", "principle": "p", "question": "q", "explanation": "e", "difficulty": "??"}]});
        let r = read(&unknown.to_string(), 1).unwrap();
        assert!(r.repairs.contains_key(&RepairCode::DIFFICULTY_DERIVED));
    }

    #[test]
    fn blank_texts_come_from_the_engine_and_missing_drills_are_rejected_one_by_one() {
        let mut blank = drill("b");
        blank["explanation"] = json!("   ");
        blank["title"] = json!("\u{0007}");
        let r = read(&json!({"drills": [drill("a"), blank, 5]}).to_string(), 4).unwrap();
        assert_eq!(titles(&r), ["a", "Early · 3-1 to play", "-", "-"]);
        let Ok(filled) = &r.slots[1] else { panic!() };
        assert_eq!(
            filled.explanation,
            positions(2)[1].analysis,
            "the engine's analysis explains the best move"
        );
        assert_eq!(r.repairs.get(&RepairCode::TEXT_FROM_ENGINE), Some(&2));
        let message = feedback(&r);
        assert!(
            message.contains("drill 3 of 4 is not a JSON object"),
            "{message}"
        );
        assert!(message.contains("drill 4 of 4 is missing"), "{message}");
        assert_eq!(
            lesson("It hits. Remember: split against few builders."),
            "split against few builders."
        );
    }

    #[test]
    fn nothing_usable_is_invalid_output_with_a_bounded_message() {
        for content in [
            "not json",
            "{\"drills\": 5}",
            "[]",
            &"x".repeat(3_000_000),
            "{\"drills\": [7, null]}",
        ] {
            let e = read(content, 2).unwrap_err();
            assert_eq!(e.code(), "INVALID_OUTPUT", "{content:.40}");
            assert!(
                e.to_string().len() <= MAX_MESSAGE_BYTES + 40,
                "{}",
                e.to_string().len()
            );
        }
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(read(&deep, 1).unwrap_err().code(), "INVALID_OUTPUT");
    }
}
