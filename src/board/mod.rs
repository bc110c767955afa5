//! Backgammon positions given as XGID strings, parsed and drawn as accessible SVG boards.
//!
//! An XGID is `XGID=` (optional) and ten `:`-separated fields. The first is 26 characters: the top
//! player's bar, points 1 to 24 as the bottom player numbers them, the bottom player's bar; `-` is
//! empty, `A`-`P` are 1-16 checkers of the bottom player, `a`-`p` of the top player. Then come the
//! cube as log2, the cube owner (1 bottom, -1 top, 0 centre), the turn (1 bottom, -1 top), the dice
//! (`00` not rolled, `D`/`B`/`R` double offered/beavered/raccooned, or two digits 1-6), the bottom
//! and top scores, the Crawford flag (match) or Jacoby/beaver bits (money), the match length
//! (0 = money) and the max cube as log2. Example, the opening 2-1:
//! `XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0:10`.
//!
//! The SVG is drawn from the side of the player on roll and carries a `<title>` and a `<desc>`
//! that state every fact of the position in words.

mod describe;
mod svg;
mod xgid;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use svg::{SvgOptions, render_svg};
pub use xgid::{Board, CHECKERS_PER_SIDE, Checkers, Cube, Dice, MAX_XGID_LEN, Side};

use crate::error::{DrillgenError, Result};

/// Prefix of the `<title>` and `<desc>` ids when none is given.
pub const DEFAULT_ID_PREFIX: &str = "drillgen-board";
pub const MAX_ID_PREFIX_LEN: usize = 40;
/// Longest accepted `title`, in characters: a title is one line for a screen reader.
pub const MAX_TITLE_CHARS: usize = 200;

/// How to render a board. Both fields are optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(target_arch = "wasm32", derive(tsify::Tsify))]
#[serde(rename_all = "camelCase", default)]
pub struct BoardOptions {
    /// Replaces the generated `<title>` text ("Backgammon position, White to play 2-1"); at most
    /// 200 characters. Empty or blank counts as not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Prefix of the element ids (`<prefix>-title`, `<prefix>-desc`); give each board on a page its
    /// own. An ASCII letter, then letters, digits, `-` or `_`; at most 40 characters. Default
    /// "drillgen-board".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_prefix: Option<String>,
}

impl BoardOptions {
    /// Checks the options and borrows them in the form the renderer takes.
    pub fn check(&self) -> Result<SvgOptions<'_>> {
        let title = self.title.as_deref().filter(|t| !t.trim().is_empty());
        if let Some(title) = title {
            let chars = title.chars().count();
            if chars > MAX_TITLE_CHARS {
                return Err(DrillgenError::InvalidOptions(format!(
                    "title must be at most {MAX_TITLE_CHARS} characters, got {chars}"
                )));
            }
        }
        let id_prefix = self.id_prefix.as_deref().unwrap_or(DEFAULT_ID_PREFIX);
        if !is_id_prefix(id_prefix) {
            return Err(DrillgenError::InvalidOptions(format!(
                "idPrefix must start with an ASCII letter and hold only ASCII letters, digits, '-' \
                 and '_', at most {MAX_ID_PREFIX_LEN} characters; got {:?}",
                truncate(id_prefix, MAX_ID_PREFIX_LEN + 10)
            )));
        }
        Ok(SvgOptions { title, id_prefix })
    }
}

/// An id has to be an XML name and a plain CSS identifier, so it may not start with a digit.
fn is_id_prefix(s: &str) -> bool {
    s.len() <= MAX_ID_PREFIX_LEN
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The first `max` characters, so an error message never quotes a huge input in full.
fn truncate(s: &str, max: usize) -> &str {
    s.char_indices().nth(max).map_or(s, |(end, _)| &s[..end])
}

/// Parses and validates an XGID (with or without the `XGID=` prefix).
pub fn parse_xgid(xgid: &str) -> Result<Board> {
    xgid::parse(xgid)
}

/// The SVG board of `xgid`, drawn from the side of the player on roll.
pub fn render_board(xgid: &str, options: &BoardOptions) -> Result<String> {
    let options = options.check()?;
    let board = parse_xgid(xgid)?;
    Ok(render_svg(&board, &options))
}
