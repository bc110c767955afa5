//! Parsing against the position library's pip counts, validation errors, and the SVG's structure,
//! facts and geometry.

use super::*;
use crate::types::Position;

const OPENING_21: &str = "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0:10";
/// Bottom: 2 on its 1-point, 3 on its 2-point (10 off); top: 4 on its 1-point (11 off).
const BEAROFF: &str = "XGID=-BC---------------------d-:0:0:1:64:0:0:0:0:10";
/// MIDDLE-002 of the library with a checker of each side on the bar, a 6-checker point for the top
/// player, an 8-cube owned by the top player, and a 7-point match at 2-4.
const BAR_MATCH: &str = "XGID=ab-C-BCD----B-a--b-cf----A:3:-1:1:53:2:4:0:7:10";

/// Typed from JSON text through the crate's input deserializer.
fn from_text<T: serde::de::DeserializeOwned>(text: &str) -> T {
    crate::input::from_value(&serde_json::from_str(text).unwrap()).unwrap()
}

fn library() -> Vec<Position> {
    from_text(include_str!("../../data/positions.json"))
}

fn board(xgid: &str) -> Board {
    parse_xgid(xgid).unwrap()
}

fn draw(xgid: &str) -> String {
    render_board(xgid, &BoardOptions::default()).unwrap()
}

/// The same position with the colours swapped and the other player on roll: the position string
/// reversed with cases swapped, scores and cube owner swapped, turn negated.
fn mirrored(xgid: &str) -> String {
    let body = xgid.strip_prefix("XGID=").unwrap_or(xgid);
    let mut f: Vec<String> = body.split(':').map(str::to_owned).collect();
    f[0] = f[0]
        .chars()
        .rev()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect();
    let negate = |s: &str| match s {
        "1" => "-1".to_owned(),
        "-1" => "1".to_owned(),
        other => other.to_owned(),
    };
    f[2] = negate(&f[2]);
    f[3] = negate(&f[3]);
    f.swap(5, 6);
    format!("XGID={}", f.join(":"))
}

/// Checks that tags nest and close, there is one root, attribute quotes pair up and every `&`
/// starts a known entity. Enough to catch what string-built XML gets wrong.
fn assert_well_formed(svg: &str) {
    assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"), "{svg}");
    let mut open: Vec<&str> = Vec::new();
    let mut rest = svg;
    while let Some(lt) = rest.find('<') {
        assert_text(&rest[..lt]);
        let len = rest[lt..].find('>').expect("every tag closes");
        let tag = &rest[lt + 1..lt + len];
        assert!(!tag.contains('<'), "'<' inside a tag: {tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "unpaired quote in {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "closing {name}");
        } else {
            assert!(!open.is_empty() || lt == 0, "a second root element: {tag}");
            let name = tag.split([' ', '/']).next().unwrap();
            assert!(!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic()));
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
        rest = &rest[lt + len + 1..];
        if open.is_empty() {
            assert!(rest.is_empty(), "text after the root: {rest}");
        }
    }
    assert!(open.is_empty(), "unclosed: {open:?}");
}

fn assert_text(text: &str) {
    assert!(!text.contains('>'), "raw '>' in text: {text}");
    for (i, _) in text.match_indices('&') {
        let entity = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
        assert!(
            entity.iter().any(|e| text[i..].starts_with(e)),
            "bare '&' in {text}"
        );
    }
}

/// The text between `<tag ...>` and `</tag>` (first occurrence).
fn element<'a>(svg: &'a str, tag: &str) -> &'a str {
    let start = svg.find(&format!("<{tag}")).unwrap();
    let body = start + svg[start..].find('>').unwrap() + 1;
    let end = body + svg[body..].find(&format!("</{tag}>")).unwrap();
    &svg[body..end]
}

