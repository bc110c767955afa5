//! ARCHITECTURE.md is the map of the code: its module table names every module `lib.rs` declares,
//! in the same order (the data flow, then what all share).

/// Module names in the first column of ARCHITECTURE.md's "Modules" table, in order.
fn mapped() -> Vec<String> {
    let doc = include_str!("../../ARCHITECTURE.md");
    let table = doc
        .split("## Modules")
        .nth(1)
        .unwrap()
        .split("\n## ")
        .next()
        .unwrap();
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .flat_map(|row| {
            let first = row.split(" |").next().unwrap_or_default();
            first
                .split(", ")
                .map(|m| m.trim_matches('`').to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `pub mod` declarations of lib.rs, in order.
fn declared() -> Vec<String> {
    include_str!("../lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod "))
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect()
}

#[test]
fn lib_rs_declares_the_modules_in_the_order_of_the_map() {
    let mapped = mapped();
    assert!(mapped.len() > 20, "{mapped:?}");
    assert_eq!(declared(), mapped);
}
