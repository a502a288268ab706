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
    ACCESS_CACHE_FRESH_MS, Access, CLAIM_RETRY_DELAYS_MS, Catalog, SESSION_PARAM, concat, parse_quantity,
    session_to_claim, strip_param, success_message,
};
use crate::render::{WIRED_SELECTOR, all, page_lang, render, toggle_class};

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
    /// The host site's signed identity (`data-identity="v1.<payload>.<sig>"`) to exchange for a member token.
    identity: RefCell<Option<String>>,
    state: RefCell<State>,
    listeners: RefCell<Option<Listeners>>,
}

/// One Latch widget bound to a document, a site and an edge.
#[derive(Clone)]
pub struct Widget(Rc<Inner>);

impl Widget {
    /// A widget for `site` talking to the edge at `edge` (base URL, trailing `/` ignored). Does nothing until
    /// [`attach`](Self::attach) and [`boot`](Self::boot).
    pub fn new(doc: Document, site: &str, edge: &str) -> Self {
        Self(Rc::new(Inner {
            site: site.into(),
            edge: {
                let mut edge = String::from(edge);
                while edge.ends_with('/') {
                    edge.pop();
                }
                edge
            },
            doc,
            identity: RefCell::default(),
            state: RefCell::default(),
            listeners: RefCell::default(),
        }))
    }

    /// Sets the host site's signed identity (the script tag's `data-identity`), which [`boot`](Self::boot)
    /// exchanges for a member token at `POST /v1/identify` instead of asking for the cached token's access. latch.js
    /// passes it only when the cached token is not the identity's member (by the payload's email).
    pub fn set_identity(&self, identity: Option<String>) {
        *self.0.identity.borrow_mut() = identity.filter(|i| !i.is_empty());
    }

    fn key(&self, what: &str) -> String {
        concat(&["latch:", &self.0.site, ":", what])
    }

    /// The document this widget is bound to.
    pub fn doc(&self) -> &Document {
        &self.0.doc
    }

    /// The site's public key.
    pub fn site(&self) -> &str {
        &self.0.site
    }

