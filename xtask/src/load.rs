//! `cargo xtask bench`, requests through the real local stack: webhook deliveries and `GET /v1/access` against
//! wrangler dev (local workerd + local D1) with the Stripe emulator, from Rust threads at a fixed concurrency.
//!
//! Setup is the product's own path: seed the demo site, buy the `pro` subscription through `POST /v1/checkout`,
//! pay in the emulator, `POST /v1/claim` for a member token. The webhook events are built from the emulator's own
//! rendering of that subscription and its first invoice (Stripe's shapes), each with a distinct id and a newer
//! `created`, signed with the stack's endpoint secret, alternating `customer.subscription.updated` and
//! `invoice.paid`: every one is verified, parsed, applied and written to D1 like a real delivery.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use latch_e2e::{DEMO_SITE, STRIPE_TEST_KEY, Stack, StackOptions, read_json};
use serde_json::{Value, json};

/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// Webhook deliveries measured (after [`WARMUP`]).
const WEBHOOKS: usize = 400;
/// `GET /v1/access` requests measured (after [`WARMUP`]).
const ACCESS: usize = 1000;
/// Requests sent first and not measured (workerd compiles the Worker, D1 opens its file).
const WARMUP: usize = 16;

/// One kind of request, measured.
struct Run {
    requests: usize,
    elapsed: Duration,
    /// Latency of every answered request, sorted.
    latencies: Vec<Duration>,
    /// Answers that were not 2xx, and transport errors, with a sample of what they said.
    failures: usize,
    sample_failure: Option<String>,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let last = self.latencies.len().saturating_sub(1);
        let at = ((last as f64) * p).round() as usize;
        self.latencies.get(at.min(last)).copied().unwrap_or_default()
    }

    fn print(&self, label: &str) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "  {label:<36} {:>6.0} req/s   p50 {:>6.1} ms   p99 {:>6.1} ms   ({} requests, concurrency {CONCURRENCY}, \
             {} non-2xx or not applied)",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            ms(self.percentile(0.50)),
            ms(self.percentile(0.99)),
            self.requests,
            self.failures
        );
        if let Some(sample) = &self.sample_failure {
            println!("    first failure: {sample}");
        }
    }
}

