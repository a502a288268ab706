//! The running widget: its state (catalog, access, member token), the flows that talk to the edge (catalog,
//! claim, access, checkout, portal) and the page wiring (one delegated click listener, one MutationObserver).
//!
//! Several widgets can live in one document (tests do this); the page's own widget is the one `start` creates.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use js_sys::{Array, Object};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{Document, Element, Event, MutationObserver, MutationObserverInit, MutationRecord};

use crate::js::{self, Reply};
use crate::model::{
    ACCESS_CACHE_FRESH_MS, Access, CLAIM_RETRY_DELAYS_MS, Catalog, SESSION_PARAM, concat,
    session_to_claim, strip_param,
};
use crate::render::{CTA_CLASS, WIRED_SELECTOR, render, toggle_class};

/// What the widget currently knows.
#[derive(Default)]
struct State {
    catalog: Catalog,
    access: Access,
    token: Option<String>,
    /// The access list last announced with `latch:access`.
    announced: Option<Vec<String>>,
    ready_sent: bool,
}

/// Event listeners the widget owns; dropping them (in [`Widget::stop`]) detaches the widget from the page.
struct Listeners {
    click: Closure<dyn FnMut(Event)>,
    observer: MutationObserver,
    _mutations: Closure<dyn FnMut(Array, MutationObserver)>,
}

struct Inner {
    site: String,
    edge: String,
    doc: Document,
    state: RefCell<State>,
    listeners: RefCell<Option<Listeners>>,
}

/// One Latch widget bound to a document, a site and an edge.
#[derive(Clone)]
pub struct Widget(Rc<Inner>);

/// What a purchase is for: a price (`data-latch-buy`) or a product (locked card).
enum Purchase {
    Price(String),
    Product(String),
}

impl Widget {
    /// A widget for `site` talking to the edge at `edge` (base URL, trailing `/` ignored). Does nothing until
    /// [`attach`](Self::attach) and [`boot`](Self::boot).
    pub fn new(doc: Document, site: &str, edge: &str) -> Self {
        Self(Rc::new(Inner {
            site: site.into(),
            edge: edge.trim_end_matches('/').into(),
            doc,
            state: RefCell::default(),
            listeners: RefCell::default(),
        }))
    }

    fn key(&self, what: &str) -> String {
        concat(&["latch:", &self.0.site, ":", what])
    }

    fn url(&self, path: &str) -> String {
        concat(&[&self.0.edge, path])
    }

    fn root_class(&self, class: &str, on: bool) {
        if let Some(root) = self.0.doc.document_element() {
            toggle_class(&root, class, on);
        }
    }

    /// Listens for clicks on Latch elements (delegated from the document, so elements added later work too)
    /// and re-renders when a single-page site adds or changes Latch elements.
    pub fn attach(&self) {
        if self.0.listeners.borrow().is_some() {
            return;
        }
        let weak: Weak<Inner> = Rc::downgrade(&self.0);
        let click = Closure::<dyn FnMut(Event)>::new(move |event: Event| {
            if let Some(inner) = weak.upgrade() {
                Self(inner).on_click(&event);
            }
        });
        let _ = self
            .0
            .doc
            .add_event_listener_with_callback("click", click.as_ref().unchecked_ref());

        let weak: Weak<Inner> = Rc::downgrade(&self.0);
        let mutations = Closure::<dyn FnMut(Array, MutationObserver)>::new(
            move |records: Array, _: MutationObserver| {
                let Some(inner) = weak.upgrade() else { return };
                let relevant = records.iter().any(|record| {
                    let record: MutationRecord = record.unchecked_into();
                    if record.type_() == "attributes" {
                        return true;
                    }
                    let added = record.added_nodes();
                    (0..added.length())
                        .filter_map(|i| added.item(i))
                        .filter_map(|n| n.dyn_into::<Element>().ok())
                        .any(|el| {
                            el.matches(WIRED_SELECTOR).unwrap_or(false)
                                || el.query_selector(WIRED_SELECTOR).ok().flatten().is_some()
                        })
                });
                if relevant {
                    Self(inner).render();
                }
            },
        );
        let Ok(observer) = MutationObserver::new(mutations.as_ref().unchecked_ref()) else {
            return;
        };
        let options = MutationObserverInit::new();
        options.set_child_list(true);
        options.set_subtree(true);
        let filter: Array = [
            "data-latch-buy",
            "data-latch-locked",
            "data-latch-content",
            "data-latch-member",
        ]
        .iter()
        .map(|s| JsValue::from_str(s))
        .collect();
        options.set_attribute_filter(&filter);
        if let Some(root) = self.0.doc.document_element() {
            let _ = observer.observe_with_options(&root, &options);
        }
        *self.0.listeners.borrow_mut() = Some(Listeners {
            click,
            observer,
            _mutations: mutations,
        });
    }

