//! Browser tests for the catalog's `checkout: false`: the widget never creates a Checkout Session for such a
//! product; its CTAs lead to the catalog's `purchase_url`, or are shown disabled with a short message.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{el, fixture_in};
use latch_widget::js::parse_catalog;
use latch_widget::model::{Access, Catalog};
use latch_widget::render::render;
use latch_widget::widget::Widget;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use web_sys::{Document, Element, HtmlElement};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
const orig = window.fetch;
export function count_fetch() { window.__offCalls = 0; window.fetch = async () => { window.__offCalls++; throw new TypeError("Failed to fetch"); }; }
export function fetch_calls() { return window.__offCalls; }
export function restore() { window.fetch = orig; }
"#)]
extern "C" {
    fn count_fetch();
    fn fetch_calls() -> u32;
    fn restore();
}

const PAGE: &str = r##"
  <article data-latch-locked="course" id="off-course"><h2>Course</h2><div data-latch-content="course">x</div></article>
  <article data-latch-locked="kit" id="off-kit"><h2>Kit</h2></article>
  <article data-latch-locked="pro" id="off-pro"><h2>Pro</h2></article>
  <button data-latch-buy="course-lifetime" id="off-buy">Buy</button>
  <button data-latch-buy="course-lifetime" id="off-buy-fallback" data-latch-fallback="#elsewhere">Buy</button>
  <button data-latch-buy="kit-once" id="off-buy-kit">Buy kit</button>
"##;

fn fixture() -> Document {
    fixture_in("off-fixture", PAGE)
}

/// `course`: checkout off, no purchase URL. `kit`: checkout off, bought at a path on this page (a fragment, so
/// following it does not unload the test page). `pro`: ordinary.
fn catalog() -> Catalog {
    let path = web_sys::window().unwrap().location().pathname().unwrap();
    let json = r#"{"products":[
        {"slug":"course","name":"Course","checkout":false,"prices":[{"id":"price_c","lookup_key":"course-lifetime","unit_amount":4900,"currency":"usd"}]},
        {"slug":"kit","name":"Kit","checkout":false,"purchase_url":"PATH#bought-kit","prices":[{"id":"price_k","lookup_key":"kit-once","unit_amount":1800,"currency":"usd"}]},
        {"slug":"pro","name":"Pro","checkout":true,"purchase_url":"javascript:alert(1)","prices":[{"id":"price_p","unit_amount":900,"currency":"usd","interval":"month"}]}
    ]}"#
    .replace("PATH", &path);
    parse_catalog(&js_sys::JSON::parse(&json).unwrap()).unwrap()
}

fn cta(card: &str) -> Element {
    el(card).query_selector(".latch-overlay > .latch-cta").unwrap().unwrap()
}

#[wasm_bindgen_test]
fn catalog_checkout_false_and_purchase_url_are_read_safely() {
    let c = catalog();
    let course = c.product("course").unwrap();
    assert!(course.checkout_off && course.purchase_url.is_none());
    let kit = c.product("kit").unwrap();
    assert!(kit.checkout_off && kit.purchase_url.as_deref().is_some_and(|u| u.ends_with("#bought-kit")));
    let pro = c.product("pro").unwrap();
    assert!(!pro.checkout_off, "checkout: true");
    assert_eq!(pro.purchase_url, None, "a javascript: URL is never kept");
}

#[wasm_bindgen_test]
fn checkout_off_without_url_disables_the_cta_with_a_message() {
    let d = fixture();
    render(&d, &catalog(), &Access::default(), 0.0);
    assert!(el("off-course").class_list().contains("latch-unavailable"));
    assert!(cta("off-course").has_attribute("disabled"));
    let trial = el("off-course").query_selector(".latch-trial").unwrap().unwrap();
    assert!(!trial.has_attribute("hidden"));
    assert_eq!(trial.text_content().unwrap(), "Not available for purchase right now.");
    // With a purchase URL, or with checkout on, the CTA stays usable.
    for card in ["off-kit", "off-pro"] {
        assert!(!el(card).class_list().contains("latch-unavailable"), "{card}");
        assert!(!cta(card).has_attribute("disabled"), "{card}");
    }
    // A buy button without a fallback of its own is marked unavailable; one with a fallback is not.
    assert_eq!(el("off-buy").get_attribute("aria-disabled").as_deref(), Some("true"));
    assert!(el("off-buy").class_list().contains("latch-unavailable"));
    assert!(el("off-buy").get_attribute("title").is_some());
    assert!(!el("off-buy-fallback").class_list().contains("latch-unavailable"));
    assert!(!el("off-buy-kit").class_list().contains("latch-unavailable"));

    // When the catalog turns checkout back on, everything is restored.
    let mut on = catalog();
    for p in &mut on.products {
        p.checkout_off = false;
    }
    render(&d, &on, &Access::default(), 0.0);
    assert!(!el("off-course").class_list().contains("latch-unavailable"));
    assert!(!cta("off-course").has_attribute("disabled"));
    assert_eq!(trial.text_content().unwrap(), "");
    assert_eq!(el("off-buy").get_attribute("aria-disabled").as_deref(), Some("false"));
    assert!(!el("off-buy").class_list().contains("latch-unavailable"));
    assert!(el("off-buy").get_attribute("title").is_none());
}

#[wasm_bindgen_test]
async fn checkout_off_clicks_never_call_the_edge_and_follow_the_purchase_url() {
    let d = fixture();
    // A fallback on this page (a bare `#...` fallback is never followed): following it does not unload the test.
    let path = web_sys::window().unwrap().location().pathname().unwrap();
    el("off-buy-fallback").set_attribute("data-latch-fallback", &format!("{path}#elsewhere")).unwrap();
    count_fetch();
    let w = Widget::new(d.clone(), "site_off", "https://edge.test");
    w.attach();
    w.set_catalog(catalog());
    // No URL anywhere: nothing happens.
    el("off-course").unchecked_into::<HtmlElement>().click();
    el("off-buy").unchecked_into::<HtmlElement>().click();
    latch_widget::js::sleep(50).await;
    assert_eq!(fetch_calls(), 0, "no POST /v1/checkout for a product with checkout off");
    assert!(!el("off-course").class_list().contains("latch-loading"));
    // The catalog's purchase URL.
    let location = web_sys::window().unwrap().location();
    cta("off-kit").unchecked_into::<HtmlElement>().click();
    latch_widget::js::sleep(50).await;
    assert_eq!(location.hash().unwrap(), "#bought-kit");
    // The element's own fallback when the catalog has no URL.
    el("off-buy-fallback").unchecked_into::<HtmlElement>().click();
    latch_widget::js::sleep(50).await;
    assert_eq!(location.hash().unwrap(), "#elsewhere");
    assert_eq!(fetch_calls(), 0);
    let _ = location.set_hash("");
    w.stop();
    restore();
}
