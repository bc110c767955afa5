//! XGID text → validated [`Board`]. Every rule of the format is checked here, so the renderer can
//! rely on at most 15 checkers a side and in-range dice and cube values.

use serde::Serialize;

use crate::error::{DrillgenError, Result};
use crate::types::PipCount;

/// Inputs longer than this are refused before any parsing: a real XGID is about 50 bytes, and the
/// error message quotes pieces of the input, so it must stay small.
pub const MAX_XGID_LEN: usize = 200;
/// Checkers per side in standard backgammon.
pub const CHECKERS_PER_SIDE: u8 = 15;
/// The cube and max-cube fields are log2 values; gnubg's match ID stops at 2^15 as well.
const MAX_CUBE_LOG2: u32 = 15;
/// Generous bound for match lengths and scores; it only keeps the numbers printable.
const MAX_MATCH_POINTS: u32 = 999;
const FIELD_COUNT: usize = 10;

/// The two players as the XGID string places them: uppercase letters are the bottom player.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Side {
    Bottom,
    Top,
}

impl Side {
    pub fn opponent(self) -> Side {
        match self {
            Self::Bottom => Self::Top,
            Self::Top => Self::Bottom,
        }
    }

    /// The name used in titles and descriptions; it matches the checker colours of the SVG
    /// (light for the bottom player, dark for the top player).
    pub fn name(self) -> &'static str {
        match self {
            Self::Bottom => "White",
            Self::Top => "Black",
        }
    }
}

/// Where one side's checkers are, numbered from that side's own perspective (its home board is
/// points 1-6, it moves from 24 toward 1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkers {
    /// `points[i]` = checkers on this side's own point `i + 1`.
    points: [u8; 24],
    bar: u8,
    off: u8,
}

impl Checkers {
    /// Checkers on this side's own point `point` (1-24); 0 for any other number.
    pub fn on_point(&self, point: usize) -> u8 {
        point
            .checked_sub(1)
            .and_then(|i| self.points.get(i))
            .copied()
            .unwrap_or(0)
    }

    pub fn points(&self) -> &[u8; 24] {
        &self.points
    }

    pub fn bar(&self) -> u8 {
        self.bar
    }

    /// Checkers borne off: 15 minus those on the points and the bar.
    pub fn off(&self) -> u8 {
        self.off
    }

    /// Pips to bear everything off: each checker counts its point number, the bar counts 25.
    pub fn pips(&self) -> u32 {
        let on_points: u32 = (1u32..)
            .zip(self.points)
            .map(|(point, n)| point * u32::from(n))
            .sum();
        on_points + 25 * u32::from(self.bar)
    }

    fn on_board(&self) -> u32 {
        self.points.iter().map(|&n| u32::from(n)).sum::<u32>() + u32::from(self.bar)
    }
}

/// The dice field: a roll, not rolled yet, or a cube action in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Dice {
    /// `00`: the player on roll has not rolled (a cube decision or a roll to come).
    NotRolled,
    /// Two dice from 1 to 6, in the order the XGID gives them.
    Rolled([u8; 2]),
    /// `D`: a double has been offered.
    Doubled,
    /// `B`: the double has been beavered.
    Beavered,
    /// `R`: the beaver has been raccooned.
    Raccooned,
}

