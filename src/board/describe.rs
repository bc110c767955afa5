//! The words of the board: the default `<title>` and the `<desc>` text. The picture uses colour to
//! tell the sides apart; this text carries every fact on its own, for screen readers and for
//! anyone who cannot tell the colours apart.

use std::fmt::Write;

use super::xgid::{Board, Dice, Side};

/// Points as the player on roll numbers them, which is how the board labels them.
pub(super) fn display_point(board: &Board, side: Side, own_point: u8) -> u8 {
    if side == board.turn() {
        own_point
    } else {
        25 - own_point
    }
}

/// "Backgammon position, White to play 2-1".
pub(super) fn write_title(out: &mut String, board: &Board) {
    out.push_str("Backgammon position, ");
    write_turn(out, board);
}

/// Who is on roll and what the dice say: "White to play 2-1", "White on roll, dice not rolled".
fn write_turn(out: &mut String, board: &Board) {
    let me = board.turn().name();
    let _ = match board.dice() {
        Dice::Rolled([a, b]) => write!(out, "{me} to play {}-{}", a.max(b), a.min(b)),
        Dice::NotRolled => write!(out, "{me} on roll, dice not rolled"),
        Dice::Doubled => write!(out, "{me}'s turn, a double has been offered"),
        Dice::Beavered => write!(out, "{me}'s turn, the double has been beavered"),
        Dice::Raccooned => write!(out, "{me}'s turn, the beaver has been raccooned"),
    };
}

/// The full text description, in the order a player reads a board: turn and dice, race, cube,
/// score, then where every checker is.
pub(super) fn write_description(out: &mut String, board: &Board) {
    let me = board.turn();
    let opp = me.opponent();
    write_turn(out, board);
    let _ = write!(
        out,
        ". Pip counts: {} {}, {} {}. ",
        me.name(),
        board.pip_count(me),
        opp.name(),
        board.pip_count(opp)
    );
    write_cube(out, board);
    write_game(out, board);
    let _ = write!(
        out,
        " Points are numbered from {0}'s side: {0} moves from point 24 toward the home board, \
         points 1 to 6 at the bottom right.",
        me.name()
    );
    write_side(out, board, me);
    write_side(out, board, opp);
}

fn write_cube(out: &mut String, board: &Board) {
    let cube = board.cube();
    let _ = match cube.owner {
        None => write!(out, "Cube: centred at {}.", cube.value),
        Some(owner) => write!(out, "Cube: {}, owned by {}.", cube.value, owner.name()),
    };
}

fn write_game(out: &mut String, board: &Board) {
    let length = board.match_length();
    if length == 0 {
        out.push_str(" Money game");
        if board.jacoby() {
            out.push_str(", Jacoby rule");
        }
        if board.beaver() {
            out.push_str(", beavers allowed");
        }
    } else {
        let me = board.turn();
        let opp = me.opponent();
        let _ = write!(
            out,
            " Match to {length} points, score {} {}, {} {}",
            me.name(),
            board.score(me),
            opp.name(),
            board.score(opp)
        );
        if board.is_crawford() {
            out.push_str(", Crawford game");
        }
    }
    out.push('.');
}

/// "White (light checkers): 2 on point 24, 5 on point 13; 1 on the bar; none borne off." Points
/// are listed in the direction that side moves.
fn write_side(out: &mut String, board: &Board, side: Side) {
    let checkers = board.checkers(side);
    let shade = if side == Side::Bottom {
        "light"
    } else {
        "dark"
    };
    let _ = write!(out, " {} ({shade} checkers): ", side.name());
    let mut listed = 0;
    // Own point 24 first: the far end of the board for that side.
    for own in (1..=24u8).rev() {
        let n = checkers.on_point(usize::from(own));
        if n > 0 {
            let sep = if listed == 0 { "" } else { ", " };
            let point = display_point(board, side, own);
            let _ = write!(out, "{sep}{n} on point {point}");
            listed += 1;
        }
    }
    if listed == 0 {
        out.push_str("none on the points");
    }
    let _ = match checkers.bar() {
        0 => write!(out, "; none on the bar"),
        n => write!(out, "; {n} on the bar"),
    };
    let _ = match checkers.off() {
        0 => write!(out, "; none borne off."),
        n => write!(out, "; {n} borne off."),
    };
}
