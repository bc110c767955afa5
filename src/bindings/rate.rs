//! `createRateGovernor`: one `RateGovernor` that many runs share through their `rateGovernor`
//! option (each LLM call waits for its permit in Rust, `orchestrator::govern`), with `acquire` and
//! `complete` for a host that governs calls made elsewhere: a Durable Object that hands permits to
//! Workflow steps running in other isolates.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use js_sys::{Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::convert::{coded, from_js, from_js_opt, js_error, message_of, to_js};
use super::runtime::{Cancel, JsClock};
use crate::error::DrillgenError;
use crate::input::Argument;
use crate::orchestrator::govern::{SharedGovernor, admit};
use crate::rate::{Permit, PermitReport, RateLimits};
use crate::text::Redactor;

thread_local! {
    /// The live governors by id: how a run finds the one its options name.
    static GOVERNORS: RefCell<HashMap<u32, Weak<RefCell<crate::rate::RateGovernor>>>> =
        RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u32> = const { Cell::new(1) };
}

/// How long `acquire` waits by default before it gives up: longer than any provider's window.
const DEFAULT_MAX_WAIT_MS: f64 = 120_000.0;

/// Paces LLM calls by a provider key's limits, for every run that is given it.
#[wasm_bindgen]
pub struct RateGovernor {
    inner: SharedGovernor,
    id: u32,
    /// Permits `acquire` gave and `complete` has not settled yet, by id.
    held: Rc<RefCell<HashMap<u32, Permit>>>,
    next_permit: Rc<Cell<u32>>,
}

