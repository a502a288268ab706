//! DOM rendering as a pure function of (catalog, access): idempotent, safe to run again after every change and
//! on elements a single-page site adds later.
//!
//! What it does to the page:
//! - `[data-latch-content="slug"]` is `hidden` unless the visitor has `slug`; `"!slug"` the other way round.
//!   Shown member content gets `latch-unlocked`.
//! - `[data-latch-locked="slug"]` without access: class `latch-locked`, and a `.latch-overlay` child with a lock
//!   icon, an optional trial line and a `<button class="latch-cta">Unlock for $9.00/month</button>`. With access:
//!   `latch-unlocked`, overlay removed. The site's own markup is never touched. When the catalog says the
//!   product's `locked_card` is off, the element is treated like `[data-latch-content="slug"]` instead (and
//!   marked `latch-plain`).
//! - `[data-latch-buy]` gets `latch-unlocked` when the visitor already has its product.
//! - `[data-latch-portal]`, `[data-latch-signout]` are `hidden` unless signed in, `[data-latch-signin]` while
//!   signed in; `[data-latch-member="email"]` shows the member's email.
//! - `<html>` gets `latch-ready` (lifts the loader's "hide gated content until resolved" rule) and `latch-member`
//!   while signed in.

use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

use crate::model::{Access, Catalog, Lang, cta_aria_label, cta_label, trial_label, unavailable_label};

/// Class of the overlay element the widget adds inside locked cards.
pub const OVERLAY_CLASS: &str = "latch-overlay";
/// Class of the call-to-action button inside the overlay.
pub const CTA_CLASS: &str = "latch-cta";
/// Every attribute the widget acts on, as one selector (used to notice elements added later).
pub const WIRED_SELECTOR: &str = "[data-latch-buy],[data-latch-locked],[data-latch-content],[data-latch-portal],[data-latch-signout],[data-latch-member],[data-latch-signin]";

/// Elements matching `selector`, in document order.
pub fn all(doc: &Document, selector: &str) -> Vec<Element> {
    let mut out = Vec::new();
    if let Ok(list) = doc.query_selector_all(selector) {
        for i in 0..list.length() {
            if let Some(node) = list.item(i) {
                out.push(node.unchecked_into());
            }
        }
    }
    out
}

/// Adds or removes `class` on `el`.
pub fn toggle_class(el: &Element, class: &str, on: bool) {
    let list = el.class_list();
    let _ = if on { list.add_1(class) } else { list.remove_1(class) };
}

/// Sets or removes a boolean attribute, touching the DOM only when it changes.
fn toggle_attr(el: &Element, name: &str, on: bool) {
    if el.has_attribute(name) != on {
        let _ = if on { el.set_attribute(name, "") } else { el.remove_attribute(name) };
    }
}

/// Sets an attribute only when it differs.
fn set_attr(el: &Element, name: &str, value: &str) {
    if el.get_attribute(name).as_deref() != Some(value) {
        let _ = el.set_attribute(name, value);
    }
}

/// Sets text only when it differs (so a MutationObserver sees no churn).
fn set_text(el: &Element, text: &str) {
    if el.text_content().as_deref() != Some(text) {
        el.set_text_content(Some(text));
    }
}

/// The direct child of `el` with class `class`.
fn child_with_class(el: &Element, class: &str) -> Option<Element> {
    let mut child = el.first_element_child();
    while let Some(c) = child {
        if c.class_list().contains(class) {
            return Some(c);
        }
        child = c.next_element_sibling();
    }
    None
}

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const LOCK_PATH: &str =
    "M17 9V7A5 5 0 0 0 7 7v2H5v13h14V9h-2zM9 7a3 3 0 0 1 6 0v2H9V7zm3 6a2 2 0 0 1 1 3.7V19h-2v-2.3A2 2 0 0 1 12 13z";

/// Creates `<tag>` (in `ns` when given) with attribute pairs, appended to `parent`. No `innerHTML`: pages that
/// enforce Trusted Types forbid it.
fn child(doc: &Document, parent: &Element, ns: Option<&str>, tag: &str, attrs: &[(&str, &str)]) -> Option<Element> {
    let el = doc.create_element_ns(ns, tag).ok()?;
    for (name, value) in attrs {
        let _ = el.set_attribute(name, value);
    }
    parent.append_child(&el).ok()?;
    Some(el)
}

/// Builds an empty overlay: lock icon, trial line, CTA button.
fn build_overlay(doc: &Document) -> Option<Element> {
    const HTML: Option<&str> = Some("http://www.w3.org/1999/xhtml");
    let overlay = doc.create_element("div").ok()?;
    overlay.set_class_name(OVERLAY_CLASS);
    let svg = child(
        doc,
        &overlay,
        Some(SVG_NS),
        "svg",
        &[("class", "latch-lock"), ("viewBox", "0 0 24 24"), ("aria-hidden", "true"), ("focusable", "false")],
    )?;
    child(doc, &svg, Some(SVG_NS), "path", &[("d", LOCK_PATH)])?;
    child(doc, &overlay, HTML, "p", &[("class", "latch-trial")])?;
    child(doc, &overlay, HTML, "button", &[("type", "button"), ("class", CTA_CLASS)])?;
    Some(overlay)
}

