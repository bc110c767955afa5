//! [`Board`] → SVG text, drawn from the side of the player on roll: their home board is bottom
//! right, points 1-12 run right to left along the bottom and 13-24 left to right along the top.
//! Everything is written into one `String` with integer coordinates, so the same board always gives
//! the same bytes.

use std::fmt::Write;

use super::describe::{display_point, write_description, write_title};
use super::xgid::{Board, Dice, Side};

/// Validated rendering options; built by [`super::BoardOptions::check`] or `default()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvgOptions<'a> {
    pub(super) title: Option<&'a str>,
    pub(super) id_prefix: &'a str,
}

impl Default for SvgOptions<'_> {
    fn default() -> Self {
        Self {
            title: None,
            id_prefix: super::DEFAULT_ID_PREFIX,
        }
    }
}

// Geometry (viewBox units). The cube column is left of the frame, the bear-off tray right of the
// home boards; text lines sit above and below the frame.
const WIDTH: i32 = 556;
const HEIGHT: i32 = 452;
const R: i32 = 15; // checker radius
const STEP: i32 = 30; // centre distance of stacked checkers
const SHOWN: u8 = 5; // checkers drawn per stack; a count label says how many there are
const PW: i32 = 32; // point width
const FRAME_X: i32 = 50;
const LEFT_X: i32 = 60;
const BAR_X: i32 = 252;
const BAR_W: i32 = 40;
const RIGHT_X: i32 = 292;
const HALF_W: i32 = 6 * PW;
const TRAY_X: i32 = 494;
const TRAY_W: i32 = 48;
const FIELD_TOP: i32 = 50;
const FIELD_BOTTOM: i32 = 400;
const MID_Y: i32 = 225;
const CUBE_CX: i32 = 25;

const INK: &str = "#222";

struct Palette {
    fill: &'static str,
    stroke: &'static str,
    /// Text on this checker colour.
    ink: &'static str,
}

fn palette(side: Side) -> Palette {
    match side {
        Side::Bottom => Palette {
            fill: "#f7f4ec",
            stroke: "#2a2a2a",
            ink: "#111",
        },
        Side::Top => Palette {
            fill: "#242424",
            stroke: "#d8d8d8",
            ink: "#fff",
        },
    }
}

/// The whole SVG document for `board`.
pub fn render_svg(board: &Board, options: &SvgOptions<'_>) -> String {
    let mut out = String::with_capacity(9 * 1024);
    write_head(&mut out, board, options);
    write_frame(&mut out);
    write_points(&mut out);
    write_checkers(&mut out, board);
    write_tray(&mut out, board);
    write_cube(&mut out, board);
    write_dice(&mut out, board);
    write_labels(&mut out, board);
    out.push_str("</svg>");
    out
}

fn write_head(out: &mut String, board: &Board, options: &SvgOptions<'_>) {
    let p = options.id_prefix;
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-labelledby=\"{p}-title {p}-desc\" font-family=\"sans-serif\"><title id=\"{p}-title\">"
    );
    match options.title {
        Some(title) => escape_into(out, title),
        None => write_title(out, board),
    }
    let _ = write!(out, "</title><desc id=\"{p}-desc\">");
    // Generated text is plain words and numbers (no markup characters), so it is written as is;
    // the well-formedness tests would catch a wording change that broke this.
    write_description(out, board);
    out.push_str("</desc>");
}

fn write_frame(out: &mut String) {
    let _ = write!(
        out,
        "<rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fbf8f1\"/>\
         <rect x=\"{FRAME_X}\" y=\"40\" width=\"502\" height=\"370\" rx=\"4\" fill=\"#5a3b22\"/>\
         <g fill=\"#eadcb9\"><rect x=\"{LEFT_X}\" y=\"{FIELD_TOP}\" width=\"{HALF_W}\" height=\"350\"/>\
         <rect x=\"{RIGHT_X}\" y=\"{FIELD_TOP}\" width=\"{HALF_W}\" height=\"350\"/></g>\
         <rect x=\"{TRAY_X}\" y=\"{FIELD_TOP}\" width=\"{TRAY_W}\" height=\"350\" fill=\"#8b6a45\"/>"
    );
}

/// Centre x of a point numbered from the player on roll's side.
fn point_x(point: u8) -> i32 {
    let q = i32::from(point);
    match q {
        1..=6 => RIGHT_X + (6 - q) * PW + PW / 2,
        7..=12 => LEFT_X + (12 - q) * PW + PW / 2,
        13..=18 => LEFT_X + (q - 13) * PW + PW / 2,
        _ => RIGHT_X + (q - 19) * PW + PW / 2,
    }
}

