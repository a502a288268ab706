//! The widget on a page that imitates a real site (www/examples/shop: its own CSS and layout, a strict CSP from
//! www/_headers, two Latch tags in classic and module form, a section its own script loads late) and on the demo,
//! in headless Chromium against `wrangler dev` and the Stripe emulator: buy and unlock, no CSP violations, no
//! double wiring, no flash of the wrong state with a cached token, no layout shift, graceful failure when the
//! edge is unreachable, the catalog's `checkout: false` and `locked_card: false`, axe-core's WCAG 2 A/AA rules,
//! and host-site identity (`data-identity`) signed with the site's secret.
//! Screenshots go to target/e2e-screenshots/.

use std::time::Duration;

use fantoccini::Client;
use latch_core::identity;
use latch_e2e::browser::{
    axe_violations, browser, click, console_messages, eval, fill, holds, screenshot, start_driver, wait_js,
};
use latch_e2e::{DEMO_SITE, Stack, StackOptions, read_json, unix_now};
use serde_json::{Value, json};

const PAYS: &str = "4242 4242 4242 4242";
const SECS: fn(u64) -> Duration = Duration::from_secs;

fn locked(card: &str, content: &str) -> String {
    format!(
        "document.querySelector('{card}') && document.querySelector('{card}').classList.contains('latch-locked') \
         && document.querySelectorAll('{card} > .latch-overlay').length === 1 \
         && getComputedStyle(document.querySelector('{content}')).display === 'none'"
    )
}

fn unlocked(card: &str, content: &str) -> String {
    format!(
        "document.querySelector('{card}').classList.contains('latch-unlocked') \
         && !document.querySelector('{card} .latch-overlay') \
         && getComputedStyle(document.querySelector('{content}')).display !== 'none'"
    )
}

fn start_stack() -> Stack {
    let stack = Stack::start(StackOptions::default()).expect("the stack starts (cargo xtask build first)");
    stack.seed_demo().expect("seed the demo site");
    stack
}

/// The response headers of a GET, lower-cased names.
fn headers(url: &str) -> Vec<(String, String)> {
    let resp = ureq::get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    resp.headers_names().into_iter().map(|n| (n.to_ascii_lowercase(), resp.header(&n).unwrap_or("").into())).collect()
}

