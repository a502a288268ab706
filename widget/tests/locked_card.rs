//! Browser tests for the catalog's `locked_card: false`: the product's `data-latch-locked` elements get no overlay
//! and no CTA; they are hidden from non-members like `data-latch-content` and shown to members.
#![cfg(target_arch = "wasm32")]

mod common;

use common::{el, fixture_in};
use latch_widget::js::parse_catalog;
use latch_widget::model::{Access, Catalog, Grant};
use latch_widget::render::render;
use wasm_bindgen_test::*;
use web_sys::{Document, Element};

wasm_bindgen_test_configure!(run_in_browser);

const PAGE: &str = r##"
  <article data-latch-locked="notes" id="plain-notes"><h2>Notes</h2><p>Members' notes</p></article>
  <article data-latch-locked="pro" id="plain-pro"><h2>Pro</h2></article>
"##;

fn fixture() -> Document {
    fixture_in("plain-fixture", PAGE)
}

/// `notes`: locked card off. `pro`: `locked_card: true`, an ordinary locked card.
fn catalog() -> Catalog {
    let json = r#"{"products":[
        {"slug":"notes","name":"Notes","checkout":true,"locked_card":false,"prices":[{"id":"price_n","unit_amount":500,"currency":"usd"}]},
        {"slug":"pro","name":"Pro","checkout":true,"locked_card":true,"prices":[{"id":"price_p","unit_amount":900,"currency":"usd","interval":"month"}]}
    ]}"#;
    parse_catalog(&js_sys::JSON::parse(json).unwrap()).unwrap()
}

fn member(slug: &str) -> Access {
    Access { signed_in: true, email: None, grants: vec![Grant { product: slug.into(), ends_at_ms: None }] }
}

fn overlay(id: &str) -> Option<Element> {
    el(id).query_selector(".latch-overlay").unwrap()
}

#[wasm_bindgen_test]
fn catalog_locked_card_is_read() {
    let c = catalog();
    assert!(c.product("notes").unwrap().locked_card_off);
    assert!(!c.product("pro").unwrap().locked_card_off);
    // Absent means on (catalogs from before the setting).
    let old = parse_catalog(&js_sys::JSON::parse(r#"{"products":[{"slug":"x","prices":[]}]}"#).unwrap()).unwrap();
    assert!(!old.product("x").unwrap().locked_card_off);
}

#[wasm_bindgen_test]
fn locked_card_off_hides_from_non_members_without_overlay_and_shows_members() {
    let d = fixture();
    render(&d, &catalog(), &Access::default(), 0.0);
    let notes = el("plain-notes");
    assert!(notes.has_attribute("hidden"), "hidden from a visitor");
    assert!(overlay("plain-notes").is_none(), "no overlay, no CTA");
    assert!(!notes.class_list().contains("latch-locked"));
    // The site's own markup is untouched.
    assert_eq!(notes.inner_html(), "<h2>Notes</h2><p>Members' notes</p>");
    // The other product keeps its locked card.
    assert!(!el("plain-pro").has_attribute("hidden"));
    assert!(el("plain-pro").class_list().contains("latch-locked"));
    assert!(overlay("plain-pro").is_some());

    // A member of `notes` sees it; a member of something else does not.
    render(&d, &catalog(), &member("pro"), 0.0);
    assert!(notes.has_attribute("hidden"));
    render(&d, &catalog(), &member("notes"), 0.0);
    assert!(!notes.has_attribute("hidden"));
    assert!(notes.class_list().contains("latch-unlocked"));
    assert!(overlay("plain-notes").is_none());

    // Turned back on (a refreshed catalog): an ordinary locked card again.
    let mut on = catalog();
    for p in &mut on.products {
        p.locked_card_off = false;
    }
    render(&d, &on, &Access::default(), 0.0);
    assert!(!notes.has_attribute("hidden"));
    assert!(notes.class_list().contains("latch-locked") && !notes.class_list().contains("latch-plain"));
    assert!(overlay("plain-notes").is_some());
}

#[wasm_bindgen_test]
fn an_overlay_drawn_before_the_setting_arrives_is_removed() {
    let d = fixture();
    let mut on = catalog();
    on.products[0].locked_card_off = false;
    render(&d, &on, &Access::default(), 0.0);
    assert!(overlay("plain-notes").is_some());
    render(&d, &catalog(), &Access::default(), 0.0);
    assert!(overlay("plain-notes").is_none());
    assert!(el("plain-notes").has_attribute("hidden"));
    assert!(!el("plain-notes").class_list().contains("latch-locked"));
}
