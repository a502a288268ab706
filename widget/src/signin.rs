//! The sign-in dialog behind `[data-latch-signin]`: a native modal `<dialog>` (the rest of the page is inert,
//! Escape closes it, focus returns to the opener) with two steps: the email (`POST /v1/signin`), then the code
//! from the email (`POST /v1/signin/verify`, with the challenge the first step answered, kept on the dialog as
//! `data-challenge`). Labelled fields, a polite live region for what happened,
//! texts in English or German after `<html lang>`, logical CSS only (right-to-left safe); the loader's stylesheet
//! themes it with the same custom properties as the locked cards (`.latch-signin`).

use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::spawn_local;
use web_sys::{Document, Element, Event};

use crate::js;
use crate::model::Lang;
use crate::render::page_lang;
use crate::widget::Widget;

/// Id of the dialog element (one per document).
pub const DIALOG_ID: &str = "latch-signin";

// Indexes into a language's texts.
const TITLE: usize = 0;
const EMAIL: usize = 1;
const CODE: usize = 2;
const SEND: usize = 3;
const CANCEL: usize = 4;
const SENT: usize = 5;
const INVALID: usize = 6;
const LIMITED: usize = 7;
const FAILED: usize = 8;
const NONE: usize = usize::MAX;

const EN: [&str; 9] = [
    "Sign in",
    "Email",
    "Code from the email",
    "Send code",
    "Cancel",
    "If you are a member, a code is on its way.",
    "Wrong or old code.",
    "Too many tries. Wait a few minutes.",
    "That did not work. Try again.",
];

const DE: [&str; 9] = [
    "Anmelden",
    "E-Mail",
    "Code aus der E-Mail",
    "Code senden",
    "Abbrechen",
    "Bist du Mitglied, ist ein Code unterwegs.",
    "Falscher oder alter Code.",
    "Zu viele Versuche. Warte ein paar Minuten.",
    "Das hat nicht geklappt. Bitte nochmal.",
];

fn texts(doc: &Document) -> &'static [&'static str; 9] {
    if page_lang(doc) == Lang::De { &DE } else { &EN }
}

