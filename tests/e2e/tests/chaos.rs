//! Stripe as it really delivers: late, twice, out of order and several at once. For each seed, members live a
//! realistic history on the demo site (subscribe with a trial, renew, fail and recover, cancel at the period's
//! end or now, refund, dispute won or lost, customer deleted) while the emulator's delivery chaos is on, against
//! real wrangler dev and D1. Once everything is delivered, each member's access (`GET /v1/access`) must be what
//! Stripe's final objects imply, no grant may exist twice, and no event may have written its activity twice.
//!
//! `LATCH_CHAOS_SEEDS` (comma-separated) picks the seeds, `LATCH_CHAOS_CASES` how many random ones, and
//! `LATCH_CHAOS_CONCURRENCY` how many different deliveries may be in flight at once (default 1: the order is shuffled
//! and a duplicate's copies race each other, but different events do not). `cargo xtask soak` runs many seeds with 8
//! at once and prints the cases run and failed: it still finds a lost update between different events of one
//! subscription processed at the same time (an open fault, noted on issue 15). A failing seed is printed: `LATCH_CHAOS_SEEDS=<seed>` replays
//! its history and its chaos settings; the deliveries' exact order also depends on timing, so a replay is likely,
//! not certain, to meet the same fault.

use std::time::{Duration, Instant};

use latch_e2e::{DEMO_SITE, PAYING_CARD, STRIPE_TEST_KEY, Stack, StackOptions, read_json, unix_now};
use latch_stripe_emulator::chaos::Rng;
use serde_json::{Value, json};

const DAY: i64 = 86_400;
/// Seeds run by `cargo xtask test` when no seed is asked for.
/// (778672 and 665981 failed, with 8 deliveries at once, in a run with the grants upsert's version guard taken out of
/// its SQL.)
const CI_SEEDS: [u64; 5] = [778_672, 665_981, 11, 2024, 748_577];
const MEMBERS: usize = 4;
const STEPS: usize = 8;

/// One member of the history: who they are and what they bought.
struct Member {
    email: String,
    customer: String,
    subscription: Option<String>,
    course_charge: Option<String>,
    deleted: bool,
}

fn stripe(stack: &Stack, method: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let req = ureq::request(method, &format!("{}/v1/{path}", stack.emulator_url))
        .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"));
    read_json(if form.is_empty() { req.call() } else { req.send_form(form) })
        .unwrap_or_else(|e| panic!("{method} /v1/{path}: {e}"))
}

