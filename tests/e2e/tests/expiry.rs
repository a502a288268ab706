//! Access that ends by time alone, with no webhook to say so: the end of an N-day one-time purchase, of a canceled
//! subscription's last period, and of the past-due grace. Each buys in Chromium on the demo page, moves the clocks
//! (the Worker's through `POST /dev/clock`, Stripe's through the emulator) and watches the access go, through
//! `GET /v1/access` and the widget.

use std::time::{Duration, Instant};

use fantoccini::Client;
use latch_e2e::browser::{browser, click, eval, fill, start_driver, wait_js};
use latch_e2e::{DEMO_SITE, PAYING_CARD, STRIPE_TEST_KEY, Stack, StackOptions, read_json};
use serde_json::{Value, json};

const DAY: i64 = 86_400;
const LOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-locked')";
const UNLOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-unlocked')";
const LOCKED_PRO: &str = "document.querySelector('#pro-card').classList.contains('latch-locked')";
const UNLOCKED_PRO: &str = "document.querySelector('#pro-card').classList.contains('latch-unlocked')";

fn stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
}

/// Changes a demo product's access policy through the operator API.
fn set_policy(stack: &Stack, product: &str, policy: Value) {
    read_json(
        ureq::request("PATCH", &format!("{}/owner/v1/sites/{DEMO_SITE}/products/{product}", stack.edge_url))
            .set("Authorization", &format!("Bearer {}", stack.admin_token))
            .send_json(json!({ "policy": policy })),
    )
    .expect("PATCH the product's policy");
}

/// The emulator's Stripe API as the platform.
fn stripe(stack: &Stack, method: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let req = ureq::request(method, &format!("{}/v1/{path}", stack.emulator_url))
        .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"));
    read_json(if form.is_empty() { req.call() } else { req.send_form(form) })
        .unwrap_or_else(|e| panic!("{method} /v1/{path}: {e}"))
}

