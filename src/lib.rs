//! drillgen turns a drill request and a library of analysed backgammon positions into a drill
//! series written by an LLM in small, independent, concurrent batches, handing every finished batch
//! to the host for storage. The modules, in the order data flows through a run
//! (`ARCHITECTURE.md` draws the same map):
//!
//! | step | module | what it does |
//! |---|---|---|
//! | input | [`input`] | JSON from the host → typed values, a coded error naming the bad field |
//! | plan | [`plan`] | the spec's Phase 1: positions to load per phase, `ceil(target/phases)+2`, cap 25 |
//! | sample | [`sample`], [`rng`] | uniform choice from the pool under a portable seed, each phase its share; the rest kept as spares |
//! | partition | [`partition`], [`spread`] | batches of 5 contiguous indices, one position per drill, phases spread evenly |
//! | series | [`series`] | plan → sample → partition composed once, for the run and for hosts (`prepareSeries`) |
//! | answer key | [`engine`] | the options of a drill from the engine's best move and alternatives |
//! | prompt | [`prompt`] | a shared, cacheable system prefix; the batch's drills in the user part |
//! | llm | [`llm`] | OpenAI-compatible and Anthropic requests and responses, format negotiation |
//! | read | [`output`] | the model's JSON → drill texts, repaired where meaning cannot change |
//! | run | [`orchestrator`] | prepare → batches concurrently (retry, fail fast, warm-up) → persist → finish |
//! | merge | [`merge`] | the artifact rebuilt from stored drills, as the spec's continuation step |
//! | verify | [`verify`] | structure, and every drill against the engine's analysis |
//! | show | [`board`] | a position's XGID as an accessible SVG board |
//!
//! Shared by all: [`types`] (the data), [`drill`] (the drill and its schema), [`codes`] (the
//! warning and repair codes, enums like the error codes), [`error`] (one error enum with stable
//! codes), [`retry`] (backoff and provider wait headers), [`rate`] (a rate governor many series can
//! share; not yet wired into runs), [`text`] (bounding, cleaning and redacting
//! text that crosses a trust boundary), [`order`] (a small stable sort), [`api`] (the exported
//! operations on typed values). Everything above is pure Rust with no JS types, so `cargo test`
//! runs it natively; `bindings` is the only `#[wasm_bindgen]` code: convert in, call the core,
//! convert out.

// Tests may sort with std (clippy.toml forbids it in the crate for its wasm size; tests never ship).
#![cfg_attr(test, allow(clippy::disallowed_methods))]

// In the order of ARCHITECTURE.md's module table (a test holds it): the data flow, then what all share.
pub mod input;
pub mod plan;
pub mod sample;
pub mod rng;
pub mod partition;
pub mod spread;
pub mod series;
pub mod engine;
pub mod drill;
pub mod prompt;
pub mod llm;
pub mod output;
pub mod orchestrator;
pub mod merge;
pub mod verify;
pub mod board;
pub mod types;
pub mod codes;
pub mod error;
pub mod retry;
pub mod rate;
pub mod text;
pub mod order;
pub mod api;
#[cfg(target_arch = "wasm32")]
pub mod bindings;

#[cfg(test)]
mod tests;

pub use codes::{DrillFlag, RepairCode, WarningCode};
pub use error::{DrillgenError, ErrorCode, Result};
