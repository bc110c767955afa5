//! The JS boundary: the only home of `#[wasm_bindgen]`. Every export converts its arguments in
//! (`convert::from_js`, which gives coded errors), calls one function of `crate::api`, and converts
//! the result out. Types in the `.d.ts` come from the Rust types (`Tsify`) and `ts.rs`.
//! Public only so the wasm-bindgen tests can call the exports the way JS does.

mod convert;
pub mod generate;
mod host;
pub mod pipeline;
mod runtime;
pub mod ts;