/// The checker group of one side.
fn checker_group(svg: &str, side: Side) -> &str {
    let marker = format!("<g data-side=\"{}\"", side.name());
    let start = svg.find(&marker).unwrap();
    let end = start + svg[start..].find("</g>").unwrap();
    &svg[start..end]
}

/// (cx, cy) of every circle in `group`, sorted.
fn circles(group: &str) -> Vec<(i32, i32)> {
    let mut found: Vec<(i32, i32)> = group
        .split("<circle ")
        .skip(1)
        .map(|c| (attr(c, "cx"), attr(c, "cy")))
        .collect();
    found.sort_unstable();
    found
}

fn attr(tag: &str, name: &str) -> i32 {
    let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
    let end = start + tag[start..].find('"').unwrap();
    tag[start..end].parse().unwrap()
}

fn expected_circles(b: &Board, side: Side) -> usize {
    let c = b.checkers(side);
    let shown = |n: u8| usize::from(n.min(5));
    c.points().iter().map(|&n| shown(n)).sum::<usize>() + shown(c.bar())
}

// ---- parsing ----

#[test]
fn the_starting_position() {
    let b = board(OPENING_21);
    assert_eq!(b.pip_count(Side::Bottom), 167);
    assert_eq!(b.pip_count(Side::Top), 167);
    for side in [Side::Bottom, Side::Top] {
        let c = b.checkers(side);
        let on_points: u32 = c.points().iter().map(|&n| u32::from(n)).sum();
        assert_eq!(on_points, 15);
        assert_eq!((c.bar(), b.borne_off(side)), (0, 0));
        // Every side has 2 on its 24, 5 on 13, 3 on 8, 5 on 6, counted from its own side.
        let own: Vec<(usize, u8)> = (1..=24)
            .filter(|&p| c.on_point(p) > 0)
            .map(|p| (p, c.on_point(p)))
            .collect();
        assert_eq!(own, [(6, 5), (8, 3), (13, 5), (24, 2)], "{side:?}");
    }
    assert_eq!(b.turn(), Side::Bottom);
    assert_eq!(b.dice(), Dice::Rolled([2, 1]));
    assert_eq!(b.dice().high_low(), Some((2, 1)));
    assert_eq!(
        b.cube(),
        Cube {
            value: 1,
            owner: None
        }
    );
    assert_eq!((b.match_length(), b.max_cube()), (0, 1024));
    assert!(!b.jacoby() && !b.beaver() && !b.is_crawford());
}

#[test]
fn the_prefix_and_surrounding_spaces_are_optional() {
    let b = board(OPENING_21);
    assert_eq!(board(&OPENING_21[5..]), b);
    assert_eq!(board(&format!("  {OPENING_21}\n")), b);
}

#[test]
fn pip_counts_match_every_library_position() {
    let positions = library();
    assert_eq!(positions.len(), 129);
    for p in &positions {
        let xgid = p.xgid.as_deref().unwrap();
        let expected = p.pip_count.clone().unwrap();
        let b = board(xgid);
        assert_eq!(b.pip_counts(), expected, "{}", p.position_id);
        // The same position seen from the other chair: the top player on roll.
        let flipped = board(&mirrored(xgid));
        assert_eq!(flipped.turn(), Side::Top);
        assert_eq!(flipped.pip_counts(), expected, "{} mirrored", p.position_id);
        let (hi, lo) = b.dice().high_low().unwrap();
        assert_eq!(p.dice_roll, format!("{hi}-{lo}"), "{}", p.position_id);
    }
}

#[test]
fn a_bearoff_position_counts_the_checkers_off() {
    let b = board(BEAROFF);
    assert_eq!(b.borne_off(Side::Bottom), 10);
    assert_eq!(b.borne_off(Side::Top), 11);
    assert_eq!(b.pip_count(Side::Bottom), 2 + 3 * 2);
    assert_eq!(b.pip_count(Side::Top), 4);
    let svg = draw(BEAROFF);
    let desc = element(&svg, "desc");
    assert!(
        desc.contains(
            "White (light checkers): 3 on point 2, 2 on point 1; none on the bar; 10 borne off."
        ),
        "{desc}"
    );
    assert!(
        desc.contains("Black (dark checkers): 4 on point 24; none on the bar; 11 borne off."),
        "{desc}"
    );
    // One slab per borne-off checker in the tray.
    assert_eq!(svg.matches("width=\"36\" height=\"8\"").count(), 21);
}