/// Text `i` of `t` (no index panics: they would pull formatting code into the wasm).
fn text(t: &[&'static str], i: usize) -> &'static str {
    t.get(i).copied().unwrap_or_default()
}

/// Calls method `name` of `target` through `Reflect`, which keeps more imports out of the glue.
fn call(target: &JsValue, name: &str) {
    let method = js::get(target, name);
    if method.is_function() {
        let _ = method.unchecked_into::<js_sys::Function>().call1(target, &JsValue::UNDEFINED);
    }
}

fn by_id(doc: &Document, id: &str) -> Option<Element> {
    doc.get_element_by_id(id)
}

/// Closes the dialog, if it is there.
fn close(doc: &Document) {
    if let Some(dialog) = by_id(doc, DIALOG_ID) {
        call(&dialog, "close");
    }
}

/// The dialog's elements: (parent index, tag, id, class, text index). Index 0, the dialog, goes into `<body>`.
const NODES: [(usize, &str, &str, &str, usize); 13] = [
    (NONE, "dialog", DIALOG_ID, "latch-signin", NONE),
    (0, "form", "", "", NONE),
    (1, "h2", "latch-signin-title", "", TITLE),
    (1, "p", "", "", NONE),
    (3, "label", "", "", EMAIL),
    (3, "input", "latch-signin-email", "", NONE),
    (1, "p", "", "", NONE),
    (6, "label", "", "", CODE),
    (6, "input", "latch-signin-code", "", NONE),
    (1, "p", "latch-signin-status", "", NONE),
    (1, "p", "", "latch-signin-actions", NONE),
    (10, "button", "", "latch-signin-cancel", CANCEL),
    (10, "button", "latch-signin-submit", "latch-cta", NONE),
];

/// Attributes of [`NODES`]: (node index, name, value).
const ATTRS: [(usize, &str, &str); 14] = [
    (0, "aria-labelledby", "latch-signin-title"),
    (4, "for", "latch-signin-email"),
    (5, "type", "email"),
    (5, "autocomplete", "email"),
    (5, "required", ""),
    (7, "for", "latch-signin-code"),
    (8, "autocapitalize", "characters"),
    (8, "autocomplete", "one-time-code"),
    (8, "maxlength", "11"),
    (8, "required", ""),
    (9, "role", "status"),
    (9, "aria-live", "polite"),
    (11, "type", "button"),
    (12, "type", "submit"),
];

fn build(widget: &Widget) -> Option<Element> {
    let doc = widget.doc();
    let t = texts(doc);
    let mut made: Vec<Element> = Vec::new();
    for (parent, tag, id, class, text) in NODES {
        let el = doc.create_element(tag).ok()?;
        if !id.is_empty() {
            el.set_id(id);
        }
        if !class.is_empty() {
            el.set_class_name(class);
        }
        if let Some(text) = t.get(text) {
            el.set_text_content(Some(text));
        }
        if let Some(parent) = made.get(parent) {
            parent.append_child(&el).ok()?;
        }
        made.push(el);
    }
    for (i, name, value) in ATTRS {
        let _ = made.get(i)?.set_attribute(name, value);
    }
    let dialog = made.into_iter().next()?;
    doc.body()?.append_child(&dialog).ok()?;
    Some(dialog)
}

/// Shows the email step (`code` false) or the code step, and focuses its field.
fn step(doc: &Document, code: bool, status: &str) {
    let t = texts(doc);
    for (id, shown) in [("latch-signin-email", !code), ("latch-signin-code", code)] {
        if let Some(input) = by_id(doc, id) {
            if let Some(wrap) = input.parent_element() {
                flag(&wrap, "hidden", !shown);
            }
            flag(&input, "disabled", !shown);
            if shown {
                call(&input, "focus");
            }
        }
    }
    if let Some(button) = doc.get_element_by_id("latch-signin-submit") {
        button.set_text_content(Some(text(t, if code { TITLE } else { SEND })));
    }
    say(doc, status);
}

/// Sets or removes a boolean attribute.
fn flag(el: &Element, name: &str, on: bool) {
    let _ = if on { el.set_attribute(name, "") } else { el.remove_attribute(name) };
}

/// Puts `text` in the live region (screen readers announce it).
fn say(doc: &Document, text: &str) {
    if let Some(status) = doc.get_element_by_id("latch-signin-status") {
        status.set_text_content(Some(text));
    }
}

/// Opens the dialog at the email step.
pub fn open(widget: &Widget) {
    let doc = widget.doc();
    let Some(dialog) = by_id(doc, DIALOG_ID).or_else(|| build(widget)) else {
        return;
    };
    // A no-op when it is already open as a modal.
    call(&dialog, "showModal");
    step(doc, false, "");
}

/// Handles a document event if it is the dialog's: a click that opens or cancels it, or its form's `submit`.
/// Returns whether it was (the caller then prevents the default).
pub fn on_event(widget: &Widget, event: &Event, target: &Element) -> bool {
    let closest = |sel: &str| target.closest(sel).ok().flatten().is_some();
    if event.type_() == "submit" {
        if !closest("#latch-signin") {
            return false;
        }
        let widget = widget.clone();
        spawn_local(async move { submit(&widget).await });
    } else if closest("[data-latch-signin]") {
        open(widget);
    } else if closest(".latch-signin-cancel") {
        close(widget.doc());
    } else {
        return false;
    }
    true
}

/// Sends the current step: the email asks for a code, the code signs in.
async fn submit(widget: &Widget) {
    let doc = widget.doc();
    let t = texts(doc);
    let value = |name: &str| by_id(doc, name).and_then(|i| js::get_str(&i, "value")).unwrap_or_default();
    let Some(button) = by_id(doc, "latch-signin-submit") else {
        return;
    };
    if button.has_attribute("aria-busy") {
        return;
    }
    let email = value("latch-signin-email");
    let code = value("latch-signin-code");
    let code_step = doc.get_element_by_id("latch-signin-code").is_some_and(|c| !c.has_attribute("disabled"));
    let body = js::object(&[("site", widget.site()), ("email", &email)]);
    // The code works only with the challenge this browser got when it asked (kept on the dialog); the member
    // token goes along, so a purchase made here before signing in joins the member.
    let dialog = by_id(doc, DIALOG_ID);
    if code_step {
        js::set(&body, "code", &JsValue::from_str(&code));
        let challenge = dialog.as_ref().and_then(|d| d.get_attribute("data-challenge")).unwrap_or_default();
        js::set(&body, "challenge", &JsValue::from_str(&challenge));
    }
    let _ = button.set_attribute("aria-busy", "true");
    say(doc, "");
    let path = if code_step { "/v1/signin/verify" } else { "/v1/signin" };
    let token = if code_step { widget.token() } else { None };
    let reply = js::request("POST", &widget.url(path), Some(&body.into()), token.as_deref()).await.ok();
    flag(&button, "aria-busy", false);
    let status = reply.as_ref().map_or(0, |r| r.status);
    if let Some(body) = reply.as_ref().and_then(js::Reply::ok_body) {
        if !code_step {
            if let (Some(dialog), Some(challenge)) = (&dialog, js::get_str(body, "challenge")) {
                let _ = dialog.set_attribute("data-challenge", &challenge);
            }
            step(doc, true, text(t, SENT));
            return;
        }
        if widget.signed_in(body) {
            close(doc);
            return;
        }
    }
    say(
        doc,
        match status {
            429 => text(t, LIMITED),
            401 if code_step => text(t, INVALID),
            _ => text(t, FAILED),
        },
    );
}
