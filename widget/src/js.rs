//! The browser seam: JSON (via the browser's own `JSON` and `Reflect`, no serde), `fetch`, `localStorage`,
//! DOM events and console messages.
//!
//! Every function here tolerates whatever the network sends: a malformed answer becomes an error value, never a
//! panic.

use js_sys::{Array, JSON, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CustomEvent, CustomEventInit, Document, RequestInit, Response, Storage};

use latch_core::api::{self, field};
use latch_core::money;

use crate::model::{Access, Catalog, Grant, Lang, Price, Product};

/// Property `key` of `value` (`undefined` when absent or when `value` is not an object).
pub fn get(value: &JsValue, key: &str) -> JsValue {
    if !value.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Property `key` of `value` as a string, if it is one.
pub fn get_str(value: &JsValue, key: &str) -> Option<String> {
    get(value, key).as_string()
}

/// Sets `obj[key] = value` (ignores failures: `obj` is always a fresh plain object here).
pub fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// A plain object from string pairs.
pub fn object(pairs: &[(&str, &str)]) -> Object {
    let obj = Object::new();
    for (k, v) in pairs {
        set(&obj, k, &JsValue::from_str(v));
    }
    obj
}

/// `performance.mark(name)`: lets a page (and `cargo xtask bench`) time the widget.
pub fn mark(name: &str) {
    let perf = Reflect::get(&js_sys::global(), &JsValue::from_str("performance")).unwrap_or(JsValue::UNDEFINED);
    if let Ok(mark) = Reflect::get(&perf, &JsValue::from_str("mark")).map(JsCast::unchecked_into::<js_sys::Function>)
        && mark.is_function()
    {
        let _ = mark.call1(&perf, &JsValue::from_str(name));
    }
}

/// `value` as an array, if it is one.
fn array(value: &JsValue) -> Option<Array> {
    Array::is_array(value).then(|| value.clone().unchecked_into())
}

/// Parses one catalog price; `None` when its id is missing.
fn parse_price(value: &JsValue) -> Option<Price> {
    Some(Price {
        id: get_str(value, field::ID)?,
        lookup_key: get_str(value, field::LOOKUP_KEY),
        unit_amount: get(value, field::UNIT_AMOUNT).as_f64().unwrap_or(0.0) as i64,
        currency: get_str(value, field::CURRENCY).unwrap_or_default(),
        interval: get_str(value, field::INTERVAL),
        trial_days: get(value, field::TRIAL_DAYS).as_f64().unwrap_or(0.0).max(0.0) as u32,
    })
}

/// Parses `{products: [{slug, name, checkout, purchase_url, locked_card, prices: [...]}]}`; `None` when `products` is not an array.
pub fn parse_catalog(value: &JsValue) -> Option<Catalog> {
    let mut products = Vec::new();
    for p in array(&get(value, field::PRODUCTS))?.iter() {
        let Some(slug) = get_str(&p, field::SLUG) else {
            continue;
        };
        let mut prices = Vec::new();
        if let Some(list) = array(&get(&p, field::PRICES)) {
            for price in list.iter() {
                prices.extend(parse_price(&price));
            }
        }
        products.push(Product {
            slug,
            name: get_str(&p, field::NAME).unwrap_or_default(),
            prices,
            checkout_off: get(&p, field::CHECKOUT).as_bool() == Some(false),
            purchase_url: get_str(&p, field::PURCHASE_URL).filter(|u| api::is_purchase_url(u)),
            locked_card_off: get(&p, field::LOCKED_CARD).as_bool() == Some(false),
        });
    }
    Some(Catalog { products })
}

/// Parses `{member: {email}, access: [{product, ends_at}]}` (the claim and access answers); `None` when
/// `access` is not an array. The result is marked signed in.
pub fn parse_access(value: &JsValue) -> Option<Access> {
    let mut grants = Vec::new();
    for g in array(&get(value, field::ACCESS))?.iter() {
        if let Some(product) = get_str(&g, field::PRODUCT) {
            // Unix seconds (`latch_core::api`); null or absent: no end.
            let ends_at_ms = get(&g, field::ENDS_AT).as_f64().map(api::ends_at_ms);
            grants.push(Grant { product, ends_at_ms });
        }
    }
    Some(Access { signed_in: true, email: get_str(&get(value, field::MEMBER), field::EMAIL), grants })
}

/// `Intl.NumberFormat(lang, {style: "currency", currency}).format(...)` of an amount in the currency's minor unit
/// (`(900, "usd")` -> `$9.00`; `9,00 $` in German). A currency code that is not three letters (Intl would throw)
/// shows the bare number.
pub fn format_money(amount: i64, currency: &str, lang: Lang) -> String {
    let major = amount as f64 / 10f64.powi(money::minor_digits(&currency.to_ascii_lowercase()) as i32);
    if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_alphabetic()) {
        return js_sys::Number::from(major).to_string_with_radix(10).map(String::from).unwrap_or_default();
    }
    let options = object(&[("style", "currency"), ("currency", currency)]);
    let locales = Array::of1(&JsValue::from_str(lang.locale()));
    let format = js_sys::Intl::NumberFormat::new(&locales, &options).format();
    format.call1(&JsValue::NULL, &JsValue::from_f64(major)).ok().and_then(|v| v.as_string()).unwrap_or_default()
}

