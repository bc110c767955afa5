//! Text that crosses a trust boundary. Everything a provider, a model or a host callback writes can
//! be hostile or huge, and some of it flows on: into error messages, progress events, logs, the next
//! prompt (retry feedback) and stored drills. Three tools keep that safe:
//! - `bound` caps a text in bytes (a 2 MiB error body must not become 2 MiB of feedback);
//! - `clean` strips control characters and caps a drill field in characters;
//! - `Redactor` removes credentials (API key, custom header values, URL credentials), and runs
//!   *before* bounding so a secret cut in half by the bound cannot survive as a prefix.

use std::borrow::Cow;

/// Longest error message, event field or feedback text, in bytes (UTF-8).
pub const MAX_MESSAGE_BYTES: usize = 2048;

/// `text` cut to at most `max_bytes` bytes on a character boundary, the cut marked with "…".
pub fn bound(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let room = max_bytes.saturating_sub(CUT.len_utf8());
    let mut cut = room.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!("{}{CUT}", &text[..cut]))
}

/// Characters no drill or message should carry: C0/C1 controls (but newline and tab) and the
/// Unicode bidirectional overrides that can make a text display differently from what it says.
fn is_unwanted(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A drill field as a student should see it: unwanted characters removed, tabs as spaces, newlines
/// kept only when `multiline`, trimmed, and at most `max_chars` characters (cut at a word boundary
/// when one is near, marked with "…").
pub fn clean(text: &str, max_chars: usize, multiline: bool) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    for c in text.chars().filter(|&c| !is_unwanted(c)) {
        match c {
            '\t' => out.push(' '),
            '\n' if !multiline => out.push(' '),
            _ => out.push(c),
        }
    }
    let trimmed = out.trim();
    if trimmed.chars().count() <= max_chars {
        return trimmed.to_owned();
    }
    // One character of room for the ellipsis; prefer a space in the last fifth so words stay whole.
    let limit = max_chars.saturating_sub(1);
    let end = trimmed
        .char_indices()
        .nth(limit)
        .map_or(trimmed.len(), |(i, _)| i);
    let mut head = &trimmed[..end];
    if let Some(space) = head.rfind(' ')
        && head[..space].chars().count() * 5 >= limit * 4
    {
        head = &head[..space];
    }
    format!("{}…", head.trim_end())
}

/// A number as a message shows it (`2.5`, `1000000000000`, `NaN`), without Rust's float
/// formatting machinery (core's Grisu/Dragon code is ~30 KB of wasm): integers print as integers,
/// other floats through serde_json's shortest representation, which results need anyway.
pub fn num(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if v.fract() == 0.0 && v.abs() < 1e18 {
        return (v as i64).to_string();
    }
    // The serializer's shortest form (serde_json's `Number` Display would use core's).
    serde_json::to_string(&v).unwrap_or_else(|_| "NaN".into())
}

/// `v` with exactly `decimals` decimals (at most 6), and a `+` for positives when `plus`.
pub fn fixed(v: f64, decimals: u32, plus: bool) -> String {
    if !v.is_finite() {
        return num(v);
    }
    let scale = 10i64.pow(decimals.min(6));
    let scaled = (v * scale as f64).round();
    // Past 2^53 a float has no decimals to show, and the cast to i64 would saturate.
    if scaled.abs() >= 9.0e15 {
        return format!("{}{}", if plus && v > 0.0 { "+" } else { "" }, num(v));
    }
    let scaled = scaled as i64;
    let sign = if scaled < 0 {
        "-"
    } else if plus {
        "+"
    } else {
        ""
    };
    let (whole, part) = (
        scaled.unsigned_abs() / scale as u64,
        scaled.unsigned_abs() % scale as u64,
    );
    if decimals == 0 {
        return format!("{sign}{whole}");
    }
    format!(
        "{sign}{whole}.{part:0width$}",
        width = decimals.min(6) as usize
    )
}

/// Removes credentials from text that came back from elsewhere (an error body echoing headers, a
/// URL in a network error). Secrets shorter than 4 bytes are not searched for: they would mangle
/// ordinary text and protect nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redactor {
    /// Longest first, so a secret that contains another is removed whole.
    secrets: Vec<String>,
}

pub const REDACTED: &str = "[redacted]";

/// Whether a custom header's value is treated as a credential: any value under a credential-like
/// name, and any value of 8 bytes or more (short values elsewhere, `true` or `1`, would only
/// mangle text).
pub fn header_is_secret(name: &str, value: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let sensitive = [
        "auth",
        "key",
        "token",
        "secret",
        "cookie",
        "session",
        "password",
        "signature",
    ]
    .iter()
    .any(|s| name.contains(s));
    sensitive || value.len() >= 8
}

