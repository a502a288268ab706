//! The widget's own stylesheet: rules for what only the wasm creates, and only after an interaction or a claim
//! (the sign-in dialog, the success toast). latch.js keeps the rules needed before the first paint (hiding gated
//! content, the locked card's reserved room) and those of the overlay it renders at start; moving these here keeps
//! the loader small (widget/README.md, "Size").

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Document;

/// The rules: the toast fades out by itself; the dialog is themed like the overlay (`--latch-*`).
pub const CSS: &str = concat!(
    ".latch-toast{position:fixed;z-index:99999;bottom:1em;left:50%;translate:-50%;padding:.7em 1.2em;",
    "border-radius:var(--latch-radius,.5em);background:var(--latch-accent,#635bff);color:var(--latch-accent-text,#fff);",
    "animation:latch-toast 6s forwards}",
    "@keyframes latch-toast{90%{opacity:1}to{opacity:0;visibility:hidden}}",
    ".latch-signin{border:0;border-radius:var(--latch-radius,.5em);padding:1.5em;max-width:min(24em,90vw);",
    "color:CanvasText;background:Canvas}.latch-signin::backdrop{background:#0009}",
    ".latch-signin label,.latch-signin input{display:block;box-sizing:border-box;width:100%}",
    ".latch-signin input{font:inherit;padding:.5em;margin-block-start:.25em}",
    ".latch-signin-actions{display:flex;gap:.5em;justify-content:flex-end}",
    ".latch-signin-cancel{font:inherit;cursor:pointer;background:none;border:0;color:inherit;padding:.6em}",
);

/// Adds [`CSS`] to `doc` as a constructed stylesheet (`adoptedStyleSheets`, which a CSP's `style-src` does not
/// block), or as a `<style>` element where constructed stylesheets are missing (as latch.js does).
pub fn install(doc: &Document) {
    if adopt(doc).is_ok() {
        return;
    }
    if let (Ok(style), Some(body)) = (doc.create_element("style"), doc.body()) {
        style.set_text_content(Some(CSS));
        let _ = body.append_child(&style);
    }
}

fn adopt(doc: &Document) -> Result<(), JsValue> {
    let class: Function = Reflect::get(&js_sys::global(), &JsValue::from_str("CSSStyleSheet"))?.dyn_into()?;
    let sheet = Reflect::construct(&class, &Array::new())?;
    let replace: Function = Reflect::get(&sheet, &JsValue::from_str("replaceSync"))?.dyn_into()?;
    replace.call1(&sheet, &JsValue::from_str(CSS))?;
    let key = JsValue::from_str("adoptedStyleSheets");
    let sheets: Array = Reflect::get(doc, &key)?.dyn_into()?;
    let added = Array::new();
    added.push(&sheet);
    let sheets = sheets.concat(&added);
    Reflect::set(doc, &key, &sheets)?;
    Ok(())
}