    /// Detaches from the page (removes the click listener, disconnects the observer).
    pub fn stop(&self) {
        if let Some(l) = self.0.listeners.borrow_mut().take() {
            let _ = self
                .0
                .doc
                .remove_event_listener_with_callback("click", l.click.as_ref().unchecked_ref());
            l.observer.disconnect();
        }
    }

    /// Renders the page from the current catalog and access, and announces access changes.
    pub fn render(&self) {
        let slugs = {
            let state = self.0.state.borrow();
            let now = js::now_ms();
            render(&self.0.doc, &state.catalog, &state.access, now);
            state.access.slugs(now)
        };
        let changed = self.0.state.borrow().announced.as_ref() != Some(&slugs);
        if changed {
            self.0.state.borrow_mut().announced = Some(slugs.clone());
            js::dispatch(
                &self.0.doc,
                "latch:access",
                &js::string_array(&slugs),
                false,
            );
        }
    }

    /// Replaces the catalog and re-renders (also the test seam for a stubbed catalog).
    pub fn set_catalog(&self, catalog: Catalog) {
        self.0.state.borrow_mut().catalog = catalog;
        self.render();
    }

    /// Replaces the access and re-renders (also the test seam for stubbed access).
    pub fn set_access(&self, access: Access) {
        self.0.state.borrow_mut().access = access;
        self.render();
    }

    /// `{email, access: [slugs]}` of the signed-in member, or `null`.
    pub fn member(&self) -> JsValue {
        let state = self.0.state.borrow();
        if !state.access.signed_in {
            return JsValue::NULL;
        }
        let obj = Object::new();
        let email = state
            .access
            .email
            .as_deref()
            .map_or(JsValue::NULL, JsValue::from_str);
        js::set(&obj, "email", &email);
        js::set(
            &obj,
            "access",
            &js::string_array(&state.access.slugs(js::now_ms())),
        );
        obj.into()
    }

    /// Forgets the member token and cached access, and locks the page.
    pub fn sign_out(&self) {
        js::remove(&self.key("token"));
        js::remove(&self.key("access"));
        {
            let mut state = self.0.state.borrow_mut();
            state.token = None;
            state.access = Access::default();
        }
        self.render();
    }

    /// Marks the page as failed (`latch-error` on `<html>`), logs, and dispatches `latch:error`.
    fn fail(&self, what: &str, reply: Option<&Reply>) {
        let mut message = String::from(what);
        match reply {
            None => message.push_str(": edge unreachable"),
            Some(reply) => {
                message.push_str(": HTTP ");
                crate::model::push_u64(&mut message, u64::from(reply.status));
                if let Some(code) = reply.error_code() {
                    message.push(' ');
                    message.push_str(&code);
                } else if reply.body.is_none() || (200..300).contains(&reply.status) {
                    message.push_str(" (unexpected answer)");
                }
            }
        }
        self.root_class("latch-error", true);
        js::warn(&message);
        js::dispatch(
            &self.0.doc,
            "latch:error",
            &JsValue::from_str(&message),
            false,
        );
    }

