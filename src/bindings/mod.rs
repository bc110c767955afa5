//! The JS boundary: the only home of `#[wasm_bindgen]`, in the way of biome's wasm crate: every
//! export converts its arguments in (`convert`: a defensive walk to JSON, coded errors), calls one
//! function of the core, and converts the result out. `fetch` is the core's transport (gloo-net),
//! `runtime` its timers and cancellation; `rate` the rate governor runs share; `host` wraps the host's callbacks; `ts` completes the
//! generated `.d.ts`.
//! Public only so the wasm-bindgen tests can call the exports the way JS does.

mod convert;
mod fetch;
pub mod generate;
mod host;
pub mod pipeline;
pub mod rate;
mod runtime;
pub mod ts;
