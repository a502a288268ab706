//! The spine, end to end: the demo site in headless Chromium against real `wrangler dev` (workerd + local D1) and
//! the Stripe emulator. Buy, come back unlocked, reload, duplicate webhooks, decline, cancel in the portal and
//! lock at period end. Screenshots go to target/e2e-screenshots/.

use std::time::{Duration, Instant};

use fantoccini::Client;
use latch_e2e::browser::{browser, click, fill, holds, screenshot, start_driver, wait_js};
use latch_e2e::{Stack, StackOptions};
use serde_json::{Value, json};

const PAYS: &str = "4242 4242 4242 4242";
const DECLINES: &str = "4000 0000 0000 0002";
const DAY: i64 = 24 * 3600;

const UNLOCKED: fn(&str) -> String = |slug| {
    format!(
        "document.querySelector('#{slug}-card').classList.contains('latch-unlocked') && getComputedStyle(document.querySelector('#{slug}-content')).display !== 'none'"
    )
};
const LOCKED: fn(&str) -> String = |slug| {
    format!(
        "document.querySelector('#{slug}-card').classList.contains('latch-locked') && getComputedStyle(document.querySelector('#{slug}-content')).display === 'none'"
    )
};

/// Pays on the emulator's hosted checkout page with `card`.
async fn pay(client: &Client, email: &str, card: &str) {
    wait_js(client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    fill(client, "#email", email).await;
    fill(client, "#cardNumber", card).await;
    click(client, "#submit").await;
}

fn count(stack: &Stack, sql: &str) -> i64 {
    let rows = stack.sql(sql).expect("query D1");
    rows[0].as_object().and_then(|r| r.values().next()).and_then(Value::as_i64).expect("a count")
}

fn start_stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_unlock_reload_duplicate_cancel_and_lock_at_period_end() {
    let stack = start_stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    let demo = format!("{}/demo/", stack.edge_url);

    client.goto(&demo).await.expect("open demo");
    wait_js(&client, &LOCKED("pro"), Duration::from_secs(15)).await;
    screenshot(&client, "01-demo-locked", "#pro-card").await;

    click(&client, "#buy-pro").await;
    pay(&client, "member@example.com", PAYS).await;
    let paid = Instant::now();
    wait_js(&client, &UNLOCKED("pro"), Duration::from_secs(20)).await;
    let pay_to_unlocked = paid.elapsed();
    println!("pay-to-unlocked: {} ms", pay_to_unlocked.as_millis());
    screenshot(&client, "02-demo-unlocked", "#pro-card").await;
    let url = client.current_url().await.expect("url").to_string();
    assert!(!url.contains("latch_session"), "the session id is removed from the address bar: {url}");
    assert!(holds(&client, &LOCKED("course")).await, "course stays locked");

    // Webhooks and claim converge on one grant, whatever came first.
    stack.wait_webhooks().expect("webhooks delivered");
    assert_eq!(count(&stack, "SELECT count(*) AS n FROM grants"), 1);
    assert_eq!(count(&stack, "SELECT count(*) AS n FROM members"), 1);

    // Reload keeps access.
    client.refresh().await.expect("reload");
    wait_js(&client, &UNLOCKED("pro"), Duration::from_secs(10)).await;

    // A duplicated delivery of every event changes nothing.
    let grants_before = stack.sql("SELECT data FROM grants").expect("grants");
    let activity_before = count(&stack, "SELECT count(*) AS n FROM activity");
    let deliveries = stack.deliveries().expect("deliveries");
    let mut event_ids: Vec<String> = deliveries
        .as_array()
        .or_else(|| deliveries["data"].as_array())
        .expect("delivery list")
        .iter()
        .filter_map(|d| d["event_id"].as_str().map(str::to_owned))
        .collect();
    event_ids.dedup();
    assert!(!event_ids.is_empty(), "the emulator delivered events");
    for id in &event_ids {
        stack.emulator_control(&format!("/events/{id}/redeliver"), &json!({})).expect("redeliver");
    }
    stack.wait_webhooks().expect("redeliveries done");
    assert_eq!(stack.sql("SELECT data FROM grants").expect("grants"), grants_before);
    assert_eq!(count(&stack, "SELECT count(*) AS n FROM activity"), activity_before);

    // Cancel in the portal: access stays until the period (here the 7-day trial) ends.
    click(&client, "#portal").await;
    click(&client, "button[id^='cancel-']").await;
    wait_js(&client, "document.querySelector(\"button[id^='renew-']\")", Duration::from_secs(10)).await;
    click(&client, "#return").await;
    wait_js(&client, &UNLOCKED("pro"), Duration::from_secs(15)).await;
    stack.wait_webhooks().expect("cancel webhook");
    client.refresh().await.expect("reload");
    wait_js(&client, &UNLOCKED("pro"), Duration::from_secs(10)).await;

    stack.emulator_control("/clock/advance", &json!({ "seconds": 6 * DAY })).expect("advance clock");
    stack.wait_webhooks().expect("webhooks");
    client.refresh().await.expect("reload");
    wait_js(&client, &UNLOCKED("pro"), Duration::from_secs(10)).await;

    stack.emulator_control("/clock/advance", &json!({ "seconds": 2 * DAY })).expect("advance clock");
    stack.wait_webhooks().expect("webhooks");
    client.refresh().await.expect("reload");
    wait_js(&client, &LOCKED("pro"), Duration::from_secs(10)).await;
    screenshot(&client, "03-demo-locked-after-period-end", "#pro-card").await;

    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn declined_card_stays_locked_and_one_time_purchase_unlocks_for_good() {
    let stack = start_stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    let demo = format!("{}/demo/", stack.edge_url);

    client.goto(&demo).await.expect("open demo");
    wait_js(&client, &LOCKED("course"), Duration::from_secs(15)).await;
    click(&client, "#buy-course").await;
    pay(&client, "decline@example.com", DECLINES).await;
    wait_js(&client, "(document.querySelector('#error')||{}).textContent && document.querySelector('#error').textContent.includes('declined')", Duration::from_secs(10)).await;
    screenshot(&client, "04-checkout-declined", "#error").await;

    client.goto(&demo).await.expect("back to demo");
    wait_js(&client, &LOCKED("course"), Duration::from_secs(15)).await;
    assert_eq!(count(&stack, "SELECT count(*) AS n FROM grants"), 0, "a declined card grants nothing");

    click(&client, "#buy-course").await;
    pay(&client, "buyer@example.com", PAYS).await;
    wait_js(&client, &UNLOCKED("course"), Duration::from_secs(20)).await;
    assert!(holds(&client, &LOCKED("pro")).await, "pro stays locked");
    stack.wait_webhooks().expect("webhooks");

    // Lifetime access survives any amount of time.
    stack.emulator_control("/clock/advance", &json!({ "seconds": 400 * DAY })).expect("advance clock");
    stack.wait_webhooks().expect("webhooks");
    client.refresh().await.expect("reload");
    wait_js(&client, &UNLOCKED("course"), Duration::from_secs(10)).await;
    screenshot(&client, "05-course-unlocked", "#course-card").await;
    assert_eq!(count(&stack, "SELECT count(*) AS n FROM grants"), 1);
    client.close().await.expect("close");
}