    /// Reads the cached catalog, token and access. Returns whether access is known without the network.
    fn load_cache(&self) -> bool {
        let mut state = self.0.state.borrow_mut();
        if let Some(catalog) =
            js::load_json(&self.key("catalog")).and_then(|v| js::parse_catalog(&v))
        {
            state.catalog = catalog;
        }
        state.token = js::load(&self.key("token")).filter(|t| !t.is_empty());
        if state.token.is_none() {
            return true;
        }
        let Some(cached) = js::load_json(&self.key("access")) else {
            return false;
        };
        let Some(access) = js::parse_access(&cached) else {
            return false;
        };
        let age = js::now_ms() - js::get(&cached, "t").as_f64().unwrap_or(0.0);
        state.access = access;
        (0.0..ACCESS_CACHE_FRESH_MS).contains(&age)
    }

    /// Keeps a member token and its access answer (`{member, access}`), in memory and in localStorage.
    fn keep_access(&self, token: Option<String>, body: &JsValue, access: Access) {
        if let Some(token) = &token {
            js::store(&self.key("token"), token);
        }
        let cached = Object::new();
        js::set(&cached, "t", &JsValue::from_f64(js::now_ms()));
        js::set(&cached, "member", &js::get(body, "member"));
        js::set(&cached, "access", &js::get(body, "access"));
        js::store_json(&self.key("access"), &cached.into());
        let mut state = self.0.state.borrow_mut();
        if token.is_some() {
            state.token = token;
        }
        state.access = access;
    }

    fn catalog_request(&self) -> Result<js_sys::Promise, JsValue> {
        let site = String::from(js_sys::encode_uri_component(&self.0.site));
        js::send(
            "GET",
            &self.url(&concat(&["/v1/sites/", &site, "/catalog"])),
            None,
            None,
        )
    }

    fn access_request(&self) -> Option<Result<js_sys::Promise, JsValue>> {
        let token = self.0.state.borrow().token.clone()?;
        Some(js::send("GET", &self.url("/v1/access"), None, Some(&token)))
    }

    fn claim_request(&self, session: &str) -> Result<js_sys::Promise, JsValue> {
        let body = js::object(&[("site", &self.0.site), ("checkout_session_id", session)]);
        js::send("POST", &self.url("/v1/claim"), Some(&body.into()), None)
    }

    /// Applies a catalog answer.
    async fn finish_catalog(&self, sent: Result<js_sys::Promise, JsValue>) {
        let reply = js::reply(sent).await.ok();
        match reply
            .as_ref()
            .and_then(|r| r.ok_body())
            .and_then(|body| js::parse_catalog(body).map(|c| (c, body.clone())))
        {
            Some((catalog, body)) => {
                js::store_json(&self.key("catalog"), &body);
                self.0.state.borrow_mut().catalog = catalog;
            }
            None => self.fail("catalog", reply.as_ref()),
        }
    }

    /// Applies an access answer: 200 updates, 401 signs out, anything else keeps what is cached.
    async fn finish_access(&self, sent: Result<js_sys::Promise, JsValue>) {
        let reply = js::reply(sent).await.ok();
        if let Some(body) = reply.as_ref().and_then(Reply::ok_body)
            && let Some(access) = js::parse_access(body)
        {
            self.keep_access(None, body, access);
            return;
        }
        if reply.as_ref().is_some_and(|r| r.status == 401) {
            self.sign_out();
            return;
        }
        self.fail("access", reply.as_ref());
    }

    /// Claims the Checkout Session the visitor came back with, retrying while the edge says `claim_pending`.
    /// Returns whether it succeeded.
    async fn claim(&self, session: &str, first: Result<js_sys::Promise, JsValue>) -> bool {
        let mut sent = first;
        let mut attempt = 0;
        loop {
            let reply = js::reply(sent).await.ok();
            if let Some(body) = reply.as_ref().and_then(Reply::ok_body)
                && let Some(token) = js::get_str(body, "token")
                && let Some(access) = js::parse_access(body)
            {
                self.keep_access(Some(token), body, access);
                self.drop_session_param();
                return true;
            }
            let pending = reply.as_ref().is_some_and(|r| {
                r.status == 409 && r.error_code().as_deref() == Some("claim_pending")
            });
            match CLAIM_RETRY_DELAYS_MS.get(attempt) {
                Some(delay) if pending => {
                    js::sleep(*delay).await;
                    attempt += 1;
                    sent = self.claim_request(session);
                }
                _ => {
                    self.fail("claim", reply.as_ref());
                    return false;
                }
            }
        }
    }

