//! The owners' dashboard end to end against real `wrangler dev` (workerd + local D1) and the Stripe emulator.
//!
//! In headless Chromium: sign in with the code from the dev outbox, create a site, connect Stripe through the
//! emulator's OAuth page, create a product and price, add a price, link an existing Stripe product whose
//! subscribers are imported, change how a product is sold (and whether its locked card shows), change the
//! Customer Portal settings, buy as a member on a page of the site (the widget's locked card, the emulator's
//! hosted checkout page, back unlocked) and see it in the activity feed, the overview and the member's timeline,
//! disconnect; axe-core finds no WCAG A/AA violation on any page, and every page is screenshotted to
//! target/e2e-screenshots/dashboard-*.png.
//!
//! Over plain HTTP (no JavaScript: form posts with a cookie): the same forms work; CSRF attacks (missing, wrong or
//! another session's token, cross-site `Origin` or `Sec-Fetch-Site`) get 403; another owner's site is a 404; no
//! session redirects to sign-in; signing out ends the session.

use std::time::{Duration, Instant};

use fantoccini::Client;
use latch_e2e::browser::{axe_violations, browser, click, eval, fill, holds, screenshot, start_driver, wait_js};
use latch_e2e::{STRIPE_TEST_KEY, Stack, StackOptions, read_json};
use serde_json::{Value, json};

const OWNER: &str = "owner@example.com";
/// Subscribers of the linked "Legacy membership": more than one page of a Stripe list (100), so both the import and
/// the overview's recurring revenue have to page through them.
const SUBSCRIBERS: usize = 101;
const PAYS: &str = "4242 4242 4242 4242";

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).timeout(Duration::from_secs(60)).build()
}

fn count(stack: &Stack, sql: &str) -> i64 {
    let rows = stack.sql(sql).expect("query D1");
    rows[0].as_object().and_then(|r| r.values().next()).and_then(Value::as_i64).expect("a count")
}

/// The code of the newest sent email to `email` once there are more than `before` emails.
fn code_after(stack: &Stack, email: &str, before: usize) -> String {
    stack.code_sent(email, before)
}

/// Calls the emulator's Stripe API as the platform on a connected account.
fn stripe(stack: &Stack, method: &str, path: &str, account: &str, form: &[(&str, &str)]) -> Value {
    let req = agent()
        .request(method, &format!("{}{path}", stack.emulator_url))
        .set("Authorization", &format!("Bearer {STRIPE_TEST_KEY}"))
        .set("Stripe-Account", account);
    let resp = if method == "POST" { req.send_form(form) } else { req.call() };
    read_json(resp).expect("emulator call")
}

/// A product with `n` paying subscribers on `account`: its id.
fn product_with_subscribers(stack: &Stack, account: &str, name: &str, n: usize) -> String {
    let product =
        stripe(stack, "POST", "/v1/products", account, &[("name", name)])["id"].as_str().expect("id").to_owned();
    let price = stripe(
        stack,
        "POST",
        "/v1/prices",
        account,
        &[("product", &product), ("unit_amount", "500"), ("currency", "usd"), ("recurring[interval]", "month")],
    )["id"]
        .as_str()
        .expect("price")
        .to_owned();
    for i in 0..n {
        let email = format!("legacy{i}@example.com");
        let cs = stripe(
            stack,
            "POST",
            "/v1/checkout/sessions",
            account,
            &[
                ("mode", "subscription"),
                ("line_items[0][price]", &price),
                ("line_items[0][quantity]", "1"),
                ("success_url", "https://legacy.example/ok"),
                ("customer_email", &email),
            ],
        );
        stack
            .emulator_control(
                &format!("/checkout/sessions/{}/pay", cs["id"].as_str().expect("cs")),
                &json!({ "card": PAYS }),
            )
            .expect("pay");
    }
    product
}

fn wait_webhooks(stack: &Stack) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while stack.wait_webhooks().is_err() {
        assert!(Instant::now() < deadline, "webhooks still pending");
    }
}

/// Waits for the page's heading, then checks it with axe-core (no WCAG A/AA violation) and screenshots it.
async fn check_page(client: &Client, name: &str, heading: &str) {
    let condition =
        format!("document.querySelector('main h1') && document.querySelector('main h1').textContent === '{heading}'");
    wait_js(client, &condition, Duration::from_secs(15)).await;
    let violations = axe_violations(client).await;
    assert!(violations.is_empty(), "axe-core on {name}: {violations:#?}");
    screenshot(client, &format!("dashboard-{name}"), "main h1").await;
}

