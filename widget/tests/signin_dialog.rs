//! Browser tests of the sign-in dialog (`[data-latch-signin]`) in headless Chromium with a stubbed `fetch`:
//! structure and accessibility, both steps, errors, cancel, languages.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{doc, el, fixture_in};
use latch_widget::widget::Widget;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::HtmlElement;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r##"
const orig = window.fetch;
export function stub_fetch(routes) {
  window.__signinCalls = [];
  window.fetch = async (url, init) => {
    const key = ((init && init.method) || "GET") + " " + new URL(url, location.href).pathname;
    window.__signinCalls.push({ key, body: init && init.body ? JSON.parse(init.body) : null });
    const list = routes[key];
    if (!list) throw new TypeError("Failed to fetch");
    const [status, body] = list.length > 1 ? list.shift() : list[0];
    return new Response(body, { status, headers: { "content-type": "application/json" } });
  };
}
export function restore_fetch() { window.fetch = orig; }
export function calls() { return JSON.stringify(window.__signinCalls || []); }
export function type_in(id, text) { document.getElementById(id).value = text; }
export function submit() { document.querySelector("#latch-signin form").requestSubmit(); }
export function is_open() { const d = document.getElementById("latch-signin"); return !!(d && d.open); }
export function is_modal() { return !!document.querySelector("#latch-signin:modal"); }
export function active_id() { return document.activeElement ? document.activeElement.id : ""; }
export function label_of(id) { const i = document.getElementById(id); return i.labels && i.labels.length ? i.labels[0].textContent : ""; }
export function visible(id) { const e = document.getElementById(id); return !!e && e.offsetParent !== null; }
export function reset() { const d = document.getElementById("latch-signin"); if (d) d.remove(); localStorage.clear(); }
"##)]
extern "C" {
    fn stub_fetch(routes: &JsValue);
    fn restore_fetch();
    fn calls() -> String;
    fn type_in(id: &str, text: &str);
    fn submit();
    fn is_open() -> bool;
    fn is_modal() -> bool;
    fn active_id() -> String;
    fn label_of(id: &str) -> String;
    fn visible(id: &str) -> bool;
    fn reset();
}

