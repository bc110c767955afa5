//! One LLM call of a batch: the prompt for the drills still missing (with the last rejection fed
//! back), the request shaped by what negotiation learned, the call, the answer read.

use super::batch::Batch;
use super::{Clock, Host, SendLimits, Transport};
use crate::drill::{Drill, batch_output_schema};
use crate::error::DrillgenError;
use crate::llm::{CallFailure, CallShape, Provider, build_request, parse_response};
use crate::output::{Expect, feedback, read_batch};
use crate::prompt::{BatchPrompt, batch_part, slots, with_feedback};

/// The drills read from one answer, the indices it did not give usable drills for, and why.
pub(super) struct Read {
    pub drills: Vec<Drill>,
    pub rejected: Vec<u32>,
    pub feedback: String,
}

pub(super) enum Attempt {
    Read(Read),
    /// The call failed; the shape it was sent with tells negotiation what was refused.
    Failed(CallFailure, CallShape),
}

impl<T: Transport, C: Clock, H: Host> Batch<'_, '_, T, C, H> {
    pub(super) async fn attempt(&mut self, todo: &[u32], rejected: Option<&str>) -> Attempt {
        let run = self.run;
        let config = &run.config;
        let spec = &self.job.spec;
        let failed = |e: DrillgenError| Attempt::Failed(CallFailure::from(e), CallShape::default());
        let slots = match slots(spec, todo) {
            Ok(s) => s,
            Err(e) => return failed(e),
        };
        let mut prompt = match batch_part(spec, &slots, &config.prompts) {
            Ok(user) => BatchPrompt {
                system: config.system.clone(),
                user,
            },
            Err(e) => return failed(e),
        };
        if let Some(problems) = rejected {
            prompt = with_feedback(prompt, problems);
        }
        let stream = run.warm_batch == Some(spec.batch_index);
        let cache_control = config.llm.provider == Provider::Anthropic && config.cache.cacheable;
        let permit = run.limiter.acquire().await;
        let limit = run.limiter.limit();
        let shape = run.state.borrow().negotiation.shape(stream, cache_control);
        if let Err(e) = self.count_call() {
            return failed(e);
        }
        let schema = batch_output_schema(todo.len());
        let request = build_request(
            &config.llm,
            &config.endpoint,
            &prompt,
            &schema,
            todo.len(),
            &shape,
        );
        let limits = SendLimits {
            timeout_ms: config.llm.timeout_ms(),
            max_bytes: config.llm.max_response_bytes(),
        };
        // The warming batch's response has begun: the cache entry exists, release the others.
        let began = |status: u16| {
            if stream && (200..300).contains(&status) {
                run.gate.open();
            }
        };
        let sent = run.transport.send(request, limits, &began).await;
        if matches!(sent, Err(DrillgenError::Timeout { .. })) {
            self.lower_concurrency(limit, permit.others());
        }
        drop(permit);
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(CallFailure::from(e), shape),
        };
        let completion = match parse_response(&config.llm, &shape, &response, run.clock.now_ms()) {
            Ok(c) => c,
            Err(f) => {
                self.usage.add(f.usage);
                return Attempt::Failed(f, shape);
            }
        };
        self.usage.add(completion.usage);
        // A drill's words are checked strictly once, while another attempt can still ask again.
        let can_ask_again = self.attempts <= config.retry.max_retries;
        let expect: Vec<Expect> = slots
            .iter()
            .map(|s| Expect {
                position: s.position,
                key: Some(&s.key),
                strict: can_ask_again && !self.reasked.contains(&s.index),
            })
            .collect();
        let reading = match read_batch(&completion.content, &expect) {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(CallFailure::from(e), shape),
        };
        for (code, n) in &reading.repairs {
            *self.repairs.entry(*code).or_default() += n;
        }
        let message = feedback(&reading);
        let (mut drills, mut rejected) = (Vec::new(), Vec::new());
        for (slot, read) in slots.iter().zip(reading.slots) {
            match read {
                Ok(draft) => drills.push(self.new_drill(slot, draft)),
                Err(_) => {
                    self.reasked.insert(slot.index);
                    rejected.push(slot.index);
                }
            }
        }
        Attempt::Read(Read {
            drills,
            rejected,
            feedback: message,
        })
    }

    fn lower_concurrency(&self, seen: u32, others: u32) {
        if let Some((from, to)) = self.run.limiter.timed_out(seen, others) {
            let warning = crate::types::Warning::new(
                crate::WarningCode::CONCURRENCY_LOWERED,
                format!(
                    "a call timed out while {others} others were in flight (a server that answers one request at a time queues them): calls in flight lowered from {from} to {to} for the rest of the run"
                ),
            );
            self.run.state.borrow_mut().warnings.push(warning);
        }
    }

    /// Counts a call against `subrequestBudget`, or refuses it. Every call sent counts once, for
    /// the run and for this batch, whether the server answers it or refuses its format.
    fn count_call(&mut self) -> Result<(), DrillgenError> {
        let mut st = self.run.state.borrow_mut();
        if let Some(budget) = self.run.config.call_budget
            && st.calls >= budget
        {
            return Err(DrillgenError::SubrequestBudget {
                needed: st.calls + 1,
                budget,
                batches: st.progress.total,
                attempts: self.run.config.retry.max_retries + 1,
            });
        }
        st.calls += 1;
        self.calls += 1;
        Ok(())
    }
}