impl Redactor {
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 4).collect();
        // JSON text (results, events) carries a secret in its escaped form.
        let escaped: Vec<String> = secrets
            .iter()
            .filter_map(|s| {
                let json = serde_json::to_string(s).ok()?;
                let inner = json[1..json.len() - 1].to_owned();
                (inner != *s).then_some(inner)
            })
            .collect();
        secrets.extend(escaped);
        crate::order::sort_by(&mut secrets, |a, b| (b.len(), a) < (a.len(), b));
        secrets.dedup();
        Self { secrets }
    }

    /// Nothing to redact (drills, which the model wrote without ever seeing a credential).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), REDACTED));
            }
        }
        if out.contains(CUT) {
            out = Cow::Owned(self.redact_cut_secrets(&out));
        }
        out
    }

    /// A text bounded before it reached here (a provider's error body, a host's message) may end
    /// a piece with the start of a secret, then the cut mark: that start goes too.
    fn redact_cut_secrets(&self, text: &str) -> String {
        let mut pieces: Vec<&str> = text.split(CUT).collect();
        let last = pieces.pop().unwrap_or_default();
        let mut out = String::with_capacity(text.len());
        for piece in pieces {
            let start = self
                .secrets
                .iter()
                .filter_map(|s| cut_start(piece, s))
                .min()
                .unwrap_or(piece.len());
            out.push_str(&piece[..start]);
            if start < piece.len() {
                out.push_str(REDACTED);
            }
            out.push(CUT);
        }
        out.push_str(last);
        out
    }

    /// Redacted, then bounded to `MAX_MESSAGE_BYTES`: the form of every message drillgen returns.
    pub fn message(&self, text: &str) -> String {
        bound(&self.redact(text), MAX_MESSAGE_BYTES).into_owned()
    }
}

/// The mark `bound` puts where it cut.
const CUT: char = '…';

/// Where `piece` ends with a start of `secret` at least 4 bytes long, if it does (a shorter one,
/// `sk-`, tells nothing).
fn cut_start(piece: &str, secret: &str) -> Option<usize> {
    (4..secret.len())
        .rev()
        .filter(|&n| secret.is_char_boundary(n))
        .find(|&n| piece.ends_with(&secret[..n]))
        .map(|n| piece.len() - n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_cuts_on_a_character_boundary_and_marks_the_cut() {
        assert_eq!(bound("short", 10), "short");
        let long = "é".repeat(3000);
        let cut = bound(&long, 2048);
        assert!(cut.len() <= 2048, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(cut.trim_end_matches('…').chars().all(|c| c == 'é'));
    }

    #[test]
    fn clean_strips_controls_and_bidi_overrides_and_caps_at_a_word() {
        assert_eq!(
            clean("  Hit\u{0007} the\tblot\u{202E}!\n", 80, false),
            "Hit the blot!"
        );
        assert_eq!(clean("line one\nline two", 80, true), "line one\nline two");
        assert_eq!(clean("line one\nline two", 80, false), "line one line two");
        let title = clean(&"word ".repeat(40), 80, false);
        assert!(title.chars().count() <= 80, "{title}");
        assert!(title.ends_with("word…"), "{title}");
        let unbroken = clean(&"x".repeat(200), 80, false);
        assert_eq!(unbroken.chars().count(), 80);
    }

    #[test]
    fn numbers_print_without_float_formatting() {
        assert_eq!(
            (
                num(5.0),
                num(-0.0),
                num(2.5),
                num(1e12),
                num(f64::NAN),
                num(f64::NEG_INFINITY)
            ),
            (
                "5".into(),
                "0".into(),
                "2.5".into(),
                "1000000000000".into(),
                "NaN".into(),
                "-Infinity".into()
            )
        );
        assert_eq!(
            (
                fixed(-0.0064, 3, true),
                fixed(0.1234, 3, true),
                fixed(1.25, 1, false),
                fixed(12.0, 0, false)
            ),
            ("-0.006".into(), "+0.123".into(), "1.3".into(), "12".into())
        );
        assert_eq!(fixed(0.0004, 3, true), "+0.000");
        // An equity no engine writes (unchecked host input) must still format, not overflow.
        assert_eq!(fixed(-1e16, 3, true), "-10000000000000000");
        assert_eq!(fixed(f64::MAX, 3, true), format!("+{}", num(f64::MAX)));
        assert_eq!(fixed(-9.2e15, 0, false), "-9200000000000000");
    }

    #[test]
    fn redaction_runs_before_the_bound_and_covers_escaped_forms() {
        let r = Redactor::new([
            "sk-live-abcdef".to_owned(),
            "p\"w\\d1".to_owned(),
            "ab".to_owned(),
        ]);
        let text = format!("{}sk-live-abcdef and ab", "x".repeat(2040));
        let m = r.message(&text);
        assert!(
            !m.contains("sk-live"),
            "no prefix of the key survives the cut: {m}"
        );
        assert!(m.len() <= MAX_MESSAGE_BYTES);
        let json = serde_json::to_string("p\"w\\d1").unwrap_or_default();
        assert_eq!(r.redact(&json), "\"[redacted]\"");
        assert_eq!(
            r.redact("ab stays"),
            "ab stays",
            "short secrets are not searched"
        );
    }

    #[test]
    fn a_secret_cut_by_an_earlier_bound_loses_its_start_too() {
        let r = Redactor::new(["sk-live-abcdef".to_owned(), "tok-9".to_owned()]);
        // A provider's error body bounded to 300 bytes before anyone could redact it.
        let body = format!("{}Bearer sk-live-abcdef", "y".repeat(280));
        let cut = bound(&body, 300).into_owned();
        assert!(
            cut.contains("sk-liv"),
            "the test cuts inside the key: {cut}"
        );
        let m = r.message(&format!("HTTP 401: {cut} (attempt 2)"));
        assert!(!m.contains("sk-l"), "{m}");
        assert!(m.ends_with("Bearer [redacted]… (attempt 2)"), "{m}");
        // Text that merely precedes a cut mark is left alone, and so are 3-byte starts.
        assert_eq!(r.redact("loading… sk-… tok…"), "loading… sk-… tok…");
    }
}