/// A page with a sign-in link, in `lang`, and a widget for `site_test`.
fn page(lang: &str) -> Widget {
    reset();
    let d = doc();
    d.document_element().unwrap().set_attribute("lang", lang).unwrap();
    fixture_in("signin-fixture", r##"<a data-latch-signin id="open" href="#signin">Sign in</a>"##);
    let widget = Widget::new(d, "site_test", "https://edge.test");
    widget.attach();
    widget
}

fn click(id: &str) {
    el(id).unchecked_into::<HtmlElement>().click();
}

fn text(id: &str) -> String {
    el(id).text_content().unwrap_or_default()
}

/// Waits (up to 2 s) for `condition`.
async fn until(what: &str, condition: impl Fn() -> bool) {
    for _ in 0..200 {
        if condition() {
            return;
        }
        latch_widget::js::sleep(10).await;
    }
    panic!("timed out waiting for {what}");
}

fn routes(pairs: &[(&str, &[(u16, &str)])]) -> JsValue {
    let obj = js_sys::Object::new();
    for (key, answers) in pairs {
        let list = js_sys::Array::new();
        for (status, body) in *answers {
            let pair = js_sys::Array::new();
            pair.push(&JsValue::from(*status));
            pair.push(&JsValue::from_str(body));
            list.push(&pair);
        }
        js_sys::Reflect::set(&obj, &JsValue::from_str(key), &list).unwrap();
    }
    obj.into()
}

const SIGNED_IN: &str =
    r#"{"token":"v1.tok.mac","member":{"email":"a@example.com"},"access":[{"product":"pro","ends_at":null}]}"#;

#[wasm_bindgen_test]
async fn opens_a_labelled_modal_dialog_at_the_email_step() {
    let widget = page("en");
    click("open");
    assert!(is_open() && is_modal(), "a modal <dialog> opens");
    let dialog = el("latch-signin");
    assert_eq!(dialog.get_attribute("aria-labelledby").as_deref(), Some("latch-signin-title"));
    assert_eq!(text("latch-signin-title"), "Sign in");
    assert_eq!(label_of("latch-signin-email"), "Email");
    assert_eq!(label_of("latch-signin-code"), "Code from the email");
    assert_eq!(el("latch-signin-email").get_attribute("type").as_deref(), Some("email"));
    assert_eq!(el("latch-signin-code").get_attribute("autocomplete").as_deref(), Some("one-time-code"));
    assert_eq!(el("latch-signin-status").get_attribute("aria-live").as_deref(), Some("polite"));
    assert!(visible("latch-signin-email") && !visible("latch-signin-code"), "email step first");
    assert_eq!(active_id(), "latch-signin-email", "focus moves into the dialog");
    assert_eq!(text("latch-signin-submit"), "Send code");
    // Cancel closes; opening again reuses the one dialog.
    el("latch-signin").query_selector(".latch-signin-cancel").unwrap().unwrap().unchecked_into::<HtmlElement>().click();
    assert!(!is_open());
    click("open");
    assert!(is_open());
    assert_eq!(doc().query_selector_all("#latch-signin").unwrap().length(), 1);
    widget.stop();
}

#[wasm_bindgen_test]
async fn email_then_code_signs_in_and_stores_the_token() {
    let widget = page("en");
    stub_fetch(&routes(&[
        ("POST /v1/signin", &[(202, r#"{"sent":true,"challenge":"ch_browser"}"#)]),
        ("POST /v1/signin/verify", &[(401, r#"{"error":{"code":"invalid_code","message":"no"}}"#), (200, SIGNED_IN)]),
    ]));
    click("open");
    type_in("latch-signin-email", "a@example.com");
    submit();
    until("the code step", || visible("latch-signin-code")).await;
    assert!(!visible("latch-signin-email"));
    assert_eq!(active_id(), "latch-signin-code");
    assert_eq!(text("latch-signin-status"), "If you are a member, a code is on its way.");
    assert_eq!(text("latch-signin-submit"), "Sign in");

    type_in("latch-signin-code", "000000");
    submit();
    until("the wrong-code message", || text("latch-signin-status") == "Wrong or old code.").await;
    assert!(is_open(), "a wrong code keeps the dialog open");

    type_in("latch-signin-code", "123 456");
    submit();
    until("the dialog to close", || !is_open()).await;
    let token = web_sys::window().unwrap().local_storage().unwrap().unwrap().get_item("latch:site_test:token");
    assert_eq!(token.unwrap().as_deref(), Some("v1.tok.mac"));
    assert!(!widget.member().is_null(), "the widget is signed in");
    assert!(el("open").has_attribute("hidden"), "the sign-in link hides once signed in");
    let sent = calls();
    assert!(sent.contains(r#""key":"POST /v1/signin","body":{"site":"site_test","email":"a@example.com"}"#), "{sent}");
    assert!(sent.contains(r#""code":"123 456""#), "{sent}");
    assert!(sent.contains(r#""challenge":"ch_browser""#), "the code goes with this browser's challenge: {sent}");
    restore_fetch();
    widget.stop();
}

#[wasm_bindgen_test]
async fn rate_limits_and_network_failures_are_announced() {
    let widget = page("en");
    stub_fetch(&routes(&[("POST /v1/signin", &[(429, r#"{"error":{"code":"rate_limited","message":"x"}}"#)])]));
    click("open");
    type_in("latch-signin-email", "a@example.com");
    submit();
    until("the rate-limit message", || text("latch-signin-status") == "Too many tries. Wait a few minutes.").await;
    assert!(visible("latch-signin-email"), "stays at the email step");
    stub_fetch(&routes(&[]));
    submit();
    until("the failure message", || text("latch-signin-status") == "That did not work. Try again.").await;
    restore_fetch();
    widget.stop();
}

#[wasm_bindgen_test]
async fn speaks_german_when_the_page_does() {
    let widget = page("de-AT");
    click("open");
    assert_eq!(text("latch-signin-title"), "Anmelden");
    assert_eq!(label_of("latch-signin-email"), "E-Mail");
    assert_eq!(text("latch-signin-submit"), "Code senden");
    widget.stop();
    doc().document_element().unwrap().set_attribute("lang", "en").unwrap();
}
