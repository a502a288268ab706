//! Browser tests of host-site identity (`data-identity` on the script tag) in headless Chromium with a stubbed
//! edge: given an identity (latch.js passes it when no cached token is the identity's member), the widget
//! exchanges it at `POST /v1/identify` instead of asking for access, keeps the answer like a claim's, and stays
//! signed out when the edge refuses it. latch.js's choice itself is tested end to end (tests/e2e/tests/widget.rs).
#![cfg(target_arch = "wasm32")]

mod common;

use common::{doc, storage};
use std::cell::Cell;
use std::rc::Rc;

use latch_widget::js::get_str;
use latch_widget::widget::Widget;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r##"
const orig = window.fetch, origWarn = console.warn;
export function stub_fetch(routes) {
  window.__idCalls = [];
  window.fetch = async (url, init) => {
    const key = ((init && init.method) || "GET") + " " + new URL(url, location.href).pathname;
    window.__idCalls.push({ key, body: init && init.body ? init.body : null, auth: (init && init.headers && init.headers.Authorization) || null });
    if (key === "POST /v1/identify" && window.__idDelay) await new Promise((r) => setTimeout(r, window.__idDelay));
    const list = routes[key];
    if (!list) throw new TypeError("Failed to fetch");
    const [status, body] = list.length > 1 ? list.shift() : list[0];
    return new Response(body, { status, headers: { "content-type": "application/json" } });
  };
  window.__warns = [];
  console.warn = (...a) => { window.__warns.push(a.join(" ")); origWarn.apply(console, a); };
}
export function restore() { window.fetch = orig; console.warn = origWarn; window.__idDelay = 0; }
export function delay_identify(ms) { window.__idDelay = ms; }
export function calls() { return JSON.stringify(window.__idCalls || []); }
export function warnings() { return (window.__warns || []).join("\n"); }
"##)]
extern "C" {
    fn stub_fetch(routes: &JsValue);
    fn restore();
    fn delay_identify(ms: u32);
    fn calls() -> String;
    fn warnings() -> String;
}

const EDGE: &str = "https://edge.test";
const ANA: &str = "v1.eyJlbWFpbCI6ImFuYUBleGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln";
const BEN: &str = "v1.eyJlbWFpbCI6ImJlbkBleGFtcGxlLmNvbSIsImV4cCI6NDEwMjQ0NDgwMH0.c2ln";
const CATALOG: &str = r#"{"products":[{"slug":"pro","name":"Pro","prices":[{"id":"price_pro","unit_amount":900,"currency":"usd","interval":"month"}]}]}"#;

fn page() {
    let d = doc();
    let host = d.get_element_by_id("identity-fixture").unwrap_or_else(|| {
        let host = d.create_element("div").unwrap();
        host.set_id("identity-fixture");
        d.body().unwrap().append_child(&host).unwrap();
        host
    });
    host.set_inner_html(
        r#"<article data-latch-locked="pro" id="card"><p>teaser</p><div data-latch-content="pro" id="secret">s</div></article>
           <span data-latch-member="email" id="email"></span>"#,
    );
    d.document_element().unwrap().set_class_name("");
}

