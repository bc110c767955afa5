//! Elements of a JSON array read while the answer is still being written: the model's answer
//! (`{"drills": [{…}, {…}, …]}`) grows delta by delta, and each drill object is handed on the moment
//! its closing brace arrives — one element earlier than AI SDK's `elementStream`, which re-parses
//! the buffer on every delta and holds an element back until the next one begins.
//!
//! The scanner is a small lexer over the text so far: nesting depth, strings and their escapes,
//! and the last key of the root object. Text before the root object (prose, a code fence) is
//! skipped; an element that has not closed when the text ends is never emitted, so a truncated
//! stream keeps what closed before the cut. Every element is counted, objects or not (`7`, `null`,
//! a string, an array): the k-th element answers the k-th drill asked, as in the whole answer's
//! reading, so a stray value never shifts the drills after it onto other positions. It checks no
//! JSON grammar beyond that: each element is parsed and checked by its reader, like a whole answer.

/// Where the scanner is in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before the root object.
    Outside,
    /// Inside the root object, not in the array.
    Root,
    /// Inside the array, in its element, if one has begun.
    Array(Option<Open>),
    /// The array has closed.
    Done,
}

/// The array element being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// An object, from this byte: emitted with its text when it closes.
    Object(usize),
    /// Anything else: emitted without text at the comma or bracket that ends it.
    Other,
}

/// One element of the array: its position, and its text when it is an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub position: usize,
    pub object: Option<String>,
}

pub struct ElementScanner {
    key: &'static str,
    text: String,
    /// Next byte of `text` to read.
    at: usize,
    place: Place,
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// Where the current string began (after its quote), when it may be a root key.
    string_start: Option<usize>,
    /// The last string closed at the root's depth, until a `:` makes it the current key.
    last_string: Option<(usize, usize)>,
    key_is_ours: bool,
    /// Elements of the array begun so far.
    elements: usize,
}

impl ElementScanner {
    /// Scans for the elements of the root object's array under `key`.
    pub fn new(key: &'static str) -> Self {
        Self {
            key,
            text: String::new(),
            at: 0,
            place: Place::Outside,
            depth: 0,
            in_string: false,
            escaped: false,
            string_start: None,
            last_string: None,
            key_is_ours: false,
            elements: 0,
        }
    }

    /// Adds `delta` to the answer; returns the elements it ended.
    pub fn push(&mut self, delta: &str) -> Vec<Element> {
        self.text.push_str(delta);
        let mut ended = Vec::new();
        while self.at < self.text.len() && self.place != Place::Done {
            let i = self.at;
            let byte = self.text.as_bytes()[i];
            self.at += 1;
            if let Some(element) = self.step(byte, i) {
                ended.push(element);
            }
        }
        ended
    }

    /// Whether the array has closed: nothing more will come.
    pub fn finished(&self) -> bool {
        self.place == Place::Done
    }

    /// One byte of the answer (the structural characters are ASCII, so bytes are enough).
    fn step(&mut self, byte: u8, i: usize) -> Option<Element> {
        if self.place == Place::Outside {
            if byte == b'{' {
                self.place = Place::Root;
                self.depth = 1;
            }
            return None;
        }
        if self.in_string {
            self.string_byte(byte, i);
            return None;
        }
        if self.place == Place::Array(None) && self.depth == 2 {
            // Between elements: anything but a separator begins one.
            match byte {
                b',' | b']' | b'{' | b'[' => {}
                b if b.is_ascii_whitespace() => {}
                _ => self.begin(Open::Other),
            }
        }
        match byte {
            b'"' => {
                self.in_string = true;
                self.string_start = (self.depth == 1).then_some(i + 1);
            }
            b':' if self.depth == 1 => {
                self.key_is_ours = self
                    .last_string
                    .is_some_and(|(a, b)| &self.text[a..b] == self.key);
            }
            b',' if self.depth == 1 => self.key_is_ours = false,
            b',' if self.depth == 2 && self.place == Place::Array(Some(Open::Other)) => {
                self.place = Place::Array(None);
                return Some(self.ended(None));
            }
            b'{' | b'[' => self.open(byte, i),
            b'}' | b']' => return self.close(i),
            _ => {}
        }
        None
    }

    fn begin(&mut self, open: Open) {
        self.elements += 1;
        self.place = Place::Array(Some(open));
    }

    fn ended(&self, object: Option<String>) -> Element {
        Element {
            position: self.elements - 1,
            object,
        }
    }

    fn string_byte(&mut self, byte: u8, i: usize) {
        if self.escaped {
            self.escaped = false;
        } else if byte == b'\\' {
            self.escaped = true;
        } else if byte == b'"' {
            self.in_string = false;
            self.last_string = self.string_start.take().map(|start| (start, i));
        }
    }

    fn open(&mut self, byte: u8, i: usize) {
        self.depth += 1;
        match self.place {
            Place::Root if byte == b'[' && self.depth == 2 && self.key_is_ours => {
                self.place = Place::Array(None);
            }
            Place::Array(None) if self.depth == 3 => self.begin(if byte == b'{' {
                Open::Object(i)
            } else {
                Open::Other
            }),
            _ => {}
        }
    }