fn control(stack: &Stack, path: &str, body: Value) -> Value {
    stack.emulator_control(path, &body).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Buys `price` as `token` (or a new member) paying with a good card; answers (claim answer, checkout session).
fn buy(stack: &Stack, price: &str, token: Option<&str>, email: &str) -> (Value, Value) {
    let checkout = stack.checkout(DEMO_SITE, price, token, &json!({}));
    let id = checkout["id"].as_str().expect("checkout id");
    stack.pay(id, PAYING_CARD, email).expect("the emulator takes the payment");
    let claimed = stack.claim(DEMO_SITE, &checkout);
    assert_eq!(claimed.status, 200, "claim: {}", claimed.body);
    (claimed.body, stripe(stack, "GET", &format!("checkout/sessions/{id}?expand[]=payment_intent"), &[]))
}

/// Moves Stripe's clock and then the Worker's, as time passes for both.
fn advance(stack: &Stack, seconds: i64) {
    stack.advance_clocks(seconds).expect("move the clocks");
}

/// One random step of the history; answers what it did, for the report.
fn step(stack: &Stack, rng: &mut Rng, members: &mut [Member]) -> String {
    let i = rng.between(0, members.len() as u64 - 1) as usize;
    let m = &mut members[i];
    if m.deleted {
        return format!("{}: nothing (deleted)", m.email);
    }
    match rng.between(0, 9) {
        0..=2 => {
            let days = rng.between(5, 35) as i64;
            advance(stack, days * DAY);
            format!("clock +{days} days")
        }
        3 => {
            let fail = rng.chance(0.6);
            control(stack, &format!("/customers/{}/fail_payments", m.customer), json!({ "fail": fail }));
            format!("{}: payments {}", m.email, if fail { "fail" } else { "succeed" })
        }
        4 if m.subscription.is_some() => {
            let sub = m.subscription.clone().unwrap_or_default();
            if stripe(stack, "GET", &format!("subscriptions/{sub}"), &[])["status"] == "canceled" {
                return format!("{}: nothing to cancel", m.email);
            }
            let now = rng.chance(0.3);
            if now {
                stripe(stack, "DELETE", &format!("subscriptions/{sub}"), &[]);
            } else {
                stripe(stack, "POST", &format!("subscriptions/{sub}"), &[("cancel_at_period_end", "true")]);
            }
            format!("{}: cancel {}", m.email, if now { "now" } else { "at period end" })
        }
        5 if m.course_charge.is_none() => {
            let (_, session) = buy(stack, "course-lifetime", Some(&token(stack, m)), &m.email);
            m.course_charge = session["payment_intent"]["latest_charge"].as_str().map(str::to_owned);
            format!("{}: buys the course", m.email)
        }
        6 if m.course_charge.is_some() => {
            let charge = m.course_charge.clone().unwrap_or_default();
            let refunded = stripe(stack, "GET", &format!("charges/{charge}"), &[])["refunded"] == true;
            if !refunded {
                stripe(stack, "POST", "refunds", &[("charge", &charge)]);
            }
            format!("{}: refund of the course", m.email)
        }
        7 if m.course_charge.is_some() => {
            let charge = m.course_charge.clone().unwrap_or_default();
            let ch = stripe(stack, "GET", &format!("charges/{charge}"), &[]);
            if ch["disputed"] == true || ch["refunded"] == true {
                return format!("{}: no dispute (already disputed or refunded)", m.email);
            }
            let dp = control(stack, &format!("/charges/{charge}/dispute"), json!({}));
            let outcome = if rng.chance(0.5) { "won" } else { "lost" };
            control(
                stack,
                &format!("/disputes/{}/resolve", dp["id"].as_str().unwrap_or_default()),
                json!({ "outcome": outcome }),
            );
            format!("{}: dispute {outcome}", m.email)
        }
        8 if rng.chance(0.3) => {
            stripe(stack, "DELETE", &format!("customers/{}", m.customer), &[]);
            m.deleted = true;
            format!("{}: customer deleted", m.email)
        }
        _ => {
            let days = rng.between(1, 10) as i64;
            advance(stack, days * DAY);
            format!("clock +{days} days")
        }
    }
}

/// The demo products' past-due grace (the default policy).
const GRACE_DAYS: i64 = 7;

/// When access that Stripe's objects imply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    /// At this time.
    At(i64),
    /// Never (a one-time purchase).
    Never,
}

impl End {
    fn admits(self, ends_at: Option<i64>) -> bool {
        match self {
            Self::At(t) => ends_at == Some(t),
            Self::Never => ends_at.is_none(),
        }
    }
}

/// Where the oldest unpaid invoice of `sub` starts its period (a renewal still a draft, or failing), if any.
fn first_unpaid(stack: &Stack, sub: &str) -> Option<i64> {
    let invoices = stripe(stack, "GET", &format!("invoices?subscription={sub}&limit=100"), &[]);
    let unpaid = invoices["data"].as_array()?.iter().filter(|i| matches!(i["status"].as_str(), Some("open" | "draft")));
    unpaid.filter_map(|i| i["lines"]["data"][0]["period"]["start"].as_i64()).min()
}

