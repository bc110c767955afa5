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

/// How many LLM calls of the run may be in flight. It starts at `concurrency` and halves when a
/// call times out while others were in flight: a server that answers one request at a time
/// (llama.cpp's Python server, a GPU box behind a queue) makes the queued ones time out, and
/// retrying them at the same width only queues them again. Calls that started under a higher limit
/// do not lower it again, so simultaneous timeouts halve it once.
pub(crate) struct Limiter {
    limit: Cell<u32>,
    in_flight: Cell<u32>,
    waiters: RefCell<Vec<Waker>>,
}

impl Limiter {
    pub fn new(limit: u32) -> Self {
        Self {
            limit: Cell::new(limit.max(1)),
            in_flight: Cell::new(0),
            waiters: RefCell::new(Vec::new()),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit.get()
    }

    /// A permit to call; waits while `limit` calls are in flight.
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire(self)
    }

    /// After a timeout of a call that started under `seen` with `others` in flight: the new
    /// limit, if it was lowered.
    pub fn timed_out(&self, seen: u32, others: u32) -> Option<(u32, u32)> {
        let now = self.limit.get();
        if others == 0 || seen != now || now == 1 {
            return None;
        }
        self.limit.set(now / 2);
        Some((now, now / 2))
    }
}

pub(crate) struct Acquire<'a>(&'a Limiter);

impl<'a> Future for Acquire<'a> {
    type Output = Permit<'a>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit<'a>> {
        let l = self.0;
        if l.in_flight.get() < l.limit.get() {
            l.in_flight.set(l.in_flight.get() + 1);
            return Poll::Ready(Permit(l));
        }
        l.waiters.borrow_mut().push(cx.waker().clone());
        Poll::Pending
    }
}

/// One call in flight; ends (and lets a waiting call go) on drop.
pub(crate) struct Permit<'a>(&'a Limiter);

impl Permit<'_> {
    /// Other calls in flight besides this one.
    pub fn others(&self) -> u32 {
        self.0.in_flight.get().saturating_sub(1)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let l = self.0;
        l.in_flight.set(l.in_flight.get().saturating_sub(1));
        for waker in l.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }
}
