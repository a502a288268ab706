//! Latch's browser widget, loaded by `www/latch.js`: purchase buttons, locked cards, gated content, the portal
//! link and the return from Stripe Checkout, driven by `data-latch-*` attributes on the site's own markup.
//!
//! Layout: [`model`] is pure data and text (unit-tested natively), [`js`] is the browser seam (JSON, fetch,
//! storage, events), [`render`] turns (catalog, access) into DOM state, [`widget`] holds state and talks to the
//! edge, [`style`] holds the CSS of the dialog and the toast. The exports below are what latch.js calls.

pub mod js;
pub mod model;
pub mod render;
pub mod signin;
pub mod style;
pub mod widget;

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::widget::Widget;

/// The widget allocates little and briefly: a small free-list allocator saves most of dlmalloc's size.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

thread_local! {
    static PAGE: RefCell<Option<Widget>> = const { RefCell::new(None) };
}

fn page() -> Option<Widget> {
    PAGE.with(|p| p.borrow().clone())
}

/// Starts the page's widget for `site` with the edge at `edge` (base URL) and the host site's signed identity
/// (the tag's `data-identity`, if any); `style` is latch.js's function that adds a stylesheet, given the widget's
/// own rules ([`style::CSS`]). A second call does nothing.
#[wasm_bindgen]
pub fn start(site: String, edge: String, identity: Option<String>, style: js_sys::Function) {
    if page().is_some() {
        return;
    }
    let _ = style.call1(&JsValue::NULL, &JsValue::from_str(style::CSS));
    let Some(window) = web_sys::window() else {
        return;
    };
    let Some(doc) = window.document() else { return };
    let widget = Widget::new(doc, &site, &edge);
    widget.set_identity(identity);
    PAGE.with(|p| *p.borrow_mut() = Some(widget.clone()));
    widget.attach();
    let url = window.location().href().unwrap_or_default();
    spawn_local(async move { widget.boot(&url).await });
}

/// `Latch.refresh()`: reloads catalog and access, then calls `done(Latch.member())` (latch.js wraps this in a
/// Promise; a callback keeps `future_to_promise` out of the wasm).
#[wasm_bindgen]
pub fn refresh(done: js_sys::Function) {
    let Some(widget) = page() else {
        let _ = done.call1(&JsValue::NULL, &JsValue::NULL);
        return;
    };
    spawn_local(async move {
        widget.refresh().await;
        let _ = done.call1(&JsValue::NULL, &widget.member());
    });
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