/// The access Stripe's final objects imply for `m`, by product.
fn expected(stack: &Stack, m: &Member) -> Vec<(String, End)> {
    let mut out = Vec::new();
    if let Some(sub) = &m.subscription {
        let s = stripe(stack, "GET", &format!("subscriptions/{sub}"), &[]);
        let end = s["items"]["data"][0]["current_period_end"].as_i64().unwrap_or_default();
        let now = control(stack, "/clock/advance", json!({ "seconds": 0 }))["now"].as_i64().unwrap_or_default();
        match (s["status"].as_str(), first_unpaid(stack, sub)) {
            (Some("active" | "trialing"), None) => out.push(("pro".to_owned(), End::At(end))),
            // A renewal not yet paid (its invoice a draft for an hour, or failing): the paid days, then the grace.
            (Some("active" | "past_due"), Some(from)) if from + GRACE_DAYS * DAY > now => {
                out.push(("pro".to_owned(), End::At(from + GRACE_DAYS * DAY)));
            }
            _ => {}
        }
    }
    if let Some(charge) = &m.course_charge {
        let ch = stripe(stack, "GET", &format!("charges/{charge}"), &[]);
        let disputes = stripe(stack, "GET", &format!("disputes?charge={charge}"), &[]);
        let lost = disputes["data"].as_array().is_some_and(|d| d.iter().any(|dp| dp["status"] == "lost"));
        if ch["refunded"] != true && !lost {
            out.push(("course".to_owned(), End::Never));
        }
    }
    out.sort();
    out
}

/// A fresh member token for `m` (tokens expire as the months pass): signed in by emailed code.
fn token(stack: &Stack, m: &Member) -> String {
    let verified = stack.member_signin(DEMO_SITE, &m.email, None);
    verified["token"].as_str().expect("member token").to_owned()
}

fn actual(stack: &Stack, m: &Member) -> Vec<(String, Option<i64>)> {
    let answer = stack.get("/v1/access", Some(&token(stack, m)));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let mut out: Vec<(String, Option<i64>)> = answer.body["access"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| (a["product"].as_str().unwrap_or_default().to_owned(), a["ends_at"].as_i64()))
        .collect();
    out.sort();
    out
}

