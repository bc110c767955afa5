//! One LLM call of a batch: the prompt for the drills still missing (with the last rejection fed
//! back), the request shaped by what negotiation learned, the call, the answer read.

use super::batch::Batch;
use super::early::Early;
use super::govern::{Admitted, admit};
use super::{Clock, Host, SendLimits, Transport};
use crate::drill::{Drill, batch_output_schema};
use crate::error::DrillgenError;
use crate::llm::{
    CallFailure, CallShape, HttpRequest, HttpResponse, Provider, Usage, build_request,
    parse_response,
};
use crate::output::{BatchReading, Expect, feedback, read_batch};
use crate::prompt::{BatchPrompt, Slot, batch_part, slots, with_feedback};
use crate::rate::Report;

/// The drills read from one answer, the indices it did not give usable drills for, and why.
pub(super) struct Read {
    pub drills: Vec<Drill>,
    pub rejected: Vec<u32>,
    pub feedback: String,
}

pub(super) enum Attempt {
    Read(Read),
    /// The call failed; the shape it was sent with tells negotiation what was refused. The drills
    /// that closed before a streamed answer broke off are kept.
    Failed(CallFailure, CallShape, Vec<Drill>),
}

impl<'a, T: Transport, C: Clock, H: Host> Batch<'_, 'a, T, C, H> {
    pub(super) async fn attempt(&mut self, todo: &[u32], rejected: Option<&str>) -> Attempt {
        let run = self.run;
        let config = &run.config;
        let spec = &self.job.spec;
        let failed =
            |e: DrillgenError| Attempt::Failed(CallFailure::from(e), CallShape::default(), vec![]);
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
        let warms = run.warm_batch == Some(spec.batch_index);
        let stream = warms || config.llm.streams();
        let cache_control = config.llm.provider == Provider::Anthropic && config.cache.cacheable;
        let permit = run.limiter.acquire().await;
        let limit = run.limiter.limit();
        let shape = run.state.borrow().negotiation.shape(stream, cache_control);
        let schema = batch_output_schema(todo.len());
        let request = build_request(
            &config.llm,
            &config.endpoint,
            &prompt,
            &schema,
            todo.len(),
            &shape,
        );
        let admitted = match self.admit_and_count(&request, todo.len()).await {
            Ok(a) => a,
            Err(e) => return failed(e),
        };
        let cap = config.llm.max_response_bytes();
        let limits = send_limits(config.llm.timeout_ms(), cap, shape.stream);
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
        let (sent, shown) = {
            let mut early = Early::new(self, &slots, &expect, config.llm.provider, cap);
            early.opens_gate = warms;
            early.streamed = shape.stream;
            let sent = run.transport.send(request, limits, &early).await;
            (sent, early.into_shown())
        };
        if matches!(sent, Err(DrillgenError::Timeout { .. })) {
            self.lower_concurrency(limit, permit.others());
        }
        drop(permit);
        let response = match sent {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(CallFailure::from(e), shape, shown),
        };
        let parsed = parse_response(&config.llm, &shape, &response, run.clock.now_ms());
        if let Some(admitted) = admitted {
            let usage = parsed.as_ref().map_or_else(|f| f.usage, |c| c.usage);
            admitted.settle(
                &report_of(&response, usage, config.llm.provider),
                run.clock.now_ms(),
            );
        }
        let completion = match parsed {
            Ok(c) => c,
            Err(f) => {
                self.usage.add(f.usage);
                return Attempt::Failed(f, shape, shown);
            }
        };
        self.usage.add(completion.usage);
        let reading = match read_batch(&completion.content, &expect) {
            Ok(r) => r,
            Err(e) => return Attempt::Failed(CallFailure::from(e), shape, shown),
        };
        self.keep_read(&slots, reading, &shown)
    }

    /// The drills one reading kept (the rest asked for again, leniently), the page told.
    fn keep_read(&mut self, slots: &[Slot], reading: BatchReading, shown: &[Drill]) -> Attempt {
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
        self.reconcile_shown(shown, &drills);
        Attempt::Read(Read {
            drills,
            rejected,
            feedback: message,
        })
    }

    /// The rate governor's permit, when the run has one, then the call counted against the
    /// budget: a call the budget refuses was never sent, and its permit's whole estimate comes back.
    async fn admit_and_count(
        &mut self,
        request: &HttpRequest,
        drills: usize,
    ) -> Result<Option<Admitted<'a>>, DrillgenError> {
        let run = self.run;
        let admitted = match run.host.governor() {
            Some(governor) => {
                let max_tokens = run.config.llm.max_tokens_for(drills);
                let priority = run.state.borrow().calls;
                let estimate = estimated_tokens(request, max_tokens);
                Some(admit(governor, run.clock, estimate, priority).await?)
            }
            None => None,
        };
        if let Err(e) = self.count_call() {
            if let Some(admitted) = admitted {
                let unsent = Report {
                    used_tokens: Some(0),
                    refunds_unused: true,
                    ..Report::default()
                };
                admitted.settle(&unsent, run.clock.now_ms());
            }
            return Err(e);
        }
        Ok(admitted)
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

/// How much larger than its answer a streamed body may be: OpenAI sends ~150-250 bytes of event per
/// chunk of a token or a few, Anthropic ~120 per `input_json_delta`; a compact stream is 10-50×
/// its text. The text itself is held to `maxResponseBytes` as it arrives.
const STREAM_FRAMING: u64 = 16;
/// At most this much framing on top of the text, whatever the cap: the whole body is held in
/// memory while it is read (a Worker isolate has 128 MB).
const MAX_FRAMING_BYTES: u64 = 16 * 1024 * 1024;

/// `maxResponseBytes` bounds the answer. A stream's framing (an event of ~200 bytes per token or
/// so) is allowed on top, up to STREAM_FRAMING times; its text is capped as it arrives (Early).
fn send_limits(timeout_ms: u64, cap: u64, stream: bool) -> SendLimits {
    let max_bytes = if stream {
        cap.saturating_mul(STREAM_FRAMING)
            .min(cap.saturating_add(MAX_FRAMING_BYTES))
    } else {
        cap
    };
    SendLimits {
        timeout_ms,
        max_bytes,
    }
}

/// What the governor learns from an answer: status, headers, the tokens billed.
fn report_of(response: &HttpResponse, usage: Usage, provider: Provider) -> Report<'_> {
    let used = usage.input_tokens.saturating_add(usage.output_tokens);
    Report {
        status: response.status,
        headers: &response.headers,
        used_tokens: (used > 0).then(|| used.min(u64::from(u32::MAX)) as u32),
        refunds_unused: provider == Provider::Anthropic,
    }
}

/// What a provider counts against a tokens-per-minute limit when it admits a call: the prompt (at
/// about 4 bytes a token) and the most the answer may use (OpenAI counts `max_tokens` at admission:
/// https://platform.openai.com/docs/guides/rate-limits). The real count settles it afterwards.
fn estimated_tokens(request: &HttpRequest, max_tokens: u32) -> u32 {
    let prompt = (request.body.len() / 4).min(u32::MAX as usize) as u32;
    prompt.saturating_add(max_tokens)
}