/// Sends `count` requests from [`CONCURRENCY`] threads; `send(i)` makes request `i` and answers its status.
fn drive(count: usize, send: impl Fn(usize) -> Result<u16, String> + Sync) -> Run {
    let next = AtomicUsize::new(0);
    let results = Mutex::new((Vec::with_capacity(count), 0usize, None::<String>));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..CONCURRENCY {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    let t = Instant::now();
                    let outcome = send(i);
                    let took = t.elapsed();
                    let mut r = results.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    match outcome {
                        Ok(status) if (200..300).contains(&status) => r.0.push(took),
                        Ok(status) => {
                            r.1 += 1;
                            r.2.get_or_insert_with(|| format!("HTTP {status}"));
                        }
                        Err(e) => {
                            r.1 += 1;
                            r.2.get_or_insert(e);
                        }
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let (mut latencies, failures, sample_failure) =
        results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    latencies.sort();
    Run { requests: count, elapsed, latencies, failures, sample_failure }
}

/// The status of an answer, reading its body so the connection goes back to the pool. A webhook answered 200 but
/// not applied (`duplicate`, `ignored`) is a failure too: the bench measures deliveries that do the work.
fn status(result: Result<ureq::Response, ureq::Error>) -> Result<u16, String> {
    match result {
        Ok(r) => {
            let status = r.status();
            let body = r.into_string().unwrap_or_default();
            if body.contains("\"duplicate\"") || body.contains("\"ignored\"") {
                return Err(format!("not applied: {body}"));
            }
            Ok(status)
        }
        Err(ureq::Error::Status(status, r)) => {
            let body = r.into_string().unwrap_or_default();
            Err(format!("HTTP {status}: {}", body.chars().take(200).collect::<String>()))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// A member of the demo site with the `pro` subscription: their token and Stripe's subscription and invoice.
struct Member {
    token: String,
    subscription: Value,
    invoice: Value,
}

/// Buys `pro` through the product's own checkout and claim, then reads the subscription and its invoice back from
/// the emulator as Stripe renders them.
fn member(stack: &Stack, agent: &ureq::Agent) -> Result<Member, String> {
    let edge = &stack.edge_url;
    let post =
        |path: &str, body: Value| read_json(agent.post(&format!("{edge}{path}")).set("Origin", edge).send_json(body));
    let session = post(
        "/v1/checkout",
        json!({ "site": DEMO_SITE, "price": "pro-monthly", "return_url": format!("{edge}/demo/") }),
    )?;
    let id = session["id"].as_str().ok_or("checkout answered no session id")?;
    stack.emulator_control(
        &format!("/checkout/sessions/{id}/pay"),
        &json!({ "card": "4242424242424242", "email": "bench@example.com" }),
    )?;
    let claim = post("/v1/claim", json!({ "site": DEMO_SITE, "checkout_session_id": id, "claim": session["claim"] }))?;
    let token = claim["token"].as_str().ok_or("claim answered no token")?.to_owned();
    stack.wait_webhooks()?;
    let stripe = |path: &str| {
        read_json(
            agent
                .get(&format!("{}/v1/{path}", stack.emulator_url))
                .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
                .call(),
        )
    };
    let checkout = stripe(&format!("checkout/sessions/{id}"))?;
    let sub_id = checkout["subscription"].as_str().ok_or("the paid session has no subscription")?;
    let subscription = stripe(&format!("subscriptions/{sub_id}"))?;
    let invoice_id = subscription["latest_invoice"].as_str().ok_or("the subscription has no invoice")?;
    let invoice = stripe(&format!("invoices/{invoice_id}"))?;
    Ok(Member { token, subscription, invoice })
}

/// Delivery `i`: a distinct, newer event about the member's subscription, pretty-printed like Stripe sends it.
fn event(member: &Member, base: i64, i: usize) -> String {
    let created = base + i64::try_from(i).unwrap_or(0);
    let (kind, object) = if i.is_multiple_of(2) {
        ("customer.subscription.updated", member.subscription.clone())
    } else {
        ("invoice.paid", member.invoice.clone())
    };
    let event = json!({
        "id": format!("evt_bench_{base}_{i}"),
        "object": "event",
        "api_version": "2026-08-27.basil",
        "created": created,
        "data": { "object": object },
        "livemode": false,
        "pending_webhooks": 1,
        "request": { "id": null, "idempotency_key": null },
        "type": kind,
    });
    serde_json::to_string_pretty(&event).unwrap_or_default()
}

/// The D1 round trips the Worker reports for one more delivery (`X-Latch-D1-Round-Trips`).
fn round_trips(agent: &ureq::Agent, url: &str, stack: &Stack, body: &str) -> Result<String, String> {
    let header = latch_core::webhook::signature_header(body.as_bytes(), &stack.webhook_secret, latch_e2e::unix_now());
    let response = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("Stripe-Signature", &header)
        .set("Authorization", &format!("Bearer {}", stack.admin_token))
        .send_string(body)
        .map_err(|e| format!("the counted delivery failed: {e}"))?;
    response.header("X-Latch-D1-Round-Trips").map(str::to_owned).ok_or_else(|| "no X-Latch-D1-Round-Trips".into())
}

/// Starts the stack, makes a member, then measures webhook deliveries and access checks. Fails only when a
/// request was not answered 2xx.
pub(crate) fn run() -> Result<(), String> {
    let stack = Stack::start(StackOptions::default())?;
    stack.seed_demo()?;
    let agent = ureq::AgentBuilder::new().max_idle_connections_per_host(CONCURRENCY).build();
    let member = member(&stack, &agent)?;

    let url = format!("{}/v1/webhooks/stripe", stack.edge_url);
    let base = latch_e2e::unix_now();
    let total = WARMUP + WEBHOOKS;
    let deliveries: Vec<(String, String)> = (0..total)
        .map(|i| {
            let body = event(&member, base, i);
            let header =
                latch_core::webhook::signature_header(body.as_bytes(), &stack.webhook_secret, latch_e2e::unix_now());
            (body, header)
        })
        .collect();
    let size = deliveries.iter().map(|(b, _)| b.len()).sum::<usize>() / total.max(1);
    let webhook = |i: usize| {
        let (body, header) = &deliveries[i];
        status(
            agent.post(&url).set("Content-Type", "application/json").set("Stripe-Signature", header).send_string(body),
        )
    };
    let warm = drive(WARMUP, webhook);
    let webhooks = drive(WEBHOOKS, |i| webhook(WARMUP + i));
    let trips = round_trips(&agent, &url, &stack, &event(&member, base, total))?;

    let access_url = format!("{}/v1/access", stack.edge_url);
    let bearer = format!("Bearer {}", member.token);
    let access = |_: usize| status(agent.get(&access_url).set("Authorization", &bearer).call());
    let warm_access = drive(WARMUP, access);
    let accesses = drive(ACCESS, access);
    drop(stack);

    println!("\nrequests through wrangler dev (local workerd + local D1), this machine");
    webhooks.print(&format!("POST /v1/webhooks/stripe ({} B)", size));
    println!("    D1 round trips per webhook: {trips} (goal: at most 2, one read batch and one write batch)");
    accesses.print("GET /v1/access");
    let failures = warm.failures + webhooks.failures + warm_access.failures + accesses.failures;
    if failures > 0 {
        return Err(format!("{failures} requests through wrangler dev were not answered 2xx"));
    }
    Ok(())
}