/// Renders the locked/unlocked state of one `[data-latch-locked]` card.
fn render_card(doc: &Document, card: &Element, catalog: &Catalog, unlocked: bool, lang: Lang) {
    let overlay = child_with_class(card, OVERLAY_CLASS);
    toggle_class(card, "latch-locked", !unlocked);
    toggle_class(card, "latch-unlocked", unlocked);
    if unlocked {
        if let Some(overlay) = overlay {
            overlay.remove();
        }
        return;
    }
    let Some(overlay) = overlay.or_else(|| {
        let built = build_overlay(doc)?;
        card.append_child(&built).ok()?;
        Some(built)
    }) else {
        return;
    };
    let slug = card.get_attribute("data-latch-locked").unwrap_or_default();
    let product = catalog.product(&slug);
    let price = product.and_then(|p| p.first_price());
    // Checkout off and nowhere else to buy: the CTA is disabled and the trial line says why.
    let unavailable = product.is_some_and(|p| p.checkout_off && p.purchase_url.is_none());
    toggle_class(card, "latch-unavailable", unavailable);
    if let Some(trial) = child_with_class(&overlay, "latch-trial") {
        let text = if unavailable { Some(unavailable_label(lang).into()) } else { trial_label(price, lang) };
        toggle_attr(&trial, "hidden", text.is_none());
        set_text(&trial, text.as_deref().unwrap_or(""));
    }
    if let Some(button) = child_with_class(&overlay, CTA_CLASS) {
        let money = |amount, currency: &str| crate::js::format_money(amount, currency, lang);
        set_text(&button, &cta_label(price, lang, &money));
        set_attr(&button, "aria-label", &cta_aria_label(product, lang, &money));
        toggle_attr(&button, "disabled", unavailable);
    }
}

/// The language of the widget's texts: the page's `<html lang>`.
pub fn page_lang(doc: &Document) -> Lang {
    Lang::from_tag(&doc.document_element().and_then(|root| root.get_attribute("lang")).unwrap_or_default())
}

/// Brings every Latch element of `doc` in line with `catalog` and `access` at time `now_ms`.
pub fn render(doc: &Document, catalog: &Catalog, access: &Access, now_ms: f64) {
    let lang = page_lang(doc);
    for el in all(doc, "[data-latch-content]") {
        let value = el.get_attribute("data-latch-content").unwrap_or_default();
        let value = value.trim_ascii();
        let (negated, slug) = match value.strip_prefix("!") {
            Some(rest) => (true, rest.trim_ascii()),
            None => (false, value),
        };
        let has = access.has(slug, now_ms);
        toggle_attr(&el, "hidden", has == negated);
        toggle_class(&el, "latch-unlocked", has && !negated);
    }
    for card in all(doc, "[data-latch-locked]") {
        let slug = card.get_attribute("data-latch-locked").unwrap_or_default();
        let has = access.has(slug.trim_ascii(), now_ms);
        if catalog.product(slug.trim_ascii()).is_some_and(|p| p.locked_card_off) {
            // No locked card: the site's own markup, shown to members only.
            if let Some(overlay) = child_with_class(&card, OVERLAY_CLASS) {
                overlay.remove();
            }
            toggle_class(&card, "latch-locked", false);
            toggle_class(&card, "latch-unavailable", false);
            toggle_class(&card, "latch-plain", true);
            toggle_attr(&card, "hidden", !has);
            toggle_class(&card, "latch-unlocked", has);
        } else {
            // Back to a locked card (the catalog changed): undo only what the branch above did.
            if card.class_list().contains("latch-plain") {
                toggle_class(&card, "latch-plain", false);
                toggle_attr(&card, "hidden", false);
            }
            render_card(doc, &card, catalog, has, lang);
        }
    }
    for el in all(doc, "[data-latch-buy]") {
        let key = el.get_attribute("data-latch-buy").unwrap_or_default();
        let product = catalog.product_for_price(key.trim_ascii());
        let owned = product.is_some_and(|p| access.has(&p.slug, now_ms));
        toggle_class(&el, "latch-unlocked", owned);
        // Checkout off, no purchase URL and no fallback of the site's own: nothing to buy here.
        let own_fallback = el.has_attribute("data-latch-fallback") || el.has_attribute("href");
        let unavailable = !own_fallback && product.is_some_and(|p| p.checkout_off && p.purchase_url.is_none());
        if unavailable || el.class_list().contains("latch-unavailable") {
            toggle_class(&el, "latch-unavailable", unavailable);
            set_attr(&el, "aria-disabled", if unavailable { "true" } else { "false" });
            if unavailable {
                set_attr(&el, "title", unavailable_label(lang));
            } else {
                let _ = el.remove_attribute("title");
            }
        }
    }
    for el in all(doc, "[data-latch-portal],[data-latch-signout]") {
        toggle_attr(&el, "hidden", !access.signed_in);
    }
    for el in all(doc, "[data-latch-signin]") {
        toggle_attr(&el, "hidden", access.signed_in);
    }
    for el in all(doc, "[data-latch-member]") {
        if el.get_attribute("data-latch-member").as_deref() == Some("email") {
            set_text(&el, access.email.as_deref().unwrap_or(""));
        }
        toggle_attr(&el, "hidden", !access.signed_in);
    }
    if let Some(root) = doc.document_element() {
        toggle_class(&root, "latch-ready", true);
        toggle_class(&root, "latch-member", access.signed_in);
    }
}
