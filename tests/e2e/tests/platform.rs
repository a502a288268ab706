//! Customer Portal settings, notification emails (the outbox: held emails, a provider that never answers, pruning),
//! and re-fetches taken off the webhook request, against the real stack (workerd + local D1 + the Stripe emulator).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use latch_e2e::{DEMO_SITE, STRIPE_TEST_KEY, Stack, StackOptions, read_json, unix_now};
use serde_json::{Value, json};

fn stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
}

/// A request's status and JSON body, whatever the status.
struct Answer {
    status: u16,
    body: Value,
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> Answer {
    let (status, text) = match result {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(status, r)) => (status, r.into_string().unwrap_or_default()),
        Err(e) => panic!("request failed: {e}"),
    };
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

fn code(a: &Answer) -> &str {
    a.body["error"]["code"].as_str().unwrap_or_else(|| panic!("an error body, got {} {}", a.status, a.body))
}

/// The Stripe API of the emulator (platform account), as Latch's key.
fn stripe(stack: &Stack, method: &str, path: &str, form: &str) -> Value {
    let req = ureq::request(method, &format!("{}{path}", stack.emulator_url))
        .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"));
    let resp = if method == "GET" {
        req.call()
    } else {
        req.set("Content-Type", "application/x-www-form-urlencoded").send_string(form)
    };
    read_json(resp).unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

fn owner_api(stack: &Stack, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let req = ureq::request(method, &format!("{}/owner/v1/sites/{DEMO_SITE}{path}", stack.edge_url))
        .set("Authorization", &format!("Bearer {}", stack.admin_token));
    answer(match body {
        Some(b) => req.send_json(b.clone()),
        None => req.call(),
    })
}

/// Buys `price` as `email` (checkout, pay on the emulator, claim): the member token and the checkout session.
fn buy(stack: &Stack, price: &str, email: &str) -> (String, Value) {
    let checkout = pay_only(stack, price, email);
    let claimed = stack.claim(DEMO_SITE, &checkout);
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    let token = claimed.body["token"].as_str().expect("token").to_owned();
    (token, stripe(stack, "GET", &format!("/v1/checkout/sessions/{}", checkout["id"].as_str().expect("id")), ""))
}

/// Checkout and pay on the emulator, never coming back to claim (only webhooks tell the edge): the checkout answer
/// (`{id, url, claim}`).
fn pay_only(stack: &Stack, price: &str, email: &str) -> Value {
    let checkout = stack.checkout(DEMO_SITE, price, None, &json!({ "email": email }));
    let id = checkout["id"].as_str().expect("session id");
    stack.emulator_control(&format!("/checkout/sessions/{id}/pay"), &json!({ "email": email })).expect("pay");
    checkout
}

fn open_portal(stack: &Stack, token: &str, body: &Value) -> Answer {
    answer(
        ureq::post(&format!("{}/v1/portal", stack.edge_url))
            .set("Origin", &stack.edge_url)
            .set("Authorization", &format!("Bearer {token}"))
            .send_json(body.clone()),
    )
}

fn page(url: &str) -> String {
    ureq::get(url).call().expect("portal page").into_string().expect("page text")
}

fn subjects(stack: &Stack, to: &str) -> Vec<String> {
    stack.outbox(to).expect("dev outbox").iter().filter_map(|e| e["subject"].as_str().map(str::to_owned)).collect()
}

/// Polls `check` until it holds (the work under test runs after the answer).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn grant_status(stack: &Stack, subscription: &str) -> String {
    let rows = stack.sql(&format!("SELECT status FROM grants WHERE source = '{subscription}'")).expect("grants");
    rows[0]["status"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn portal_settings_shape_the_members_portal() {
    let stack = stack();
    let own = stack.edge_url.clone();
    let (token, session) = buy(&stack, "pro-monthly", "portal-a@example.com");
    let sub = session["subscription"].as_str().expect("subscription").to_owned();
    let back = json!({ "return_url": format!("{own}/demo/") });

    // Defaults: Stripe's own portal, cancelling allowed.
    let got = owner_api(&stack, "GET", "/portal", None);
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["enabled"], true);
    assert_eq!(
        (got.body["allow_cancel"].clone(), got.body["stripe_configuration"].clone()),
        (json!(true), Value::Null)
    );
    let unauthorized = answer(ureq::get(&format!("{own}/owner/v1/sites/{DEMO_SITE}/portal")).call());
    assert_eq!((unauthorized.status, code(&unauthorized)), (401, "unauthorized"));

    // Clear errors for links members could not open.
    let bad = owner_api(
        &stack,
        "PUT",
        "/portal",
        Some(&json!({ "enabled": true, "allow_cancel": false, "privacy_policy_url": "http://example.com/privacy" })),
    );
    assert_eq!((bad.status, code(&bad)), (400, "invalid_portal_settings"));
    assert!(bad.body["error"]["message"].as_str().is_some_and(|m| m.contains("privacy_policy_url")), "{}", bad.body);

    let settings = json!({
        "enabled": true, "allow_cancel": false,
        "privacy_policy_url": "https://example.com/privacy", "terms_of_service_url": "https://example.com/terms",
    });
    let saved = owner_api(&stack, "PUT", "/portal", Some(&settings));
    assert_eq!(saved.status, 200, "{}", saved.body);
    let bpc = saved.body["stripe_configuration"].as_str().expect("configuration id").to_owned();
    let conf = stripe(&stack, "GET", &format!("/v1/billing_portal/configurations/{bpc}"), "");
    assert_eq!(conf["features"]["subscription_cancel"]["enabled"], false);
    assert_eq!(conf["business_profile"]["terms_of_service_url"], "https://example.com/terms");
    assert_eq!(owner_api(&stack, "GET", "/portal", None).body, saved.body);

    // The member's portal uses it: no cancel button, the site's links.
    let portal = open_portal(&stack, &token, &back);
    assert_eq!(portal.status, 200, "{}", portal.body);
    let html = page(portal.body["url"].as_str().expect("portal url"));
    assert!(html.contains(&format!("id=\"sub-{sub}\"")), "the member's subscription is listed");
    assert!(!html.contains(&format!("id=\"cancel-{sub}\"")), "cancelling is off");
    assert!(
        html.contains("href=\"https://example.com/privacy\"") && html.contains("href=\"https://example.com/terms\"")
    );

    // A return URL on a foreign origin is refused.
    let foreign = open_portal(&stack, &token, &json!({ "return_url": "https://evil.example/" }));
    assert_eq!((foreign.status, code(&foreign)), (400, "origin_not_allowed"));

    // Saving again updates the same configuration; cancelling comes back.
    let resaved = owner_api(&stack, "PUT", "/portal", Some(&json!({ "enabled": true, "allow_cancel": true })));
    assert_eq!(resaved.body["stripe_configuration"], bpc.as_str());
    assert_eq!(resaved.body["privacy_policy_url"], Value::Null);
    let conf = stripe(&stack, "GET", &format!("/v1/billing_portal/configurations/{bpc}"), "");
    assert_eq!(conf["business_profile"]["privacy_policy_url"], Value::Null);
    let html = page(open_portal(&stack, &token, &back).body["url"].as_str().expect("portal url"));
    assert!(html.contains(&format!("id=\"cancel-{sub}\"")), "cancelling is on again");

    // A member only ever gets a portal for their own customer, whatever the body says.
    let (other_token, _) = buy(&stack, "course-lifetime", "portal-b@example.com");
    let theirs = open_portal(
        &stack,
        &other_token,
        &json!({ "return_url": format!("{own}/demo/"), "customer": session["customer"] }),
    );
    assert_eq!(theirs.status, 200, "{}", theirs.body);
    let html = page(theirs.body["url"].as_str().expect("portal url"));
    assert!(html.contains("portal-b@example.com") && !html.contains("portal-a@example.com"));
    assert!(!html.contains(&sub), "another member's subscription never shows");

    // Turned off: 409.
    owner_api(&stack, "PUT", "/portal", Some(&json!({ "enabled": false, "allow_cancel": true })));
    let off = open_portal(&stack, &token, &back);
    assert_eq!((off.status, code(&off)), (409, "portal_disabled"));
}

#[test]
fn notifications_are_emailed_once_each() {
    let stack = stack();
    let email = "notify@example.com";
    // Only webhooks tell the edge (no claim): whichever event comes first, the email reaches the member once the
    // checkout links the customer to them.
    let checkout = pay_only(&stack, "pro-monthly", email);
    let session = stripe(&stack, "GET", &format!("/v1/checkout/sessions/{}", checkout["id"].as_str().expect("id")), "");
    let (sub, customer) = (session["subscription"].as_str().expect("sub"), session["customer"].as_str().expect("cus"));
    stack.wait_webhooks().expect("webhooks");
    eventually("the access email", || {
        subjects(&stack, email).contains(&"Your access to Pro membership is ready".into())
    });
    let ready = stack.outbox(email).expect("dev outbox");
    assert_eq!(ready.len(), 1, "one email so far: {ready:?}");
    let held = stack.sql("SELECT count(*) AS n FROM outbox WHERE status = 'held'").expect("held");
    assert_eq!(held[0]["n"], 0, "nothing left waiting for a recipient");
    let text = ready[0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("The Rust Weekly (demo)") && text.contains("Sign in"), "{text}");

    // The trial ends and the card fails: one payment-failed email, however often Stripe redelivers the event.
    stack.emulator_control(&format!("/customers/{customer}/fail_payments"), &json!({ "fail": true })).expect("fail");
    stack.emulator_control("/clock/advance", &json!({ "seconds": 8 * 86_400 })).expect("advance");
    stack.wait_webhooks().expect("webhooks");
    let failed = "Payment failed for Pro membership".to_owned();
    eventually("the payment-failed email", || subjects(&stack, email).contains(&failed));
    let events = stripe(&stack, "GET", "/v1/events?type=invoice.payment_failed", "");
    let event = events["data"][0]["id"].as_str().expect("payment_failed event").to_owned();
    stack.emulator_control(&format!("/events/{event}/redeliver"), &json!({})).expect("redeliver");
    stack.wait_webhooks().expect("webhooks");

    // Cancelled: the member hears their access ended.
    stripe(&stack, "DELETE", &format!("/v1/subscriptions/{sub}"), "");
    stack.wait_webhooks().expect("webhooks");
    let ended = "Your access to Pro membership has ended".to_owned();
    eventually("the access-ended email", || subjects(&stack, email).contains(&ended));
    let deleted = stripe(&stack, "GET", "/v1/events?type=customer.subscription.deleted", "");
    let event = deleted["data"][0]["id"].as_str().expect("deleted event").to_owned();
    stack.emulator_control(&format!("/events/{event}/redeliver"), &json!({})).expect("redeliver");
    // Acknowledged means handled: the edge writes an event's emails in the batch it answers after.
    stack.wait_webhooks().expect("webhooks");
    let redelivered = stack.deliveries().expect("delivery log");
    let attempts = redelivered.as_array().expect("attempts").iter().filter(|d| d["event_id"] == event.as_str());
    assert_eq!(attempts.filter(|d| d["ok"] == true).count(), 2, "delivered and redelivered: {redelivered}");
    let all = subjects(&stack, email);
    assert_eq!(all.iter().filter(|s| **s == failed).count(), 1, "{all:?}");
    assert_eq!(all.iter().filter(|s| **s == ended).count(), 1, "{all:?}");
    eventually("every email sent", || stack.outbox(email).expect("dev outbox").iter().all(|e| e["status"] == "sent"));
}

#[test]
fn a_notification_for_an_unlinked_customer_waits_until_the_member_is_known() {
    let stack = stack();
    let email = "held@example.com";
    let checkout = pay_only(&stack, "course-lifetime", email);
    let id = checkout["id"].as_str().expect("session id");
    stack.wait_webhooks().expect("webhooks");
    let session = stripe(&stack, "GET", &format!("/v1/checkout/sessions/{id}"), "");
    let (customer, payment) =
        (session["customer"].as_str().expect("cus"), session["payment_intent"].as_str().expect("pi"));
    // As if the edge had only ever seen Stripe's events about this customer, never its checkout.
    stack.sql(&format!("DELETE FROM member_customers WHERE customer = '{customer}'")).expect("unlink");
    stack
        .sql(&format!("UPDATE grants SET data = json_set(data, '$.email', NULL) WHERE customer = '{customer}'"))
        .expect("forget the buyer's email");

    stripe(&stack, "POST", "/v1/refunds", &format!("payment_intent={payment}"));
    stack.wait_webhooks().expect("webhooks");
    let held = format!("SELECT count(*) AS n FROM outbox WHERE status = 'held' AND customer = '{customer}'");

    eventually("the email waits for its recipient", || stack.sql(&held).expect("held")[0]["n"] == 1);
    let ended = "Your access to Async Rust course has ended".to_owned();
    assert!(!subjects(&stack, email).contains(&ended));

    // The member comes back to claim: the customer is linked, and the waiting email goes out, once.
    let claimed = stack.claim(DEMO_SITE, &checkout);
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    assert_eq!(stack.sql(&held).expect("held")[0]["n"], 0);
    cron(&stack);
    eventually("the waiting email is sent", || {
        stack.outbox(email).expect("dev outbox").iter().any(|e| e["subject"] == ended.as_str() && e["status"] == "sent")
    });
    assert_eq!(subjects(&stack, email).iter().filter(|s| **s == ended).count(), 1);
}

/// A local email provider (`EMAIL_API_URL`): while `hang` is set it reads each request and never answers (the
/// connection stays open, as with a provider that hangs), after that it answers 200. It keeps every request read.
struct Provider {
    url: String,
    hang: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Provider {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the provider");
        let url = format!("http://{}/emails", listener.local_addr().expect("provider address"));
        let (hang, requests) = (Arc::new(AtomicBool::new(true)), Arc::new(Mutex::new(Vec::new())));
        let (hanging, seen) = (Arc::clone(&hang), Arc::clone(&requests));
        std::thread::spawn(move || {
            let mut hung = Vec::new(); // open and unanswered until the test ends
            for stream in listener.incoming().map_while(Result::ok) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                seen.lock().expect("requests").push(read_request(&mut reader));
                let mut stream = reader.into_inner();
                if hanging.load(Ordering::SeqCst) {
                    hung.push(stream);
                } else {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    );
                }
            }
        });
        Self { url, hang, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }
}

/// One HTTP/1.1 request, head and body, as text.
fn read_request(reader: &mut impl BufRead) -> String {
    let mut head = String::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    head + "\r\n" + &String::from_utf8_lossy(&body)
}

fn cron(stack: &Stack) {
    let cron = ureq::get(&format!("{}/__scheduled?cron=*+*+*+*+*", stack.edge_url)).call().expect("scheduled");
    assert_eq!(cron.status(), 200);
}

#[test]
fn an_email_provider_that_never_answers_costs_a_try_and_a_later_run_sends_the_email() {
    let provider = Provider::start();
    let vars = vec![("EMAIL_API_URL".into(), provider.url.clone()), ("EMAIL_API_KEY".into(), "re_test_key".into())];
    let stack =
        Stack::start(StackOptions { vars, dev_outbox: false, ..StackOptions::default() }).expect("the stack starts");
    let email = "slow-provider@example.com";
    // Deployed (no DEV_OUTBOX): the dev outbox does not exist, so nobody reads sign-in codes over HTTP.
    let dev = answer(ureq::get(&format!("{}/dev/outbox?to={email}", stack.edge_url)).call());
    assert_eq!((dev.status, code(&dev)), (404, "not_found"), "{}", dev.body);
    let row = format!("SELECT id, status, attempts, last_error FROM outbox WHERE to_email = '{email}'");

    // A sign-in code is emailed after the answer; the provider takes the request and never answers.
    let started = Instant::now();
    let asked = answer(ureq::post(&format!("{}/owner/v1/signin", stack.edge_url)).send_json(json!({ "email": email })));
    assert_eq!(asked.status, 202, "{}", asked.body);
    eventually("the provider is called", || provider.requests().len() == 1);
    let first = provider.requests()[0].clone();
    assert!(first.starts_with("POST /emails ") && first.contains(email), "{first}");
    assert!(first.to_ascii_lowercase().contains("authorization: bearer re_test_key"), "{first}");

    // The edge gives up after its timeout: a failed try, the email back to pending, nothing lost.
    let given_up = || {
        let r = stack.sql(&row).expect("outbox row");
        r[0]["status"] == "pending" && r[0]["attempts"] == 1
    };
    eventually("the hung send is given up on", given_up);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(10), "the provider was waited for up to the timeout, not {waited:?}");
    let stored = stack.sql(&row).expect("outbox row")[0].clone();
    let error = stored["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("no answer within 10000 ms"), "{error}");
    let key = format!("idempotency-key: {}", stored["id"].as_str().expect("row id").to_ascii_lowercase());
    assert!(first.to_ascii_lowercase().contains(&key), "{first}");

    // The provider is back: the cron's run sends it, with the same idempotency key.
    provider.hang.store(false, Ordering::SeqCst);
    cron(&stack);
    eventually("the email is sent by the cron", || {
        let r = stack.sql(&row).expect("outbox row");
        r[0]["status"] == "sent" && r[0]["attempts"] == 2
    });
    let requests = provider.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests[1].to_ascii_lowercase().contains(&key), "{}", requests[1]);
    assert!(requests[1].contains(email));
    let dev = answer(ureq::get(&format!("{}/dev/outbox?to={email}", stack.edge_url)).call());
    assert_eq!(dev.status, 404, "the code went to the provider only: {}", dev.body);
}

