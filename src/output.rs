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
use crate::engine::{AnswerKey, closest_gap};
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

/// One drill asked for, as the reader checks it.
pub struct Expect<'a> {
    pub position: &'a Position,
    /// The drill's options and correct one, to check that the explanation names the right option.
    pub key: Option<&'a AnswerKey>,
    /// First reading of this drill: a text a student cannot read (blank, a placeholder echo, JSON
    /// debris) or an explanation naming the wrong option rejects the drill, so it is asked again
    /// once. Not strict: the text is filled from the analysis, the explanation kept but flagged.
    pub strict: bool,
}

/// Reads the answer for `slots` (the positions of the drills asked, in order), leniently: what a
/// student cannot read is filled from the analysis. Fails only when nothing usable is in it at all
/// (no JSON, no drills), with a message fit to feed back.
pub fn read_batch_output(
    content: &str,
    slots: &[&Position],
) -> Result<BatchReading, DrillgenError> {
    let expect: Vec<Expect> = slots
        .iter()
        .map(|p| Expect {
            position: p,
            key: None,
            strict: false,
        })
        .collect();
    let reading = read_batch(content, &expect)?;
    if reading.slots.iter().all(Result::is_err) {
        return Err(invalid(feedback(&reading)));
    }
    Ok(reading)
}

/// Reads the answer for `slots`, each checked as its `Expect` says. Every drill rejected is still
/// a reading: the batch asks for them again, and each is read leniently from then on (it was asked
/// again once), instead of failing the whole answer and asking strictly for ever.
pub fn read_batch(content: &str, slots: &[Expect]) -> Result<BatchReading, DrillgenError> {
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
    for (k, expect) in slots.iter().enumerate() {
        let slot = match items.next() {
            Some(Value::Object(fields)) => read_drill(&fields, expect, &mut reading),
            Some(_) => Err("is not a JSON object".to_owned()),
            None => Err("is missing".to_owned()),
        };
        reading
            .slots
            .push(slot.map_err(|why| format!("drill {} of {} {why}", k + 1, slots.len())));
    }
    Ok(reading)
}

/// Reads one element of the `drills` array as soon as it has closed in a streamed answer, by the
/// same rules as a whole answer (`None`: not a drill object, or rejected; the whole answer's reading
/// decides then). Its repairs are counted by that whole reading, not here.
pub fn read_element(element: &str, expect: &Expect) -> Option<DrillDraft> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(element) else {
        return None;
    };
    let mut scratch = BatchReading {
        slots: Vec::new(),
        repairs: BTreeMap::new(),
    };
    read_drill(&fields, expect, &mut scratch).ok()
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

/// One drill's texts; `Err` (strict reading only) says what the model must write again.
fn read_drill(
    fields: &Map<String, Value>,
    expect: &Expect,
    reading: &mut BatchReading,
) -> Result<DrillDraft, String> {
    let position = expect.position;
    let mut text = |name: &'static str, max: usize, multiline: bool| {
        let raw = field(fields, name, reading)
            .map(as_text)
            .unwrap_or_default();
        let cleaned = clean(&raw, max, multiline);
        let problem = if cleaned.is_empty() {
            Some((RepairCode::TEXT_FROM_ENGINE, "is blank".to_owned()))
        } else {
            unreadable(&cleaned).map(|why| (RepairCode::PLACEHOLDER_REPLACED, why))
        };
        if let Some((code, why)) = problem {
            if expect.strict {
                return Err(format!("has a {name} that {why}: write the {name} itself"));
            }
            reading.repaired(code);
            return Ok(clean(&from_engine(name, position), max, multiline));
        }
        if cleaned != raw {
            reading.repaired(RepairCode::TEXT_CLEANED);
        }
        Ok(cleaned)
    };
    let mut draft = DrillDraft {
        title: text("title", TITLE_MAX, false)?,
        principle: text("principle", PRINCIPLE_MAX, false)?,
        question: text("question", QUESTION_MAX, true)?,
        explanation: text("explanation", EXPLANATION_MAX, true)?,
        difficulty: Difficulty::Intermediate,
        flags: Vec::new(),
    };
    draft.difficulty = difficulty(field(fields, "difficulty", reading), position, reading);
    if let Some(why) = expect
        .key
        .and_then(|key| explanation_problem(&draft.explanation, key))
    {
        if expect.strict {
            return Err(format!("has an explanation that {why}"));
        }
        reading.repaired(RepairCode::EXPLANATION_FLAGGED);
        draft.flags.push(crate::DrillFlag::EXPLANATION_MISMATCH);
    }
    Ok(draft)
}