#[test]
fn checkers_on_the_bar_are_drawn_and_described() {
    let b = board(BAR_MATCH);
    assert_eq!(
        (b.checkers(Side::Bottom).bar(), b.checkers(Side::Top).bar()),
        (1, 1)
    );
    assert_eq!(b.pip_counts().player, 114);
    let svg = draw(BAR_MATCH);
    let desc = element(&svg, "desc");
    assert!(
        desc.contains("White (light checkers): ")
            && desc.contains("; 1 on the bar; none borne off."),
        "{desc}"
    );
    // The player on roll's bar checker sits above the middle of the bar, the opponent's below.
    assert!(circles(checker_group(&svg, Side::Bottom)).contains(&(272, 185)));
    assert!(circles(checker_group(&svg, Side::Top)).contains(&(272, 265)));
}

#[test]
fn the_cube_value_owner_and_place() {
    let cases = [
        ("0:0", 1, None, "Cube: centred at 1.", 207, ">64<"),
        (
            "1:1",
            2,
            Some(Side::Bottom),
            "Cube: 2, owned by White.",
            364,
            ">2<",
        ),
        (
            "3:-1",
            8,
            Some(Side::Top),
            "Cube: 8, owned by Black.",
            50,
            ">8<",
        ),
        (
            "10:1",
            1024,
            Some(Side::Bottom),
            "Cube: 1024, owned by White.",
            364,
            ">1024<",
        ),
    ];
    for (cube, value, owner, words, y, label) in cases {
        let xgid = OPENING_21.replace(":0:0:1:21:", &format!(":{cube}:1:21:"));
        let b = board(&xgid);
        assert_eq!(b.cube(), Cube { value, owner }, "{cube}");
        let svg = draw(&xgid);
        assert!(element(&svg, "desc").contains(words), "{cube}");
        let cube_svg = &svg[svg.find(&format!("<rect x=\"7\" y=\"{y}\"")).unwrap()..];
        assert!(
            cube_svg[..cube_svg.find("</text>").unwrap() + 2].contains(label),
            "{cube}"
        );
    }
    // The owner's end is relative to the player on roll: the top player owns it and is on roll,
    // so it sits at the bottom.
    let svg = draw(&mirrored(&OPENING_21.replace(":0:0:1:21:", ":2:1:1:21:")));
    assert!(element(&svg, "desc").contains("Cube: 4, owned by Black."));
    assert!(svg.contains("<rect x=\"7\" y=\"364\""));
}

#[test]
fn dice_states_and_match_fields() {
    let doubled = board("XGID=-b----E-C---eE---c-e----B-:1:0:-1:D:0:0:3:0:10");
    assert_eq!((doubled.dice(), doubled.turn()), (Dice::Doubled, Side::Top));
    assert!(doubled.jacoby() && doubled.beaver());
    assert_eq!(doubled.dice().high_low(), None);
    let svg = draw("XGID=-b----E-C---eE---c-e----B-:1:0:-1:D:0:0:3:0:10");
    assert!(element(&svg, "title").contains("Black's turn, a double has been offered"));
    assert!(svg.contains(">Double offered<"));
    assert!(element(&svg, "desc").contains("Money game, Jacoby rule, beavers allowed."));
    let not_rolled = board("XGID=-b----E-C---eE---c-e----B-:0:0:1:00:0:0:0:0:10");
    assert_eq!(not_rolled.dice(), Dice::NotRolled);
    let crawford = board("XGID=-b----E-C---eE---c-e----B-:0:0:1:66:4:6:1:7:10");
    assert!(crawford.is_crawford() && !crawford.jacoby());
    assert_eq!(
        (crawford.score(Side::Bottom), crawford.score(Side::Top)),
        (4, 6)
    );
    let desc_svg = draw("XGID=-b----E-C---eE---c-e----B-:0:0:1:66:4:6:1:7:10");
    assert!(
        element(&desc_svg, "desc")
            .contains("Match to 7 points, score White 4, Black 6, Crawford game.")
    );
}

