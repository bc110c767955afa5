//! The rate governor at work: every LLM call of a run that was given one waits for its permit
//! (`crate::rate`: the provider's request and token budgets, the shared concurrency) and reports
//! what came back, so every series sharing the governor paces itself by the same limits.

use std::cell::RefCell;
use std::rc::Rc;

use super::Clock;
use crate::error::DrillgenError;
use crate::rate::{Admission, Permit, RateGovernor, Report, Ticket};

/// The longest a waiter sleeps before it asks the governor again.
const MAX_SLEEP_MS: u64 = 1_000;

/// A governor many runs share (one thread: wasm, or a native test).
pub type SharedGovernor = Rc<RefCell<RateGovernor>>;

/// A place in the governor's line, given up if the caller stops waiting (dropped while waiting: an
/// abort, a deadline), so a cancelled run never blocks the line for the others.
struct InLine<'g> {
    governor: &'g SharedGovernor,
    ticket: Ticket,
    admitted: bool,
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            self.governor.borrow_mut().leave(self.ticket);
        }
    }
}

/// An admitted call. Settled with what came back; dropped unsettled (the call was cut short), it
/// counts as a call that got no answer, so its slot is never lost.
pub struct Admitted<'g> {
    governor: &'g SharedGovernor,
    permit: Option<Permit>,
    now_ms: f64,
}

impl Admitted<'_> {
    /// Keeps the call's slot for a host that settles it later (`RateGovernor.complete`).
    pub fn keep(mut self) -> Permit {
        self.permit.take().unwrap_or(Permit {
            estimated_tokens: 0,
        })
    }

    pub fn settle(mut self, report: &Report<'_>, now_ms: f64) {
        if let Some(permit) = self.permit.take() {
            self.governor.borrow_mut().complete(permit, report, now_ms);
        }
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            let report = Report::default();
            self.governor
                .borrow_mut()
                .complete(permit, &report, self.now_ms);
        }
    }
}

/// Waits in line until the governor admits a call of about `estimated_tokens`, or the run stops.
/// `priority`: the calls this caller has had admitted already (fewer go first).
pub async fn admit<'g, C: Clock>(
    governor: &'g SharedGovernor,
    clock: &C,
    estimated_tokens: u32,
    priority: u32,
) -> Result<Admitted<'g>, DrillgenError> {
    let ticket = governor.borrow_mut().enqueue_with(priority);
    let mut line = InLine {
        governor,
        ticket,
        admitted: false,
    };
    loop {
        let now_ms = clock.now_ms();
        let admission = governor
            .borrow_mut()
            .try_admit(ticket, estimated_tokens, now_ms);
        match admission {
            Admission::Go(permit) => {
                line.admitted = true;
                return Ok(Admitted {
                    governor,
                    permit: Some(permit),
                    now_ms,
                });
            }
            // Looked at again within a second: a call settling, a header raising the level or a
            // waiter leaving can shorten a wait the governor could not foresee.
            Admission::Wait(ms) => clock.sleep(ms.clamp(1, MAX_SLEEP_MS)).await?,
        }
    }
}
