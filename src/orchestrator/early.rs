//! Drills as they close. While a streamed answer arrives, each element of its `drills` array is read
//! the moment its closing brace does (`llm::scan`), by the same rules as a whole answer, and shown
//! (`drillReady`). The whole answer's reading still decides what the batch keeps: a shown drill it
//! does not keep, or keeps in other words, is withdrawn (`drillWithdrawn`), and a kept drill that
//! was not shown is shown then, so every kept drill is shown once whether the answer streamed or
//! not. When an answer breaks off (a cut stream, a timeout), the drills that closed before the cut
//! are kept and only the rest is asked for again.

use std::cell::RefCell;

use super::batch::Batch;
use super::{Clock, Host, Transport, Watch};
use crate::drill::Drill;
use crate::error::DrillgenError;
use crate::llm::Provider;
use crate::llm::scan::ElementScanner;
use crate::llm::stream::{Deltas, Piece, events_begin_with};
use crate::output::{Expect, read_element};
use crate::prompt::Slot;

/// The key of the array whose elements are drills, in every answer shape we ask for.
const DRILLS_KEY: &str = "drills";

/// Watches one call: opens the warm-up gate when its answer begins, and reads a streamed answer's
/// drills as they close.
pub(super) struct Early<'e, 'r, 'a, T, C, H> {
    pub batch: &'e Batch<'r, 'a, T, C, H>,
    pub slots: &'e [Slot<'e>],
    pub expect: &'e [Expect<'e>],
    /// This call warms the prompt cache: its answer beginning releases the other batches.
    pub opens_gate: bool,
    /// The request asked for a stream (a plain body is never scanned).
    pub streamed: bool,
    /// `maxResponseBytes`: the most text (or, for a body that is not a stream, bytes) an answer
    /// may have.
    cap: u64,
    state: RefCell<State>,
}

struct State {
    ok: bool,
    /// Bytes of the answer so far: the model's text of a stream, or the whole of any other body.
    answer_bytes: u64,
    /// Whether the body is server-sent events, once its first byte has said.
    events: Option<bool>,
    /// The current block is the answer's (OpenAI's one stream of text; Anthropic's drills tool call).
    scanning: bool,
    deltas: Deltas,
    scanner: ElementScanner,
    shown: Vec<Drill>,
}

impl<'e, 'r, 'a, T: Transport, C: Clock, H: Host> Early<'e, 'r, 'a, T, C, H> {
    pub fn new(
        batch: &'e Batch<'r, 'a, T, C, H>,
        slots: &'e [Slot<'e>],
        expect: &'e [Expect<'e>],
        provider: Provider,
        cap: u64,
    ) -> Self {
        Self {
            batch,
            slots,
            expect,
            opens_gate: false,
            streamed: false,
            cap,
            state: RefCell::new(State {
                ok: false,
                answer_bytes: 0,
                events: None,
                scanning: provider == Provider::Openai,
                deltas: Deltas::new(provider),
                scanner: ElementScanner::new(DRILLS_KEY),
                shown: Vec::new(),
            }),
        }
    }

    /// The drills shown while the answer arrived.
    pub fn into_shown(self) -> Vec<Drill> {
        self.state.into_inner().shown
    }

    fn count(&self, state: &mut State, bytes: usize) -> Result<(), DrillgenError> {
        state.answer_bytes = state.answer_bytes.saturating_add(bytes as u64);
        if state.answer_bytes > self.cap {
            return Err(DrillgenError::ResponseTooLarge { limit: self.cap });
        }
        Ok(())
    }

    /// The drills `text` closed, read and made whole (ids, the engine's answer key). Element `k`
    /// of the array answers slot `k`, whatever the elements before it were.
    fn closed(&self, state: &mut State, text: &str) -> Vec<Drill> {
        let mut ready = Vec::new();
        for element in state.scanner.push(text) {
            let k = element.position;
            let (Some(object), Some(slot), Some(expect)) =
                (element.object, self.slots.get(k), self.expect.get(k))
            else {
                continue; // not a drill object, or an extra one: the whole reading judges it
            };
            if let Some(draft) = read_element(&object, expect) {
                ready.push(self.batch.new_drill(slot, draft));
            }
        }
        ready
    }
}

impl<T: Transport, C: Clock, H: Host> Watch for Early<'_, '_, '_, T, C, H> {
    fn began(&self, status: u16) {
        let ok = (200..300).contains(&status);
        self.state.borrow_mut().ok = ok;
        // The warming batch's answer has begun: the cache entry exists, release the others.
        if self.opens_gate && ok {
            self.batch.run.gate.open();
        }
    }

    fn chunk(&self, bytes: &[u8]) -> Result<(), DrillgenError> {
        let ready = {
            let mut state = self.state.borrow_mut();
            if !state.ok || !self.streamed {
                return Ok(());
            }
            // A server may answer a stream request with a plain body: held to the cap whole.
            if state.events.is_none()
                && let Some(&first) = bytes
                    .iter()
                    .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF))
            {
                state.events = Some(events_begin_with(first));
            }
            if state.events != Some(true) {
                return self.count(&mut state, bytes.len());
            }
            let mut ready = Vec::new();
            let mut over = Ok(());
            for piece in state.deltas.push(bytes) {
                match piece {
                    // Anthropic: only the block a whole reading takes the drills from is read.
                    Piece::Block { drills } => {
                        state.scanner = ElementScanner::new(DRILLS_KEY);
                        state.scanning = drills;
                    }
                    Piece::Text(text) => {
                        over = self.count(&mut state, text.len());
                        if over.is_err() {
                            break;
                        }
                        if state.scanning {
                            ready.extend(self.closed(&mut state, &text));
                        }
                    }
                }
            }
            // Drills that closed before the cap was passed are kept like any others.
            state.shown.extend(ready.iter().cloned());
            (ready, over)
        };
        // Shown with no borrow held: the host's callback runs inside.
        let (ready, over) = ready;
        for drill in &ready {
            self.batch.emit_drill(drill.index, Some(drill));
        }
        over
    }
}

impl<T: Transport, C: Clock, H: Host> Batch<'_, '_, T, C, H> {
    /// After the whole answer was read: withdraw what was shown and is not kept as shown, show what
    /// is kept and was not shown.
    pub(super) fn reconcile_shown(&self, shown: &[Drill], kept: &[Drill]) {
        for drill in shown {
            if !kept.contains(drill) {
                self.emit_drill(drill.index, None);
            }
        }
        for drill in kept {
            if !shown.contains(drill) {
                self.emit_drill(drill.index, Some(drill));
            }
        }
    }
}