async fn text(client: &Client, css: &str) -> String {
    eval(client, &format!("document.querySelector('{css}') ? document.querySelector('{css}').textContent.trim() : ''"))
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Submits the form of `button` and waits for the next page's flash message (the old one is removed first, so
/// a flash left on the current page cannot satisfy the wait); answers its text.
async fn submit_for_flash(client: &Client, button: &str) -> String {
    eval(client, "(document.querySelectorAll('.flash').forEach((f) => f.remove()), true)").await;
    click(client, button).await;
    wait_js(client, "document.querySelector('.flash')", Duration::from_secs(10)).await;
    text(client, ".flash").await
}

async fn select(client: &Client, css: &str, value: &str) {
    eval(client, &format!("(document.querySelector('{css}').value = '{value}', true)")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_runs_a_site_from_the_dashboard_in_a_browser() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    let driver = start_driver();
    let client = browser(&driver).await;
    let edge = stack.edge_url.clone();

    // --- Slice 1: no session -> sign-in; email, then the code from the outbox; no site yet -> create one.
    client.goto(&format!("{edge}/dashboard")).await.expect("open the dashboard");
    check_page(&client, "signin", "Sign in").await;
    fill(&client, "#email", OWNER).await;
    let before = stack.outbox(OWNER).expect("dev outbox").len();
    click(&client, "button[type=submit]").await;
    check_page(&client, "code", "Enter your code").await;
    fill(&client, "#code", "000000").await;
    click(&client, "form button[type=submit]").await;
    wait_js(&client, "document.querySelector('#code-error')", Duration::from_secs(10)).await;
    assert_eq!(eval(&client, "document.querySelector('#code').getAttribute('aria-describedby')").await, "code-error");
    screenshot(&client, "dashboard-code-wrong", "#code-error").await;
    let code = code_after(&stack, OWNER, before);
    fill(&client, "#code", &code).await;
    click(&client, "form button[type=submit]").await;
    check_page(&client, "new-site", "New site").await;
    fill(&client, "#name", "Owner's Journal").await;
    fill(&client, "#origin", "ftp://journal.example").await;
    click(&client, "main form button[type=submit]").await;
    wait_js(&client, "document.querySelector('#origin-error')", Duration::from_secs(10)).await;
    assert_eq!(eval(&client, "document.querySelector('#origin').getAttribute('aria-invalid')").await, "true");
    fill(&client, "#origin", &edge).await;
    click(&client, "main form button[type=submit]").await;

    // --- Slice 2: Payments: connect through the emulator's OAuth page.
    check_page(&client, "payments-new", "Payments").await;
    let site: String = eval(&client, "location.pathname.split('/')[3]").await.as_str().expect("site id").to_owned();
    assert!(site.starts_with("site_"), "{site}");
    assert_eq!(text(&client, "#stripe-status").await, "Not connected");
    // Before Stripe is connected, Products says what to do first and leads to Payments.
    client.goto(&format!("{edge}/dashboard/sites/{site}/products")).await.expect("products");
    check_page(&client, "products-connect-first", "Products").await;
    let first = format!("#connect-first a[href='/dashboard/sites/{site}/payments']");
    assert!(holds(&client, &format!("document.querySelector(\"{first}\")")).await, "Products leads to Payments");
    assert!(!holds(&client, "document.querySelector('#create-product')").await, "nothing Stripe-shaped to fill in");
    click(&client, &first).await;
    wait_js(&client, "document.querySelector('#connect')", Duration::from_secs(10)).await;
    // Denied on Stripe's page: the dashboard's own page says so, names the site and leads back to Payments.
    click(&client, "#connect").await;
    wait_js(&client, "document.querySelector('#deny')", Duration::from_secs(15)).await;
    click(&client, "#deny").await;
    check_page(&client, "connect-denied", "Stripe was not connected").await;
    assert!(text(&client, "#status[data-status=refused]").await.starts_with("You chose not to connect"));
    assert_eq!(text(&client, "#back").await, "Back to Owner's Journal: Payments");
    click(&client, "#back").await;
    wait_js(&client, "document.querySelector('#connect')", Duration::from_secs(10)).await;
    click(&client, "#connect").await;
    wait_js(&client, "document.querySelector('#approve')", Duration::from_secs(15)).await;
    screenshot(&client, "dashboard-stripe-oauth", "#approve").await;
    click(&client, "#approve").await;
    check_page(&client, "connect-connected", "Stripe connected").await;
    assert!(text(&client, "#status[data-status=connected]").await.starts_with("Owner's Journal is connected"));
    click(&client, "#back").await;
    check_page(&client, "payments-connected", "Payments").await;
    // Until they are done, the overview's next steps lead to Install and the Customer Portal.
    client.goto(&format!("{edge}/dashboard/sites/{site}")).await.expect("overview");
    check_page(&client, "overview-new", "Overview").await;
    assert!(holds(&client, "document.querySelector('#step-install') && document.querySelector('#step-portal')").await);
    client.goto(&format!("{edge}/dashboard/sites/{site}/payments")).await.expect("payments");
    assert_eq!(text(&client, "#stripe-status").await, "Connected");
    assert_eq!(text(&client, "#stripe-mode").await, "Test");
    let account = text(&client, "#stripe-account").await;
    assert!(account.starts_with("acct_"), "{account}");
    assert_eq!(text(&client, "#last-event").await, "None yet");

    // --- Slice 8: Customer Portal settings (a Stripe billing portal configuration on the connected account).
    client.goto(&format!("{edge}/dashboard/sites/{site}/portal")).await.expect("portal");
    check_page(&client, "portal-default", "Customer Portal").await;
    fill(&client, "#privacy", "javascript:alert(1)").await;
    click(&client, "#save-portal").await;
    wait_js(&client, "document.querySelector('#privacy-error')", Duration::from_secs(10)).await;
    assert_eq!(
        eval(&client, "document.querySelector('#privacy').getAttribute('aria-describedby')").await,
        "privacy-hint privacy-error"
    );
    fill(&client, "#privacy", "https://journal.example/privacy").await;
    fill(&client, "#terms", "https://journal.example/terms").await;
    click(&client, "#portal-cancel").await;
    click(&client, "#save-portal").await;
    wait_js(
        &client,
        "document.querySelector('.flash') && document.querySelector('#portal-configuration')",
        Duration::from_secs(15),
    )
    .await;
    check_page(&client, "portal", "Customer Portal").await;
    let configuration = text(&client, "#portal-configuration").await;
    let at_stripe = stripe(&stack, "GET", &format!("/v1/billing_portal/configurations/{configuration}"), &account, &[]);
    assert_eq!(at_stripe["business_profile"]["privacy_policy_url"], "https://journal.example/privacy", "{at_stripe}");
    assert_eq!(at_stripe["features"]["subscription_cancel"]["enabled"], false, "{at_stripe}");
    assert!(!holds(&client, "document.querySelector('#portal-cancel').checked").await);

    // --- Slice 3: Products: create a product and price, add a price, link an existing product, settings.
    client.goto(&format!("{edge}/dashboard/sites/{site}/products")).await.expect("products");
    check_page(&client, "products-empty", "Products").await;
    assert!(holds(&client, "document.querySelector('#no-products a[href=\"#create-heading\"]')").await, "a way on");
    fill(&client, "#name", "Club").await;
    fill(&client, "#slug", "Not A Slug").await;
    fill(&client, "#create-amount", "9.99").await;
    select(&client, "#create-interval", "month").await;
    fill(&client, "#create-trial_days", "7").await;
    click(&client, "#create-product").await;
    wait_js(&client, "document.querySelector('#slug-error')", Duration::from_secs(10)).await;
    // Left empty, the slug is made from the name ("Pro" makes `pro`).
    fill(&client, "#name", "Pro").await;
    fill(&client, "#slug", "").await;
    click(&client, "#create-product").await;
    wait_js(
        &client,
        "document.querySelector('.flash') && document.querySelector('#product-pro')",
        Duration::from_secs(20),
    )
    .await;
    assert!(text(&client, "#product-pro").await.contains("$9.99"));
    fill(&client, "#add-pro-amount", "99").await;
    select(&client, "#add-pro-interval", "year").await;
    click(&client, "form[action$='/pro/prices'] button").await;
    wait_js(&client, "document.querySelector('#product-pro') && document.querySelector('#product-pro').textContent.includes('$99.00')", Duration::from_secs(20)).await;
    assert_eq!(
        count(&stack, &format!("SELECT count(*) FROM prices WHERE site_id = '{site}' AND product_slug = 'pro'")),
        2
    );

    let legacy = product_with_subscribers(&stack, &account, "Legacy membership", SUBSCRIBERS);
    wait_webhooks(&stack);
    client.goto(&format!("{edge}/dashboard/sites/{site}/products")).await.expect("products");
    wait_js(&client, "document.querySelector('#stripe_product')", Duration::from_secs(15)).await;
    let options = eval(&client, "[...document.querySelectorAll('#stripe_product option')].map(o => o.value)").await;
    assert!(options.as_array().expect("options").iter().any(|o| o == legacy.as_str()), "{options}");
    select(&client, "#stripe_product", &legacy).await;
    fill(&client, "#link-slug", "legacy").await;
    click(&client, "#link-product").await;
    wait_js(&client, "document.querySelector('#product-legacy')", Duration::from_secs(20)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !holds(&client, "document.querySelector('#imports tr[data-done=\"1\"]')").await {
        assert!(Instant::now() < deadline, "the import did not finish");
        tokio::time::sleep(Duration::from_millis(500)).await;
        client.refresh().await.expect("reload");
    }
    assert_eq!(text(&client, "#imports tr[data-done=\"1\"] .imported").await, SUBSCRIBERS.to_string());
    check_page(&client, "products", "Products").await;

    let club_in_catalog = || {
        let catalog = read_json(ureq::get(&format!("{edge}/v1/sites/{site}/catalog")).call()).expect("catalog");
        catalog["products"].as_array().expect("products").iter().find(|p| p["slug"] == "pro").expect("pro").clone()
    };
    assert_eq!(club_in_catalog()["locked_card"], true, "the locked card is shown by default");
    assert!(holds(&client, "document.querySelector('#locked-card-pro').checked").await);
    assert_eq!(
        eval(&client, "document.querySelector('#locked-card-pro').getAttribute('aria-describedby')").await,
        "locked-card-pro-hint"
    );
    click(&client, "#checkout-pro").await;
    click(&client, "#locked-card-pro").await;
    select(&client, "#method-pro", "sales_page").await;
    fill(&client, "#url-pro", "https://club.example/join").await;
    let flash = submit_for_flash(&client, "form[action$='/pro/settings'] button").await;
    assert!(flash.contains("Settings saved"), "{flash}");
    let club = club_in_catalog();
    assert_eq!(
        (club["checkout"].as_bool(), club["purchase_method"].as_str(), club["locked_card"].as_bool()),
        (Some(false), Some("sales_page"), Some(false)),
        "{club}"
    );
    assert!(!holds(&client, "document.querySelector('#locked-card-pro').checked").await, "the form shows it off");
    select(&client, "#method-pro", "stripe_checkout").await;
    click(&client, "#checkout-pro").await;
    click(&client, "#locked-card-pro").await;
    assert!(!holds(&client, "document.querySelector('#billing-address-pro').checked").await, "off by default");
    click(&client, "#billing-address-pro").await;
    let flash = submit_for_flash(&client, "form[action$='/pro/settings'] button").await;
    assert!(flash.contains("Settings saved"), "{flash}");
    assert_eq!(club_in_catalog()["locked_card"], true, "{}", club_in_catalog());
    assert!(holds(&client, "document.querySelector('#billing-address-pro').checked").await, "the form shows it on");

    // The access policy: a grace over the limit is refused next to its field, what was typed stays; then saved.
    let policy_of = || stack.sql(&format!("SELECT policy FROM products WHERE site_id = '{site}' AND slug = 'pro'"));
    assert_eq!(eval(&client, "document.querySelector('#grace-days-pro').value").await, "7", "the default shows");
    assert_eq!(eval(&client, "document.querySelector('#access-days-pro').value").await, "", "for good by default");
    fill(&client, "#grace-days-pro", "90").await;
    click(&client, "form[action$='/pro/settings'] button").await;
    wait_js(&client, "document.querySelector('#grace-days-pro-error')", Duration::from_secs(10)).await;
    assert_eq!(text(&client, "#grace-days-pro-error").await, "Enter at most 60 days.");
    assert_eq!(eval(&client, "document.querySelector('#grace-days-pro').value").await, "90", "what was typed stays");
    assert_eq!(policy_of().expect("policy")[0]["policy"], "{}", "nothing saved");
    check_page(&client, "products-policy-error", "Products").await;
    fill(&client, "#grace-days-pro", "3").await;
    fill(&client, "#access-days-pro", "30").await;
    let flash = submit_for_flash(&client, "form[action$='/pro/settings'] button").await;
    assert!(flash.contains("Settings saved"), "{flash}");
    let saved: Value =
        serde_json::from_str(policy_of().expect("policy")[0]["policy"].as_str().expect("text")).expect("json");
    assert_eq!(saved, json!({ "one_time": { "days": 30 }, "past_due_grace_days": 3 }));
    assert_eq!(eval(&client, "document.querySelector('#access-days-pro').value").await, "30");

    // The JSON API sets it too (absent fields keep their value).
    let patch = |body: Value| {
        read_json(
            ureq::request("PATCH", &format!("{edge}/owner/v1/sites/{site}/products/pro"))
                .set("Authorization", &format!("Bearer {}", stack.admin_token))
                .send_json(body),
        )
        .expect("PATCH product settings")
    };
    let answer = patch(json!({ "show_locked_card": false }));
    assert_eq!(
        (&answer["show_locked_card"], &answer["checkout_enabled"], &answer["purchase_method"]),
        (&json!(false), &json!(true), &json!("stripe_checkout")),
        "{answer}"
    );
    assert_eq!(answer["billing_address_required"], true, "saved by the dashboard form: {answer}");
    assert_eq!(patch(json!({ "billing_address_required": false }))["billing_address_required"], false);
    assert_eq!(club_in_catalog()["locked_card"], false);
    assert_eq!(patch(json!({ "checkout_enabled": true }))["show_locked_card"], false, "kept when absent");
    assert_eq!(patch(json!({ "show_locked_card": true }))["show_locked_card"], true);
    let policy = patch(json!({ "policy": { "past_due_grace_days": null, "refund": "keep" } }))["policy"].clone();
    assert_eq!(policy, json!({ "one_time": { "days": 30 }, "refund": "keep" }), "null goes back to the default");
    let refused = ureq::request("PATCH", &format!("{edge}/owner/v1/sites/{site}/products/pro"))
        .set("Authorization", &format!("Bearer {}", stack.admin_token))
        .send_json(json!({ "policy": { "one_time": { "days": 0 } } }));
    let refused = latch_e2e::answer(refused);
    assert_eq!((refused.status, refused.code()), (400, "invalid_policy"), "{}", refused.body);
    assert_eq!(club_in_catalog()["locked_card"], true);

    // --- A member buys Club on a page of the site (www/examples/late with this site's key), paying on the
    // emulator's hosted page; back on the page the widget claims the session and unlocks; the activity feed, the
    // overview and the member's timeline show it.
    // (Before the widget ever runs for this site, the Install page's live check has not seen it.)
    client.goto(&format!("{edge}/dashboard/sites/{site}/install")).await.expect("install");
    check_page(&client, "install-unseen", "Install").await;
    assert!(text(&client, "#live-check").await.contains("not seen"));
    client.goto(&format!("{edge}/examples/late/?site={site}")).await.expect("the site's page");
    wait_js(&client, "document.querySelector('#pro-card.latch-locked .latch-cta')", Duration::from_secs(15)).await;
    assert!(text(&client, "#pro-card .latch-cta").await.starts_with("Unlock for $"), "the catalog's price");
    click(&client, "#pro-card .latch-cta").await;
    wait_js(&client, "document.querySelector('#cardNumber')", Duration::from_secs(15)).await;
    fill(&client, "#email", "member@example.com").await;
    fill(&client, "#cardNumber", PAYS).await;
    click(&client, "#submit").await;
    wait_js(
        &client,
        "location.pathname === '/examples/late/' && document.querySelector('#pro-card.latch-unlocked') \
         && getComputedStyle(document.querySelector('#pro-content')).display !== 'none'",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(eval(&client, "Latch.member() && Latch.member().email").await, "member@example.com");
    screenshot(&client, "dashboard-bought-on-site", "#pro-card").await;
    wait_webhooks(&stack);
    client.goto(&format!("{edge}/dashboard/sites/{site}/activity")).await.expect("activity");
    check_page(&client, "activity", "Activity").await;
    assert!(
        holds(&client, "document.querySelector('tr[data-kind=subscription_started]')").await,
        "the purchase is in the feed"
    );
    // A diary: events that changed nothing stay out unless asked for; an entry about a member leads to them; dates
    // read as people write them.
    assert!(count(&stack, &format!("SELECT count(*) FROM activity WHERE site_id = '{site}' AND kind = 'ignored'")) > 0);
    assert!(!holds(&client, "document.querySelector('tr[data-kind=ignored]')").await, "ignored events hidden");
    assert!(
        holds(&client, "document.querySelector('tr[data-kind=subscription_started] a.member[href*=\"/members/\"]')")
            .await,
        "the purchase links to its member"
    );
    let when = eval(&client, "(t => [t.dateTime, t.title, t.textContent])(document.querySelector('tr[data-kind=subscription_started] time'))").await;
    let [iso, utc, local] = [0, 1, 2].map(|i| when[i].as_str().unwrap_or_default().to_owned());
    assert!(
        iso.ends_with('Z') && utc.ends_with(" UTC") && !local.is_empty() && local != utc,
        "a date in the owner's words: {when}"
    );
    select(&client, "#kind", "subscription_started").await;
    click(&client, "main form.inline button").await;
    wait_js(&client, "location.search.includes('kind=subscription_started')", Duration::from_secs(10)).await;
    let kinds =
        eval(&client, "[...new Set([...document.querySelectorAll('tr[data-kind]')].map(r => r.dataset.kind))]").await;
    assert_eq!(kinds, json!(["subscription_started"]), "the filter shows one kind");
    select(&client, "#kind", "ignored").await;
    click(&client, "main form.inline button").await;
    wait_js(&client, "location.search.includes('kind=ignored')", Duration::from_secs(10)).await;
    assert!(!text(&client, "tr[data-kind=ignored] td:nth-child(4)").await.is_empty(), "asked for, with the reason");
    // Pages go back from a cursor: everything older than the newest entry, 25 at most, with a link to the newest.
    let newest = count(&stack, &format!("SELECT max(id) FROM activity WHERE site_id = '{site}'"));
    let older = count(
        &stack,
        &format!("SELECT count(*) FROM activity WHERE site_id = '{site}' AND kind != 'ignored' AND id < {newest}"),
    );
    client.goto(&format!("{edge}/dashboard/sites/{site}/activity?before={newest}")).await.expect("older activity");
    wait_js(&client, "document.querySelector('main h1')", Duration::from_secs(10)).await;
    let shown = eval(&client, "document.querySelectorAll('tr[data-kind]').length").await;
    assert_eq!(shown.as_i64(), Some(older.min(25)), "{older} older entries");
    assert!(
        holds(
            &client,
            "[...document.querySelectorAll('nav[aria-label=Pages] a')].some(a => a.textContent === 'Newest')"
        )
        .await
    );
    assert_eq!(holds(&client, "document.querySelector('a[rel=next]')").await, older > 25);

    client.goto(&format!("{edge}/dashboard/sites/{site}/payments")).await.expect("payments");
    check_page(&client, "payments-health", "Payments").await;
    assert_ne!(text(&client, "#last-event").await, "None yet");

    client.goto(&format!("{edge}/dashboard/sites/{site}")).await.expect("overview");
    check_page(&client, "overview", "Overview").await;
    // The portal is set up; the widget has only run on the dashboard's own origin, which sends no Origin.
    assert!(!holds(&client, "document.querySelector('#step-portal')").await, "{}", text(&client, "ul.steps").await);
    assert!(holds(&client, "document.querySelector('#step-install')").await, "{}", text(&client, "ul.steps").await);
    let with_access: i64 = text(&client, "#stat-access").await.parse().expect("a number");
    assert_eq!(with_access, SUBSCRIBERS as i64 + 1, "the imported subscribers and the new member");
    assert_eq!(text(&client, "#stat-new").await, (SUBSCRIBERS + 1).to_string());
    // The imported subscribers pay $5.00 a month each; the new member is in a trial, which does not count.
    assert_eq!(text(&client, "#mrr li[data-currency=usd]").await, format!("${}.00 per month", 5 * SUBSCRIBERS));

    // --- Slice 5: Members: search, the timeline, a manual grant and its revocation, with reasons.
    let members =
        stack.sql(&format!("SELECT email FROM members WHERE site_id = '{site}' ORDER BY email")).expect("members");
    assert!(members.as_array().expect("rows").iter().any(|m| m["email"] == "member@example.com"), "{members}");
    client.goto(&format!("{edge}/dashboard/sites/{site}/members")).await.expect("members");
    check_page(&client, "members", "Members").await;
    fill(&client, "#q", "member@").await;
    click(&client, "form[role=search] button").await;
    wait_js(&client, "document.querySelectorAll('#members tbody tr').length === 1", Duration::from_secs(10)).await;
    click(&client, "#members tbody a").await;
    check_page(&client, "member", "Member member@example.com").await;
    assert!(
        holds(&client, "document.querySelector('tr[data-kind=subscription_started]')").await,
        "the purchase is in the timeline"
    );
    assert!(holds(&client, "document.querySelector('#grants tr[data-product=pro][data-active=true]')").await);
    select(&client, "#grant-product", "legacy").await;
    fill(&client, "#grant-reason", "speaker at our meetup").await;
    click(&client, "#grant").await;
    wait_js(&client, "document.querySelector('.flash') && document.querySelector('#grants tr[data-product=legacy][data-active=true]')", Duration::from_secs(10)).await;
    assert!(text(&client, "tr[data-kind=access_granted]").await.contains("speaker at our meetup"));
    let member_page = client.current_url().await.expect("url").to_string();
    client.goto(&format!("{edge}/dashboard/sites/{site}")).await.expect("overview");
    wait_js(&client, "document.querySelector('#stat-access')", Duration::from_secs(10)).await;
    assert_eq!(text(&client, "#stat-access").await, (SUBSCRIBERS + 1).to_string(), "two grants, one person");
    client.goto(&member_page).await.expect("back to the member");
    fill(&client, "#grants tr[data-product=legacy] input[name=reason]", "comp ended").await;
    click(&client, "#grants tr[data-product=legacy] button").await;
    wait_js(
        &client,
        "document.querySelector('#grants tr[data-product=legacy][data-active=false]')",
        Duration::from_secs(10),
    )
    .await;
    assert!(text(&client, "tr[data-kind=access_revoked]").await.contains("comp ended"));
    check_page(&client, "member-timeline", "Member member@example.com").await;

    // --- Slice 4: Install: the snippets, the allowed origins, the live check.
    client.goto(&format!("{edge}/dashboard/sites/{site}/install")).await.expect("install");
    check_page(&client, "install-snippets", "Install").await;
    assert_eq!(
        text(&client, "#snippet-tag").await,
        format!("<script src=\"{edge}/latch.js\" data-site=\"{site}\"></script>")
    );
    assert!(text(&client, "#snippet-locked-pro").await.contains("data-latch-locked=\"pro\""));
    // Complete snippets: every link has an href (keyboard, screen readers), a buy link has somewhere to go.
    let account = text(&client, "#snippet-account").await;
    for link in ["data-latch-signin href=", "data-latch-portal href=", "data-latch-signout href="] {
        assert!(account.contains(link), "{link} in {account}");
    }
    let buy = eval(&client, "[...document.querySelectorAll('[id^=snippet-buy-]')].map(e => e.textContent)").await;
    let buys: Vec<&str> = buy.as_array().expect("buy snippets").iter().filter_map(Value::as_str).collect();
    assert!(!buys.is_empty() && buys.iter().all(|b| b.contains(" href=\"")), "buy links with a fallback: {buys:?}");
    assert!(holds(&client, "document.querySelector('button.copy')").await, "copy buttons when JavaScript runs");
    read_json(ureq::get(&format!("{edge}/v1/sites/{site}/catalog")).set("Origin", &edge).call())
        .expect("the widget's catalog call");
    fill(&client, "#origins", "ftp://nope").await;
    click(&client, "#save-origins").await;
    wait_js(&client, "document.querySelector('#origins-error')", Duration::from_secs(10)).await;
    // A bare domain is completed to https.
    fill(&client, "#origins", &format!("{edge}\nwww.example.com")).await;
    let flash = submit_for_flash(&client, "#save-origins").await;
    assert!(flash.contains("Allowed addresses saved"), "{flash}");
    assert!(
        text(&client, "#live-check").await.contains(&format!("Latch saw your site at {edge}")),
        "{}",
        text(&client, "#live-check").await
    );
    check_page(&client, "install", "Install").await;
    client.goto(&format!("{edge}/dashboard/sites/{site}")).await.expect("overview");
    wait_js(&client, "document.querySelector('ul.steps')", Duration::from_secs(10)).await;
    assert!(
        !holds(&client, "document.querySelector('#step-install')").await,
        "seen: {}",
        text(&client, "ul.steps").await
    );
    client.goto(&format!("{edge}/dashboard/sites/{site}/install")).await.expect("install");
    let origins = stack.sql(&format!("SELECT allowed_origins FROM sites WHERE id = '{site}'")).expect("site")[0]["allowed_origins"].clone();
    assert_eq!(origins, json!(format!("[\"{edge}\",\"https://www.example.com\"]")));

    // --- Disconnect: first a fresh code from the owner's email (a stolen session alone cannot send the money
    // elsewhere), then the warning is shown and the box must be ticked; then sign out.
    client.goto(&format!("{edge}/dashboard/sites/{site}/payments")).await.expect("payments");
    check_page(&client, "payments-confirm", "Payments").await;
    assert!(text(&client, "#confirm-why").await.contains(OWNER));
    let before = stack.outbox(OWNER).expect("dev outbox").len();
    click(&client, "#confirm-send").await;
    wait_js(&client, "document.querySelector('#confirm-code')", Duration::from_secs(10)).await;
    check_page(&client, "payments-confirm-code", "Payments").await;
    fill(&client, "#confirm-code", &code_after(&stack, OWNER, before)).await;
    let flash = submit_for_flash(&client, "#confirm-submit").await;
    assert!(flash.contains("Confirmed"), "{flash}");
    assert!(text(&client, "#disconnect-warning").await.contains("not cancel"));
    click(&client, "#confirm").await;
    click(&client, "#disconnect").await;
    wait_js(&client, "document.querySelector('#stripe-status[data-status=disconnected]')", Duration::from_secs(15))
        .await;
    check_page(&client, "payments-disconnected", "Payments").await;
    click(&client, ".account form[action='/dashboard/signout'] button").await;
    check_page(&client, "signed-out", "Sign in").await;
    client.goto(&format!("{edge}/dashboard/sites/{site}/products")).await.expect("products");
    wait_js(&client, "location.pathname === '/dashboard/signin'", Duration::from_secs(10)).await;

    client.close().await.expect("close the browser");
}

/// A browser without JavaScript: a cookie jar of one session, form posts, redirects read by hand.
struct NoJs<'a> {
    stack: &'a Stack,
    cookies: Vec<(String, String)>,
}

/// A plain HTTP answer.
struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    /// The CSRF token of the page's forms.
    fn csrf(&self) -> String {
        let start =
            self.body.find("name=\"csrf\" value=\"").unwrap_or_else(|| panic!("no CSRF field: {}", self.body)) + 19;
        self.body[start..].split('"').next().expect("token").to_owned()
    }
}

impl<'a> NoJs<'a> {
    fn new(stack: &'a Stack) -> Self {
        Self { stack, cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, resp: &ureq::Response) {
        for set in resp.all("Set-Cookie") {
            let pair = set.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            self.cookies.retain(|(k, _)| k != name);
            if !value.is_empty() && !set.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    fn send(&mut self, req: ureq::Request, form: Option<&[(&str, &str)]>) -> Page {
        let req = req.set("Cookie", &self.cookie_header());
        let resp = match form {
            Some(f) => req.send_form(f),
            None => req.call(),
        };
        let resp = match resp {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("request failed: {e}"),
        };
        self.keep(&resp);
        let status = resp.status();
        let location = resp.header("Location").map(str::to_owned);
        Page { status, location, body: resp.into_string().unwrap_or_default() }
    }

    fn get(&mut self, path: &str) -> Page {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.stack.edge_url) };
        self.send(agent().get(&url), None)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(agent().post(&format!("{}{path}", self.stack.edge_url)), Some(form))
    }

    fn post_with(&mut self, path: &str, headers: &[(&str, &str)], form: &[(&str, &str)]) -> Page {
        let mut req = agent().post(&format!("{}{path}", self.stack.edge_url));
        for (k, v) in headers {
            req = req.set(k, v);
        }
        self.send(req, Some(form))
    }

    /// Signs in through the two forms; answers the landing redirect.
    fn sign_in(&mut self, email: &str) -> Page {
        let page = self.get("/dashboard/signin");
        assert_eq!(page.status, 200);
        let before = self.stack.outbox(email).expect("dev outbox").len();
        let sent = self.post("/dashboard/signin", &[("csrf", &page.csrf()), ("email", email)]);
        assert_eq!(sent.status, 303, "{}", sent.body);
        let code_page = self.get(sent.location.as_deref().expect("to the code form"));
        let code = code_after(self.stack, email, before);
        let done =
            self.post("/dashboard/signin/code", &[("csrf", &code_page.csrf()), ("email", email), ("code", &code)]);
        assert_eq!((done.status, done.location.as_deref()), (303, Some("/dashboard")), "{}", done.body);
        done
    }
}

#[test]
fn forms_work_without_javascript_and_refuse_forgeries() {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    let edge = stack.edge_url.clone();

    // No session: every page goes to sign-in; the sign-in form needs its pre-session cookie and token.
    let mut anonymous = NoJs::new(&stack);
    let page = anonymous.get("/dashboard/sites/site_whatever/products");
    assert_eq!((page.status, page.location.as_deref()), (303, Some("/dashboard/signin")));
    let forged = anonymous.post("/dashboard/signin", &[("email", OWNER)]);
    assert_eq!(forged.status, 403, "a sign-in form without its token is refused");

    let mut owner = NoJs::new(&stack);
    owner.sign_in(OWNER);
    let landing = owner.get("/dashboard");
    assert_eq!(landing.location.as_deref(), Some("/dashboard/sites/new"));
    let form = owner.get("/dashboard/sites/new");
    let csrf = form.csrf();

    // CSRF: missing, wrong, cross-site Origin, cross-site fetch metadata -> 403, nothing created.
    let site_form = |csrf: &str| {
        vec![("csrf".to_owned(), csrf.to_owned()), ("name".into(), "Plain".into()), ("origin".into(), edge.clone())]
    };
    assert_eq!(owner.post("/dashboard/sites", &[("name", "Plain"), ("origin", &edge)]).status, 403, "no token");
    assert_eq!(owner.post("/dashboard/sites", &as_refs(&site_form(&"0".repeat(64)))).status, 403, "wrong token");
    let cross = owner.post_with("/dashboard/sites", &[("Origin", "https://evil.example")], &as_refs(&site_form(&csrf)));
    assert_eq!(cross.status, 403, "cross-site Origin");
    let fetch_site =
        owner.post_with("/dashboard/sites", &[("Sec-Fetch-Site", "cross-site")], &as_refs(&site_form(&csrf)));
    assert_eq!(fetch_site.status, 403, "cross-site Sec-Fetch-Site");
    assert_eq!(count(&stack, "SELECT count(*) FROM site_owners"), 0, "nothing was created");

    // The real form, same origin.
    let created = owner.post_with(
        "/dashboard/sites",
        &[("Origin", &edge), ("Sec-Fetch-Site", "same-origin")],
        &as_refs(&site_form(&csrf)),
    );
    assert_eq!(created.status, 303, "{}", created.body);
    let payments = created.location.expect("to payments");
    let site = payments.split('/').nth(3).expect("site id").to_owned();
    assert!(payments.ends_with("/payments?done=site_created"), "{payments}");
    assert!(owner.get(&payments).body.contains("Site created"));

    // Connect without JavaScript: the form redirects to Stripe's page; approving comes back to the callback.
    let connect = owner.post(&format!("/dashboard/sites/{site}/payments/connect"), &[("csrf", &csrf)]);
    assert_eq!(connect.status, 303, "{}", connect.body);
    let authorize = connect.location.expect("to Stripe");
    assert!(authorize.starts_with(&format!("{}/oauth/authorize?", stack.emulator_url)), "{authorize}");
    let params: Vec<(String, String)> = url_query(&authorize);
    let param = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let approved = agent().post(&format!("{}/oauth/authorize", stack.emulator_url)).send_form(&[
        ("client_id", &param("client_id")),
        ("redirect_uri", &param("redirect_uri")),
        ("state", &param("state")),
        ("scope", &param("scope")),
        ("email", OWNER),
        ("account", ""),
        ("decision", "approve"),
    ]);
    let back = approved.expect("approve").header("Location").expect("back to Latch").to_owned();
    let callback = owner.get(&back);
    assert_eq!(callback.status, 200, "{}", callback.body);
    assert!(callback.body.contains("data-status=\"connected\""));

    // A product through the plain form; a bad amount comes back as a 400 page with the field's error.
    let bad = owner.post(
        &format!("/dashboard/sites/{site}/products"),
        &[
            ("csrf", &csrf),
            ("name", "Plain"),
            ("slug", "plain"),
            ("amount", "9.999"),
            ("currency", "usd"),
            ("interval", ""),
            ("trial_days", ""),
        ],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"create-amount-error\""), "{}", bad.body);
    let made = owner.post(
        &format!("/dashboard/sites/{site}/products"),
        &[
            ("csrf", &csrf),
            ("name", "Plain"),
            ("slug", "plain"),
            ("amount", "25"),
            ("currency", "usd"),
            ("interval", ""),
            ("trial_days", ""),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.body);
    assert!(owner.get(&format!("/dashboard/sites/{site}/products")).body.contains("$25.00"));

    // Another owner: the first owner's site does not exist for them, pages and forms alike.
    let mut other = NoJs::new(&stack);
    other.sign_in("other@example.com");
    let other_csrf = other.get("/dashboard/sites/new").csrf();
    assert_ne!(other_csrf, csrf, "tokens are per session");
    assert_eq!(other.get(&format!("/dashboard/sites/{site}/products")).status, 404);
    assert_eq!(other.get(&format!("/dashboard/sites/{site}")).status, 404);
    let stolen = other
        .post(&format!("/dashboard/sites/{site}/payments/disconnect"), &[("csrf", &other_csrf), ("confirm", "yes")]);
    assert_eq!(stolen.status, 404);
    // A token of one session does not pass in another.
    assert_eq!(other.post("/dashboard/sites", &[("csrf", &csrf), ("name", "X"), ("origin", &edge)]).status, 403);

    // Disconnect needs the confirmation box and a fresh code, then works without JavaScript.
    let unconfirmed = owner.post(&format!("/dashboard/sites/{site}/payments/disconnect"), &[("csrf", &csrf)]);
    assert_eq!(unconfirmed.status, 400);
    let no_code =
        owner.post(&format!("/dashboard/sites/{site}/payments/disconnect"), &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(no_code.status, 403, "a session alone cannot disconnect: {}", no_code.body);
    assert!(no_code.body.contains("fresh code"), "{}", no_code.body);
    let before = stack.outbox(OWNER).expect("dev outbox").len();
    let sent = owner.post(&format!("/dashboard/sites/{site}/payments/confirm/send"), &[("csrf", &csrf)]);
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert!(owner.get(&sent.location.expect("back")).body.contains("id=\"confirm-code\""));
    let code = code_after(&stack, OWNER, before);
    let wrong =
        owner.post(&format!("/dashboard/sites/{site}/payments/confirm"), &[("csrf", &csrf), ("code", "000000")]);
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let confirmed =
        owner.post(&format!("/dashboard/sites/{site}/payments/confirm"), &[("csrf", &csrf), ("code", &code)]);
    assert_eq!(confirmed.status, 303, "{}", confirmed.body);
    let disconnected =
        owner.post(&format!("/dashboard/sites/{site}/payments/disconnect"), &[("csrf", &csrf), ("confirm", "yes")]);
    assert_eq!(disconnected.status, 303, "{}", disconnected.body);
    assert!(owner.get(&disconnected.location.expect("back")).body.contains("were not cancelled"));

    // Sign out: the session is over, even if the cookie is replayed.
    let replay = owner.cookie_header();
    assert_eq!(owner.post("/dashboard/signout", &[("csrf", &csrf)]).location.as_deref(), Some("/dashboard/signin"));
    let replayed =
        agent().get(&format!("{edge}/dashboard/sites/{site}")).set("Cookie", &replay).call().expect("answer");
    assert_eq!((replayed.status(), replayed.header("Location")), (303, Some("/dashboard/signin")));
}

fn as_refs(form: &[(String, String)]) -> Vec<(&str, &str)> {
    form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// The decoded query pairs of a URL.
fn url_query(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}