#[test]
fn invalid_xgids_are_refused_with_a_reason() {
    let long = "X".repeat(MAX_XGID_LEN + 1);
    let cases: &[(&str, &str)] = &[
        ("", "10 colon-separated fields"),
        (&long, "at most 200 bytes"),
        ("XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0", "got 9"),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0:10:1",
            "has more",
        ),
        (
            "XGID=-b----E-C---eE---c-e---B-:0:0:1:21:0:0:0:0:10",
            "got 25",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-X:0:0:1:21:0:0:0:0:10",
            "got 27",
        ),
        (
            "XGID=-b----E-C---eE---c-e--*-B-:0:0:1:21:0:0:0:0:10",
            "character 23 is '*'",
        ),
        ("XGID=-b----E-C---eE---c-e----Q-:0:0:1:21:0:0:0:0:10", "'Q'"),
        ("XGID=-b----E-C---eE---c-e----é-:0:0:1:21:0:0:0:0:10", "'é'"),
        (
            "XGID=-b----E-C---eE---c-e----C-:0:0:1:21:0:0:0:0:10",
            "bottom player has 16 checkers",
        ),
        (
            "XGID=-p------------------------:0:0:1:21:0:0:0:0:10",
            "top player has 16 checkers",
        ),
        (
            "XGID=Ab----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0:10",
            "top player's bar",
        ),
        (
            "XGID=-b----E-C---eE---c-e----Ba:0:0:1:21:0:0:0:0:10",
            "bottom player's bar",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:x:0:1:21:0:0:0:0:10",
            "the cube field must be a whole number",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:-1:0:1:21:0:0:0:0:10",
            "the cube field",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:16:0:1:21:0:0:0:0:15",
            "from 0 to 15",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:4:0:1:21:0:0:0:0:3",
            "above the max cube",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:2:1:21:0:0:0:0:10",
            "the cube owner must be",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:0:21:0:0:0:0:10",
            "the turn must be 1",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:+1:21:0:0:0:0:10",
            "the turn must be 1",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:71:0:0:0:0:10",
            "the dice must be",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:20:0:0:0:0:10",
            "the dice must be",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:2:0:0:0:0:10",
            "the dice must be",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:DD:0:0:0:0:10",
            "the dice must be",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21: 1:0:0:0:10",
            "score must be a whole number",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:4:0:10",
            "Crawford/Jacoby",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:2:7:10",
            "Crawford field is 0 or 1",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:7:0:0:7:10",
            "not below the match length",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:1:7:10",
            "exactly one player 1 point away",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:1000:10",
            "match length",
        ),
        (
            "XGID=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0:",
            "the max cube field",
        ),
        (
            "xgid=-b----E-C---eE---c-e----B-:0:0:1:21:0:0:0:0:10",
            "got 31",
        ),
    ];
    for (input, reason) in cases {
        let err = parse_xgid(input).unwrap_err();
        assert_eq!(err.code(), "INVALID_XGID", "{input}");
        assert!(err.to_string().contains(reason), "{input}: {err}");
        assert_eq!(
            render_board(input, &BoardOptions::default()).unwrap_err(),
            err
        );
    }
}

