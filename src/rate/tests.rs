use super::*;

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Admits one request for a new ticket at `now`, or the wait it was told.
fn admit(g: &mut RateGovernor, tokens: u32, now: f64) -> Result<Permit, u64> {
    let ticket = g.enqueue();
    match g.try_admit(ticket, tokens, now) {
        Admission::Go(p) => Ok(p),
        Admission::Wait(ms) => {
            g.leave(ticket);
            Err(ms)
        }
    }
}

fn ok(g: &mut RateGovernor, p: Permit, now: f64) {
    g.complete(
        p,
        &Report {
            status: 200,
            ..Report::default()
        },
        now,
    );
}

#[test]
fn requests_per_minute_refill_continuously() {
    let mut g = RateGovernor::new(Some(2), None, 0.0);
    let a = admit(&mut g, 0, 0.0).unwrap();
    let b = admit(&mut g, 0, 0.0).unwrap();
    ok(&mut g, a, 0.0);
    ok(&mut g, b, 0.0);
    // Two a minute: the third waits for one to refill (30 s).
    assert_eq!(admit(&mut g, 0, 0.0), Err(30_000));
    assert!(admit(&mut g, 0, 30_000.0).is_ok());
}

#[test]
fn a_request_is_admitted_when_its_tokens_fit() {
    let mut g = RateGovernor::new(None, Some(1_000), 0.0);
    let a = admit(&mut g, 600, 0.0).unwrap();
    // 400 left: 600 more need 200, at 1,000 a minute 12 s.
    assert_eq!(admit(&mut g, 600, 0.0), Err(12_000));
    // The first used only 100: the 500 it did not use come back where the provider charges
    // what was used (Anthropic), not where it charged the estimate on admission (OpenAI).
    let mut openai = g.clone();
    let used = |refunds_unused| Report {
        status: 200,
        used_tokens: Some(100),
        refunds_unused,
        ..Report::default()
    };
    g.complete(a, &used(true), 0.0);
    assert!(admit(&mut g, 600, 0.0).is_ok());
    openai.complete(a, &used(false), 0.0);
    assert_eq!(admit(&mut openai, 600, 0.0), Err(12_000));
    // Larger than the whole budget: waits for a full bucket, never for ever.
    let mut g = RateGovernor::new(None, Some(1_000), 0.0);
    assert!(admit(&mut g, 5_000, 0.0).is_ok());
    assert_eq!(admit(&mut g, 5_000, 0.0), Err(300_000));
}

#[test]
fn concurrency_halves_on_429_and_grows_back_additively() {
    let mut g = RateGovernor::new(None, None, 0.0);
    assert_eq!(g.concurrency(), 4);
    let throttled = h(&[("retry-after", "2")]);
    for expected in [2, 1, 1] {
        let now = g.paused_until;
        let p = admit(&mut g, 0, now).unwrap();
        g.complete(
            p,
            &Report {
                status: 429,
                headers: &throttled,
                used_tokens: None,
                refunds_unused: false,
            },
            now,
        );
        assert_eq!(g.concurrency(), expected);
    }
    // From 1: +1/limit per success, so one more slot per window of `limit` successes.
    let mut now = g.paused_until;
    let mut successes = 0;
    while g.concurrency() < 4 {
        let p = admit(&mut g, 0, now).unwrap();
        ok(&mut g, p, now);
        successes += 1;
        now += 1.0;
    }
    assert!(
        (4..=8).contains(&successes),
        "{successes} successes to grow from 1 to 4"
    );
    assert_eq!(g.stats.throttled, 3);
}

#[test]
fn concurrency_starts_slow_and_doubles_per_window_until_the_first_throttle() {
    let mut g = RateGovernor::new(None, None, 0.0);
    for (window, expected) in [(4, 8), (8, 16), (16, 32), (32, 64), (64, 64)] {
        let permits: Vec<_> = (0..window)
            .map(|_| admit(&mut g, 0, 0.0).unwrap())
            .collect();
        for p in permits {
            ok(&mut g, p, 0.0);
        }
        assert_eq!(g.concurrency(), expected, "after a window of {window}");
    }
}

#[test]
fn in_flight_requests_are_capped_by_the_concurrency() {
    let mut g = RateGovernor::new(None, None, 0.0);
    let permits: Vec<_> = (0..4).map(|_| admit(&mut g, 0, 0.0).unwrap()).collect();
    assert_eq!(admit(&mut g, 0, 0.0), Err(QUEUE_POLL_MS));
    ok(&mut g, permits[0], 1.0);
    assert!(admit(&mut g, 0, 1.0).is_ok());
}

#[test]
fn a_429_pauses_everyone_until_its_retry_after() {
    let mut g = RateGovernor::new(None, None, 0.0);
    let p = admit(&mut g, 0, 0.0).unwrap();
    let headers = h(&[("retry-after", "3")]);
    g.complete(
        p,
        &Report {
            status: 429,
            headers: &headers,
            used_tokens: None,
            refunds_unused: false,
        },
        1_000.0,
    );
    assert_eq!(admit(&mut g, 0, 1_000.0), Err(3_000));
    assert_eq!(admit(&mut g, 0, 3_500.0), Err(500));
    assert!(admit(&mut g, 0, 4_000.0).is_ok());
}