    fn close(&mut self, i: usize) -> Option<Element> {
        self.depth = self.depth.saturating_sub(1);
        match self.place {
            Place::Array(Some(Open::Object(start))) if self.depth == 2 => {
                self.place = Place::Array(None);
                Some(self.ended(Some(self.text[start..=i].to_owned())))
            }
            Place::Array(open) if self.depth == 1 => {
                self.place = Place::Done;
                (open == Some(Open::Other)).then(|| self.ended(None))
            }
            Place::Root if self.depth == 0 => {
                // A root object without the array: look for another (the model may retry in prose).
                self.place = Place::Outside;
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn scan_all(deltas: &[&str]) -> (Vec<Value>, bool) {
        let mut scanner = ElementScanner::new("drills");
        let mut out = Vec::new();
        for d in deltas {
            for element in scanner.push(d) {
                let Some(object) = element.object else {
                    continue;
                };
                out.push(serde_json::from_str(&object).expect("an element is whole JSON"));
            }
        }
        (out, scanner.finished())
    }

    #[test]
    fn each_element_is_emitted_as_its_object_closes() {
        let mut scanner = ElementScanner::new("drills");
        assert!(scanner.push(r#"{"drills": [{"title": "a"}"#).len() == 1);
        assert!(
            scanner
                .push(r#", {"title": "b", "x": {"y": [1, {"z": 2}]}"#)
                .is_empty()
        );
        assert_eq!(
            scanner.push("}").len(),
            1,
            "the second closes with its own brace"
        );
        assert!(!scanner.finished());
        assert!(scanner.push("]}").is_empty());
        assert!(scanner.finished());
    }

    #[test]
    fn every_element_counts_objects_or_not() {
        let mut scanner = ElementScanner::new("drills");
        let text = r#"{"drills": [7, {"a": 1}, "x, ]", [1, {"b": 2}], null , {"c": 3}]}"#;
        let ended: Vec<(usize, Option<String>)> = text
            .chars()
            .flat_map(|c| scanner.push(&c.to_string()))
            .map(|e| (e.position, e.object))
            .collect();
        assert_eq!(
            ended,
            [
                (0, None),
                (1, Some(r#"{"a": 1}"#.into())),
                (2, None),
                (3, None),
                (4, None),
                (5, Some(r#"{"c": 3}"#.into())),
            ]
        );
        assert!(scanner.finished());
    }

    #[test]
    fn strings_hide_braces_quotes_and_backslashes() {
        let text = r#"{"drills":[{"t":"a } ] { [ \" \\ \\\" ok"},{"t":"é 🎲 \u00e9"}]}"#;
        let (elements, done) = scan_all(&[text]);
        assert!(done);
        assert_eq!(elements[0]["t"], r#"a } ] { [ " \ \" ok"#);
        assert_eq!(elements[1]["t"], "é 🎲 é");
    }

    #[test]
    fn prose_fences_and_other_keys_are_skipped() {
        let text = "Here you go:\n```json\n{\"note\": \"drills: [{}]\", \"other\": [{\"a\": 1}], \"drills\": [{\"a\": 2}]}\n```";
        let (elements, done) = scan_all(&[text]);
        assert_eq!(elements, vec![json!({"a": 2})]);
        assert!(done);
    }

    #[test]
    fn a_truncated_answer_keeps_what_closed_before_the_cut() {
        let (elements, done) = scan_all(&[r#"{"drills":[{"a":1},{"a":2},{"a":"unfinish"#]);
        assert_eq!(elements, vec![json!({"a": 1}), json!({"a": 2})]);
        assert!(!done);
    }

    #[test]
    fn anthropic_partial_json_deltas_read_the_same() {
        // input_json_delta.partial_json pieces of a tool input, cut anywhere.
        let pieces = [
            "",
            "{\"dri",
            "lls\": [",
            "{\"title\":\"x\\",
            "\"y\"}",
            ",{}",
            "]}",
        ];
        let (elements, done) = scan_all(&pieces);
        assert_eq!(elements, vec![json!({"title": "x\"y"}), json!({})]);
        assert!(done);
    }

    // proptest is a native dev-dependency only.
    #[cfg(not(target_arch = "wasm32"))]
    mod props {
        use super::scan_all;
        use proptest::prelude::*;
        use serde_json::{Value, json};

        fn drill() -> impl Strategy<Value = Value> {
            let text = "[a-z {}\\[\\]\"\\\\:,é🎲\n]{0,12}";
            (text, text, 0u32..5).prop_map(|(title, why, n)| {
                json!({ "title": title, "explanation": why, "n": n, "nested": { "list": [n, {"k": title}] } })
            })
        }

        proptest! {
            #[test]
            fn any_split_gives_the_whole_answers_elements(
                drills in proptest::collection::vec(drill(), 0..6),
                pretty in any::<bool>(),
                cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
            ) {
                let answer = json!({ "drills": drills });
                let text = if pretty { serde_json::to_string_pretty(&answer) } else { serde_json::to_string(&answer) }.unwrap();
                let mut at: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).filter(|&i| text.is_char_boundary(i)).collect();
                at.sort_unstable();
                let mut deltas = Vec::new();
                let mut last = 0;
                for i in at.into_iter().chain([text.len()]) {
                    deltas.push(&text[last..i]);
                    last = i;
                }
                let (elements, done) = scan_all(&deltas);
                prop_assert_eq!(&elements, &drills);
                prop_assert!(done);
            }

            #[test]
            fn a_cut_anywhere_emits_exactly_the_elements_closed_before_it(
                drills in proptest::collection::vec(drill(), 1..5),
                cut in any::<prop::sample::Index>(),
            ) {
                let text = serde_json::to_string(&json!({ "drills": drills })).unwrap();
                let mut end = cut.index(text.len() + 1);
                while !text.is_char_boundary(end) { end -= 1; }
                let (elements, _) = scan_all(&[&text[..end]]);
                // Element k closed iff the text up to `end` holds its serialisation and a closing brace.
                let mut expected = Vec::new();
                let mut prefix = String::from("{\"drills\":[");
                for d in &drills {
                    if !expected.is_empty() { prefix.push(','); }
                    prefix.push_str(&serde_json::to_string(d).unwrap());
                    if prefix.len() <= end { expected.push(d.clone()); }
                }
                prop_assert_eq!(elements, expected);
            }
        }
    }
}