#[test]
fn held_emails_nobody_is_linked_to_within_thirty_days_are_pruned_by_the_cron() {
    let stack = stack();
    let (now, day) = (unix_now(), 86_400);
    // As `enqueue_for_customer` writes them (no recipient, the customer), plus addressed rows just as old.
    let rows = [
        ("msg_old_held", "held", now - 31 * day),
        ("msg_young_held", "held", now - 29 * day),
        ("msg_old_pending", "pending", now - 40 * day),
        ("msg_old_sent", "sent", now - 40 * day),
        ("msg_old_failed", "failed", now - 40 * day),
    ];
    let values: Vec<String> = rows
        .iter()
        .map(|(id, status, at)| {
            let to = if *status == "held" { "" } else { "old@example.com" };
            format!("('{id}', '{DEMO_SITE}', '{to}', 'Subject', 'Body', '{status}', 'cus_{id}', {at})")
        })
        .collect();
    stack
        .sql(&format!(
            "INSERT INTO outbox (id, site_id, to_email, subject, body, status, customer, created_at) VALUES {}",
            values.join(", ")
        ))
        .expect("insert outbox rows");

    cron(&stack);
    let gone = "SELECT count(*) AS n FROM outbox WHERE id = 'msg_old_held'";
    eventually("the old held email is pruned", || stack.sql(gone).expect("count")[0]["n"] == 0);
    let left = stack.sql("SELECT id, status FROM outbox WHERE id LIKE 'msg_%' ORDER BY id").expect("rows");
    let left: Vec<(&str, &str)> = left
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["id"].as_str().unwrap_or_default(), r["status"].as_str().unwrap_or_default()))
        .collect();
    // The old pending email was delivered by the same run (the dev sender): rows are only ever pruned when held.
    assert_eq!(
        left,
        [
            ("msg_old_failed", "failed"),
            ("msg_old_pending", "sent"),
            ("msg_old_sent", "sent"),
            ("msg_young_held", "held")
        ]
    );
}