#[test]
fn the_board_serializes_in_camel_case() {
    let json = serde_json::to_value(board(BAR_MATCH)).unwrap();
    assert_eq!(json["turn"], "bottom");
    assert_eq!(
        json["cube"],
        serde_json::json!({"value": 8, "owner": "top"})
    );
    assert_eq!(json["dice"], serde_json::json!({"rolled": [5, 3]}));
    assert_eq!(
        (json["scoreBottom"].as_u64(), json["matchLength"].as_u64()),
        (Some(2), Some(7))
    );
    assert_eq!(json["bottom"]["bar"], 1);
    assert_eq!(json["top"]["points"].as_array().unwrap().len(), 24);
}

// ---- SVG ----

#[test]
fn the_svg_is_well_formed_and_labelled() {
    let svg = draw(OPENING_21);
    assert_well_formed(&svg);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 556 452\" role=\"img\" aria-labelledby=\"drillgen-board-title drillgen-board-desc\""));
    assert_eq!(
        element(&svg, "title"),
        "Backgammon position, White to play 2-1"
    );
    let desc = element(&svg, "desc");
    for fact in [
        "White to play 2-1.",
        "Pip counts: White 167, Black 167.",
        "Cube: centred at 1.",
        "Money game.",
        "White (light checkers): 2 on point 24, 5 on point 13, 3 on point 8, 5 on point 6; none on the bar; none borne off.",
        "Black (dark checkers): 2 on point 1, 5 on point 12, 3 on point 17, 5 on point 19; none on the bar; none borne off.",
    ] {
        assert!(desc.contains(fact), "missing {fact:?} in {desc}");
    }
    assert!(svg.contains("White (on roll) · 167 pips · 0 off"));
    assert!(!svg.contains("\n  "), "no indentation whitespace");
}

#[test]
fn every_library_position_renders_all_its_checkers() {
    for p in library() {
        let xgid = p.xgid.unwrap();
        for xgid in [xgid.clone(), mirrored(&xgid)] {
            let b = board(&xgid);
            let svg = draw(&xgid);
            assert_well_formed(&svg);
            for side in [Side::Bottom, Side::Top] {
                let drawn = circles(checker_group(&svg, side)).len();
                assert_eq!(
                    drawn,
                    expected_circles(&b, side),
                    "{} {side:?}",
                    p.position_id
                );
            }
            let pips = b.pip_counts();
            let turn = b.turn().name();
            let opp = b.turn().opponent().name();
            let facts = format!(
                "Pip counts: {turn} {}, {opp} {}.",
                pips.player, pips.opponent
            );
            assert!(element(&svg, "desc").contains(&facts), "{}", p.position_id);
            assert!(element(&svg, "title").ends_with(&format!("{turn} to play {}", p.dice_roll)));
        }
    }
}

#[test]
fn the_board_is_drawn_from_the_side_of_the_player_on_roll() {
    // Mirroring swaps the colours but not the picture: the player on roll's checkers land on the
    // same spots, with their home board bottom right.
    for p in library().iter().take(40) {
        let xgid = p.xgid.as_deref().unwrap();
        let (a, b) = (draw(xgid), draw(&mirrored(xgid)));
        assert_eq!(
            circles(checker_group(&a, Side::Bottom)),
            circles(checker_group(&b, Side::Top))
        );
        assert_eq!(
            circles(checker_group(&a, Side::Top)),
            circles(checker_group(&b, Side::Bottom))
        );
    }
    // Opening: the on-roll 6-point (5 checkers) is the sixth point from the right, bottom half.
    let svg = draw(OPENING_21);
    let mine = circles(checker_group(&svg, Side::Bottom));
    for k in 0..5 {
        assert!(mine.contains(&(308, 385 - 30 * k)), "{mine:?}");
    }
    // The 24-point back checkers are top right, the last point before the tray.
    assert!(mine.contains(&(468, 65)) && mine.contains(&(468, 95)));
    // Point numbers: 1 bottom right, 12 bottom left, 13 top left, 24 top right.
    for label in [
        "x=\"468\" y=\"424\">1<",
        "x=\"76\" y=\"424\">12<",
        "x=\"76\" y=\"34\">13<",
        "x=\"468\" y=\"34\">24<",
    ] {
        assert!(svg.contains(label), "{label}");
    }
}