/// Buys with the demo page's `button` in Chromium as `email`, paying on the emulator's page; answers the member
/// token the widget kept once the card `unlocked` says the purchase is in.
async fn buy_in_browser(client: &Client, stack: &Stack, button: &str, unlocked: &str, email: &str) -> String {
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("open the demo");
    click(client, button).await;
    wait_js(client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    fill(client, "#email", email).await;
    fill(client, "#cardNumber", PAYING_CARD).await;
    click(client, "#submit").await;
    wait_js(client, unlocked, Duration::from_secs(20)).await;
    stack.wait_webhooks().expect("webhooks delivered");
    let token = eval(client, &format!("localStorage.getItem('latch:{DEMO_SITE}:token')")).await;
    token.as_str().expect("the widget keeps a member token").to_owned()
}

/// The member's access now (`GET /v1/access`): product to `ends_at`.
fn access(stack: &Stack, token: &str) -> Vec<(String, Option<i64>)> {
    let answer = stack.get("/v1/access", Some(token));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let list = answer.body["access"].as_array().cloned().unwrap_or_default();
    list.iter().map(|a| (a["product"].as_str().unwrap_or_default().to_owned(), a["ends_at"].as_i64())).collect()
}

/// Waits (15 s at most) until the member's access satisfies `ok`, for work the Worker does after answering.
fn wait_access(stack: &Stack, token: &str, what: &str, ok: impl Fn(&[(String, Option<i64>)]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = access(stack, token);
        if ok(&now) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: still {now:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The page, reloaded, shows the widget's view of the member now.
async fn reload_until(client: &Client, stack: &Stack, condition: &str) {
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("reload the demo");
    wait_js(client, condition, Duration::from_secs(15)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_time_purchase_ends_after_its_days() {
    let stack = stack();
    set_policy(&stack, "course", json!({ "one_time": { "days": 3 } }));
    let driver = start_driver();
    let client = browser(&driver).await;
    let token = buy_in_browser(&client, &stack, "#buy-course", UNLOCKED_COURSE, "three-days@example.com").await;
    let session = stripe(&stack, "GET", "checkout/sessions?limit=1", &[])["data"][0].clone();
    let paid_at = session["created"].as_i64().expect("created");
    let ends = match access(&stack, &token).as_slice() {
        [(product, Some(ends))] if product == "course" => *ends,
        other => panic!("three days of the course: {other:?}"),
    };
    assert!((paid_at + 3 * DAY..paid_at + 3 * DAY + 120).contains(&ends), "ends {ends}, paid at {paid_at}");

    // A minute before the end it is still there; a minute after, gone, in the API and on the page.
    let now = stack.advance_edge_clock(0).expect("the Worker's clock");
    stack.advance_edge_clock(ends - now - 60).expect("move the Worker's clock");
    assert_eq!(access(&stack, &token).len(), 1, "still open a minute before the end");
    reload_until(&client, &stack, UNLOCKED_COURSE).await;
    stack.advance_edge_clock(120).expect("move the Worker's clock");
    assert_eq!(access(&stack, &token), vec![], "the three days are over");
    reload_until(&client, &stack, LOCKED_COURSE).await;
    client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canceled_subscription_ends_with_its_last_period() {
    let stack = stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    let token = buy_in_browser(&client, &stack, "#buy-pro", UNLOCKED_PRO, "leaving@example.com").await;
    let sub = stripe(&stack, "GET", "subscriptions?limit=1", &[])["data"][0].clone();
    let sub_id = sub["id"].as_str().expect("subscription id");
    let period_end = sub["items"]["data"][0]["current_period_end"].as_i64().expect("period end");

    // The member cancels at the period's end (as in the portal); Stripe will end it then. The emulator's clock is
    // never moved, so no event ever says it ended: only the time does.
    stripe(&stack, "POST", &format!("subscriptions/{sub_id}"), &[("cancel_at_period_end", "true")]);
    stack.wait_webhooks().expect("webhooks delivered");
    wait_access(&stack, &token, "open until the period's end", |a| a == [("pro".to_owned(), Some(period_end))]);
    let now = stack.advance_edge_clock(0).expect("the Worker's clock");
    stack.advance_edge_clock(period_end - now - 60).expect("move the Worker's clock");
    assert_eq!(access(&stack, &token).len(), 1, "still open a minute before the end");
    reload_until(&client, &stack, UNLOCKED_PRO).await;
    stack.advance_edge_clock(120).expect("move the Worker's clock");
    assert_eq!(access(&stack, &token), vec![], "the last period is over");
    reload_until(&client, &stack, LOCKED_PRO).await;
    client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_past_due_grace_runs_out() {
    let stack = stack();
    set_policy(&stack, "pro", json!({ "past_due_grace_days": 2 }));
    let driver = start_driver();
    let client = browser(&driver).await;
    let token = buy_in_browser(&client, &stack, "#buy-pro", UNLOCKED_PRO, "card-expired@example.com").await;
    let sub = stripe(&stack, "GET", "subscriptions?limit=1", &[])["data"][0].clone();
    let trial_end = sub["trial_end"].as_i64().expect("a trial");
    let customer = sub["customer"].as_str().expect("customer");

    // The card stops working; the trial ends and its first invoice fails: past due, retried in 3 days.
    stack.emulator_control(&format!("/customers/{customer}/fail_payments"), &json!({ "fail": true })).expect("fail");
    stack.advance_clocks(7 * DAY + 3600).expect("move both clocks past the trial");
    let sub_id = sub["id"].as_str().expect("subscription id");
    assert_eq!(stripe(&stack, "GET", &format!("subscriptions/{sub_id}"), &[])["status"], "past_due");
    let grace_end = trial_end + 2 * DAY;
    wait_access(&stack, &token, "the grace counts from the paid trial", |a| a == [("pro".to_owned(), Some(grace_end))]);
    reload_until(&client, &stack, UNLOCKED_PRO).await;

    // Stripe's next retry is a day after the grace: the Worker's clock alone ends the access.
    let now = stack.advance_edge_clock(0).expect("the Worker's clock");
    stack.advance_edge_clock(grace_end - now - 60).expect("move the Worker's clock");
    assert_eq!(access(&stack, &token).len(), 1, "still open a minute before the grace ends");
    stack.advance_edge_clock(120).expect("move the Worker's clock");
    assert_eq!(access(&stack, &token), vec![], "the grace is over");
    reload_until(&client, &stack, LOCKED_PRO).await;
    client.close().await.expect("close the browser");
}