fn header(list: &[(String, String)], name: &str) -> String {
    list.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

async fn csp_violations(client: &Client) -> Vec<Value> {
    eval(client, "window.__cspViolations").await.as_array().cloned().expect("shop.js records CSP violations")
}

async fn assert_no_layout_shift(client: &Client, what: &str) {
    // Layout-shift entries are delivered asynchronously: give the observer a frame or two.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cls = eval(client, "window.__cls").await.as_f64().expect("shop.js measures CLS");
    assert!(cls == 0.0, "{what}: cumulative layout shift {cls}, want 0: {}", eval(client, "window.__shifts").await);
}

/// CLS of a page without its own observer (the demo): a buffered PerformanceObserver added after the fact.
async fn assert_no_layout_shift_buffered(client: &Client, what: &str) {
    let script = r#"
        const done = arguments[arguments.length - 1];
        let cls = 0; const shifts = [];
        new PerformanceObserver(list => list.getEntries().forEach(e => {
            if (e.hadRecentInput) return;
            cls += e.value;
            shifts.push(e.value.toFixed(4) + ": " + e.sources.map(s => s.node && (s.node.id || s.node.nodeName + "." + s.node.className) + " " + JSON.stringify(s.previousRect) + " -> " + JSON.stringify(s.currentRect)).join(", "));
        })).observe({ type: "layout-shift", buffered: true });
        setTimeout(() => done({ cls, shifts }), 300);
    "#;
    let answer = client.execute_async(script, vec![]).await.expect("measure CLS");
    assert!(answer["cls"].as_f64() == Some(0.0), "{what}: layout shifts {answer}");
}

async fn assert_accessible(client: &Client, what: &str) {
    let violations = axe_violations(client).await;
    assert!(violations.is_empty(), "{what}: axe-core WCAG 2 A/AA violations:\n{}", violations.join("\n"));
}

async fn pay(client: &Client, email: &str) {
    wait_js(client, "document.querySelector('#cardNumber')", SECS(15)).await;
    fill(client, "#email", email).await;
    fill(client, "#cardNumber", PAYS).await;
    click(client, "#submit").await;
}

/// Samples shop.js took of the gated elements from DOMContentLoaded to latch:ready.
async fn flash_samples(client: &Client) -> Vec<Value> {
    wait_js(client, "window.__flash && window.__flash.ready", SECS(15)).await;
    let samples = eval(client, "window.__flash.samples").await.as_array().cloned().expect("samples");
    assert!(samples.len() >= 2, "sampled at DOMContentLoaded and at latch:ready at least: {samples:?}");
    assert_eq!(samples[0]["phase"], "domcontentloaded", "the first sample is at DOMContentLoaded");
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn shop_with_strict_csp_and_two_tags_buys_unlocks_and_never_flashes() {
    let stack = start_stack();
    let base = &stack.edge_url;

    // wrangler dev serves www/_headers: the strict CSP, immutable hashed files, a short-lived loader.
    let page = headers(&format!("{base}/examples/shop/"));
    let csp = header(&page, "content-security-policy");
    for part in ["script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "style-src 'self'", "default-src 'none'"]
    {
        assert!(csp.contains(part), "the shop's CSP has {part}: {csp:?}");
    }
    let loader = ureq::get(&format!("{base}/latch.js")).call().expect("latch.js").into_string().expect("text");
    assert!(header(&headers(&format!("{base}/latch.js")), "cache-control").contains("max-age=300"));
    let glue = loader.split("/pkg/").nth(2).and_then(|s| s.split('"').next()).expect("latch.js names the glue");
    assert!(glue.starts_with("latch_widget.") && glue.ends_with(".js") && glue.len() == "latch_widget..js".len() + 16);
    let pkg = headers(&format!("{base}/pkg/{glue}"));
    assert_eq!(header(&pkg, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(header(&pkg, "access-control-allow-origin"), "*", "other sites import the glue module");
    match ureq::get(&format!("{base}/_headers")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("www/_headers is configuration, not a public file: {:?}", other.map(|r| r.status())),
    }

    let driver = start_driver();
    let client = browser(&driver).await;
    let shop = format!("{base}/examples/shop/");

    // Demo page, locked: accessible.
    client.goto(&format!("{base}/demo/")).await.expect("open demo");
    wait_js(&client, &locked("#pro-card", "#pro-content"), SECS(15)).await;
    assert_no_layout_shift_buffered(&client, "demo, locked").await;
    assert_accessible(&client, "demo, locked").await;

    // A visitor without a token: locked from the first sample on, member content never shown.
    client.goto(&shop).await.expect("open shop");
    wait_js(&client, &locked("#pro-card", "#pro-content"), SECS(15)).await;
    for s in flash_samples(&client).await {
        assert_eq!((&s["proContent"], &s["proWelcome"]), (&Value::Bool(false), &Value::Bool(false)), "{s}");
    }
    // Two tags, one widget: one overlay per card (checked by `locked`), one `Latch`.
    assert!(holds(&client, "document.querySelectorAll('script[src=\"/latch.js\"]').length === 2").await);
    assert_no_layout_shift(&client, "shop, first load").await;

    // The section the page's own script loads late gets wired.
    click(&client, "#nav-classes").await;
    wait_js(&client, &locked("#course-card", "#course-content"), SECS(10)).await;
    let cta = eval(&client, "document.querySelector('#course-card .latch-cta').textContent").await;
    assert_eq!(cta, "Unlock for $49.00", "the late card shows the catalog's price");
    screenshot(&client, "shop-locked", "#pro-card").await;

    // One request per click, even with two tags: count checkouts and cancel the navigation.
    watch_checkouts(&client).await;
    click(&client, "#buy-course-late").await;
    wait_js(&client, "window.__checkouts === 1 && !document.querySelector('#buy-course-late.latch-loading')", SECS(10))
        .await;
    assert_eq!(checkout_calls(&client).await, 1, "one POST /v1/checkout per click");
    assert_eq!(eval(&client, "window.__checkouts").await, 1, "one latch:checkout per click");

    assert_eq!(csp_violations(&client).await, Vec::<Value>::new(), "no CSP violations while locked");
    assert_accessible(&client, "shop, locked").await;

    // Buy the membership at the emulator and come back unlocked.
    client.goto(&shop).await.expect("reopen shop");
    wait_js(&client, &locked("#pro-card", "#pro-content"), SECS(15)).await;
    click(&client, "#buy-pro").await;
    pay(&client, "baker@example.com").await;
    wait_js(&client, &unlocked("#pro-card", "#pro-content"), SECS(20)).await;
    wait_js(
        &client,
        "document.querySelector('[data-latch-member=email]').textContent === 'baker@example.com'",
        SECS(5),
    )
    .await;
    let toast = "getComputedStyle(document.querySelector('.latch-toast[role=status]')).position === 'fixed'";
    assert!(holds(&client, toast).await, "the success toast, styled by the wasm's rules (widget/src/style.rs)");
    assert_eq!(csp_violations(&client).await, Vec::<Value>::new(), "no CSP violations on the return trip");
    screenshot(&client, "shop-unlocked", "#pro-card").await;
    assert_accessible(&client, "shop, unlocked").await;

    // Reload with the cached token: the page never shows the locked state, not even for a frame.
    client.refresh().await.expect("reload");
    wait_js(&client, &unlocked("#pro-card", "#pro-content"), SECS(15)).await;
    for s in flash_samples(&client).await {
        assert_eq!(s["proContent"], true, "member content shown from the first frame: {s}");
        assert_eq!(s["proPitch"], false, "the non-member pitch never shows to a member: {s}");
        assert_eq!(s["cardLocked"], false, "the card never shows locked to a member: {s}");
    }
    assert!(
        eval(&client, "performance.getEntriesByName('latch:resolved').length").await == 1,
        "the widget marks when access is resolved"
    );
    assert_no_layout_shift(&client, "shop, member reload").await;
    assert_eq!(csp_violations(&client).await, Vec::<Value>::new(), "no CSP violations for a member");

    // Same origin, same site key: the demo is unlocked too, and accessible.
    client.goto(&format!("{base}/demo/")).await.expect("open demo");
    wait_js(&client, &unlocked("#pro-card", "#pro-content"), SECS(15)).await;
    assert_no_layout_shift_buffered(&client, "demo, member").await;
    assert_accessible(&client, "demo, unlocked").await;
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_edge_marks_error_keeps_non_member_content_and_buttons_lead_somewhere() {
    let stack = start_stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    let offline = format!("{}/examples/offline/", stack.edge_url);

    client.goto(&offline).await.expect("open the offline copy");
    wait_js(&client, "document.documentElement.classList.contains('latch-error')", SECS(15)).await;
    assert!(holds(&client, "document.documentElement.classList.contains('latch-ready')").await);
    assert!(holds(&client, "getComputedStyle(document.querySelector('#pro-content')).display === 'none'").await);
    assert!(holds(&client, "getComputedStyle(document.querySelector('#pro-pitch')).display !== 'none'").await);
    for member_only in ["#portal", "#signout", "#pro-welcome"] {
        let css = format!("getComputedStyle(document.querySelector('{member_only}')).display === 'none'");
        assert!(holds(&client, &css).await, "{member_only} stays hidden when the widget cannot load");
    }
    assert_eq!(csp_violations(&client).await, Vec::<Value>::new(), "a network failure, not a CSP block");
    screenshot(&client, "shop-error", ".banner").await;

    // A buy link follows its own href; a buy button its data-latch-fallback.
    click(&client, "#buy-pro").await;
    wait_js(&client, "location.pathname === '/examples/shop/join'", SECS(10)).await;
    client.goto(&offline).await.expect("back");
    wait_js(&client, "document.documentElement.classList.contains('latch-error')", SECS(15)).await;
    click(&client, "#buy-course").await;
    wait_js(&client, "location.pathname === '/examples/shop/join' && location.hash === '#masterclass'", SECS(10)).await;
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn checkout_off_in_the_catalog_disables_the_cta_and_never_creates_a_session() {
    let stack = start_stack();
    stack.sql("UPDATE products SET checkout_enabled = 0 WHERE slug = 'course'").expect("turn checkout off");
    let driver = start_driver();
    let client = browser(&driver).await;

    client.goto(&format!("{}/examples/shop/", stack.edge_url)).await.expect("open shop");
    wait_js(&client, &locked("#pro-card", "#pro-content"), SECS(15)).await;
    click(&client, "#nav-classes").await;
    wait_js(&client, &locked("#course-card", "#course-content"), SECS(10)).await;
    let card = "document.querySelector('#course-card')";
    wait_js(&client, &format!("{card}.classList.contains('latch-unavailable')"), SECS(5)).await;
    assert!(holds(&client, &format!("{card}.querySelector('.latch-cta').disabled")).await, "the CTA is disabled");
    assert_eq!(
        eval(&client, &format!("{card}.querySelector('.latch-trial').textContent")).await,
        "Not available for purchase right now."
    );
    assert!(holds(&client, &format!("!{card}.querySelector('.latch-trial').hidden")).await, "the message shows");
    // The late buy button (no fallback of its own) is marked unavailable; a click creates no session.
    assert!(
        holds(&client, "document.querySelector('#buy-course-late').getAttribute('aria-disabled') === 'true'").await
    );
    click(&client, "#course-card h3").await;
    watch_checkouts(&client).await;
    click(&client, "#buy-course-late").await;
    assert_eq!(checkout_calls(&client).await, 0, "checkout off: no POST /v1/checkout");
    assert!(holds(&client, "location.pathname === '/examples/shop/'").await, "nothing to follow: the page stays");
    screenshot(&client, "shop-checkout-off", "#course-card").await;
    assert_accessible(&client, "shop, checkout off").await;

    // The banner's button has a fallback of its own: it leads there instead of to Checkout.
    click(&client, "#buy-course").await;
    wait_js(&client, "location.pathname === '/examples/shop/join' && location.hash === '#masterclass'", SECS(10)).await;
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn locked_card_off_hides_the_card_from_visitors_without_a_flash() {
    let stack = start_stack();
    stack.sql("UPDATE products SET show_locked_card = 0 WHERE slug = 'pro'").expect("turn the locked card off");
    let driver = start_driver();
    let client = browser(&driver).await;

    // First visit: once the catalog says so, the card is the site's markup, hidden like gated content.
    client.goto(&format!("{}/examples/shop/", stack.edge_url)).await.expect("open shop");
    let card = "document.querySelector('#pro-card')";
    let plain = format!(
        "document.documentElement.classList.contains('latch-ready') && {card}.hidden \
         && getComputedStyle({card}).display === 'none' && {card}.classList.contains('latch-plain') \
         && !{card}.classList.contains('latch-locked') && !{card}.querySelector('.latch-overlay')"
    );
    // Before any catalog is cached, nothing tells the loader: the card shows until the catalog arrives
    // (widget/README.md). This also shows the samples see the card when it is displayed.
    assert_eq!(flash_samples(&client).await[0]["cardShown"], true);
    wait_js(&client, &plain, SECS(15)).await;
    // The other locked card (course, still on) keeps its overlay.
    click(&client, "#nav-classes").await;
    wait_js(&client, &locked("#course-card", "#course-content"), SECS(10)).await;

    // With the catalog cached, the loader hides it before the first paint: never shown, not even for a frame.
    client.goto(&format!("{}/examples/shop/", stack.edge_url)).await.expect("reload shop");
    for s in flash_samples(&client).await {
        assert_eq!((&s["cardShown"], &s["cardLocked"]), (&Value::Bool(false), &Value::Bool(false)), "{s}");
    }
    wait_js(&client, &plain, SECS(5)).await;
    assert_accessible(&client, "shop, locked card off").await;
    client.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn latch_tags_the_page_adds_after_domcontentloaded_work_and_wire_once() {
    let stack = start_stack();
    let base = &stack.edge_url;
    let csp = header(&headers(&format!("{base}/examples/late/")), "content-security-policy");
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval'") && csp.contains("default-src 'none'"), "{csp:?}");
    let driver = start_driver();
    let client = browser(&driver).await;

    // www/examples/late: no Latch tag in the markup; late.js adds a classic and a module tag after
    // DOMContentLoaded. The site's own CSS (late.css) keeps member content hidden and the overlay's room until then.
    client.goto(&format!("{base}/examples/late/")).await.expect("open the late page");
    wait_js(&client, &locked("#pro-card", "#pro-content"), SECS(15)).await;
    assert!(
        holds(&client, "document.querySelectorAll('script[src=\"/latch.js\"][data-site]').length === 2").await,
        "both tags were added"
    );
    assert!(
        holds(&client, "performance.getEntriesByName('latch:resolved')[0].startTime > performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd").await,
        "the widget started after DOMContentLoaded"
    );
    for s in flash_samples(&client).await {
        assert_eq!((&s["proContent"], &s["proWelcome"]), (&Value::Bool(false), &Value::Bool(false)), "{s}");
    }
    assert_eq!(eval(&client, "document.querySelectorAll('.latch-overlay').length").await, 1, "one overlay");
    assert_eq!(
        eval(&client, "document.querySelector('#pro-card .latch-cta').textContent").await,
        "Unlock for $9.00/month"
    );
    assert_no_layout_shift(&client, "late tags, visitor").await;

    // One request and one latch:checkout per click, though two tags ran.
    watch_checkouts(&client).await;
    click(&client, "#buy-pro").await;
    wait_js(&client, "window.__checkouts === 1 && !document.querySelector('#buy-pro.latch-loading')", SECS(10)).await;
    assert_eq!(checkout_calls(&client).await, 1, "one POST /v1/checkout per click");
    assert_eq!(eval(&client, "window.__checkouts").await, 1, "one latch:checkout per click");
    assert_eq!(csp_violations(&client).await, Vec::<Value>::new(), "no CSP violations");
    assert_accessible(&client, "late tags, locked").await;

    // The JS API of the first tag answers: a visitor is nobody, and refresh resolves.
    assert_eq!(eval(&client, "Latch.member()").await, Value::Null);
    let refreshed = client
        .execute_async("const done = arguments[arguments.length - 1]; Latch.refresh().then(m => done(m));", vec![])
        .await
        .expect("Latch.refresh()");
    assert_eq!(refreshed, Value::Null);
    client.close().await.expect("close");
}

/// Adds a Latch tag with `data-identity` for `email` (an unsigned stand-in: only its payload matters to latch.js)
/// to the current page, after caching a member token and fresh access for ana@example.com; waits for
/// `latch:ready` and returns the API paths the widget called.
async fn tag_with_identity(client: &Client, email: &str) -> Vec<String> {
    let script = r#"
        const [email, done] = arguments;
        localStorage.setItem('latch:site_demo:token', 'tok_cached');
        localStorage.setItem('latch:site_demo:access', JSON.stringify({t: Date.now(),
            member: {email: 'ana@example.com'}, access: [{product: 'pro', ends_at: null}]}));
        const payload = btoa(JSON.stringify({email, exp: 4102444800})).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
        document.addEventListener('latch:ready', () => setTimeout(() => done(performance.getEntriesByType('resource')
            .map(e => new URL(e.name).pathname).filter(p => p.startsWith('/v1/') && !p.includes('/catalog'))), 100));
        const tag = document.createElement('script');
        tag.src = '/latch.js';
        tag.setAttribute('data-site', 'site_demo');
        tag.setAttribute('data-identity', 'v1.' + payload + '.c2ln');
        document.head.appendChild(tag);
    "#;
    let answer = client.execute_async(script, vec![Value::from(email)]).await.expect("add the tag");
    answer.as_array().expect("paths").iter().map(|p| p.as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn data_identity_is_exchanged_only_when_the_cached_token_is_another_members() {
    let stack = start_stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    // A page of the shop without a Latch tag; the test adds one as a host site's server would render it.
    let page = format!("{}/examples/shop/join", stack.edge_url);

    // The identity names the cached member (case aside): the cached token serves, no /v1/identify.
    client.goto(&page).await.expect("open page");
    assert_eq!(tag_with_identity(&client, "Ana@Example.com").await, vec!["/v1/access".to_string()]);

    // Another member signed in on the host site: the widget exchanges the identity instead of using the token.
    // (This stand-in is not signed, so the edge refuses it and the visitor ends up signed out.)
    client.goto(&page).await.expect("reopen page");
    assert_eq!(tag_with_identity(&client, "ben@example.com").await, vec!["/v1/identify".to_string()]);
    assert_eq!(eval(&client, "Latch.member()").await, Value::Null);
    assert!(holds(&client, "localStorage.getItem('latch:site_demo:token') === null").await, "the old token is gone");
    client.close().await.expect("close");
}

/// Buys the one-time course over HTTP (checkout, pay on the emulator, claim): `email` becomes a member with it.
fn buy_course(stack: &Stack, email: &str) {
    let claimed = stack.buy(DEMO_SITE, "course-lifetime", None, email);
    assert_eq!(claimed["member"]["email"], email);
}

/// The demo site's secret, read as its owner (here the operator) reads it: `GET /owner/v1/sites/{site}/secret`.
fn site_secret(stack: &Stack) -> String {
    let url = format!("{}/owner/v1/sites/{DEMO_SITE}/secret", stack.edge_url);
    let answer = read_json(ureq::get(&url).set("Authorization", &format!("Bearer {}", stack.admin_token)).call())
        .expect("the site secret");
    answer["secret"].as_str().expect("secret").to_owned()
}

/// The `/v1/...` API paths the page called (the catalog aside).
/// Counts, from now on, the page's `latch:checkout` events (cancelling the navigation) and its calls of
/// `POST /v1/checkout` as they are made (`fetch` wrapped: a call counts when it starts, not when it ends).
async fn watch_checkouts(client: &Client) {
    eval(
        client,
        "(() => { window.__checkouts = 0; window.__checkoutCalls = 0; \
         if (!window.__fetch) { \
           document.addEventListener('latch:checkout', e => { e.preventDefault(); window.__checkouts++; }); \
           window.__fetch = window.fetch; \
           window.fetch = function (url, init) { \
             if (String(url).endsWith('/v1/checkout')) window.__checkoutCalls++; \
             return window.__fetch.apply(this, arguments); }; } \
         return 0; })()",
    )
    .await;
}

/// The `POST /v1/checkout` calls started since [`watch_checkouts`]. The widget starts them from the click's own
/// task and its microtasks, which have all run by the time WebDriver's next script runs: no waiting needed.
async fn checkout_calls(client: &Client) -> i64 {
    eval(client, "window.__checkoutCalls").await.as_i64().expect("watch_checkouts first")
}

async fn api_calls(client: &Client) -> Vec<String> {
    let paths = eval(
        client,
        "performance.getEntriesByType('resource').map(e => new URL(e.name).pathname)\
         .filter(p => p.startsWith('/v1/') && !p.includes('/catalog'))",
    )
    .await;
    paths.as_array().expect("paths").iter().map(|p| p.as_str().unwrap_or_default().to_owned()).collect()
}

/// Opens www/examples/identity with `identity` as the host site's signed-in user and waits until the widget has
/// settled. That static page stands in for a host site's server, which would render `data-identity` into the tag
/// in `<head>`: the CSP forbids inline scripts, so its own same-origin script (identity.js) writes that tag with
/// `document.write` (parser-inserted and blocking, like a rendered one), the value taken from the page's
/// `?identity=` query (a signed value is base64url and hex: nothing to escape).
async fn open_as(client: &Client, stack: &Stack, identity: &str) {
    client.goto(&format!("{}/examples/identity/?identity={identity}", stack.edge_url)).await.expect("open the page");
    wait_js(
        client,
        "window.Latch && document.documentElement.classList.contains('latch-ready') \
         && !document.documentElement.classList.contains('latch-loading')",
        SECS(15),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validly_signed_data_identity_signs_the_member_in_and_a_tampered_one_signs_out() {
    let stack = start_stack();
    buy_course(&stack, "ana@example.com");
    let secret = site_secret(&stack);
    assert!(secret.starts_with("lss_"), "a site secret");
    // Signed as docs/identity.md says (latch-core's `sign` is that recipe; owners.rs runs the doc's snippets).
    let ana = identity::sign("Ana@Example.com", unix_now() + 300, &secret);
    let ben = identity::sign("ben@example.com", unix_now() + 300, &secret);
    let driver = start_driver();
    let client = browser(&driver).await;
    let member = "Latch.member() && Latch.member().email";
    let email_field = "document.querySelector('#member-email').textContent";
    let token = "localStorage.getItem('latch:site_demo:token')";

    // Ana, who bought the course, is signed in on the host site: one /v1/identify, and the course is unlocked.
    open_as(&client, &stack, &ana).await;
    wait_js(&client, &unlocked("#course-card", "#course-content"), SECS(10)).await;
    assert_eq!(eval(&client, member).await, "ana@example.com");
    assert_eq!(eval(&client, "Latch.member().access").await, json!(["course"]));
    assert_eq!(eval(&client, email_field).await, "ana@example.com");
    assert!(holds(&client, "getComputedStyle(document.querySelector('#signin')).display === 'none'").await);
    assert_eq!(api_calls(&client).await, vec!["/v1/identify".to_string()], "the identity was exchanged");
    let ana_token = eval(&client, token).await;
    assert!(ana_token.as_str().is_some_and(|t| !t.is_empty()), "the member token is kept: {ana_token}");
    assert_eq!(csp_violations(&client).await, Vec::<Value>::new(), "no CSP violations");
    assert_no_layout_shift(&client, "identity, member").await;
    screenshot(&client, "identity-member", "#course-card").await;

    // A reload with the same identity (a host signs a fresh value per page; the same one here) uses the cached
    // token: /v1/access, no second /v1/identify.
    client.refresh().await.expect("reload");
    wait_js(
        &client,
        "document.documentElement.classList.contains('latch-ready') && !document.documentElement.classList.contains('latch-loading')",
        SECS(15),
    )
    .await;
    wait_js(&client, &unlocked("#course-card", "#course-content"), SECS(10)).await;
    assert_eq!(api_calls(&client).await, vec!["/v1/access".to_string()], "the cached token served");
    assert_eq!(eval(&client, member).await, "ana@example.com");
    assert_eq!(eval(&client, token).await, ana_token, "the same token");

    // A copy of Ana's page (her value, opened in another browser: a shared cached page, a proxy) signs no one in,
    // since her own browser already used it.
    let copy = browser(&driver).await;
    open_as(&copy, &stack, &ana).await;
    wait_js(&copy, &locked("#course-card", "#course-content"), SECS(10)).await;
    assert_eq!(eval(&copy, "Latch.member()").await, Value::Null, "the copy is not Ana");
    assert_eq!(eval(&copy, token).await, Value::Null);
    copy.close().await.expect("close the copy");

    // The host site's user switches to Ben (no course): the widget exchanges his identity and Ben replaces Ana.
    open_as(&client, &stack, &ben).await;
    wait_js(&client, &format!("{member} === 'ben@example.com'"), SECS(10)).await;
    wait_js(&client, &locked("#course-card", "#course-content"), SECS(10)).await;
    assert_eq!(eval(&client, "Latch.member().access").await, json!([]));
    assert_eq!(eval(&client, email_field).await, "ben@example.com");
    assert_eq!(api_calls(&client).await, vec!["/v1/identify".to_string()], "Ben's identity was exchanged");
    let ben_token = eval(&client, token).await;
    assert!(ben_token.as_str().is_some_and(|t| !t.is_empty()) && ben_token != ana_token, "Ben's own token");
    let cached = eval(&client, "JSON.parse(localStorage.getItem('latch:site_demo:access')).member.email").await;
    assert_eq!(cached, "ben@example.com", "the cached access is Ben's");

    // A tampered identity (Ana's signature on a payload naming someone else) is refused: signed out, a console
    // message, the course locked, the sign-in link back.
    console_messages(&client).await;
    let (_, ana_sig) = ana.rsplit_once('.').expect("v1.<payload>.<sig>");
    let boss = identity::sign("boss@example.com", unix_now() + 300, &secret);
    let (boss_signed, _) = boss.rsplit_once('.').expect("v1.<payload>.<sig>");
    open_as(&client, &stack, &format!("{boss_signed}.{ana_sig}")).await;
    wait_js(&client, &locked("#course-card", "#course-content"), SECS(10)).await;
    assert_eq!(eval(&client, "Latch.member()").await, Value::Null);
    assert_eq!(eval(&client, token).await, Value::Null, "Ben's token is gone");
    assert_eq!(api_calls(&client).await, vec!["/v1/identify".to_string()]);
    assert!(holds(&client, "getComputedStyle(document.querySelector('#member-email')).display === 'none'").await);
    assert!(holds(&client, "getComputedStyle(document.querySelector('#signin')).display !== 'none'").await);
    assert!(
        holds(&client, "!document.documentElement.classList.contains('latch-member')").await,
        "<html> is not marked as a member's"
    );
    let console = console_messages(&client).await;
    assert!(
        console
            .iter()
            .any(|m| m.starts_with("WARNING") && m.contains("Latch: identify: the site's data-identity was refused")),
        "a console warning says why: {console:?}"
    );
    assert_eq!(csp_violations(&client).await, Vec::<Value>::new(), "no CSP violations");
    screenshot(&client, "identity-refused", "#course-card").await;
    client.close().await.expect("close");
}

/// Every page a visitor or an owner opens first loads without an error in the console: no missing favicon, no
/// failed request; the landing page leads to the demo and to the dashboard.
#[tokio::test(flavor = "multi_thread")]
async fn first_pages_load_with_a_clean_console() {
    let stack = start_stack();
    let driver = start_driver();
    let client = browser(&driver).await;
    for ico in ["/favicon.ico", "/favicon.svg"] {
        let resp = ureq::get(&format!("{}{ico}", stack.edge_url)).call().unwrap_or_else(|e| panic!("GET {ico}: {e}"));
        assert_eq!(resp.status(), 200, "{ico}");
    }
    for (page, ready) in [
        ("/", "document.querySelector('a[href=\"/dashboard\"]') && document.querySelector('a[href=\"/demo/\"]')"),
        ("/demo/", &locked("#course-card", "#course-content") as &str),
        ("/examples/shop/", "document.readyState === 'complete'"),
        ("/dashboard", "document.querySelector('form')"),
    ] {
        console_messages(&client).await;
        client.goto(&format!("{}{page}", stack.edge_url)).await.expect("open the page");
        wait_js(&client, ready, SECS(15)).await;
        // The favicon request comes after the load.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let console = console_messages(&client).await;
        let errors: Vec<&String> = console.iter().filter(|m| m.starts_with("SEVERE")).collect();
        assert!(errors.is_empty(), "{page}: console errors {errors:?}");
    }
    client.close().await.expect("close");
}