/// Makes the edge's copy of a subscription's grant stale (past due, oldest version), as if it had missed events.
fn make_stale(stack: &Stack, subscription: &str) {
    stack
        .sql(&format!(
            "UPDATE grants SET status = 'past_due', data = json_set(data, '$.status', 'past_due', '$.version', 0) \
             WHERE source = '{subscription}'"
        ))
        .expect("make the grant stale");
    assert_eq!(grant_status(stack, subscription), "past_due");
}

#[test]
fn refetches_run_after_the_answer_and_the_cron_finishes_what_was_left() {
    let stack = stack();
    let (_, first) = buy(&stack, "pro-monthly", "fetch-a@example.com");
    let (_, second) = buy(&stack, "pro-monthly", "fetch-b@example.com");
    let (sub_a, sub_b) = (first["subscription"].as_str().expect("a"), second["subscription"].as_str().expect("b"));
    stack.wait_webhooks().expect("webhooks delivered");
    eventually("no fetch left running", || {
        stack.sql("SELECT count(*) AS n FROM pending_fetches WHERE status != 'done'").expect("rows")[0]["n"] == 0
    });
    assert_eq!((grant_status(&stack, sub_a), grant_status(&stack, sub_b)), ("trialing".into(), "trialing".into()));

    // The edge's copy of A is stale, and Stripe sends an update with a status the engine does not know. The edge
    // answers at once and queues a re-fetch in the same batch as the event; the fetch, after the answer, brings
    // the grant back to what Stripe says.
    make_stale(&stack, sub_a);
    let mut object = stripe(&stack, "GET", &format!("/v1/subscriptions/{sub_a}"), "");
    object["status"] = json!("status_from_the_future");
    let now = unix_now();
    let event = json!({
        "id": "evt_platform_unknown_status", "object": "event", "type": "customer.subscription.updated",
        "created": now, "livemode": false, "api_version": "2025-08-27.basil",
        "data": { "object": object }
    })
    .to_string();
    let header = latch_core::webhook::signature_header(event.as_bytes(), &stack.webhook_secret, now);
    // Stripe takes 8 s to answer the re-fetch: an answer that waited for it would take that long.
    let slow = json!({ "path": format!("/v1/subscriptions/{sub_a}"), "status": 0, "delay_ms": 8000 });
    stack.emulator_control("/faults", &slow).expect("slow Stripe");
    let started = Instant::now();
    let a = answer(
        ureq::post(&format!("{}/v1/webhooks/stripe", stack.edge_url))
            .set("Stripe-Signature", &header)
            .set("Content-Type", "application/json")
            .send_string(&event),
    );
    let answered_in = started.elapsed();
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(answered_in < Duration::from_secs(3), "answered before the re-fetch came back: {answered_in:?}");
    let processed = stack
        .sql("SELECT count(*) AS n FROM processed_events WHERE event_id = 'evt_platform_unknown_status'")
        .expect("processed");
    assert_eq!(processed[0]["n"], 1, "the event is recorded with its queued re-fetch");
    let cause = "SELECT status FROM pending_fetches WHERE cause = 'evt_platform_unknown_status'";
    assert_ne!(stack.sql(cause).expect("fetch row")[0]["status"], "done", "Stripe has not answered the re-fetch yet");
    assert_eq!(grant_status(&stack, sub_a), "past_due", "the stale copy stands until the fetch lands");
    eventually("the re-fetch is done", || stack.sql(cause).expect("fetch row")[0]["status"] == "done");
    assert!(started.elapsed() >= Duration::from_secs(8), "the re-fetch waited for Stripe's slow answer");
    assert_eq!(grant_status(&stack, sub_a), "trialing", "the fetched subscription settled it");

    // A fetch left behind by a run that died (claimed long ago, never finished) is completed by the cron trigger.
    make_stale(&stack, sub_b);
    stack
        .sql(&format!(
            "INSERT INTO pending_fetches (id, site_id, object, stripe_id, cause, round, status, attempts, next_at, \
             claimed_at, created_at) VALUES ('fet_left_behind', '{DEMO_SITE}', 'subscription', '{sub_b}', 'crash', 0, \
             'running', 1, 0, 0, 0)"
        ))
        .expect("insert a stale fetch");
    cron(&stack);
    let left = "SELECT status, attempts FROM pending_fetches WHERE id = 'fet_left_behind'";
    eventually("the cron finishes the left-behind fetch", || stack.sql(left).expect("row")[0]["status"] == "done");
    assert_eq!(stack.sql(left).expect("row")[0]["attempts"], 2, "claimed once more, atomically");
    assert_eq!(grant_status(&stack, sub_b), "trialing");
}