/// 24 triangles in two alternating colours, and the point numbers outside the frame.
fn write_points(out: &mut String) {
    for (colour, parity) in [("#a4483a", 1), ("#3d6b66", 0)] {
        let _ = write!(out, "<g fill=\"{colour}\">");
        for point in (1..=24u8).filter(|p| p % 2 == parity) {
            let x = point_x(point);
            let (base, tip) = if point >= 13 {
                (FIELD_TOP, FIELD_TOP + 140)
            } else {
                (FIELD_BOTTOM, FIELD_BOTTOM - 140)
            };
            let _ = write!(
                out,
                "<polygon points=\"{},{base} {},{base} {x},{tip}\"/>",
                x - PW / 2,
                x + PW / 2
            );
        }
        out.push_str("</g>");
    }
    let _ = write!(
        out,
        "<rect x=\"{BAR_X}\" y=\"{FIELD_TOP}\" width=\"{BAR_W}\" height=\"350\" fill=\"#5a3b22\"/>\
         <g font-size=\"11\" fill=\"#333\" text-anchor=\"middle\">"
    );
    for point in 1..=24u8 {
        let y = if point >= 13 { 34 } else { 424 };
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{y}\">{point}</text>",
            point_x(point)
        );
    }
    out.push_str("</g>");
}

/// One pile of checkers: checker `k` has its centre at `y0 + k * dy`.
#[derive(Clone, Copy)]
struct Stack {
    x: i32,
    y0: i32,
    dy: i32,
    n: u8,
}

impl Stack {
    fn y(self, k: u8) -> i32 {
        self.y0 + i32::from(k) * self.dy
    }
}

/// Every non-empty pile of `side`: its points, then its bar checkers. On the bar the player on roll
/// sits in the upper half (they enter into the top-right home board), the opponent in the lower.
fn stacks(board: &Board, side: Side) -> impl Iterator<Item = Stack> + '_ {
    let checkers = board.checkers(side);
    let points = (1..=24u8).map(move |own| {
        let point = display_point(board, side, own);
        let (y0, dy) = if point >= 13 {
            (FIELD_TOP + R, STEP)
        } else {
            (FIELD_BOTTOM - R, -STEP)
        };
        Stack {
            x: point_x(point),
            y0,
            dy,
            n: checkers.on_point(usize::from(own)),
        }
    });
    let (y0, dy) = if side == board.turn() {
        (MID_Y - 25 - R, -STEP)
    } else {
        (MID_Y + 25 + R, STEP)
    };
    let bar = Stack {
        x: BAR_X + BAR_W / 2,
        y0,
        dy,
        n: checkers.bar(),
    };
    points.chain(std::iter::once(bar)).filter(|s| s.n > 0)
}

/// Circles (at most five a pile) grouped per side, then the count labels of taller piles.
fn write_checkers(out: &mut String, board: &Board) {
    let sides = [board.turn(), board.turn().opponent()];
    for side in sides {
        let pal = palette(side);
        let _ = write!(
            out,
            "<g data-side=\"{}\" fill=\"{}\" stroke=\"{}\" stroke-width=\"1.5\">",
            side.name(),
            pal.fill,
            pal.stroke
        );
        for s in stacks(board, side) {
            for k in 0..s.n.min(SHOWN) {
                let _ = write!(out, "<circle cx=\"{}\" cy=\"{}\" r=\"{R}\"/>", s.x, s.y(k));
            }
        }
        out.push_str("</g>");
    }
    out.push_str("<g font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\">");
    for side in sides {
        let ink = palette(side).ink;
        for s in stacks(board, side).filter(|s| s.n > SHOWN) {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" fill=\"{ink}\">{}</text>",
                s.x,
                s.y(SHOWN - 1) + 5,
                s.n
            );
        }
    }
    out.push_str("</g>");
}

/// Borne-off checkers as thin slabs: the opponent's in the top of the tray (their home board is
/// top right), the player on roll's in the bottom, with both counts in the middle.
fn write_tray(out: &mut String, board: &Board) {
    let me = board.turn();
    for side in [me, me.opponent()] {
        let pal = palette(side);
        let _ = write!(
            out,
            "<g fill=\"{}\" stroke=\"{}\" stroke-width=\"0.75\">",
            pal.fill, pal.stroke
        );
        for k in 0..i32::from(board.borne_off(side)) {
            let y = if side == me {
                FIELD_BOTTOM - 10 * k - 9
            } else {
                FIELD_TOP + 10 * k + 1
            };
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{y}\" width=\"36\" height=\"8\" rx=\"2\"/>",
                TRAY_X + 6
            );
        }
        out.push_str("</g>");
    }
    let _ = write!(
        out,
        "<g font-size=\"12\" fill=\"#fff\" text-anchor=\"middle\">\
         <text x=\"{x}\" y=\"{}\">{} off</text><text x=\"{x}\" y=\"{}\">{} off</text></g>",
        MID_Y - 6,
        board.borne_off(me.opponent()),
        MID_Y + 16,
        board.borne_off(me),
        x = TRAY_X + TRAY_W / 2,
    );
}

