//! Latch's browser widget, loaded by `www/latch.js`: purchase buttons, locked cards, gated content, the portal
//! link and the return from Stripe Checkout, driven by `data-latch-*` attributes on the site's own markup.
//!
//! Layout: [`model`] is pure data and text (unit-tested natively), [`js`] is the browser seam (JSON, fetch,
//! storage, events), [`render`] turns (catalog, access) into DOM state, [`widget`] holds state and talks to the
//! edge. The exports below are what latch.js calls.

pub mod js;
pub mod model;
pub mod render;
pub mod widget;

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local};

use crate::widget::Widget;

thread_local! {
    static PAGE: RefCell<Option<Widget>> = const { RefCell::new(None) };
}

fn page() -> Option<Widget> {
    PAGE.with(|p| p.borrow().clone())
}

/// Starts the page's widget for `site` with the edge at `edge` (base URL). A second call does nothing.
#[wasm_bindgen]
pub fn start(site: String, edge: String) {
    if page().is_some() {
        return;
    }
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(doc) = window.document() else { return };
    let widget = Widget::new(doc, &site, &edge);
    PAGE.with(|p| *p.borrow_mut() = Some(widget.clone()));
    widget.attach();
    let url = window.location().href().unwrap_or_default();
    spawn_local(async move { widget.boot(&url).await });
}

/// `Latch.refresh()`: reloads catalog and access; resolves to `Latch.member()`.
#[wasm_bindgen]
pub fn refresh() -> js_sys::Promise {
    future_to_promise(async {
        match page() {
            Some(widget) => {
                widget.refresh().await;
                Ok(widget.member())
            }
            None => Ok(JsValue::NULL),
        }
    })
}

/// `Latch.member()`: `{email, access: [product slugs]}` of the signed-in member, or `null`.
#[wasm_bindgen]
pub fn member() -> JsValue {
    page().map_or(JsValue::NULL, |w| w.member())
}

/// `Latch.signOut()`: forgets the member token on this device and locks the page.
#[wasm_bindgen(js_name = signOut)]
pub fn sign_out() {
    if let Some(widget) = page() {
        widget.sign_out();
    }
}