/// The words of our own prompt's example and field list, which a small model copies.
const PROMPT_WORDS: [&str; 8] = [
    "title",
    "principle",
    "question",
    "explanation",
    "difficulty",
    "why",
    "drills",
    "question_name",
];

/// Why a text, though not blank, is not words for a student: it is one of our field names, copies
/// a `<placeholder>` of the prompt's example, or carries JSON structure (`}, {"`).
pub fn unreadable(text: &str) -> Option<String> {
    let bare = text
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric() && c != '_')
        .to_ascii_lowercase();
    if let Some(p) = placeholder(text) {
        return Some(format!(
            "copies the placeholder {:?} of the prompt's example",
            bound(p, 60)
        ));
    }
    if PROMPT_WORDS.contains(&bare.as_str()) {
        return Some(format!("is only the field name {bare:?}"));
    }
    let mut words = bare
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .peekable();
    if words.peek().is_some() && words.all(|w| DIFFICULTY_WORDS.contains(&w)) {
        return Some("only names difficulty levels".to_owned());
    }
    if text.to_ascii_lowercase().contains("json") {
        return Some("repeats the prompt's instructions (JSON)".to_owned());
    }
    // Drill texts have no braces (moves are `8/5(2) 6/5*`): any is JSON structure.
    const DEBRIS: [&str; 5] = ["{", "}", "\"]", "[{", "\":"];
    DEBRIS
        .iter()
        .find(|d| text.contains(**d))
        .map(|d| format!("carries JSON ({d})"))
}

/// The difficulty levels the prompt lists: a text made of them only copies the list.
const DIFFICULTY_WORDS: [&str; 3] = ["beginner", "intermediate", "advanced"];

/// A `<word>` (letters and underscores, 3 or more) closed by `>`, a quote, a brace, a comma or the
/// end: the shape of the example's placeholders, whole or cut off (`<question_name`); or such a
/// word followed by more and a `>` or brace within 40 bytes (`<quiz question>`).
fn placeholder(text: &str) -> Option<&str> {
    for (i, _) in text.match_indices('<') {
        let rest = &text[i + 1..];
        let n = rest
            .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
            .unwrap_or(rest.len());
        let next = rest[n..].chars().next();
        if n >= 3 && matches!(next, None | Some('>' | '"' | '}' | ',')) {
            let end = i + 1 + n + usize::from(next == Some('>'));
            return Some(&text[i..end]);
        }
        // `<quiz question>`, `<princecode (210)}`: more words, closed by `>` or a brace nearby.
        let cut = (0..=rest.len().min(40))
            .rev()
            .find(|&k| rest.is_char_boundary(k))
            .unwrap_or(0);
        let near = &rest[..cut];
        if n >= 3
            && next == Some(' ')
            && let Some(close) = near.find(['>', '}'])
        {
            return Some(&text[i..i + 2 + close]);
        }
    }
    None
}

/// Whether an explanation fails the prompt's demand: name the correct option (its letter or its
/// move), and call no other option best. `Some(why)` when it fails.
pub fn explanation_problem(text: &str, key: &AnswerKey) -> Option<String> {
    let option = |id: &str| key.options.iter().find(|o| o.id == id);
    let correct = option(&key.correct_option_id)?;
    if !names_option(text, &correct.id, &correct.text) {
        return Some(format!(
            "names neither the correct option's letter ({}) nor its move ({}): name them",
            correct.id,
            bound(&correct.text, 60)
        ));
    }
    for sentence in text.split(['.', '!', '?', ';', '\n']) {
        let praised = PRAISE
            .iter()
            .any(|p| sentence.to_ascii_lowercase().contains(p));
        let hedged = HEDGES
            .iter()
            .any(|h| words(sentence).any(|w| w.eq_ignore_ascii_case(h)));
        if !praised || hedged || names_option(sentence, &correct.id, &correct.text) {
            continue;
        }
        if let Some(other) = key
            .options
            .iter()
            .find(|o| o.id != correct.id && names_option(sentence, &o.id, &o.text))
        {
            return Some(format!(
                "calls option {} best, but the correct option is {} ({})",
                other.id,
                correct.id,
                bound(&correct.text, 60)
            ));
        }
    }
    None
}

/// Words that call an option the right one.
const PRAISE: [&str; 7] = [
    "is best",
    "is the best",
    "is correct",
    "is the correct",
    "is right",
    "best play",
    "correct answer",
];
/// Words that turn praise around ("B is not best", "better than B").
const HEDGES: [&str; 7] = [
    "not", "isn't", "than", "instead", "rather", "never", "wrong",
];

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '/' || c == '*'))
        .filter(|w| !w.is_empty())
}