/// The cube left of the board: in the middle when centred (showing 64 at value 1, as boards do),
/// at the owner's end otherwise.
fn write_cube(out: &mut String, board: &Board) {
    let cube = board.cube();
    let top = match cube.owner {
        None => MID_Y - 18,
        Some(owner) if owner == board.turn() => FIELD_BOTTOM - 36,
        Some(_) => FIELD_TOP,
    };
    let shown = if cube.owner.is_none() && cube.value == 1 {
        64
    } else {
        cube.value
    };
    let size = match shown {
        0..=99 => 18,
        100..=999 => 14,
        _ => 11,
    };
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{top}\" width=\"36\" height=\"36\" rx=\"5\" fill=\"#fff\" \
         stroke=\"{INK}\" stroke-width=\"2\"/><text x=\"{CUBE_CX}\" y=\"{}\" font-size=\"{size}\" \
         font-weight=\"bold\" text-anchor=\"middle\" fill=\"{INK}\">{shown}</text>",
        CUBE_CX - 18,
        top + 18 + size * 7 / 20
    );
}

/// Rolled dice as die faces in the right half (the player on roll's side of the bar), in that
/// player's checker colours; a cube action in progress is written there instead.
fn write_dice(out: &mut String, board: &Board) {
    let cx = RIGHT_X + HALF_W / 2;
    let note = match board.dice() {
        Dice::Rolled(faces) => {
            let pal = palette(board.turn());
            for (face, x) in faces.into_iter().zip([cx - 24, cx + 24]) {
                write_die(out, face, x, &pal);
            }
            return;
        }
        Dice::NotRolled => return,
        Dice::Doubled => "Double offered",
        Dice::Beavered => "Beavered",
        Dice::Raccooned => "Raccooned",
    };
    let _ = write!(
        out,
        "<text x=\"{cx}\" y=\"{}\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\" \
         fill=\"{INK}\">{note}</text>",
        MID_Y + 5
    );
}

fn write_die(out: &mut String, face: u8, cx: i32, pal: &Palette) {
    let _ = write!(
        out,
        "<rect x=\"{}\" y=\"{}\" width=\"32\" height=\"32\" rx=\"5\" fill=\"{}\" stroke=\"{}\" \
         stroke-width=\"1.5\"/><g fill=\"{}\">",
        cx - 16,
        MID_Y - 16,
        pal.fill,
        pal.stroke,
        pal.ink
    );
    // Pip offsets in units of 8: the centre on odd faces, corners from 2 up, middles on 6.
    const CENTRE: [(i32, i32); 1] = [(0, 0)];
    const DIAGONAL: [(i32, i32); 2] = [(-1, -1), (1, 1)];
    const ANTI: [(i32, i32); 2] = [(1, -1), (-1, 1)];
    const SIDES: [(i32, i32); 2] = [(-1, 0), (1, 0)];
    let groups: [(&[(i32, i32)], bool); 4] = [
        (&CENTRE, face % 2 == 1),
        (&DIAGONAL, face >= 2),
        (&ANTI, face >= 4),
        (&SIDES, face == 6),
    ];
    for (offsets, shown) in groups {
        for (dx, dy) in offsets.iter().filter(|_| shown) {
            let _ = write!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"3\"/>",
                cx + dx * 8,
                MID_Y + dy * 8
            );
        }
    }
    out.push_str("</g>");
}

/// A line of text per side (colour swatch, name, pips, borne off, score), the on-roll marker, and
/// the kind of game at the top right.
fn write_labels(out: &mut String, board: &Board) {
    let me = board.turn();
    let _ = write!(
        out,
        "<g font-size=\"13\" fill=\"{INK}\"><polygon points=\"36,433 36,447 47,440\"/>"
    );
    for (side, y) in [(me.opponent(), 16), (me, 444)] {
        let pal = palette(side);
        let role = if side == me { " (on roll)" } else { "" };
        let _ = write!(
            out,
            "<circle cx=\"57\" cy=\"{}\" r=\"6\" fill=\"{}\" stroke=\"{}\"/>\
             <text x=\"68\" y=\"{y}\">{}{role} · {} pips · {} off",
            y - 4,
            pal.fill,
            pal.stroke,
            side.name(),
            board.pip_count(side),
            board.borne_off(side)
        );
        if board.match_length() > 0 {
            let _ = write!(out, " · score {}", board.score(side));
        }
        out.push_str("</text>");
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"16\" text-anchor=\"end\">",
        WIDTH - 4
    );
    match board.match_length() {
        0 => out.push_str("Money game"),
        n => {
            let _ = write!(out, "Match to {n}");
            if board.is_crawford() {
                out.push_str(", Crawford");
            }
        }
    }
    out.push_str("</text></g>");
}

/// Text content or attribute value → XML: markup characters become entities, whitespace controls
/// become spaces, and characters XML 1.0 forbids become U+FFFD, so any host string stays
/// well-formed.
pub(super) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => {
                out.push(c)
            }
            _ => out.push('\u{FFFD}'),
        }
    }
}