/// Sends `kind` with `object` as a fresh platform event (or `account`'s) and answers the status and the D1 round
/// trips the Worker reports for it (`X-Latch-D1-Round-Trips`, answered to the operator token).
fn deliver_counted(stack: &Stack, id: &str, kind: &str, object: &Value, account: Option<&str>) -> (u16, String) {
    let now = unix_now();
    let mut event = json!({
        "id": id, "object": "event", "type": kind, "created": now, "livemode": false,
        "api_version": "2025-08-27.basil", "data": { "object": object }
    });
    if let Some(account) = account {
        event["account"] = json!(account);
    }
    let body = event.to_string();
    let header = latch_core::webhook::signature_header(body.as_bytes(), &stack.webhook_secret, now);
    let response = match ureq::post(&format!("{}/v1/webhooks/stripe", stack.edge_url))
        .set("Stripe-Signature", &header)
        .set("Content-Type", "application/json")
        .set("Authorization", &format!("Bearer {}", stack.admin_token))
        .send_string(&body)
    {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("deliver {kind}: {e}"),
    };
    let trips = response.header("X-Latch-D1-Round-Trips").unwrap_or("missing").to_owned();
    (response.status(), trips)
}

#[test]
fn a_webhook_costs_one_read_batch_and_one_write_batch() {
    let stack = stack();
    let checkout = pay_only(&stack, "pro-monthly", "trips@example.com");
    stack.wait_webhooks().expect("webhooks delivered");
    let session = stripe(&stack, "GET", &format!("/v1/checkout/sessions/{}", checkout["id"].as_str().expect("id")), "");
    let sub =
        stripe(&stack, "GET", &format!("/v1/subscriptions/{}", session["subscription"].as_str().expect("sub")), "");
    let invoice = stripe(&stack, "GET", &format!("/v1/invoices/{}", sub["latest_invoice"].as_str().expect("inv")), "");
    for (id, kind, object) in [
        ("evt_trips_session", "checkout.session.completed", &session),
        ("evt_trips_sub", "customer.subscription.updated", &sub),
        ("evt_trips_invoice", "invoice.paid", &invoice),
    ] {
        assert_eq!(deliver_counted(&stack, id, kind, object, None), (200, "2".into()), "{kind}: read once, write once");
        assert_eq!(deliver_counted(&stack, id, kind, object, None), (200, "1".into()), "{kind} again: read only");
    }
    let before = stack.sql("SELECT count(*) AS n FROM activity").expect("activity")[0]["n"].clone();
    let stranger =
        deliver_counted(&stack, "evt_trips_stranger", "customer.subscription.updated", &sub, Some("acct_nobody"));
    assert_eq!(stranger, (200, "2".into()), "another account's event: read, then only its processed id");
    assert_eq!(stack.sql("SELECT count(*) AS n FROM activity").expect("activity")[0]["n"], before, "nothing applied");
}
