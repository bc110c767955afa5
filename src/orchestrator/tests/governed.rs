//! Runs given a rate governor (`rateGovernor`): every call waits for its permit, and series that
//! share one governor are paced together and fairly.

use futures_util::future::join;

use super::*;
use crate::rate::RateGovernor;

fn governed(requests_per_minute: u32, now: f64) -> govern::SharedGovernor {
    Rc::new(RefCell::new(RateGovernor::new(
        Some(requests_per_minute),
        None,
        now,
    )))
}

#[test]
fn every_call_waits_for_a_permit_within_the_requests_per_minute() {
    let mut w = world();
    let start = w.clock.now.get();
    let g = governed(2, start);
    w.host.governor = Some(g.clone());
    let r = run(&w, options(json!({})));
    assert_eq!(r.drills.len(), 25);
    assert_eq!(g.borrow().stats.admitted, 5);
    // A full bucket of 2, then one request every 30 s: the fifth call goes out after 90 s.
    let waited = w.clock.now.get() - start;
    assert!(waited >= 90_000.0, "waited {waited} ms");
    assert_nothing_lost(&w, &r, 0);
}

#[test]
fn two_series_sharing_a_governor_take_turns() {
    let mut a = world();
    let mut b = world();
    b.clock.now = a.clock.now.clone();
    let log = Rc::new(RefCell::new(Vec::new()));
    a.llm.log = Some((log.clone(), 'a'));
    b.llm.log = Some((log.clone(), 'b'));
    let g = governed(3, a.clock.now.get());
    a.host.governor = Some(g.clone());
    b.host.governor = Some(g.clone());
    let (ra, rb) = block_on(join(
        generate_series(
            options(json!({})),
            Runtime::Server,
            &a.llm,
            &a.clock,
            &a.host,
        ),
        generate_series(
            options(json!({ "artifactId": "other" })),
            Runtime::Server,
            &b.llm,
            &b.clock,
            &b.host,
        ),
    ));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!((ra.drills.len(), rb.drills.len()), (25, 25));
    assert_eq!(g.borrow().stats.admitted, 10);
    // Served first come, first served: the second series' calls start while the first's still
    // go out (3 at once, then one each 20 s), instead of after the first series has finished.
    let log = log.borrow();
    let first_b = log.iter().position(|&c| c == 'b').unwrap();
    let last_a = log.iter().rposition(|&c| c == 'a').unwrap();
    assert!(first_b <= 4 && last_a > first_b, "{log:?}");
    assert_nothing_lost(&a, &ra, 0);
    assert_nothing_lost(&b, &rb, 0);
}

#[test]
fn a_429_asking_for_a_year_pauses_the_governor_a_minute_at_most() {
    let mut w = world();
    let start = w.clock.now.get();
    let g = Rc::new(RefCell::new(RateGovernor::new(None, None, start)));
    w.host.governor = Some(g.clone());
    let year = Reply::Status(
        429,
        vec![("retry-after", "31536000")],
        r#"{"error":{"message":"slow down"}}"#.into(),
    );
    w.llm.script(0, &[year]);
    let r = run(&w, options(json!({ "concurrency": 1 })));
    // The batch gives up on a wait past maxRetryAfterMs (60 s); the others wait one minute.
    assert_eq!(
        r.batches[0].error.as_ref().map(|e| e.code),
        Some(ErrorCode::RATE_LIMITED)
    );
    let waited = w.clock.now.get() - start;
    assert!(
        (60_000.0..120_000.0).contains(&waited),
        "waited {waited} ms"
    );
    assert_eq!(
        r.drills.len(),
        25,
        "the top-up on spares completes the series"
    );
}

#[test]
fn a_waiter_is_admitted_as_soon_as_a_settled_call_frees_the_budget() {
    // 10,000 tokens a minute; the first call reserves it all, uses 500.
    let mut w = world();
    let start = w.clock.now.get();
    let g = Rc::new(RefCell::new(RateGovernor::new(None, Some(20_000), start)));
    w.host.governor = Some(g.clone());
    let r = run(
        &w,
        options(json!({ "concurrency": 2, "request": { "targetDrillCount": 10 } })),
    );
    assert_eq!(r.drills.len(), 10);
    // Each call is estimated at ~7,000+ tokens (its prompt and 6,400 of output) but the fake
    // bills 1,500: the second call goes out once the first settles and refunds, not a minute on.
    let waited = w.clock.now.get() - start;
    assert!(waited < 5_000.0, "waited {waited} ms");
}