/// The `error.code` of an edge error body `{"error": {"code", "message"}}`.
pub fn error_code(body: &JsValue) -> Option<String> {
    get_str(&get(body, "error"), "code")
}

/// An edge answer: HTTP status and the parsed JSON body (`None` when the body is not JSON).
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Parsed body; `None` if it was empty or not JSON.
    pub body: Option<JsValue>,
}

impl Reply {
    /// 2xx with a JSON body.
    pub fn ok_body(&self) -> Option<&JsValue> {
        if (200..300).contains(&self.status) { self.body.as_ref() } else { None }
    }

    /// The error code of a non-2xx answer, when the body says.
    pub fn error_code(&self) -> Option<String> {
        self.body.as_ref().and_then(error_code)
    }
}

/// Starts a JSON request now (so several can run at once); pair with [`reply`]. `Err` when fetch threw.
pub fn send(method: &str, url: &str, body: Option<&JsValue>, token: Option<&str>) -> Result<js_sys::Promise, JsValue> {
    let window = web_sys::window().ok_or(JsValue::NULL)?;
    let init = RequestInit::new();
    init.set_method(method);
    let headers = Object::new();
    set(&headers, "Accept", &JsValue::from_str("application/json"));
    if let Some(body) = body {
        set(&headers, "Content-Type", &JsValue::from_str("application/json"));
        init.set_body(&JSON::stringify(body)?.into());
    }
    if let Some(token) = token {
        let mut auth = String::from("Bearer ");
        auth.push_str(token);
        set(&headers, "Authorization", &JsValue::from_str(&auth));
    }
    init.set_headers(&headers);
    Ok(window.fetch_with_str_and_init(url, &init))
}

/// Waits for a request started by [`send`]. `Err` only when no answer came back (network down, CORS, blocked).
pub async fn reply(sent: Result<js_sys::Promise, JsValue>) -> Result<Reply, JsValue> {
    let response: Response = JsFuture::from(sent?).await?.unchecked_into();
    // `json()` rejects on an empty or malformed body: that is "no body", not a failure of the request.
    let body = match response.json() {
        Ok(promise) => JsFuture::from(promise).await.ok(),
        Err(_) => None,
    };
    Ok(Reply { status: response.status(), body })
}

/// Sends a JSON request and waits for the answer (see [`send`] and [`reply`]).
pub async fn request(method: &str, url: &str, body: Option<&JsValue>, token: Option<&str>) -> Result<Reply, JsValue> {
    reply(send(method, url, body, token)).await
}

/// `localStorage`, when the page may use it (not in some privacy modes or sandboxed frames).
pub fn storage() -> Option<Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Reads a stored string.
pub fn load(key: &str) -> Option<String> {
    storage()?.get_item(key).ok().flatten()
}

/// Reads stored JSON.
pub fn load_json(key: &str) -> Option<JsValue> {
    JSON::parse(&load(key)?).ok()
}

/// Stores a string (ignores quota and privacy-mode failures).
pub fn store(key: &str, value: &str) {
    if let Some(s) = storage() {
        let _ = s.set_item(key, value);
    }
}

/// Stores `value` as JSON.
pub fn store_json(key: &str, value: &JsValue) {
    if let Some(text) = JSON::stringify(value).ok().and_then(|t| t.as_string()) {
        store(key, &text);
    }
}

/// Removes a stored value.
pub fn remove(key: &str) {
    if let Some(s) = storage() {
        let _ = s.remove_item(key);
    }
}

/// Dispatches `name` on `doc` with `detail`; returns false when a listener called `preventDefault()`.
pub fn dispatch(doc: &Document, name: &str, detail: &JsValue, cancelable: bool) -> bool {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    init.set_cancelable(cancelable);
    init.set_bubbles(true);
    match CustomEvent::new_with_event_init_dict(name, &init) {
        Ok(event) => doc.dispatch_event(&event).unwrap_or(true),
        Err(_) => true,
    }
}

/// A string array.
pub fn string_array(items: &[String]) -> Array {
    items.iter().map(|s| JsValue::from_str(s)).collect()
}

/// Logs `Latch: {message}` as a warning.
pub fn warn(message: &str) {
    let mut text = String::from("Latch: ");
    text.push_str(message);
    web_sys::console::warn_1(&JsValue::from_str(&text));
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A promise that resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}