/// Whether `text` names the option: `option B`, `(B)`, `B)`, `B:` or `B is`; or every part of its
/// move (`8/5 6/5*` is named by "6/5 and 8/5").
fn names_option(text: &str, id: &str, play: &str) -> bool {
    let tokens: Vec<&str> = words(text).collect();
    let by_letter = tokens.windows(2).any(|w| {
        (["option", "answer", "choice", "play", "move"]
            .contains(&w[0].to_ascii_lowercase().as_str())
            && w[1] == id)
            || (w[0] == id && w[1] == "is")
    }) || [format!("({id})"), format!("{id})"), format!("{id}:")]
        .iter()
        .any(|form| {
            text.match_indices(form.as_str())
                .any(|(i, _)| i == 0 || !text[..i].ends_with(|c: char| c.is_alphanumeric()))
        });
    if by_letter {
        return true;
    }
    let said: Vec<String> = tokens
        .iter()
        .map(|t| crate::engine::normalize_move(t))
        .collect();
    let parts: Vec<String> = crate::engine::normalize_move(play)
        .split(' ')
        .map(str::to_owned)
        .collect();
    !parts.is_empty() && parts.iter().all(|p| p.contains('/') && said.contains(p))
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

    fn key() -> AnswerKey {
        let options = [("A", "13/10 6/5"), ("B", "8/5 6/5"), ("C", "24/21 13/12")]
            .iter()
            .map(|(id, text)| crate::drill::DrillOption {
                id: (*id).into(),
                text: (*text).into(),
            })
            .collect();
        AnswerKey {
            options,
            correct_option_id: "B".into(),
        }
    }

    /// What a tiny model wrote, copying the prompt's example: never words for a student.
    #[test]
    fn placeholder_echoes_and_json_debris_are_not_words() {
        for echo in [
            "<title>",
            "<principle>",
            "<question_name",
            "<why_explained>}, {\"",
            "<why>",
            "title",
            "Explanation:",
            "The best play\"}, {\"title\": \"x",
            "Make points\"}]}",
            // Seen from SmolLM2-135M through llama.cpp (scripts/real-model).
            "<quiz question>}",
            "<princecode (210)},",
            "Return the JSON object with exactly 5 drills. In order to create a new drill, you need to choose one",
            "BEGINNER, INTERMEDIATE/ADVANCED",
        ] {
            assert!(unreadable(echo).is_some(), "{echo:?}");
        }
        for words in [
            "Make the 5-point: it blocks the back checkers.",
            "He said \"run\", then made the bar point.",
            "Equity < 0.05 means a close call; a <3 for primes.",
            "Option B (8/5 6/5) is best.",
            "A beginner's mistake: 24/21* hits but leaves two blots.",
            "Play 8/5(2) 6/5*: the <5-point> idea is to block.",
            // Multi-byte characters near a `<word `: no slice inside one (the fuzz test found it).
            "<abcd éééééééééééééééééééééééééééééééééééééééé",
        ] {
            assert_eq!(unreadable(words), None, "{words:?}");
        }
    }

    #[test]
    fn a_strict_reading_asks_again_and_a_lenient_one_fills_from_the_analysis() {
        let p = positions(2);
        let content = json!({"drills": [drill("<title>"), drill("A title")]}).to_string();
        let expect = |strict| -> Vec<Expect> {
            p.iter()
                .map(|position| Expect {
                    position,
                    key: None,
                    strict,
                })
                .collect()
        };
        let strict = read_batch(&content, &expect(true)).unwrap();
        let why = strict.slots[0].as_ref().unwrap_err();
        assert!(why.contains("placeholder \"<title>\""), "{why}");
        assert!(strict.slots[1].is_ok());
        let lenient = read_batch(&content, &expect(false)).unwrap();
        assert_eq!(titles(&lenient), ["Early · 3-1 to play", "A title"]);
        assert_eq!(
            lenient
                .repairs
                .get(&crate::RepairCode::PLACEHOLDER_REPLACED),
            Some(&1)
        );
    }

    #[test]
    fn an_explanation_must_name_the_correct_option_and_no_other_as_best() {
        let k = key();
        for good in [
            "Option B (8/5 6/5) is best: it makes the 5-point.",
            "B) makes the point. A leaves a blot.",
            "Making the point with 6/5 8/5 is strongest; A is not best because it leaves a shot.",
            "B is best, not C.",
        ] {
            assert_eq!(explanation_problem(good, &k), None, "{good:?}");
        }
        let none = explanation_problem("Making points wins games.", &k).unwrap();
        assert!(none.contains("names neither"), "{none}");
        let wrong = explanation_problem("B) slots. Option C is the best play here.", &k).unwrap();
        assert!(wrong.contains("calls option C best"), "{wrong}");
    }
}