    /// Removes `latch_session` from the address bar without a navigation.
    fn drop_session_param(&self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let Ok(href) = window.location().href() else {
            return;
        };
        let clean = strip_param(&href, SESSION_PARAM);
        if clean != href
            && let Ok(history) = window.history()
        {
            let _ = history.replace_state_with_url(
                &history.state().unwrap_or(JsValue::NULL),
                "",
                Some(&clean),
            );
        }
    }

    /// Starts up on a page at `url`: renders from cache at once when access is known, then loads the catalog
    /// and either claims a returning Checkout Session or refreshes the member's access, and dispatches
    /// `latch:ready`.
    pub async fn boot(&self, url: &str) {
        self.root_class("latch-loading", true);
        let known = self.load_cache();
        let session = session_to_claim(url).map(String::from);
        if known && session.is_none() {
            self.render();
        }
        let catalog = self.catalog_request();
        match &session {
            Some(session) => {
                let claim = self.claim_request(session);
                self.finish_catalog(catalog).await;
                self.render();
                let claimed = self.claim(session, claim).await;
                if claimed {
                    self.root_class("latch-success", true);
                    let this = self.clone();
                    spawn_local(async move {
                        js::sleep(4000).await;
                        this.root_class("latch-success", false);
                    });
                } else if let Some(access) = self.access_request() {
                    self.finish_access(access).await;
                }
            }
            None => {
                let access = self.access_request();
                self.finish_catalog(catalog).await;
                self.render();
                if let Some(access) = access {
                    self.finish_access(access).await;
                }
            }
        }
        self.render();
        self.root_class("latch-loading", false);
        let first = !std::mem::replace(&mut self.0.state.borrow_mut().ready_sent, true);
        if first {
            js::dispatch(&self.0.doc, "latch:ready", &self.member(), false);
        }
    }

    /// Reloads the catalog and the member's access from the edge.
    pub async fn refresh(&self) {
        let catalog = self.catalog_request();
        let access = self.access_request();
        self.finish_catalog(catalog).await;
        if let Some(access) = access {
            self.finish_access(access).await;
        }
        self.render();
    }

    /// Handles a click anywhere in the document.
    fn on_click(&self, event: &Event) {
        let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        let closest = |sel: &str| target.closest(sel).ok().flatten();
        if let Some(el) = closest("[data-latch-buy]") {
            event.prevent_default();
            let key = el.get_attribute("data-latch-buy").unwrap_or_default();
            let this = self.clone();
            spawn_local(
                async move { this.checkout(&el, Purchase::Price(key.trim().into())).await },
            );
        } else if let Some(el) = closest("[data-latch-portal]") {
            event.prevent_default();
            let this = self.clone();
            spawn_local(async move { this.portal(&el).await });
        } else if closest("[data-latch-signout]").is_some() {
            event.prevent_default();
            self.sign_out();
        } else if let Some(card) = closest("[data-latch-locked].latch-locked") {
            // Links and fields in the site's teaser keep their own behaviour; the rest of the card is the CTA.
            let on_cta = closest(".latch-overlay").is_some();
            if !on_cta && closest("a[href],button,input,select,textarea,label,summary").is_some() {
                return;
            }
            event.prevent_default();
            let slug = card.get_attribute("data-latch-locked").unwrap_or_default();
            let this = self.clone();
            spawn_local(async move {
                this.checkout(&card, Purchase::Product(slug.trim().into()))
                    .await
            });
        }
    }

    /// Shows or clears the busy state of a buy button or a locked card's CTA.
    fn busy(el: &Element, on: bool) {
        toggle_class(el, "latch-loading", on);
        let button = if el.has_attribute("data-latch-locked") {
            el.query_selector(&concat(&[".", CTA_CLASS])).ok().flatten()
        } else {
            Some(el.clone())
        };
        if let Some(button) = button {
            let _ = if on {
                button.set_attribute("aria-busy", "true")
            } else {
                button.remove_attribute("aria-busy")
            };
            if button.tag_name() == "BUTTON" {
                let _ = if on {
                    button.set_attribute("disabled", "")
                } else {
                    button.remove_attribute("disabled")
                };
            }
        }
    }