fn answer(token: &str, email: &str) -> String {
    format!(r#"{{"token":"{token}","member":{{"email":"{email}"}},"access":[{{"product":"pro","ends_at":null}}]}}"#)
}

/// Stubs the edge (`routes`: "METHOD path" -> answers in order, the last repeating).
fn stub(routes: &[(&str, Vec<(u16, String)>)]) {
    let obj = js_sys::Object::new();
    for (key, answers) in routes {
        let list = js_sys::Array::new();
        for (status, body) in answers {
            list.push(&js_sys::Array::of2(&JsValue::from(*status), &JsValue::from_str(body)));
        }
        js_sys::Reflect::set(&obj, &JsValue::from_str(key), &list).unwrap();
    }
    stub_fetch(&obj);
}

fn recorded() -> Vec<(String, String)> {
    let list = js_sys::Array::from(&js_sys::JSON::parse(&calls()).unwrap());
    list.iter().map(|c| (get_str(&c, "key").unwrap(), get_str(&c, "body").unwrap_or_default())).collect()
}

async fn boot(site: &str, identity: Option<&str>) -> Widget {
    let w = Widget::new(doc(), site, EDGE);
    w.set_identity(identity.map(String::from));
    w.attach();
    w.boot("https://host.test/account").await;
    w
}

fn unlocked() -> bool {
    doc().get_element_by_id("card").unwrap().class_list().contains("latch-unlocked")
}

fn stored(site: &str, what: &str) -> Option<String> {
    storage().get_item(&format!("latch:{site}:{what}")).unwrap()
}

#[wasm_bindgen_test]
async fn identity_signs_in_and_replaces_another_members_token() {
    let site = "site_identity";
    storage().clear().unwrap();
    page();
    let catalog = format!("GET /v1/sites/{site}/catalog");
    stub(&[
        (&catalog, vec![(200, CATALOG.into())]),
        (
            "POST /v1/identify",
            vec![(200, answer("tok_ana", "ana@example.com")), (200, answer("tok_ben", "ben@example.com"))],
        ),
        (
            "GET /v1/access",
            vec![(200, r#"{"member":{"email":"ana@example.com"},"access":[{"product":"pro","ends_at":null}]}"#.into())],
        ),
    ]);

    // No token yet: the identity is exchanged, and the answer is kept like a claim's.
    let w = boot(site, Some(ANA)).await;
    let calls = recorded();
    let identify: Vec<&(String, String)> = calls.iter().filter(|(k, _)| k == "POST /v1/identify").collect();
    assert_eq!(identify.len(), 1, "{calls:?}");
    let body = js_sys::JSON::parse(&identify[0].1).unwrap();
    assert_eq!(get_str(&body, "site").as_deref(), Some(site));
    assert_eq!(get_str(&body, "identity").as_deref(), Some(ANA));
    assert!(!calls.iter().any(|(k, _)| k == "GET /v1/access"), "identify answers the access itself: {calls:?}");
    assert!(unlocked());
    assert_eq!(doc().get_element_by_id("email").unwrap().text_content().as_deref(), Some("ana@example.com"));
    assert_eq!(stored(site, "token").as_deref(), Some("tok_ana"));
    assert_eq!(get_str(&w.member(), "email").as_deref(), Some("ana@example.com"));
    w.stop();

    // Next page view, same member: latch.js passes no identity, the cached token is used (GET /v1/access).
    page();
    let w = boot(site, None).await;
    let calls = recorded();
    assert_eq!(calls.iter().filter(|(k, _)| k == "POST /v1/identify").count(), 1, "{calls:?}");
    assert!(calls.iter().any(|(k, _)| k == "GET /v1/access"), "{calls:?}");
    assert!(unlocked());
    w.stop();

    // Another host account signs in on this browser: its identity replaces the cached token. While it is being
    // exchanged, the page shows nothing of the cached member's (no render before the answer).
    page();
    delay_identify(300);
    let w = Widget::new(doc(), site, EDGE);
    w.set_identity(Some(BEN.into()));
    w.attach();
    let done = Rc::new(Cell::new(false));
    let (w2, flag) = (w.clone(), done.clone());
    wasm_bindgen_futures::spawn_local(async move {
        w2.boot("https://host.test/account").await;
        flag.set(true);
    });
    latch_widget::js::sleep(100).await;
    assert!(!unlocked(), "ana's access is not shown while ben's identity is exchanged");
    assert!(!doc().document_element().unwrap().class_list().contains("latch-ready"));
    assert!(w.member().is_null());
    while !done.get() {
        latch_widget::js::sleep(20).await;
    }
    assert_eq!(recorded().iter().filter(|(k, _)| k == "POST /v1/identify").count(), 2);
    assert_eq!(stored(site, "token").as_deref(), Some("tok_ben"));
    assert_eq!(get_str(&w.member(), "email").as_deref(), Some("ben@example.com"));
    w.stop();

    restore();
}

#[wasm_bindgen_test]
async fn refused_identity_leaves_the_visitor_signed_out() {
    let site = "site_identity_bad";
    storage().clear().unwrap();
    // A token cached from an earlier identity must not survive a refused new one.
    storage().set_item(&format!("latch:{site}:token"), "tok_old").unwrap();
    page();
    let catalog = format!("GET /v1/sites/{site}/catalog");
    let refused = r#"{"error":{"code":"invalid_identity","message":"bad signature"}}"#;
    stub(&[(&catalog, vec![(200, CATALOG.into())]), ("POST /v1/identify", vec![(401, refused.into())])]);
    let w = boot(site, Some(BEN)).await;
    assert!(doc().get_element_by_id("card").unwrap().class_list().contains("latch-locked"));
    assert!(doc().get_element_by_id("secret").unwrap().has_attribute("hidden"));
    assert!(w.member().is_null());
    assert_eq!(stored(site, "token"), None);
    assert!(warnings().contains("identify"), "a console message: {}", warnings());
    let root = doc().document_element().unwrap();
    assert!(!root.class_list().contains("latch-error"), "a refused identity is a signed-out visitor, not an outage");
    w.stop();

    // The edge unreachable: signed out as well, and the page is marked failed.
    page();
    stub(&[(&catalog, vec![(200, CATALOG.into())])]);
    let w = boot(site, Some(BEN)).await;
    assert!(w.member().is_null());
    assert!(root.class_list().contains("latch-error"));
    w.stop();
    restore();
}