#[test]
fn tall_stacks_show_five_checkers_and_a_count() {
    // Top player: 6 on the bottom player's 20-point (its own 5-point); bottom: 9 on its 6-point.
    let xgid = "XGID=------I-------------f-----:0:0:1:31:0:0:0:0:10";
    let b = board(xgid);
    let svg = draw(xgid);
    assert_eq!(circles(checker_group(&svg, Side::Bottom)).len(), 5);
    assert_eq!(circles(checker_group(&svg, Side::Top)).len(), 5);
    assert_eq!(expected_circles(&b, Side::Top), 5);
    assert!(svg.contains("<text x=\"308\" y=\"270\" fill=\"#111\">9</text>"));
    assert!(svg.contains("<text x=\"340\" y=\"190\" fill=\"#fff\">6</text>"));
    assert!(element(&svg, "desc").contains("9 on point 6;"));
}

#[test]
fn rolled_dice_are_drawn_as_faces() {
    for (roll, pips) in [("21", 3), ("66", 12), ("53", 8), ("14", 5)] {
        let xgid = OPENING_21.replace(":21:", &format!(":{roll}:"));
        let svg = draw(&xgid);
        assert_eq!(svg.matches("r=\"3\"/>").count(), pips, "{roll}");
        assert_eq!(
            svg.matches("width=\"32\" height=\"32\"").count(),
            2,
            "{roll}"
        );
    }
    let svg = draw(&OPENING_21.replace(":21:", ":00:"));
    assert_eq!(svg.matches("width=\"32\" height=\"32\"").count(), 0);
    assert_eq!(
        element(&svg, "title"),
        "Backgammon position, White on roll, dice not rolled"
    );
}

#[test]
fn rendering_is_deterministic() {
    assert_eq!(draw(BAR_MATCH), draw(BAR_MATCH));
    assert_eq!(
        draw(OPENING_21),
        render_svg(&board(OPENING_21), &SvgOptions::default())
    );
}

#[test]
fn the_title_option_is_escaped() {
    let options = BoardOptions {
        title: Some("<script>alert(\"x\")</script> & 'co'\u{1}".into()),
        ..Default::default()
    };
    let svg = render_board(OPENING_21, &options).unwrap();
    assert_well_formed(&svg);
    assert!(!svg.contains("<script"));
    assert_eq!(
        element(&svg, "title"),
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;\u{FFFD}"
    );
    // A blank title falls back to the generated one.
    let blank = BoardOptions {
        title: Some("  ".into()),
        ..Default::default()
    };
    let svg = render_board(OPENING_21, &blank).unwrap();
    assert_eq!(
        element(&svg, "title"),
        "Backgammon position, White to play 2-1"
    );
}

#[test]
fn id_prefixes_keep_two_boards_apart() {
    let with = |prefix: &str| BoardOptions {
        id_prefix: Some(prefix.into()),
        ..Default::default()
    };
    let a = render_board(OPENING_21, &with("board-1")).unwrap();
    let b = render_board(OPENING_21, &with("board_2")).unwrap();
    assert!(a.contains("aria-labelledby=\"board-1-title board-1-desc\""));
    assert!(a.contains("<title id=\"board-1-title\">") && a.contains("<desc id=\"board-1-desc\">"));
    assert!(b.contains("<title id=\"board_2-title\">"));
    let ids = |s: &str| s.matches(" id=\"").count();
    assert_eq!((ids(&a), ids(&b)), (2, 2));
    assert_ne!(a, b);
}

