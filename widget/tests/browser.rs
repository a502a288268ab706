//! Browser tests (headless Chromium via wasm-bindgen-test-runner): rendering as a function of (catalog, access)
//! for every attribute and state, and the network flows against a stubbed `fetch`.
//!
//! Run: `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner CHROMEDRIVER=/usr/bin/chromedriver
//! cargo test -p latch-widget --target wasm32-unknown-unknown`.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{doc, el, fixture_in, storage};
use std::cell::RefCell;
use std::rc::Rc;

use latch_widget::model::{Access, Catalog, Grant, Price, Product};
use latch_widget::render::render;
use latch_widget::widget::Widget;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{Document, Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
const orig = window.fetch;
export function stub_fetch(routes) {
  window.__latchCalls = [];
  window.fetch = async (url, init) => {
    const u = new URL(url, location.href);
    const method = (init && init.method) || "GET";
    const key = method + " " + u.pathname;
    const h = (init && init.headers) || {};
    if (window.__latchDelay) await new Promise((r) => setTimeout(r, window.__latchDelay));
    window.__latchCalls.push({ key, url: String(url), body: init && init.body ? JSON.parse(init.body) : null, auth: h.Authorization || null });
    const list = routes[key];
    if (!list) throw new TypeError("Failed to fetch");
    const [status, body] = list.length > 1 ? list.shift() : list[0];
    if (status === 0) throw new TypeError("Failed to fetch");
    return new Response(body, { status, headers: { "content-type": "application/json" } });
  };
}
export function set_delay(ms) { window.__latchDelay = ms; }
export function restore_fetch() { window.fetch = orig; }
export function calls() { return JSON.stringify(window.__latchCalls || []); }
export function set_url(url) { history.replaceState(null, "", url); }
export function listen(name, cancel) {
  const seen = [];
  document.addEventListener(name, (e) => { seen.push(JSON.stringify(e.detail === undefined ? null : e.detail)); if (cancel) e.preventDefault(); });
  return () => seen.slice();
}
export function display(el) { return getComputedStyle(el).display; }
"#)]
extern "C" {
    fn stub_fetch(routes: &JsValue);
    fn restore_fetch();
    fn set_delay(ms: u32);
    fn calls() -> String;
    fn set_url(url: &str);
    fn listen(name: &str, cancel: bool) -> js_sys::Function;
    fn display(el: &Element) -> String;
}

const NOW: f64 = 1_700_000_000_000.0;

/// Puts `html` in a fixture element (the runner's own output lives in the body too), resets `<html>` classes.
fn fixture(html: &str) -> Document {
    let d = fixture_in("latch-fixture", html);
    d.document_element().unwrap().set_class_name("");
    d
}

fn has_class(id: &str, class: &str) -> bool {
    el(id).class_list().contains(class)
}

fn hidden(id: &str) -> bool {
    el(id).has_attribute("hidden")
}

fn catalog() -> Catalog {
    Catalog {
        products: vec![
            Product {
                slug: "pro".into(),
                name: "Pro".into(),
                prices: vec![Price {
                    id: "price_pro".into(),
                    lookup_key: Some("pro-monthly".into()),
                    unit_amount: 900,
                    currency: "usd".into(),
                    interval: Some("month".into()),
                    trial_days: 7,
                }],
                ..Product::default()
            },
            Product {
                slug: "course".into(),
                name: "Course".into(),
                prices: vec![Price {
                    id: "price_course".into(),
                    lookup_key: Some("course-lifetime".into()),
                    unit_amount: 500,
                    currency: "eur".into(),
                    interval: None,
                    trial_days: 0,
                }],
                ..Product::default()
            },
        ],
    }
}

fn member(products: &[&str]) -> Access {
    Access {
        signed_in: true,
        email: Some("ana@example.com".into()),
        grants: products.iter().map(|p| Grant { product: (*p).into(), ends_at_ms: None }).collect(),
    }
}

const PAGE: &str = r##"
  <button data-latch-buy="pro-monthly" id="buy-pro">Join</button>
  <button data-latch-buy="course-lifetime" id="buy-course">Buy</button>
  <button data-latch-buy="seats" data-latch-quantity="3" data-latch-mode="setup" id="buy-seats">Seats</button>
  <article data-latch-locked="pro" id="pro-card"><h2>Deep dive</h2><p>teaser <a href="#more" id="teaser-link">more</a></p>
    <div data-latch-content="pro" id="pro-content">secret</div></article>
  <article data-latch-locked="course" id="course-card"><p>course teaser</p>
    <div data-latch-content="course" id="course-content">lesson</div></article>
  <article data-latch-locked="ghost" id="ghost-card"><p>unknown product</p></article>
  <p data-latch-content="!pro" id="pitch">become a member</p>
  <p data-latch-content=" ! course " id="pitch-course">buy the course</p>
  <a data-latch-portal id="portal" href="#portal">Manage billing</a>
  <a data-latch-signout id="signout" href="#signout">Sign out</a>
  <span data-latch-member="email" id="email"></span>
"##;

fn cta(card: &str) -> Element {
    el(card).query_selector(".latch-overlay > button.latch-cta").unwrap().unwrap_or_else(|| panic!("{card} has no CTA"))
}

#[wasm_bindgen_test]
fn locked_card_without_access() {
    let d = fixture(PAGE);
    render(&d, &catalog(), &Access::default(), NOW);
    assert!(has_class("pro-card", "latch-locked"));
    assert!(!has_class("pro-card", "latch-unlocked"));
    let button = cta("pro-card");
    assert_eq!(button.text_content().unwrap(), "Unlock for $9.00/month");
    assert_eq!(button.get_attribute("type").as_deref(), Some("button"));
    assert_eq!(button.get_attribute("aria-label").as_deref(), Some("Unlock for $9.00/month – Pro"));
    let trial = el("pro-card").query_selector(".latch-trial").unwrap().unwrap();
    assert_eq!(trial.text_content().unwrap(), "7-day free trial");
    assert_eq!(
        el("pro-card").query_selector("svg.latch-lock").unwrap().unwrap().get_attribute("aria-hidden").as_deref(),
        Some("true")
    );
    // The site's own markup stays.
    assert!(el("pro-card").query_selector("h2").unwrap().is_some());
    assert_eq!(cta("course-card").text_content().unwrap(), "Unlock for €5.00");
    assert!(el("course-card").query_selector(".latch-trial").unwrap().unwrap().has_attribute("hidden"));
    // The CTA is focusable (a real button).
    let button: HtmlElement = button.dyn_into().unwrap();
    button.focus().unwrap();
    assert_eq!(d.active_element().unwrap().class_name(), "latch-cta");
}

#[wasm_bindgen_test]
fn texts_follow_page_language() {
    let d = fixture(PAGE);
    let root = d.document_element().unwrap();
    let before = root.get_attribute("lang");
    root.set_attribute("lang", "de-DE").unwrap();
    render(&d, &catalog(), &Access::default(), NOW);
    assert_eq!(cta("pro-card").text_content().unwrap(), "Freischalten für 9,00\u{a0}$/Monat");
    assert_eq!(
        el("pro-card").query_selector(".latch-trial").unwrap().unwrap().text_content().unwrap(),
        "7 Tage kostenlos testen"
    );
    match before {
        Some(lang) => root.set_attribute("lang", &lang).unwrap(),
        None => root.remove_attribute("lang").unwrap(),
    }
    render(&d, &catalog(), &Access::default(), NOW);
    assert_eq!(cta("pro-card").text_content().unwrap(), "Unlock for $9.00/month");
}

#[wasm_bindgen_test]
fn unknown_product_still_offers_unlock() {
    let d = fixture(PAGE);
    render(&d, &Catalog::default(), &Access::default(), NOW);
    assert_eq!(cta("ghost-card").text_content().unwrap(), "Unlock");
    assert_eq!(cta("pro-card").text_content().unwrap(), "Unlock");
    // The catalog arrives later: the same button gets the price.
    render(&d, &catalog(), &Access::default(), NOW);
    assert_eq!(cta("pro-card").text_content().unwrap(), "Unlock for $9.00/month");
}

#[wasm_bindgen_test]
fn content_shown_only_with_access() {
    let d = fixture(PAGE);
    render(&d, &catalog(), &Access::default(), NOW);
    assert!(hidden("pro-content"));
    assert!(hidden("course-content"));
    assert!(!hidden("pitch"));
    assert!(!hidden("pitch-course"));
    assert_eq!(display(&el("pro-content")), "none");
    assert_ne!(display(&el("pitch")), "none");

    render(&d, &catalog(), &member(&["pro"]), NOW);
    assert!(!hidden("pro-content"));
    assert!(has_class("pro-content", "latch-unlocked"));
    assert!(hidden("course-content"));
    assert!(hidden("pitch"));
    assert!(!hidden("pitch-course"));
}

#[wasm_bindgen_test]
fn unlocked_card_drops_overlay() {
    let d = fixture(PAGE);
    render(&d, &catalog(), &Access::default(), NOW);
    render(&d, &catalog(), &member(&["pro"]), NOW);
    assert!(has_class("pro-card", "latch-unlocked"));
    assert!(!has_class("pro-card", "latch-locked"));
    assert!(el("pro-card").query_selector(".latch-overlay").unwrap().is_none());
    assert!(has_class("course-card", "latch-locked"));
    // And back (sign-out, expiry).
    render(&d, &catalog(), &Access::default(), NOW);
    assert!(has_class("pro-card", "latch-locked"));
    assert_eq!(el("pro-card").query_selector_all(".latch-overlay").unwrap().length(), 1);
}

#[wasm_bindgen_test]
fn render_is_idempotent() {
    let d = fixture(PAGE);
    for _ in 0..3 {
        render(&d, &catalog(), &Access::default(), NOW);
    }
    assert_eq!(d.query_selector_all(".latch-overlay").unwrap().length(), 3);
    assert_eq!(d.query_selector_all(".latch-cta").unwrap().length(), 3);
}

#[wasm_bindgen_test]
fn expired_grant_locks() {
    let d = fixture(PAGE);
    let mut access = member(&[]);
    access.grants.push(Grant { product: "pro".into(), ends_at_ms: Some(NOW - 1.0) });
    access.grants.push(Grant { product: "course".into(), ends_at_ms: Some(NOW + 60_000.0) });
    render(&d, &catalog(), &access, NOW);
    assert!(has_class("pro-card", "latch-locked"));
    assert!(has_class("course-card", "latch-unlocked"));
}

#[wasm_bindgen_test]
fn buy_buttons_mark_owned_products() {
    let d = fixture(PAGE);
    render(&d, &catalog(), &member(&["course"]), NOW);
    assert!(has_class("buy-course", "latch-unlocked"));
    assert!(!has_class("buy-pro", "latch-unlocked"));
    // The site's label is kept.
    assert_eq!(el("buy-pro").text_content().unwrap(), "Join");
}

#[wasm_bindgen_test]
fn member_elements_and_root_classes() {
    let d = fixture(PAGE);
    render(&d, &catalog(), &Access::default(), NOW);
    let root = d.document_element().unwrap();
    assert!(root.class_list().contains("latch-ready"));
    assert!(!root.class_list().contains("latch-member"));
    assert!(hidden("portal"));
    assert!(hidden("signout"));
    assert!(hidden("email"));

    render(&d, &catalog(), &member(&[]), NOW);
    assert!(root.class_list().contains("latch-member"));
    assert!(!hidden("portal"));
    assert!(!hidden("signout"));
    assert_eq!(el("email").text_content().unwrap(), "ana@example.com");
}

// ---- flows against a stubbed edge ----

const EDGE: &str = "https://edge.test";

fn catalog_json() -> String {
    r#"{"site":"S","products":[{"slug":"pro","name":"Pro","prices":[{"id":"price_pro","lookup_key":"pro-monthly","unit_amount":900,"currency":"usd","interval":"month","trial_days":7}]},{"slug":"course","name":"Course","prices":[{"id":"price_course","lookup_key":"course-lifetime","unit_amount":4900,"currency":"usd","interval":null,"trial_days":null}]}]}"#.to_string()
}

const ACCESS_PRO: &str = r#"{"member":{"email":"ana@example.com"},"access":[{"product":"pro","ends_at":4102444800}]}"#;

/// Stubs fetch: `routes` are (METHOD path, [(status, body)...]) answered in order, the last one repeating.
fn stub(site: &str, routes: &[(&str, Vec<(u16, String)>)]) {
    let obj = js_sys::Object::new();
    for (key, answers) in routes {
        let key = key.replace("{site}", site);
        let list = js_sys::Array::new();
        for (status, body) in answers {
            let pair = js_sys::Array::new();
            pair.push(&JsValue::from(*status));
            pair.push(&JsValue::from_str(body));
            list.push(&pair);
        }
        js_sys::Reflect::set(&obj, &JsValue::from_str(&key), &list).unwrap();
    }
    stub_fetch(&obj);
}

fn recorded() -> Vec<JsValue> {
    js_sys::Array::from(&js_sys::JSON::parse(&calls()).unwrap()).iter().collect()
}

fn keys() -> Vec<String> {
    recorded().iter().map(|c| latch_widget::js::get_str(c, "key").unwrap()).collect()
}

fn clear_site(site: &str) {
    for k in ["token", "access", "catalog"] {
        storage().remove_item(&format!("latch:{site}:{k}")).unwrap();
    }
}

fn root_has(class: &str) -> bool {
    doc().document_element().unwrap().class_list().contains(class)
}

async fn sleep(ms: i32) {
    latch_widget::js::sleep(ms).await;
}

/// Waits until `f` holds (up to 3 s).
async fn until(what: &str, f: impl Fn() -> bool) {
    for _ in 0..150 {
        if f() {
            return;
        }
        sleep(20).await;
    }
    panic!("timed out waiting for {what}");
}

fn seen(f: &js_sys::Function) -> Vec<String> {
    js_sys::Array::from(&f.call0(&JsValue::NULL).unwrap()).iter().map(|v| v.as_string().unwrap()).collect()
}

/// Starts `w.boot` on a page of shop.test without awaiting it: the flag turns true once it has finished.
fn boot_in_background(w: &Widget) -> Rc<RefCell<bool>> {
    let w = w.clone();
    let done = Rc::new(RefCell::new(false));
    let flag = done.clone();
    wasm_bindgen_futures::spawn_local(async move {
        w.boot("https://shop.test/").await;
        *flag.borrow_mut() = true;
    });
    done
}

fn widget(site: &str) -> Widget {
    let w = Widget::new(doc(), site, &format!("{EDGE}/"));
    w.attach();
    w
}

#[wasm_bindgen_test]
async fn boot_without_token_loads_catalog_and_locks() {
    let site = "site_boot";
    clear_site(site);
    fixture(PAGE);
    stub(site, &[("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())])]);
    let ready = listen("latch:ready", false);
    let w = widget(site);
    w.boot("https://shop.test/page").await;
    assert_eq!(keys(), vec![format!("GET /v1/sites/{site}/catalog")]);
    assert_eq!(latch_widget::js::get_str(&recorded()[0], "url"), Some(format!("{EDGE}/v1/sites/{site}/catalog")));
    assert!(has_class("pro-card", "latch-locked"));
    assert_eq!(cta("course-card").text_content().unwrap(), "Unlock for $49.00");
    assert!(root_has("latch-ready"));
    assert!(!root_has("latch-loading"));
    assert!(!root_has("latch-error"));
    assert_eq!(seen(&ready), vec!["null".to_string()]);
    assert!(w.member().is_null());
    // The catalog is cached for the next page view.
    assert!(storage().get_item(&format!("latch:{site}:catalog")).unwrap().is_some());
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn claim_retries_while_pending_then_unlocks() {
    let site = "site_claim";
    clear_site(site);
    fixture(PAGE);
    let pending = r#"{"error":{"code":"claim_pending","message":"not yet"}}"#.to_string();
    let claimed =
        r#"{"token":"tok_abc","member":{"email":"ana@example.com"},"access":[{"product":"pro","ends_at":4102444800}]}"#
            .to_string();
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("POST /v1/claim", vec![(409, pending.clone()), (409, pending), (200, claimed)]),
        ],
    );
    let access_events = listen("latch:access", false);
    // The claim secret `POST /v1/checkout` answered to this browser for that session.
    storage().set_item(&format!("latch:{site}:claim"), "cs_test_123 secret_abc").unwrap();
    let original = web_sys::window().unwrap().location().href().unwrap();
    set_url("?keep=1&latch_session=cs_test_123#frag");
    let href = web_sys::window().unwrap().location().href().unwrap();
    let w = widget(site);
    w.boot(&href).await;
    let claims: Vec<JsValue> = recorded()
        .into_iter()
        .filter(|c| latch_widget::js::get_str(c, "key").as_deref() == Some("POST /v1/claim"))
        .collect();
    assert_eq!(claims.len(), 3, "two pending answers, then success");
    let body = latch_widget::js::get(&claims[0], "body");
    assert_eq!(latch_widget::js::get_str(&body, "site").as_deref(), Some(site));
    assert_eq!(latch_widget::js::get_str(&body, "checkout_session_id").as_deref(), Some("cs_test_123"));
    assert_eq!(latch_widget::js::get_str(&body, "claim").as_deref(), Some("secret_abc"));
    assert!(storage().get_item(&format!("latch:{site}:claim")).unwrap().is_none(), "used once, then forgotten");
    let now = web_sys::window().unwrap().location().href().unwrap();
    assert!(!now.contains("latch_session"), "{now}");
    assert!(now.contains("keep=1") && now.ends_with("#frag"), "{now}");
    assert!(has_class("pro-card", "latch-unlocked"));
    assert!(!hidden("pro-content"));
    assert!(has_class("course-card", "latch-locked"));
    assert!(root_has("latch-success"));
    let toast = doc().query_selector(".latch-toast[role=status]").unwrap().unwrap();
    assert_eq!(toast.text_content().unwrap(), "Thanks! Pro is unlocked.");
    toast.remove();
    assert_eq!(storage().get_item(&format!("latch:{site}:token")).unwrap().as_deref(), Some("tok_abc"));
    let cached = storage().get_item(&format!("latch:{site}:access")).unwrap().unwrap();
    assert!(cached.contains("\"pro\"") && cached.contains("\"t\":"), "{cached}");
    assert!(!cached.contains("tok_abc"), "the token is not duplicated into the access cache");
    assert!(seen(&access_events).contains(&r#"["pro"]"#.to_string()));
    let m = w.member();
    assert_eq!(latch_widget::js::get_str(&m, "email").as_deref(), Some("ana@example.com"));
    w.stop();
    restore_fetch();
    set_url(&original);
}

#[wasm_bindgen_test]
async fn claim_failure_sets_error() {
    let site = "site_claimfail";
    clear_site(site);
    fixture(PAGE);
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("POST /v1/claim", vec![(400, r#"{"error":{"code":"invalid_session","message":"no"}}"#.into())]),
        ],
    );
    let errors = listen("latch:error", false);
    let w = widget(site);
    w.boot("https://shop.test/?latch_session=cs_test_bad").await;
    assert!(root_has("latch-error"));
    assert!(has_class("pro-card", "latch-locked"));
    assert!(seen(&errors).iter().any(|e| e.contains("invalid_session")));
    assert!(storage().get_item(&format!("latch:{site}:token")).unwrap().is_none());
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn cached_token_renders_before_network_then_refreshes() {
    let site = "site_cached";
    clear_site(site);
    fixture(PAGE);
    storage().set_item(&format!("latch:{site}:token"), "tok_cached").unwrap();
    storage().set_item(&format!("latch:{site}:catalog"), &catalog_json()).unwrap();
    storage()
        .set_item(
            &format!("latch:{site}:access"),
            &format!(
                r#"{{"t":{},"member":{{"email":"ana@example.com"}},"access":[{{"product":"pro","ends_at":null}}]}}"#,
                js_sys::Date::now()
            ),
        )
        .unwrap();
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            (
                "GET /v1/access",
                vec![(200, r#"{"member":{"email":"ana@example.com"},"access":[{"product":"pro","ends_at":null},{"product":"course","ends_at":null}]}"#.into())],
            ),
        ],
    );
    set_delay(300);
    let w = widget(site);
    let done = boot_in_background(&w);
    // The edge answers after 300 ms; the cached state is on the page long before.
    sleep(30).await;
    assert!(has_class("pro-card", "latch-unlocked"), "unlocked from cache without the network");
    assert!(has_class("course-card", "latch-locked"));
    assert!(root_has("latch-ready"));
    assert!(root_has("latch-loading"));
    until("boot", || *done.borrow()).await;
    set_delay(0);
    assert!(!root_has("latch-loading"));
    assert!(has_class("course-card", "latch-unlocked"), "refreshed access adds course");
    let auth: Vec<String> = recorded().iter().filter_map(|c| latch_widget::js::get_str(c, "auth")).collect();
    assert_eq!(auth, vec!["Bearer tok_cached".to_string()]);
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn first_visit_renders_once_the_catalog_is_known() {
    let site = "site_first";
    clear_site(site);
    fixture(PAGE);
    stub(site, &[("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())])]);
    set_delay(200);
    let w = widget(site);
    let done = boot_in_background(&w);
    // No catalog yet: no overlay whose CTA would later grow from "Unlock" to "Unlock for $9.00/month" (a layout
    // shift); the loader's stylesheet keeps the overlay's room meanwhile.
    sleep(50).await;
    assert!(doc().query_selector("#pro-card .latch-overlay").unwrap().is_none());
    assert!(!root_has("latch-ready"));
    until("boot", || *done.borrow()).await;
    set_delay(0);
    assert_eq!(cta("pro-card").text_content().unwrap(), "Unlock for $9.00/month");
    assert!(root_has("latch-ready"));
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn revoked_token_locks() {
    let site = "site_revoked";
    clear_site(site);
    fixture(PAGE);
    storage().set_item(&format!("latch:{site}:token"), "tok_old").unwrap();
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("GET /v1/access", vec![(401, r#"{"error":{"code":"unauthorized","message":"bad token"}}"#.into())]),
        ],
    );
    let w = widget(site);
    w.boot("https://shop.test/").await;
    assert!(has_class("pro-card", "latch-locked"));
    assert!(storage().get_item(&format!("latch:{site}:token")).unwrap().is_none());
    assert!(hidden("portal"));
    assert!(!root_has("latch-error"));
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn bad_json_and_unreachable_edge_fail_gracefully() {
    let site = "site_bad";
    clear_site(site);
    fixture(PAGE);
    stub(site, &[("GET /v1/sites/{site}/catalog", vec![(200, "<html>not json".into())])]);
    let w = widget(site);
    w.boot("https://shop.test/").await;
    assert!(root_has("latch-error"));
    assert!(root_has("latch-ready"));
    assert!(has_class("pro-card", "latch-locked"));
    assert!(!hidden("pitch"), "content for non-members stays visible");
    assert!(hidden("pro-content"));
    w.stop();

    // A catalog of the wrong shape.
    fixture(PAGE);
    stub(site, &[("GET /v1/sites/{site}/catalog", vec![(200, r#"{"products":7}"#.into())])]);
    let w = widget(site);
    w.boot("https://shop.test/").await;
    assert!(root_has("latch-error"));
    w.stop();

    // No edge at all: fetch rejects. A catalog cached on an earlier visit still prices the CTA.
    storage().set_item(&format!("latch:{site}:catalog"), &catalog_json()).unwrap();
    fixture(PAGE);
    stub(site, &[]);
    let w = widget(site);
    w.boot("https://shop.test/").await;
    assert!(root_has("latch-error"));
    assert!(has_class("pro-card", "latch-locked"));
    assert_eq!(
        cta("pro-card").text_content().unwrap(),
        "Unlock for $9.00/month",
        "price from an earlier cached catalog"
    );
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn buy_button_opens_checkout() {
    let site = "site_buy";
    clear_site(site);
    fixture(PAGE);
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("POST /v1/checkout", vec![(200, r#"{"url":"https://checkout.test/c/pay/cs_1"}"#.into())]),
        ],
    );
    let checkouts = listen("latch:checkout", true);
    let original = web_sys::window().unwrap().location().href().unwrap();
    set_url("?x=1&latch_session=cs_old");
    let w = widget(site);
    w.boot("https://shop.test/").await;
    el("buy-pro").dyn_into::<HtmlElement>().unwrap().click();
    until("latch:checkout", || !seen(&checkouts).is_empty()).await;
    let detail = js_sys::JSON::parse(&seen(&checkouts)[0]).unwrap();
    assert_eq!(latch_widget::js::get_str(&detail, "url").as_deref(), Some("https://checkout.test/c/pay/cs_1"));
    assert_eq!(latch_widget::js::get_str(&detail, "price").as_deref(), Some("pro-monthly"));
    let call = recorded()
        .into_iter()
        .find(|c| latch_widget::js::get_str(c, "key").as_deref() == Some("POST /v1/checkout"))
        .unwrap();
    let body = latch_widget::js::get(&call, "body");
    assert_eq!(latch_widget::js::get_str(&body, "site").as_deref(), Some(site));
    assert_eq!(latch_widget::js::get_str(&body, "price").as_deref(), Some("pro-monthly"));
    let ret = latch_widget::js::get_str(&body, "return_url").unwrap();
    assert!(ret.ends_with("?x=1"), "return_url drops latch_session: {ret}");
    assert!(latch_widget::js::get(&body, "quantity").is_undefined());
    // Quantity and mode ride along when the element has them.
    el("buy-seats").dyn_into::<HtmlElement>().unwrap().click();
    until("second checkout", || seen(&checkouts).len() == 2).await;
    let call = recorded()
        .into_iter()
        .rfind(|c| latch_widget::js::get_str(c, "key").as_deref() == Some("POST /v1/checkout"))
        .unwrap();
    let body = latch_widget::js::get(&call, "body");
    assert_eq!(latch_widget::js::get(&body, "quantity").as_f64(), Some(3.0));
    assert_eq!(latch_widget::js::get_str(&body, "mode").as_deref(), Some("setup"));
    // Cancelled by the listener: no navigation, button usable again.
    until("not busy", || !has_class("buy-pro", "latch-loading")).await;
    assert!(!el("buy-pro").has_attribute("disabled"));
    w.stop();
    restore_fetch();
    set_url(&original);
}

#[wasm_bindgen_test]
async fn checkout_goes_as_the_member_and_keeps_its_claim_secret() {
    let site = "site_buytoken";
    clear_site(site);
    fixture(PAGE);
    storage().set_item(&format!("latch:{site}:token"), "tok_member").unwrap();
    let refused = r#"{"error":{"code":"invalid_token","message":"the token was revoked"}}"#.to_string();
    let session = r#"{"id":"cs_9","url":"https://checkout.test/c/pay/cs_9","claim":"secret_9"}"#.to_string();
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("GET /v1/access", vec![(200, r#"{"member":{"email":"m@x.io"},"access":[]}"#.into())]),
            ("POST /v1/checkout", vec![(200, session.clone()), (401, refused), (200, session)]),
        ],
    );
    let checkouts = listen("latch:checkout", true);
    let w = widget(site);
    w.boot("https://shop.test/").await;
    let checkout_calls = || -> Vec<JsValue> {
        recorded()
            .into_iter()
            .filter(|c| latch_widget::js::get_str(c, "key").as_deref() == Some("POST /v1/checkout"))
            .collect()
    };
    // Signed in: the member token goes along, and the claim secret is kept for the way back.
    el("buy-pro").dyn_into::<HtmlElement>().unwrap().click();
    until("first checkout", || seen(&checkouts).len() == 1).await;
    assert_eq!(latch_widget::js::get_str(&checkout_calls()[0], "auth").as_deref(), Some("Bearer tok_member"));
    assert_eq!(storage().get_item(&format!("latch:{site}:claim")).unwrap().as_deref(), Some("cs_9 secret_9"));
    // The edge refuses the token (signed out elsewhere): the visitor is signed out and buys signed out.
    until("not busy", || !has_class("buy-pro", "latch-loading")).await;
    el("buy-pro").dyn_into::<HtmlElement>().unwrap().click();
    until("second checkout", || seen(&checkouts).len() == 2).await;
    let calls = checkout_calls();
    assert_eq!(calls.len(), 3, "the refused attempt, then one signed out");
    assert_eq!(latch_widget::js::get_str(&calls[1], "auth").as_deref(), Some("Bearer tok_member"));
    assert!(latch_widget::js::get(&calls[2], "auth").is_null(), "no token the second time");
    assert!(storage().get_item(&format!("latch:{site}:token")).unwrap().is_none());
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn locked_card_click_and_cta_open_checkout_for_product() {
    let site = "site_card";
    clear_site(site);
    fixture(PAGE);
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("POST /v1/checkout", vec![(200, r#"{"url":"https://checkout.test/c/pay/cs_2"}"#.into())]),
        ],
    );
    let checkouts = listen("latch:checkout", true);
    let w = widget(site);
    w.boot("https://shop.test/").await;
    // The CTA button (keyboard users press Enter/Space on it, which clicks).
    cta("course-card").dyn_into::<HtmlElement>().unwrap().click();
    until("checkout from CTA", || seen(&checkouts).len() == 1).await;
    assert!(seen(&checkouts)[0].contains(r#""product":"course""#));
    until("not busy", || !has_class("course-card", "latch-loading")).await;
    // Anywhere on the card's own text.
    el("pro-card").query_selector("h2").unwrap().unwrap().dyn_into::<HtmlElement>().unwrap().click();
    until("checkout from card", || seen(&checkouts).len() == 2).await;
    assert!(seen(&checkouts)[1].contains(r#""product":"pro""#));
    // A link inside the teaser keeps its own behaviour.
    el("teaser-link").dyn_into::<HtmlElement>().unwrap().click();
    sleep(100).await;
    assert_eq!(seen(&checkouts).len(), 2);
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn checkout_failure_marks_button() {
    let site = "site_buyfail";
    clear_site(site);
    fixture(PAGE);
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("POST /v1/checkout", vec![(400, r#"{"error":{"code":"unknown_price","message":"no"}}"#.into())]),
        ],
    );
    let w = widget(site);
    w.boot("https://shop.test/").await;
    el("buy-course").dyn_into::<HtmlElement>().unwrap().click();
    until("error class", || has_class("buy-course", "latch-error")).await;
    assert!(root_has("latch-error"));
    assert!(!has_class("buy-course", "latch-loading"));
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn portal_and_sign_out() {
    let site = "site_portal";
    clear_site(site);
    fixture(PAGE);
    storage().set_item(&format!("latch:{site}:token"), "tok_p").unwrap();
    stub(
        site,
        &[
            ("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())]),
            ("GET /v1/access", vec![(200, ACCESS_PRO.into())]),
            ("POST /v1/portal", vec![(200, r#"{"url":"https://billing.test/p/1"}"#.into())]),
        ],
    );
    let portals = listen("latch:portal", true);
    let w = widget(site);
    w.boot("https://shop.test/").await;
    assert!(!hidden("portal"));
    el("portal").dyn_into::<HtmlElement>().unwrap().click();
    until("latch:portal", || !seen(&portals).is_empty()).await;
    assert!(seen(&portals)[0].contains("https://billing.test/p/1"));
    let call = recorded()
        .into_iter()
        .find(|c| latch_widget::js::get_str(c, "key").as_deref() == Some("POST /v1/portal"))
        .unwrap();
    assert_eq!(latch_widget::js::get_str(&call, "auth").as_deref(), Some("Bearer tok_p"));
    assert!(latch_widget::js::get_str(&latch_widget::js::get(&call, "body"), "return_url").is_some());

    el("signout").dyn_into::<HtmlElement>().unwrap().click();
    assert!(has_class("pro-card", "latch-locked"));
    assert!(hidden("portal"));
    assert!(storage().get_item(&format!("latch:{site}:token")).unwrap().is_none());
    assert!(storage().get_item(&format!("latch:{site}:access")).unwrap().is_none());
    assert!(w.member().is_null());
    w.stop();
    restore_fetch();
}

#[wasm_bindgen_test]
async fn elements_added_later_are_wired() {
    let site = "site_spa";
    clear_site(site);
    let d = fixture("<main id=\"app\"></main>");
    stub(site, &[("GET /v1/sites/{site}/catalog", vec![(200, catalog_json())])]);
    let w = widget(site);
    w.boot("https://shop.test/").await;
    el("app").set_inner_html(r#"<article data-latch-locked="pro" id="late-card"><p>later</p><div data-latch-content="pro" id="late-content">x</div></article>"#);
    until("late card rendered", || {
        d.get_element_by_id("late-card").is_some_and(|c| c.class_list().contains("latch-locked"))
    })
    .await;
    assert!(hidden("late-content"));
    assert_eq!(cta("late-card").text_content().unwrap(), "Unlock for $9.00/month");
    // After stop, nothing is wired any more.
    w.stop();
    el("app").set_inner_html(r#"<article data-latch-locked="pro" id="later-card"></article>"#);
    sleep(50).await;
    assert!(!has_class("later-card", "latch-locked"));
    restore_fetch();
}