    /// The edge URL of `path`.
    pub fn url(&self, path: &str) -> String {
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
                Self(inner).on_event(&event);
            }
        });
        for name in ["click", "submit"] {
            let _ = self.0.doc.add_event_listener_with_callback(name, click.as_ref().unchecked_ref());
        }
        if let Some(window) = web_sys::window() {
            let _ = window.add_event_listener_with_callback("pageshow", click.as_ref().unchecked_ref());
        }

        let weak: Weak<Inner> = Rc::downgrade(&self.0);
        let mutations =
            Closure::<dyn FnMut(Array, MutationObserver)>::new(move |records: Array, _: MutationObserver| {
                let Some(inner) = weak.upgrade() else { return };
                let relevant = records.iter().any(|record| {
                    let record: MutationRecord = record.unchecked_into();
                    if record.type_() == "attributes" {
                        return true;
                    }
                    let added = record.added_nodes();
                    (0..added.length()).filter_map(|i| added.item(i)).filter_map(|n| n.dyn_into::<Element>().ok()).any(
                        |el| {
                            el.matches(WIRED_SELECTOR).unwrap_or(false)
                                || el.query_selector(WIRED_SELECTOR).ok().flatten().is_some()
                        },
                    )
                });
                if relevant {
                    Self(inner).render();
                }
            });
        let Ok(observer) = MutationObserver::new(mutations.as_ref().unchecked_ref()) else {
            return;
        };
        let options = MutationObserverInit::new();
        options.set_child_list(true);
        options.set_subtree(true);
        let filter: Array = ["data-latch-buy", "data-latch-locked", "data-latch-content", "data-latch-member"]
            .iter()
            .map(|s| JsValue::from_str(s))
            .collect();
        options.set_attribute_filter(&filter);
        if let Some(root) = self.0.doc.document_element() {
            let _ = observer.observe_with_options(&root, &options);
        }
        *self.0.listeners.borrow_mut() = Some(Listeners { click, observer, _mutations: mutations });
    }

    /// Detaches from the page (removes the click listener, disconnects the observer).
    pub fn stop(&self) {
        if let Some(l) = self.0.listeners.borrow_mut().take() {
            for name in ["click", "submit"] {
                let _ = self.0.doc.remove_event_listener_with_callback(name, l.click.as_ref().unchecked_ref());
            }
            if let Some(window) = web_sys::window() {
                let _ = window.remove_event_listener_with_callback("pageshow", l.click.as_ref().unchecked_ref());
            }
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
            js::dispatch(&self.0.doc, "latch:access", &js::string_array(&slugs), false);
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
        let email = state.access.email.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        js::set(&obj, "email", &email);
        js::set(&obj, "access", &js::string_array(&state.access.slugs(js::now_ms())));
        obj.into()
    }

    /// The member token, when signed in.
    pub fn token(&self) -> Option<String> {
        self.0.state.borrow().token.clone()
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

    /// Keeps the token and access of a sign-in answer (`{token, member, access}`) and re-renders; false when the
    /// answer is not one.
    pub fn signed_in(&self, body: &JsValue) -> bool {
        let (Some(token), Some(access)) = (js::get_str(body, "token"), js::parse_access(body)) else {
            return false;
        };
        self.keep_access(Some(token), body, access);
        self.render();
        true
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
        js::dispatch(&self.0.doc, "latch:error", &JsValue::from_str(&message), false);
    }

    /// Reads the cached catalog, token and access. Returns whether catalog and access are both known without the
    /// network. Without a cached catalog the page waits for the edge (the loader keeps the overlay's space), so a
    /// locked card never shows a CTA without its price that then changes: no layout shift.
    fn load_cache(&self) -> bool {
        let mut state = self.0.state.borrow_mut();
        let catalog = js::load_json(&self.key("catalog")).and_then(|v| js::parse_catalog(&v));
        let has_catalog = catalog.is_some();
        if let Some(catalog) = catalog {
            state.catalog = catalog;
        }
        state.token = js::load(&self.key("token")).filter(|t| !t.is_empty());
        if state.token.is_none() {
            return has_catalog;
        }
        // Signed in, access not known yet.
        state.access.signed_in = true;
        let Some(cached) = js::load_json(&self.key("access")) else {
            return false;
        };
        let Some(access) = js::parse_access(&cached) else {
            return false;
        };
        let age = js::now_ms() - js::get(&cached, "t").as_f64().unwrap_or(0.0);
        state.access = access;
        has_catalog && (0.0..ACCESS_CACHE_FRESH_MS).contains(&age)
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
        js::send("GET", &self.url(&concat(&["/v1/sites/", &site, "/catalog"])), None, None)
    }

    fn access_request(&self) -> Option<Result<js_sys::Promise, JsValue>> {
        let token = self.0.state.borrow().token.clone()?;
        Some(js::send("GET", &self.url("/v1/access"), None, Some(&token)))
    }

    fn identify_request(&self, identity: &str) -> Result<js_sys::Promise, JsValue> {
        let body = js::object(&[("site", &self.0.site), ("identity", identity)]);
        js::send("POST", &self.url("/v1/identify"), Some(&body.into()), None)
    }

    /// Applies an identify answer (the claim's shape); any failure leaves the visitor signed out (401
    /// `invalid_identity`: a console message; anything else also marks the page `latch-error`).
    async fn finish_identify(&self, sent: Result<js_sys::Promise, JsValue>) {
        let reply = js::reply(sent).await.ok();
        if reply.as_ref().and_then(Reply::ok_body).is_some_and(|body| self.signed_in(body)) {
            return;
        }
        self.sign_out();
        if reply.as_ref().is_some_and(|r| r.status == 401) {
            js::warn("identify: the site's data-identity was refused; signed out");
        } else {
            self.fail("identify", reply.as_ref());
        }
    }

    /// `POST /v1/claim` with the claim secret `POST /v1/checkout` answered to this browser for `session` (the
    /// stored `"{id} {secret}"`); without it the edge answers as if the session did not exist.
    fn claim_request(&self, session: &str) -> Result<js_sys::Promise, JsValue> {
        let stored = js::load(&self.key("claim")).unwrap_or_default();
        let secret = stored.strip_prefix(session).and_then(|rest| rest.strip_prefix(' ')).unwrap_or_default();
        let body = js::object(&[("site", &self.0.site), ("checkout_session_id", session), ("claim", secret)]);
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
                js::remove(&self.key("claim"));
                self.drop_session_param();
                return true;
            }
            let pending =
                reply.as_ref().is_some_and(|r| r.status == 409 && r.error_code().as_deref() == Some("claim_pending"));
            match CLAIM_RETRY_DELAYS_MS.get(attempt) {
                Some(delay) if pending => {
                    js::sleep(*delay).await;
                    attempt += 1;
                    sent = self.claim_request(session);
                }
                _ => {
                    self.fail("claim", reply.as_ref());
                    // Paid in another browser, or too long ago: signing in by email gets the purchase.
                    if reply.as_ref().is_some_and(|r| matches!(r.status, 403 | 404 | 410)) {
                        self.drop_session_param();
                        crate::signin::open(self);
                    }
                    return false;
                }
            }
        }
    }

    /// Shows (and announces to screen readers) a short success message after a claim: a `role="status"`
    /// `.latch-toast` at the end of `<body>`, which the stylesheet fades out.
    fn announce(&self) {
        let message = {
            let state = self.0.state.borrow();
            let mut names: Vec<&str> = Vec::new();
            for slug in state.access.slugs(js::now_ms()) {
                if let Some(product) = state.catalog.product(&slug) {
                    names.push(&product.name);
                }
            }
            success_message(&names, page_lang(&self.0.doc))
        };
        let doc = &self.0.doc;
        let (Some(body), Ok(toast)) = (doc.body(), doc.create_element("div")) else {
            return;
        };
        toast.set_class_name("latch-toast");
        let _ = toast.set_attribute("role", "status");
        toast.set_text_content(Some(&message));
        let _ = body.append_child(&toast);
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
            let _ = history.replace_state_with_url(&history.state().unwrap_or(JsValue::NULL), "", Some(&clean));
        }
    }

    /// Starts up on a page at `url`: renders from cache at once when access is known, then loads the catalog
    /// and either claims a returning Checkout Session or refreshes the member's access, and dispatches
    /// `latch:ready`. After a successful claim `<html>` carries `latch-success`.
    pub async fn boot(&self, url: &str) {
        self.root_class("latch-loading", true);
        let known = self.load_cache();
        let session = session_to_claim(url);
        let identity = self.0.identity.borrow().clone();
        if identity.is_some() {
            // latch.js passes an identity only when the cached token is not its member's: that token and its access
            // serve nothing and show nothing while the identity is exchanged.
            let mut state = self.0.state.borrow_mut();
            state.token = None;
            state.access = Access::default();
        }
        let early = known && session.is_none() && identity.is_none();
        if early {
            self.render();
            js::mark("latch:resolved");
        }
        // Both requests go out at once.
        let catalog = self.catalog_request();
        let second = match (session, &identity) {
            (Some(session), _) => Some(self.claim_request(session)),
            (None, Some(identity)) => Some(self.identify_request(identity)),
            (None, None) => self.access_request(),
        };
        self.finish_catalog(catalog).await;
        if identity.is_none() {
            self.render();
        }
        match (session, second) {
            (Some(session), Some(claim)) => {
                if self.claim(session, claim).await {
                    self.root_class("latch-success", true);
                    self.announce();
                } else if let Some(access) = self.access_request() {
                    self.finish_access(access).await;
                }
            }
            (None, Some(sent)) if identity.is_some() => self.finish_identify(sent).await,
            (None, Some(access)) => self.finish_access(access).await,
            _ => {}
        }
        self.render();
        if !early {
            js::mark("latch:resolved");
        }
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

    /// Handles a click anywhere in the document, the sign-in dialog's `submit`, and `pageshow` (coming back with the
    /// Back button).
    fn on_event(&self, event: &Event) {
        if event.type_() == "pageshow" {
            // A page restored from the back/forward cache may still show a button as busy.
            for el in all(
                &self.0.doc,
                ".latch-loading[data-latch-buy],.latch-loading[data-latch-locked],.latch-loading[data-latch-portal]",
            ) {
                Self::busy(&el, false);
            }
            return;
        }
        let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
            return;
        };
        if crate::signin::on_event(self, event, &target) {
            event.prevent_default();
            return;
        }
        let closest = |sel: &str| target.closest(sel).ok().flatten();
        let (el, key, value, path) = if let Some(el) = closest("[data-latch-buy]") {
            let price = el.get_attribute("data-latch-buy").unwrap_or_default();
            (el, "price", price, "/v1/checkout")
        } else if let Some(el) = closest("[data-latch-portal]") {
            (el, "", String::new(), "/v1/portal")
        } else if closest("[data-latch-signout]").is_some() {
            event.prevent_default();
            self.sign_out();
            return;
        } else if let Some(card) = closest("[data-latch-locked].latch-locked") {
            // Links and fields in the site's teaser keep their own behaviour; the rest of the card is the CTA.
            if closest(".latch-overlay").is_none()
                && closest("a[href],button,input,select,textarea,label,summary").is_some()
            {
                return;
            }
            let slug = card.get_attribute("data-latch-locked").unwrap_or_default();
            (card, "product", slug, "/v1/checkout")
        } else {
            return;
        };
        event.prevent_default();
        let this = self.clone();
        spawn_local(async move { this.redirect(&el, key, value.trim_ascii(), path).await });
    }

    /// Shows or clears the busy state of a buy button, a portal link or a locked card's CTA.
    fn busy(el: &Element, on: bool) {
        toggle_class(el, "latch-loading", on);
        let button = if el.has_attribute("data-latch-locked") {
            el.query_selector(".latch-cta").ok().flatten()
        } else {
            Some(el.clone())
        };
        if let Some(button) = button {
            for attr in ["aria-busy", "disabled"] {
                if attr == "disabled" && button.tag_name() != "BUTTON" {
                    continue;
                }
                let _ = if on {
                    button.set_attribute(attr, if attr == "disabled" { "" } else { "true" })
                } else {
                    button.remove_attribute(attr)
                };
            }
        }
    }

    /// Opens Stripe: `POST /v1/checkout {site, price | product, return_url}` (or `POST /v1/portal` with the member
    /// token), then dispatches the cancelable `latch:checkout` / `latch:portal` with `{url, price | product}`
    /// and follows the URL unless a listener cancelled it. On failure the element gets `latch-error` and a buy
    /// link falls back to its own `href` (or `data-latch-fallback`).
    async fn redirect(&self, el: &Element, key: &str, value: &str, path: &str) {
        if el.class_list().contains("latch-loading") {
            return;
        }
        let portal = key.is_empty();
        let fallback = || {
            el.get_attribute("data-latch-fallback")
                .or_else(|| el.get_attribute("href"))
                .filter(|h| !portal && !h.is_empty() && !h.starts_with("#"))
        };
        // The catalog's `checkout: false`: go to the product's purchase URL (or the element's own fallback);
        // with neither the CTA is disabled and a click does nothing.
        let off = if portal {
            None
        } else {
            let state = self.0.state.borrow();
            let product =
                if key == "price" { state.catalog.product_for_price(value) } else { state.catalog.product(value) };
            product.filter(|p| p.checkout_off).map(|p| p.purchase_url.clone())
        };
        if let Some(url) = off {
            if let (Some(url), Some(window)) = (url.or_else(fallback), web_sys::window()) {
                let _ = window.location().assign(&url);
            }
            return;
        }
        let token = self.token();
        if portal && token.is_none() {
            js::warn("portal: not signed in");
            return;
        }
        Self::busy(el, true);
        toggle_class(el, "latch-error", false);
        let href = web_sys::window().and_then(|w| w.location().href().ok()).unwrap_or_default();
        let body = js::object(&[("site", &self.0.site), ("return_url", &strip_param(&href, SESSION_PARAM))]);
        let detail = Object::new();
        if !portal {
            js::set(&body, key, &JsValue::from_str(value));
            js::set(&detail, key, &JsValue::from_str(value));
            // Optional extras on buy elements: a quantity, and `mode="setup"` (save a card).
            if let Some(q) = el.get_attribute("data-latch-quantity").and_then(|q| parse_quantity(&q)) {
                js::set(&body, "quantity", &JsValue::from(q));
            }
            if let Some(mode) = el.get_attribute("data-latch-mode") {
                js::set(&body, "mode", &JsValue::from_str(mode.trim_ascii()));
            }
        }
        // The member token goes along to checkout too: a signed-in member buys as themselves (their customer),
        // and saving a card needs it. A token the edge refuses signs the visitor out, and a purchase is tried
        // again signed out.
        let body: JsValue = body.into();
        let url = self.url(path);
        let mut reply = js::request("POST", &url, Some(&body), token.as_deref()).await.ok();
        if reply.as_ref().is_some_and(|r| r.status == 401 && r.error_code().as_deref() == Some("invalid_token")) {
            self.sign_out();
            if !portal {
                reply = js::request("POST", &url, Some(&body), None).await.ok();
            }
        }
        if let Some(ok) = reply.as_ref().and_then(Reply::ok_body)
            && let (Some(id), Some(claim)) = (js::get_str(ok, "id"), js::get_str(ok, "claim"))
        {
            js::store(&self.key("claim"), &concat(&[&id, " ", &claim]));
        }
        let url = reply.as_ref().and_then(Reply::ok_body).and_then(|b| js::get_str(b, "url"));
        let Some(url) = url else {
            Self::busy(el, false);
            toggle_class(el, "latch-error", true);
            self.fail(if portal { "portal" } else { "checkout" }, reply.as_ref());
            if let (Some(url), Some(window)) = (fallback(), web_sys::window()) {
                let _ = window.location().assign(&url);
            }
            return;
        };
        js::set(&detail, "url", &JsValue::from_str(&url));
        let event = if portal { "latch:portal" } else { "latch:checkout" };
        if js::dispatch(&self.0.doc, event, &detail, true)
            && let Some(window) = web_sys::window()
        {
            // Stays busy while the browser leaves; `pageshow` clears it if the visitor comes back.
            let _ = window.location().assign(&url);
        } else {
            Self::busy(el, false);
        }
    }
}
