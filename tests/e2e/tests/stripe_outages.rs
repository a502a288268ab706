//! Stripe failing under the edge (real wrangler dev + D1 + the emulator's injected faults): a 5xx is retried with
//! the same idempotency key (one session, not two), a Stripe that stays rate limited becomes a clear 503 JSON
//! error, and a call that hangs is aborted and retried.

use std::time::{Duration, Instant};

use latch_e2e::{STRIPE_TEST_KEY, Stack, StackOptions, read_json};
use serde_json::{Value, json};

fn checkout(stack: &Stack) -> (u16, Value) {
    let resp = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
        .post(&format!("{}/v1/checkout", stack.edge_url))
        .send_json(json!({
            "site": latch_e2e::DEMO_SITE, "price": "course-lifetime", "return_url": format!("{}/demo/", stack.edge_url),
        }));
    match resp {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("checkout: {e}"),
    }
}

fn sessions(stack: &Stack) -> usize {
    let list = read_json(
        ureq::get(&format!("{}/v1/checkout/sessions?limit=100", stack.emulator_url))
            .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
            .call(),
    )
    .expect("sessions");
    list["data"].as_array().expect("data").len()
}

fn fault(stack: &Stack, status: u16, delay_ms: u64, count: u32) {
    stack
        .emulator_control(
            "/faults",
            &json!({ "path": "/v1/checkout/sessions", "status": status, "delay_ms": delay_ms, "count": count }),
        )
        .expect("inject a fault");
}

#[test]
fn stripe_errors_are_retried_safely_or_answered_clearly() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");

    // One 500: retried with the same Idempotency-Key; the buyer never notices, and Stripe holds one session.
    fault(&stack, 500, 0, 1);
    let (status, body) = checkout(&stack);
    assert_eq!(status, 200, "{body}");
    assert_eq!(sessions(&stack), 1);

    // Rate limited on every try: a clear, retryable JSON error, not a crash or a hang.
    fault(&stack, 429, 0, 3);
    let (status, body) = checkout(&stack);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "stripe_unavailable");
    assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("try again")), "{body}");
    assert_eq!(sessions(&stack), 1, "nothing was created");

    // 5xx on every try: the same clear error.
    fault(&stack, 503, 0, 3);
    assert_eq!(checkout(&stack).0, 503);

    // A hanging call is aborted after the edge's timeout and retried.
    fault(&stack, 0, 15_000, 1);
    let started = Instant::now();
    let (status, body) = checkout(&stack);
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() >= Duration::from_secs(8), "the first call was waited for up to the timeout");
    assert!(started.elapsed() < Duration::from_secs(14), "not the full 15 s: {:?}", started.elapsed());
}
