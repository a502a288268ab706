//! Page helpers shared by the widget's browser tests (each file in tests/ is its own crate and includes this module
//! with `mod common;`).
#![allow(dead_code)] // each test file uses a part

use web_sys::{Document, Element, Storage};

/// The test page's document.
pub(crate) fn doc() -> Document {
    web_sys::window().unwrap().document().unwrap()
}

/// The element with `id`; panics naming the id when it is missing.
pub(crate) fn el(id: &str) -> Element {
    doc().get_element_by_id(id).unwrap_or_else(|| panic!("#{id} missing"))
}

/// The page's localStorage.
pub(crate) fn storage() -> Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

/// Puts `html` in the element `#host` (appended to the body the first time: the runner's own output lives in the
/// body too, so the body itself is never replaced) and returns the document.
pub(crate) fn fixture_in(host: &str, html: &str) -> Document {
    let d = doc();
    let element = d.get_element_by_id(host).unwrap_or_else(|| {
        let element = d.create_element("div").unwrap();
        element.set_id(host);
        d.body().unwrap().append_child(&element).unwrap();
        element
    });
    element.set_inner_html(html);
    d
}