/// Creates a governor for one provider key. Pass it as `rateGovernor` to every
/// `generateDrillSeries` and `generateBatch` that uses that key.
#[wasm_bindgen(js_name = createRateGovernor)]
pub fn create_rate_governor(
    #[wasm_bindgen(unchecked_optional_param_type = "RateLimits")] limits: JsValue,
) -> Result<RateGovernor, JsValue> {
    let limits: RateLimits = coded(from_js_opt(Argument::Options, &limits))?.unwrap_or_default();
    let (requests, tokens) = coded(limits.check())?;
    let inner = Rc::new(RefCell::new(crate::rate::RateGovernor::new(
        requests,
        tokens,
        js_sys::Date::now(),
    )));
    let id = NEXT_ID.with(|n| n.replace(n.get() + 1));
    GOVERNORS.with(|g| {
        let mut g = g.borrow_mut();
        g.retain(|_, w| w.strong_count() > 0);
        g.insert(id, Rc::downgrade(&inner));
    });
    Ok(RateGovernor {
        inner,
        id,
        held: Rc::default(),
        next_permit: Rc::new(Cell::new(1)),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    admitted: u64,
    throttled: u64,
    concurrency: u32,
}

#[wasm_bindgen]
impl RateGovernor {
    /// What identifies this governor to a run's options.
    #[wasm_bindgen(getter, js_name = governorId)]
    pub fn governor_id(&self) -> u32 {
        self.id
    }

    /// Calls admitted, calls the provider throttled (429/529), and calls allowed in flight now.
    #[wasm_bindgen(
        unchecked_return_type = "{ admitted: number; throttled: number; concurrency: number }"
    )]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let g = self.inner.borrow();
        to_js(
            &Stats {
                admitted: g.stats.admitted,
                throttled: g.stats.throttled,
                concurrency: g.concurrency(),
            },
            &Redactor::default(),
        )
    }

    /// For calls drillgen does not make itself: resolves with a permit id when a call of about
    /// `estimatedTokens` may go, or rejects (`PERMIT_TIMEOUT`) after `maxWaitMs` (default
    /// 120,000). Callers of a lower `priority` go first (default 0; e.g. the batch's index, so
    /// every series' first batch goes before others' later ones). Settle each permit with
    /// `complete(permitId, report)`; until then it holds a slot.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn acquire(
        &self,
        #[wasm_bindgen(js_name = estimatedTokens)] estimated_tokens: f64,
        #[wasm_bindgen(js_name = maxWaitMs)] max_wait_ms: Option<f64>,
        priority: Option<f64>,
    ) -> Promise {
        let (inner, held, next) = (
            self.inner.clone(),
            self.held.clone(),
            self.next_permit.clone(),
        );
        wasm_bindgen_futures::future_to_promise(async move {
            let tokens = whole(estimated_tokens, "estimatedTokens")?;
            let priority = whole(priority.unwrap_or(0.0), "priority")?;
            let wait = max_wait_ms.unwrap_or(DEFAULT_MAX_WAIT_MS);
            let wait = crate::orchestrator::timer_ms(Some(wait), "maxWaitMs", None)
                .map_err(|e| js_error(&e, &Redactor::default()))?;
            let cancel = Cancel::new(None, wait).map_err(|e| js_error(&e, &Redactor::default()))?;
            let clock = JsClock {
                cancel: cancel.handle(),
            };
            match admit(&inner, &clock, tokens, priority).await {
                Ok(admitted) => {
                    let id = next.replace(next.get().wrapping_add(1));
                    held.borrow_mut().insert(id, admitted.keep());
                    Ok(JsValue::from(id))
                }
                Err(_) => Err(js_error(
                    &DrillgenError::PermitTimeout {
                        ms: wait.unwrap_or_default(),
                    },
                    &Redactor::default(),
                )),
            }
        })
    }

    /// Settles a permit from `acquire`: the call's HTTP status (0 when no answer came), the
    /// answer's headers, and the tokens the provider billed, when known (given back to the
    /// budget only for `provider: "anthropic"`, which charges what was used; OpenAI charges the
    /// estimate when it admits a call). Once: `false` for a
    /// permit already settled or never given (nothing changes).
    pub fn complete(
        &self,
        #[wasm_bindgen(js_name = permitId)] permit_id: f64,
        #[wasm_bindgen(unchecked_param_type = "PermitReport")] report: JsValue,
    ) -> Result<bool, JsValue> {
        let report: PermitReport = coded(from_js(Argument::Options, &report))?;
        let Some(permit) = self
            .held
            .borrow_mut()
            .remove(&whole(permit_id, "permitId")?)
        else {
            return Ok(false);
        };
        let headers = report.header_pairs();
        self.inner
            .borrow_mut()
            .complete(permit, &report.report(&headers), js_sys::Date::now());
        Ok(true)
    }
}

fn whole(value: f64, name: &str) -> Result<u32, JsValue> {
    if value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&value) {
        return Ok(value as u32);
    }
    Err(js_error(
        &DrillgenError::InvalidOptions(format!(
            "{name} must be a whole number from 0 to 4294967295"
        )),
        &Redactor::default(),
    ))
}

/// The governor a run's `rateGovernor` option names: a `RateGovernor` from this module.
pub fn governor_of(options: &JsValue) -> Result<Option<SharedGovernor>, DrillgenError> {
    let value = Reflect::get(options, &JsValue::from_str("rateGovernor")).map_err(|e| {
        DrillgenError::InvalidOptions(format!(
            "options.rateGovernor: reading it threw: {}",
            message_of(&e)
        ))
    })?;
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let wrong = || {
        DrillgenError::InvalidOptions(
            "options.rateGovernor must be a RateGovernor from createRateGovernor() of this drillgen module".into(),
        )
    };
    if !value.is_object() {
        return Err(wrong());
    }
    let id = Reflect::get(&value, &JsValue::from_str("governorId"))
        .ok()
        .and_then(|v| v.as_f64())
        .ok_or_else(wrong)?;
    GOVERNORS
        .with(|g| g.borrow().get(&(id as u32)).and_then(Weak::upgrade))
        .map(Some)
        .ok_or_else(wrong)
}