    /// Follows `url` unless a `name` listener cancels the event (detail: `{url, ...}`); clears `el`'s busy state
    /// after a while so the page is usable again when the visitor comes back with the Back button.
    fn go(&self, el: &Element, name: &str, detail: &Object, url: &str) {
        js::set(detail, "url", &JsValue::from_str(url));
        let proceed = js::dispatch(&self.0.doc, name, detail, true);
        if proceed && let Some(window) = web_sys::window() {
            let _ = window.location().assign(url);
            let el = el.clone();
            spawn_local(async move {
                js::sleep(3000).await;
                Self::busy(&el, false);
            });
        } else {
            Self::busy(el, false);
        }
    }

    /// The page's address without `latch_session`, for Stripe to send the visitor back to.
    fn return_url() -> String {
        let href = web_sys::window()
            .and_then(|w| w.location().href().ok())
            .unwrap_or_default();
        strip_param(&href, SESSION_PARAM)
    }

    /// Opens Stripe Checkout for a price or product: `POST /v1/checkout`, `latch:checkout`, redirect.
    async fn checkout(&self, el: &Element, purchase: Purchase) {
        if el.class_list().contains("latch-loading") {
            return;
        }
        Self::busy(el, true);
        toggle_class(el, "latch-error", false);
        let body = js::object(&[("site", &self.0.site), ("return_url", &Self::return_url())]);
        let detail = Object::new();
        let (key, value) = match &purchase {
            Purchase::Price(p) => ("price", p),
            Purchase::Product(p) => ("product", p),
        };
        js::set(&body, key, &JsValue::from_str(value));
        js::set(&detail, key, &JsValue::from_str(value));
        if let Some(email) = self.0.state.borrow().access.email.as_deref() {
            js::set(&body, "email", &JsValue::from_str(email));
        }
        let reply = js::request("POST", &self.url("/v1/checkout"), Some(&body.into()), None)
            .await
            .ok();
        match reply
            .as_ref()
            .and_then(Reply::ok_body)
            .and_then(|b| js::get_str(b, "url"))
        {
            Some(url) => self.go(el, "latch:checkout", &detail, &url),
            None => {
                Self::busy(el, false);
                toggle_class(el, "latch-error", true);
                self.fail("checkout", reply.as_ref());
                // Fallback: a buy link's own href, or an explicit data-latch-fallback URL.
                let fallback = el
                    .get_attribute("data-latch-fallback")
                    .or_else(|| el.get_attribute("href"))
                    .filter(|h| !h.is_empty() && !h.starts_with('#'));
                if let (Some(url), Some(window)) = (fallback, web_sys::window()) {
                    let _ = window.location().assign(&url);
                }
            }
        }
    }

    /// Opens the Stripe Customer Portal: `POST /v1/portal` with the member token, `latch:portal`, redirect.
    async fn portal(&self, el: &Element) {
        let Some(token) = self.0.state.borrow().token.clone() else {
            js::warn("portal: not signed in");
            return;
        };
        if el.class_list().contains("latch-loading") {
            return;
        }
        Self::busy(el, true);
        let body = js::object(&[("site", &self.0.site), ("return_url", &Self::return_url())]);
        let reply = js::request(
            "POST",
            &self.url("/v1/portal"),
            Some(&body.into()),
            Some(&token),
        )
        .await
        .ok();
        match reply
            .as_ref()
            .and_then(Reply::ok_body)
            .and_then(|b| js::get_str(b, "url"))
        {
            Some(url) => self.go(el, "latch:portal", &Object::new(), &url),
            None => {
                Self::busy(el, false);
                if reply.as_ref().is_some_and(|r| r.status == 401) {
                    self.sign_out();
                }
                self.fail("portal", reply.as_ref());
            }
        }
    }
}