/// Waits until no delivery is pending at the emulator and no re-fetch is pending in the Worker.
fn drain(stack: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        stack.wait_webhooks().expect("webhooks delivered");
        let open = "SELECT count(*) AS n FROM pending_fetches WHERE status IN ('pending', 'running')";
        let fetches = stack.sql(open).expect("D1")[0]["n"].as_i64();
        if fetches == Some(0) {
            return;
        }
        assert!(Instant::now() < deadline, "re-fetches still pending: {fetches:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Runs one seed; answers the failures found (empty: the seed passed).
fn run(seed: u64) -> Vec<String> {
    let opts = StackOptions { verbose: std::env::var_os("LATCH_E2E_VERBOSE").is_some(), ..StackOptions::default() };
    let stack = Stack::start(opts).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    let concurrency: u64 = std::env::var("LATCH_CHAOS_CONCURRENCY").ok().and_then(|c| c.parse().ok()).unwrap_or(1);
    let chaos = json!({ "seed": seed, "shuffle": 16, "duplicate": 0.5, "concurrency": concurrency, "delay_ms": [0, 10],
                        "drop_first": 0.2, "timeout": 0.2 });
    // `LATCH_CHAOS_CALM` replays the same history with calm deliveries, to tell an ordering fault from another.
    if std::env::var_os("LATCH_CHAOS_CALM").is_none() {
        control(&stack, "/chaos", chaos);
    }
    let mut rng = Rng::new(seed);
    let mut history = Vec::new();
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let email = format!("m{i}-{seed}@example.com");
        let checkout = stack.checkout(DEMO_SITE, "pro-monthly", None, &json!({}));
        let id = checkout["id"].as_str().expect("checkout id").to_owned();
        stack.pay(&id, PAYING_CARD, &email).expect("the emulator takes the payment");
        let claimed = stack.claim(DEMO_SITE, &checkout);
        assert_eq!(claimed.status, 200, "claim: {}", claimed.body);
        let session = stripe(&stack, "GET", &format!("checkout/sessions/{id}"), &[]);
        history.push(format!("{email}: subscribes (7-day trial)"));
        members.push(Member {
            email,
            customer: session["customer"].as_str().expect("customer").to_owned(),
            subscription: session["subscription"].as_str().map(str::to_owned),
            course_charge: None,
            deleted: false,
        });
    }
    for _ in 0..STEPS {
        history.push(step(&stack, &mut rng, &mut members));
    }
    drain(&stack);

    let mut failures = Vec::new();
    for m in &members {
        let want = expected(&stack, m);
        let got = actual(&stack, m);
        let matches =
            want.len() == got.len() && want.iter().zip(&got).all(|((wp, we), (gp, ge))| wp == gp && we.admits(*ge));
        if !matches {
            let diary =
                format!("SELECT kind, product, reason FROM activity WHERE customer = '{}' ORDER BY id", m.customer);
            let diary = stack.sql(&diary).unwrap_or_default();
            failures.push(format!("seed {seed}: {} has {got:?}, Stripe implies {want:?}; activity: {diary}", m.email));
        }
    }
    let twice = stack
        .sql(
            "SELECT event_id, kind, customer, product, count(*) AS n FROM activity WHERE event_id IS NOT NULL \
             GROUP BY event_id, kind, customer, product HAVING n > 1",
        )
        .expect("D1");
    if let Some(rows) = twice.as_array().filter(|rows| !rows.is_empty()) {
        let ids: Vec<String> = rows.iter().filter_map(|r| r["event_id"].as_str()).map(|id| format!("'{id}'")).collect();
        let detail = stack
            .sql(&format!("SELECT * FROM activity WHERE event_id IN ({}) ORDER BY id", ids.join(",")))
            .unwrap_or_default();
        failures.push(format!("seed {seed}: activity written twice: {twice}; the rows: {detail}"));
    }
    // Every delivery, duplicates racing each other included, is answered without a server error.
    let deliveries = stack.deliveries().expect("the emulator's delivery log");
    let errors: Vec<&Value> = deliveries
        .as_array()
        .map(|d| d.iter().filter(|a| a["status"].as_u64().is_some_and(|s| s >= 500)).collect())
        .unwrap_or_default();
    if !errors.is_empty() {
        failures.push(format!("seed {seed}: {} deliveries answered 5xx: {:?}", errors.len(), errors.first()));
    }
    let doubled = stack
        .sql(
            "SELECT customer, product, count(*) AS n FROM grants WHERE source LIKE 'sub_%' AND status = 'active' \
             GROUP BY customer, product HAVING n > 1",
        )
        .expect("D1");
    if doubled.as_array().is_some_and(|rows| !rows.is_empty()) {
        failures.push(format!("seed {seed}: a subscription granted twice: {doubled}"));
    }
    if !failures.is_empty() {
        let grants = stack
            .sql("SELECT customer, product, source, status, ends_at FROM grants ORDER BY customer")
            .unwrap_or_default();
        failures.push(format!("seed {seed} grants: {grants}"));
        failures.push(format!("seed {seed} history: {}", history.join("; ")));
    }
    failures
}

fn seeds() -> Vec<u64> {
    if let Ok(list) = std::env::var("LATCH_CHAOS_SEEDS") {
        return list.split(',').filter_map(|s| s.trim().parse().ok()).collect();
    }
    if let Some(n) = std::env::var("LATCH_CHAOS_CASES").ok().and_then(|n| n.parse::<u64>().ok()) {
        let mut rng = Rng::new(unix_now() as u64);
        return (0..n).map(|_| rng.next_u64() % 1_000_000).collect();
    }
    CI_SEEDS.to_vec()
}

#[test]
fn access_ends_as_stripe_decided_whatever_the_delivery_order() {
    let seeds = seeds();
    let mut failed = Vec::new();
    for seed in &seeds {
        let failures = std::panic::catch_unwind(|| run(*seed)).unwrap_or_else(|panic| {
            let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
            vec![format!("seed {seed} stopped: {message}"), format!("seed {seed} history: (see above)")]
        });
        println!("chaos seed {seed}: {}", if failures.is_empty() { "ok" } else { "FAILED" });
        failed.extend(failures);
    }
    println!("chaos cases run: {}, failed: {}", seeds.len(), failed.iter().filter(|f| f.contains("history")).count());
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
