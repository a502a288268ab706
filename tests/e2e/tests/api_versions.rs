//! Webhooks in an older API version's shape. A Stripe account's default API version shapes the events sent to an
//! endpoint that names no version; before 2025-03-31.basil a subscription carries its period itself (not on its
//! items) and an invoice names its subscription in `subscription` (not `parent.subscription_details`), while
//! Latch's own requests pin their version and read the current shape. A member buys, renews and cancels on an
//! account whose webhooks come in the old shape; the widget and `GET /v1/access` follow each step.

use std::time::Duration;

use latch_e2e::browser::{browser, click, eval, fill, start_driver, wait_js};
use latch_e2e::{DEMO_SITE, PAYING_CARD, STRIPE_TEST_KEY, Stack, StackOptions, read_json};
use serde_json::{Value, json};

const LEGACY_VERSION: &str = "2024-06-20";
const UNLOCKED_PRO: &str = "document.querySelector('#pro-card').classList.contains('latch-unlocked')";
const LOCKED_PRO: &str = "document.querySelector('#pro-card').classList.contains('latch-locked')";

fn pro_ends_at(stack: &Stack, token: &str) -> Option<i64> {
    let answer = stack.get("/v1/access", Some(token));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let list = answer.body["access"].as_array().cloned().unwrap_or_default();
    list.iter().find(|a| a["product"] == "pro").map(|a| a["ends_at"].as_i64().unwrap_or(i64::MAX))
}

fn stripe_get(stack: &Stack, path: &str, version: &str) -> Value {
    read_json(
        ureq::get(&format!("{}/v1/{path}", stack.emulator_url))
            .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
            .set("Stripe-Version", version)
            .call(),
    )
    .unwrap_or_else(|e| panic!("GET /v1/{path}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_buys_renews_and_cancels_on_an_account_with_old_shaped_webhooks() {
    let opts =
        StackOptions { emulator_args: vec!["--api-version".into(), LEGACY_VERSION.into()], ..StackOptions::default() };
    let stack = Stack::start(opts).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    let driver = start_driver();
    let client = browser(&driver).await;
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("open the demo");
    click(&client, "#buy-pro").await;
    wait_js(&client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    fill(&client, "#email", "old-shape@example.com").await;
    fill(&client, "#cardNumber", PAYING_CARD).await;
    click(&client, "#submit").await;
    wait_js(&client, UNLOCKED_PRO, Duration::from_secs(20)).await;
    stack.wait_webhooks().expect("webhooks delivered");
    let token = eval(&client, &format!("localStorage.getItem('latch:{DEMO_SITE}:token')")).await;
    let token = token.as_str().expect("the widget keeps a member token").to_owned();

    // The webhooks Latch read were old-shaped: the period sits on the subscription, not on its items.
    let events = stripe_get(&stack, "events?type=customer.subscription.created", LEGACY_VERSION);
    let delivered = &events["data"][0]["data"]["object"];
    assert_eq!(events["data"][0]["api_version"], LEGACY_VERSION);
    let first_end = delivered["current_period_end"].as_i64().expect("an old-shaped subscription has its period");
    assert!(delivered["items"]["data"][0].get("current_period_end").is_none(), "{delivered}");
    assert_eq!(pro_ends_at(&stack, &token), Some(first_end), "access runs to the end of the paid period");

    // A renewal: the old-shaped invoice names its subscription at the top; access follows the new period.
    // Only Stripe's clock moves: the Worker checks each signature's time against its own clock.
    let stripe_now = stack.emulator_control("/clock/advance", &json!({ "seconds": 0 })).expect("Stripe's clock");
    let now = stripe_now["now"].as_i64().expect("now");
    stack.emulator_control("/clock/advance", &json!({ "seconds": first_end - now + 3600 })).expect("renew");
    stack.wait_webhooks().expect("webhooks delivered");
    let invoices = stripe_get(&stack, "invoices?limit=1", LEGACY_VERSION);
    assert_eq!(invoices["data"][0]["subscription"], delivered["id"], "old-shaped invoice: {}", invoices["data"][0]);
    let renewed_end = pro_ends_at(&stack, &token).expect("still a member after the renewal");
    assert!(renewed_end > first_end + 20 * 86_400, "access moved to the next period: {renewed_end} vs {first_end}");
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("reload the demo");
    wait_js(&client, UNLOCKED_PRO, Duration::from_secs(15)).await;

    // Stripe cancels it now: access ends, in the API and on the page.
    let sub_id = delivered["id"].as_str().expect("subscription id");
    read_json(
        ureq::delete(&format!("{}/v1/subscriptions/{sub_id}", stack.emulator_url))
            .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
            .call(),
    )
    .expect("cancel the subscription");
    stack.wait_webhooks().expect("webhooks delivered");
    assert_eq!(pro_ends_at(&stack, &token), None, "a canceled subscription gives no access");
    client.goto(&format!("{}/demo/", stack.edge_url)).await.expect("reload the demo");
    wait_js(&client, LOCKED_PRO, Duration::from_secs(15)).await;
    client.close().await.expect("close the browser");
}