#[test]
fn bad_options_are_refused() {
    let long_prefix = "a".repeat(MAX_ID_PREFIX_LEN + 1);
    for prefix in [
        "",
        "1board",
        "-x",
        "a b",
        "a\"b",
        "bøard",
        long_prefix.as_str(),
    ] {
        let options = BoardOptions {
            id_prefix: Some(prefix.into()),
            ..Default::default()
        };
        let err = render_board(OPENING_21, &options).unwrap_err();
        assert_eq!(err.code(), "INVALID_OPTIONS", "{prefix:?}");
    }
    let ok = BoardOptions {
        id_prefix: Some("a".repeat(MAX_ID_PREFIX_LEN)),
        title: Some("é".repeat(MAX_TITLE_CHARS)),
    };
    assert!(render_board(OPENING_21, &ok).is_ok());
    let long_title = BoardOptions {
        title: Some("é".repeat(MAX_TITLE_CHARS + 1)),
        ..Default::default()
    };
    assert_eq!(
        render_board(OPENING_21, &long_title).unwrap_err().code(),
        "INVALID_OPTIONS"
    );
}

#[test]
fn options_read_camel_case_json() {
    let options: BoardOptions = from_text(r#"{"title": "Drill 3", "idPrefix": "drill-3"}"#);
    assert_eq!(options.title.as_deref(), Some("Drill 3"));
    assert_eq!(options.id_prefix.as_deref(), Some("drill-3"));
    assert_eq!(from_text::<BoardOptions>("{}"), BoardOptions::default());
}

/// Writes the sample board for a visual check: `cargo test --lib board -- --ignored`.
#[test]
#[ignore = "writes out/board-sample.svg for a look in a browser"]
fn write_sample_svg() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/out");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(format!("{dir}/board-sample.svg"), draw(BAR_MATCH)).unwrap();
    std::fs::write(
        format!("{dir}/board-sample-top.svg"),
        draw(&mirrored(BAR_MATCH)),
    )
    .unwrap();
    std::fs::write(format!("{dir}/board-bearoff.svg"), draw(BEAROFF)).unwrap();
}

// proptest does not target wasm32; these run natively.
#[cfg(not(target_arch = "wasm32"))]
mod props {
    use proptest::prelude::*;

    use super::*;

    /// Whatever parses must render to well-formed SVG with every checker accounted for.
    fn check(input: &str) -> Result<(), TestCaseError> {
        match parse_xgid(input) {
            Ok(b) => {
                for side in [Side::Bottom, Side::Top] {
                    let c = b.checkers(side);
                    let total: u32 = c.points().iter().map(|&n| u32::from(n)).sum::<u32>()
                        + u32::from(c.bar())
                        + u32::from(c.off());
                    prop_assert_eq!(total, 15);
                }
                let svg = render_svg(&b, &SvgOptions::default());
                assert_well_formed(&svg);
                for side in [Side::Bottom, Side::Top] {
                    prop_assert_eq!(
                        circles(checker_group(&svg, side)).len(),
                        expected_circles(&b, side)
                    );
                }
            }
            Err(e) => prop_assert_eq!(e.code(), "INVALID_XGID"),
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(input in any::<String>()) {
            check(&input)?;
        }

        #[test]
        fn xgid_shaped_text_never_panics(
            input in "(XGID=)?[-a-qA-Q]{25,27}(:(-?[0-9]{1,2}|[DBR0-7]{1,2})){8,10}"
        ) {
            check(&input)?;
        }

        #[test]
        fn mutated_library_xgids_never_panic(
            index in 0usize..129,
            at in 0usize..60,
            c in any::<char>(),
            op in 0u8..3,
        ) {
            let positions = library();
            let xgid = positions[index].xgid.clone().unwrap();
            let mut chars: Vec<char> = xgid.chars().collect();
            let at = at.min(chars.len() - 1);
            match op {
                0 => chars[at] = c,
                1 => chars.insert(at, c),
                _ => { chars.remove(at); }
            }
            let input: String = chars.into_iter().collect();
            check(&input)?;
            check(&mirrored(&xgid))?;
        }
    }
}