#[test]
fn openai_headers_teach_the_limits_and_a_zero_waits_for_the_reset() {
    let mut g = RateGovernor::new(None, None, 0.0);
    let p = admit(&mut g, 500, 0.0).unwrap();
    let headers = h(&[
        ("x-ratelimit-limit-requests", "60"),
        ("x-ratelimit-remaining-requests", "59"),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-limit-tokens", "6000"),
        ("x-ratelimit-remaining-tokens", "0"),
        ("x-ratelimit-reset-tokens", "6s"),
    ]);
    g.complete(
        p,
        &Report {
            status: 200,
            headers: &headers,
            used_tokens: Some(500),
            refunds_unused: false,
        },
        0.0,
    );
    // Tokens at zero: everyone waits for the reset.
    assert_eq!(admit(&mut g, 100, 0.0), Err(6_000));
    // Then the learned budget (6,000 a minute) governs: 6 s refilled 600 tokens.
    assert!(admit(&mut g, 600, 6_000.0).is_ok());
    assert_eq!(admit(&mut g, 600, 6_000.0), Err(6_000));
}

#[test]
fn anthropic_headers_teach_the_limits_with_rfc3339_resets() {
    let now = crate::retry::parse_rfc3339("2026-12-05T12:00:00Z").unwrap();
    let mut g = RateGovernor::new(None, None, now);
    let p = admit(&mut g, 0, now).unwrap();
    let headers = h(&[
        ("anthropic-ratelimit-requests-limit", "50"),
        ("anthropic-ratelimit-requests-remaining", "0"),
        ("anthropic-ratelimit-requests-reset", "2026-12-05T12:00:02Z"),
        ("anthropic-ratelimit-input-tokens-limit", "40000"),
        ("anthropic-ratelimit-input-tokens-remaining", "39000"),
    ]);
    g.complete(
        p,
        &Report {
            status: 200,
            headers: &headers,
            used_tokens: None,
            refunds_unused: false,
        },
        now,
    );
    assert_eq!(admit(&mut g, 0, now), Err(2_000));
    assert_eq!(g.tokens.per_minute, Some(40_000.0));
    assert_eq!(g.requests.per_minute, Some(50.0));
}

#[test]
fn callers_are_served_in_turn_so_no_series_starves() {
    // Two series share a tight budget; each keeps one request waiting in line.
    let mut g = RateGovernor::new(Some(30), None, 0.0);
    let mut waiting = [g.enqueue(), g.enqueue()];
    let mut served = [0u32; 2];
    let mut now = 0.0;
    while now < 120_000.0 {
        for s in 0..2 {
            if let Admission::Go(p) = g.try_admit(waiting[s], 0, now) {
                served[s] += 1;
                ok(&mut g, p, now);
                waiting[s] = g.enqueue();
            }
        }
        now += 100.0;
    }
    assert!(served[0].abs_diff(served[1]) <= 1, "{served:?}");
    assert!(
        (88..=90).contains(&(served[0] + served[1])),
        "a full bucket of 30, then two minutes at 30 a minute: {served:?}"
    );
}

#[test]
fn a_caller_who_leaves_the_line_does_not_block_it() {
    let mut g = RateGovernor::new(None, None, 0.0);
    let gone = g.enqueue();
    let next = g.enqueue();
    assert_eq!(g.try_admit(next, 0, 0.0), Admission::Wait(QUEUE_POLL_MS));
    g.leave(gone);
    assert!(matches!(g.try_admit(next, 0, 0.0), Admission::Go(_)));
}

#[test]
fn a_callers_first_call_goes_before_anothers_later_ones() {
    let mut g = RateGovernor::new(None, None, 0.0);
    // A series with 10 calls behind it waits, then a new series' first call arrives.
    let busy = g.enqueue_with(10);
    let first = g.enqueue_with(0);
    assert_eq!(g.try_admit(busy, 0, 0.0), Admission::Wait(QUEUE_POLL_MS));
    assert!(matches!(g.try_admit(first, 0, 0.0), Admission::Go(_)));
    assert!(matches!(g.try_admit(busy, 0, 0.0), Admission::Go(_)));
}

#[test]
fn a_reported_remaining_only_ever_lowers_the_level() {
    let mut g = RateGovernor::new(None, Some(10_000), 0.0);
    let settle = |g: &mut RateGovernor, tokens: u32, remaining: &str| {
        let p = admit(g, tokens, 0.0).unwrap();
        let headers = h(&[("x-ratelimit-remaining-tokens", remaining)]);
        let report = Report {
            status: 200,
            headers: &headers,
            ..Report::default()
        };
        g.complete(p, &report, 0.0);
        g.tokens.available
    };
    // Stamped when this call was admitted (9,000 left then), read after 8,000 more went out.
    assert_eq!(
        settle(&mut g, 8_000, "9000"),
        2_000.0,
        "our own count is lower: it stays"
    );
    assert_eq!(
        settle(&mut g, 0, "500"),
        500.0,
        "the provider's is lower: it wins"
    );
}
