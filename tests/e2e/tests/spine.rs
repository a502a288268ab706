//! The spine, end to end: the demo site in headless Chromium against real `wrangler dev` (workerd + local D1) and
//! the Stripe emulator. Buy, come back unlocked, reload, duplicate webhooks, decline, cancel in the portal and
//! lock at period end. Screenshots go to target/e2e-screenshots/.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use latch_e2e::{Stack, StackOptions, free_port, repo_root};
use serde_json::{Value, json};

const PAYS: &str = "4242 4242 4242 4242";
const DECLINES: &str = "4000 0000 0000 0002";
const DAY: i64 = 24 * 3600;

/// chromedriver, stopped on drop.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (cargo xtask setup)");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver(child, port)
}

async fn browser(driver: &Driver) -> Client {
    let profile = repo_root().join("target/e2e-chromium").join(free_port().to_string());
    let caps = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--window-size=1200,900",
                     format!("--user-data-dir={}", profile.display())]
        }
    });
    let Value::Object(caps) = caps else { unreachable!() };
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("WebDriver session")
}

/// Whether a JavaScript condition holds now.
async fn holds(client: &Client, condition: &str) -> bool {
    let script = format!("return !!({condition});");
    let answer = tokio::time::timeout(Duration::from_secs(5), client.execute(&script, vec![])).await;
    answer.ok().and_then(Result::ok).and_then(|v| v.as_bool()) == Some(true)
}

/// Polls a JavaScript condition until true.
async fn wait_js(client: &Client, condition: &str, timeout: Duration) {
    eprintln!("[e2e] wait for {}", &condition[..condition.len().min(90)]);
    let deadline = Instant::now() + timeout;
    loop {
        if holds(client, condition).await {
            return;
        }
        if Instant::now() > deadline {
            let html = client.source().await.unwrap_or_default();
            let url = client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
            panic!("timed out after {timeout:?} waiting for `{condition}` at {url}\n{}", &html[..html.len().min(3000)]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Saves a PNG of the viewport with `css` scrolled into view.
async fn screenshot(client: &Client, name: &str, css: &str) {
    let scroll = format!("document.querySelector('{css}').scrollIntoView({{block: 'center'}})");
    let _ = client.execute(&scroll, vec![]).await;
    let dir = repo_root().join("target/e2e-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

/// Clicks the element matching `css`, finding it again if the page replaced it (stale element) meanwhile.
async fn click(client: &Client, css: &str) {
    eprintln!("[e2e] click {css}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await;
        match found {
            Ok(el) => match el.click().await {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("[e2e] retrying click on {css}: {e}")
                }
                Err(e) => panic!("click {css}: {e}"),
            },
            Err(e) => panic!("find {css}: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let el = client.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(css)).await.expect(css);
    el.clear().await.expect(css);
    el.send_keys(text).await.expect(css);
}

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
