//! What the concurrent batches of one run share: counters, the retry jitter, what format
//! negotiation learned, the first fatal error (fail fast), and the gate that holds batches back
//! while the first one warms the prompt cache. Single-threaded (wasm, and one executor natively):
//! `RefCell`s borrowed only between awaits.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::events::BatchProgress;
use crate::error::DrillgenError;
use crate::llm::{Negotiation, Usage};
use crate::rng::SeededRng;
use crate::types::Warning;

pub(crate) struct RunState {
    pub completed_drills: u32,
    pub total_drills: u32,
    pub progress: BatchProgress,
    pub usage: Usage,
    pub rng: SeededRng,
    /// The first error that would hit every batch (a 401, no quota): later batches stop on it.
    pub fatal: Option<DrillgenError>,
    pub negotiation: Negotiation,
    /// LLM calls made, negotiation included (what `subrequestBudget` limits).
    pub calls: u32,
    /// Run-level warnings decided before or during the batches (retries lowered, …).
    pub warnings: Vec<Warning>,
}

/// Opens once; every waiter is woken. Dropping the `GateGuard` opens it too, so a first batch that
/// fails, is cancelled or panics never leaves the others waiting.
#[derive(Default)]
pub(crate) struct Gate {
    open: Cell<bool>,
    waiters: RefCell<Vec<Waker>>,
}

impl Gate {
    pub fn opened() -> Self {
        let gate = Self::default();
        gate.open.set(true);
        gate
    }

    pub fn open(&self) {
        if !self.open.replace(true) {
            for waker in self.waiters.borrow_mut().drain(..) {
                waker.wake();
            }
        }
    }

    pub fn wait(&self) -> GateWait<'_> {
        GateWait(self)
    }

    pub fn guard(&self) -> GateGuard<'_> {
        GateGuard(self)
    }
}

pub(crate) struct GateWait<'a>(&'a Gate);

impl Future for GateWait<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.open.get() {
            return Poll::Ready(());
        }
        self.0.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}

pub(crate) struct GateGuard<'a>(&'a Gate);

impl Drop for GateGuard<'_> {
    fn drop(&mut self) {
        self.0.open();
    }
}