impl Dice {
    /// The roll as "high-low" (how drills write it, e.g. "2-1"), or None when nothing is rolled.
    pub fn high_low(self) -> Option<(u8, u8)> {
        match self {
            Self::Rolled([a, b]) => Some((a.max(b), a.min(b))),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cube {
    /// 1, 2, 4, … (2 to the power of the XGID field).
    pub value: u32,
    /// None when the cube is in the centre.
    pub owner: Option<Side>,
}

/// A validated position with its cube, dice and match state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Board {
    bottom: Checkers,
    top: Checkers,
    turn: Side,
    dice: Dice,
    cube: Cube,
    score_bottom: u32,
    score_top: u32,
    /// 0 for a money game.
    match_length: u32,
    /// Match play: this is the Crawford game.
    crawford: bool,
    /// Money play: the Jacoby rule is on.
    jacoby: bool,
    /// Money play: beavers are allowed.
    beaver: bool,
    max_cube: u32,
}

impl Board {
    pub fn checkers(&self, side: Side) -> &Checkers {
        match side {
            Side::Bottom => &self.bottom,
            Side::Top => &self.top,
        }
    }

    /// The player on roll (or to decide on the cube).
    pub fn turn(&self) -> Side {
        self.turn
    }

    pub fn dice(&self) -> Dice {
        self.dice
    }

    pub fn cube(&self) -> Cube {
        self.cube
    }

    pub fn score(&self, side: Side) -> u32 {
        match side {
            Side::Bottom => self.score_bottom,
            Side::Top => self.score_top,
        }
    }

    /// 0 for a money game.
    pub fn match_length(&self) -> u32 {
        self.match_length
    }

    pub fn is_crawford(&self) -> bool {
        self.crawford
    }

    pub fn jacoby(&self) -> bool {
        self.jacoby
    }

    pub fn beaver(&self) -> bool {
        self.beaver
    }

    pub fn max_cube(&self) -> u32 {
        self.max_cube
    }

    pub fn pip_count(&self, side: Side) -> u32 {
        self.checkers(side).pips()
    }

    /// Pip counts as the position library stores them: `player` is the player on roll,
    /// `opponent` the other side.
    pub fn pip_counts(&self) -> PipCount {
        PipCount {
            player: self.pip_count(self.turn),
            opponent: self.pip_count(self.turn.opponent()),
        }
    }

    pub fn borne_off(&self, side: Side) -> u8 {
        self.checkers(side).off()
    }
}

fn invalid(message: String) -> DrillgenError {
    DrillgenError::InvalidXgid(message)
}

/// Parses `XGID=position:cube:owner:turn:dice:scoreBottom:scoreTop:crawfordJacoby:match:maxCube`
/// (the `XGID=` prefix is optional; surrounding whitespace is ignored).
pub fn parse(input: &str) -> Result<Board> {
    if input.len() > MAX_XGID_LEN {
        return Err(invalid(format!(
            "an XGID is at most {MAX_XGID_LEN} bytes long, got {} bytes",
            input.len()
        )));
    }
    let text = input.trim();
    let body = text.strip_prefix("XGID=").unwrap_or(text);
    let f = split_fields(body)?;
    let (bottom, top) = parse_position(f[0])?;
    let cube_log2 = number(f[1], "the cube field", MAX_CUBE_LOG2)?;
    let owner = side_or_centre(f[2], "the cube owner")?;
    let turn = match side_or_centre(f[3], "the turn") {
        Ok(Some(side)) => side,
        _ => {
            return Err(invalid(format!(
                "the turn must be 1 (bottom player) or -1 (top player), got {:?}",
                f[3]
            )));
        }
    };
    let dice = parse_dice(f[4])?;
    let score_bottom = number(f[5], "the bottom player's score", MAX_MATCH_POINTS)?;
    let score_top = number(f[6], "the top player's score", MAX_MATCH_POINTS)?;
    let rules = number(f[7], "the Crawford/Jacoby field", 3)?;
    let match_length = number(f[8], "the match length", MAX_MATCH_POINTS)?;
    let max_cube_log2 = number(f[9], "the max cube field", MAX_CUBE_LOG2)?;
    if cube_log2 > max_cube_log2 {
        return Err(invalid(format!(
            "the cube (2^{cube_log2}) is above the max cube (2^{max_cube_log2})"
        )));
    }
    let board = Board {
        bottom,
        top,
        turn,
        dice,
        cube: Cube {
            value: 1 << cube_log2,
            owner,
        },
        score_bottom,
        score_top,
        match_length,
        crawford: match_length > 0 && rules & 1 == 1,
        jacoby: match_length == 0 && rules & 1 == 1,
        beaver: match_length == 0 && rules & 2 == 2,
        max_cube: 1 << max_cube_log2,
    };
    check_match_state(&board, rules)?;
    Ok(board)
}

/// Exactly ten fields, without allocating: the position and nine numbers.
fn split_fields(body: &str) -> Result<[&str; FIELD_COUNT]> {
    let mut fields = [""; FIELD_COUNT];
    let mut count = 0;
    for part in body.split(':') {
        let Some(slot) = fields.get_mut(count) else {
            return Err(invalid(format!(
                "an XGID has {FIELD_COUNT} colon-separated fields, this one has more"
            )));
        };
        *slot = part;
        count += 1;
    }
    if count < FIELD_COUNT {
        return Err(invalid(format!(
            "an XGID has {FIELD_COUNT} colon-separated fields (position, cube, cube owner, turn, \
             dice, bottom score, top score, Crawford/Jacoby, match length, max cube), got {count}"
        )));
    }
    Ok(fields)
}

/// 26 characters: the top player's bar, points 1-24 as the bottom player numbers them, the bottom
/// player's bar. Point `p` of the bottom player is point `25 - p` of the top player.
fn parse_position(field: &str) -> Result<(Checkers, Checkers)> {
    let len = field.chars().count();
    if len != 26 {
        return Err(invalid(format!(
            "the position field has 26 characters (two bars and 24 points), got {len}"
        )));
    }
    let mut bottom = Checkers::default();
    let mut top = Checkers::default();
    for (i, c) in field.chars().enumerate() {
        let (side, n) = match c {
            '-' => continue,
            'A'..='P' => (Side::Bottom, c as u8 - b'A' + 1),
            'a'..='p' => (Side::Top, c as u8 - b'a' + 1),
            _ => {
                return Err(invalid(format!(
                    "position character {} is {c:?}: use '-' for empty, 'A'-'P' for 1-16 bottom \
                     checkers or 'a'-'p' for 1-16 top checkers",
                    i + 1
                )));
            }
        };
        let slot = match (i, side) {
            (0, Side::Top) => &mut top.bar,
            (25, Side::Bottom) => &mut bottom.bar,
            (0, Side::Bottom) | (25, Side::Top) => {
                return Err(invalid(format!(
                    "position character {} is {c:?}, but that slot is the {} player's bar",
                    i + 1,
                    if i == 0 { "top" } else { "bottom" }
                )));
            }
            (p, Side::Bottom) => &mut bottom.points[p - 1],
            (p, Side::Top) => &mut top.points[24 - p],
        };
        *slot = n;
    }
    for (checkers, who) in [(&mut bottom, "bottom"), (&mut top, "top")] {
        let total = checkers.on_board();
        let Some(off) = u32::from(CHECKERS_PER_SIDE)
            .checked_sub(total)
            .and_then(|off| u8::try_from(off).ok())
        else {
            return Err(invalid(format!(
                "the {who} player has {total} checkers on the board, at most \
                 {CHECKERS_PER_SIDE} are allowed"
            )));
        };
        checkers.off = off;
    }
    Ok((bottom, top))
}

/// A plain decimal number: digits only (no sign, no spaces), at most `max`.
fn number(field: &str, what: &str, max: u32) -> Result<u32> {
    let digits_only =
        !field.is_empty() && field.len() <= 4 && field.bytes().all(|b| b.is_ascii_digit());
    match field.parse::<u32>() {
        Ok(value) if digits_only && value <= max => Ok(value),
        _ => Err(invalid(format!(
            "{what} must be a whole number from 0 to {max}, got {field:?}"
        ))),
    }
}

/// `1` bottom, `-1` top, `0` neither (centred cube).
fn side_or_centre(field: &str, what: &str) -> Result<Option<Side>> {
    match field {
        "1" => Ok(Some(Side::Bottom)),
        "-1" => Ok(Some(Side::Top)),
        "0" => Ok(None),
        _ => Err(invalid(format!(
            "{what} must be 1 (bottom player), -1 (top player) or 0, got {field:?}"
        ))),
    }
}

fn parse_dice(field: &str) -> Result<Dice> {
    match field.as_bytes() {
        b"00" => Ok(Dice::NotRolled),
        b"D" => Ok(Dice::Doubled),
        b"B" => Ok(Dice::Beavered),
        b"R" => Ok(Dice::Raccooned),
        &[a @ b'1'..=b'6', b @ b'1'..=b'6'] => Ok(Dice::Rolled([a - b'0', b - b'0'])),
        _ => Err(invalid(format!(
            "the dice must be two digits from 1 to 6, 00 (not rolled), D (doubled), B (beavered) \
             or R (raccooned), got {field:?}"
        ))),
    }
}

/// Match play: scores below the match length, a Crawford flag only when exactly one player is
/// one point away; the rules field is a Crawford flag (0/1) there and Jacoby/beaver bits (0-3) in
/// money play.
fn check_match_state(board: &Board, rules: u32) -> Result<()> {
    let length = board.match_length;
    if length == 0 {
        return Ok(());
    }
    if rules > 1 {
        return Err(invalid(format!(
            "in match play the Crawford field is 0 or 1, got {rules}"
        )));
    }
    for side in [Side::Bottom, Side::Top] {
        let score = board.score(side);
        if score >= length {
            return Err(invalid(format!(
                "the {} score {score} is not below the match length {length}",
                if side == Side::Bottom {
                    "bottom"
                } else {
                    "top"
                }
            )));
        }
    }
    let one_away = [Side::Bottom, Side::Top]
        .iter()
        .filter(|&&s| board.score(s) + 1 == length)
        .count();
    if board.crawford && one_away != 1 {
        return Err(invalid(
            "the Crawford game needs exactly one player 1 point away from winning".into(),
        ));
    }
    Ok(())
}
