//! What Stripe says later: a bank debit that settles (or bounces) minutes after Checkout, and a refund that fails
//! after it looked done. A member buys on the demo page in Chromium; Stripe's clock (the emulator's) moves; the
//! widget and `GET /v1/access` follow what Stripe finally decided.

use std::time::Duration;

use fantoccini::Client;
use latch_e2e::browser::{browser, click, eval, fill, holds, start_driver, wait_js};
use latch_e2e::{DEMO_SITE, STRIPE_TEST_KEY, Stack, StackOptions, read_json};
use serde_json::json;

const LOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-locked')";
const UNLOCKED_COURSE: &str = "document.querySelector('#course-card').classList.contains('latch-unlocked')";
/// Stripe's SEPA test IBANs that settle, or fail, three minutes after the payment.
const IBAN_SETTLES_LATER: &str = "DE08370400440532013003";
const IBAN_FAILS_LATER: &str = "DE78370400440532013004";
/// Stripe's test card whose refunds fail after they were made.
const REFUND_FAILS_CARD: &str = "4000 0000 0000 5126";

fn stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
}

/// Pays for the course on the emulator's Checkout page with `instrument` (a card number or an IBAN) and waits for
/// the way back to the demo page.
async fn pay_for_course(client: &Client, stack: &Stack, instrument: &str, email: &str) {
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("open the demo");
    click(client, "#buy-course").await;
    wait_js(client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    fill(client, "#email", email).await;
    fill(client, "#cardNumber", instrument).await;
    click(client, "#submit").await;
    wait_js(client, "location.pathname.startsWith('/demo')", Duration::from_secs(15)).await;
    stack.wait_webhooks().expect("webhooks delivered");
}

/// Moves Stripe's clock (not the Worker's) and waits for the webhooks that follow.
fn advance_stripe(stack: &Stack, seconds: i64) {
    stack.emulator_control("/clock/advance", &json!({ "seconds": seconds })).expect("advance Stripe's clock");
    stack.wait_webhooks().expect("webhooks delivered");
}

fn count(stack: &Stack, query: &str) -> i64 {
    stack.sql(query).expect("query D1")[0]["n"].as_i64().expect("a count")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bank_debit_unlocks_only_once_it_settles() {
    let stack = stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    pay_for_course(&client, &stack, IBAN_SETTLES_LATER, "debit@example.com").await;
    // Checkout completed, but the money has not arrived: nothing is granted, the card stays locked.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        count(&stack, "SELECT count(*) AS n FROM grants WHERE product = 'course'"),
        0,
        "nothing before the money"
    );
    assert!(holds(&client, LOCKED_COURSE).await, "the course stays locked while the debit is processing");

    advance_stripe(&stack, 200);
    // The page the member came back to claims again on reload and now gets the course.
    client.refresh().await.expect("reload");
    wait_js(&client, UNLOCKED_COURSE, Duration::from_secs(20)).await;
    let token = eval(&client, &format!("localStorage.getItem('latch:{DEMO_SITE}:token')")).await;
    let access = stack.get("/v1/access", token.as_str());
    assert_eq!(access.body["access"][0]["product"], "course", "{}", access.body);
    client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bank_debit_that_fails_never_unlocks() {
    let stack = stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    pay_for_course(&client, &stack, IBAN_FAILS_LATER, "bounced@example.com").await;
    advance_stripe(&stack, 200);
    assert_eq!(count(&stack, "SELECT count(*) AS n FROM grants WHERE product = 'course'"), 0);
    let failed = "SELECT count(*) AS n FROM activity WHERE kind = 'payment_failed'";
    assert_eq!(count(&stack, failed), 1, "the owner's activity says the debit failed");
    client.refresh().await.expect("reload");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(holds(&client, LOCKED_COURSE).await, "a bounced debit leaves the course locked");
    client.close().await.expect("close the browser");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refund_that_fails_gives_the_course_back() {
    let stack = stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    pay_for_course(&client, &stack, REFUND_FAILS_CARD, "refund-fails@example.com").await;
    wait_js(&client, UNLOCKED_COURSE, Duration::from_secs(20)).await;
    let charges = read_json(
        ureq::get(&format!("{}/v1/charges?limit=1", stack.emulator_url))
            .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
            .call(),
    )
    .expect("list charges");
    let charge = charges["data"][0]["id"].as_str().expect("the course's charge").to_owned();
    read_json(
        ureq::post(&format!("{}/v1/refunds", stack.emulator_url))
            .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
            .send_form(&[("charge", &charge)]),
    )
    .expect("refund the charge");
    stack.wait_webhooks().expect("webhooks delivered");
    client.refresh().await.expect("reload");
    wait_js(&client, LOCKED_COURSE, Duration::from_secs(20)).await;

    // The card could not take the money back: Stripe says the refund failed, and the member has paid after all.
    advance_stripe(&stack, 60);
    client.refresh().await.expect("reload");
    wait_js(&client, UNLOCKED_COURSE, Duration::from_secs(20)).await;
    client.close().await.expect("close the browser");
}
