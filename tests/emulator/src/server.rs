//! HTTP server: the Stripe API under `/v1` (auth, `Stripe-Account`, idempotency, form decoding),
//! the hosted Checkout and Portal pages, and the `/_emulator` control API.

use crate::error::ApiError;
use crate::params::Params;
use crate::store::{Kind, RequestInfo, Store};
use crate::{Config, checkout, form, pages, routes};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Shared server state.
#[derive(Debug)]
pub struct AppState {
    /// All Stripe data.
    pub store: Mutex<Store>,
    /// Configuration from the command line.
    pub config: Config,
    /// Injected outages for the next API calls (`/_emulator/faults`), consumed in order.
    pub faults: Mutex<Vec<Fault>>,
}

/// One injected outage: the next `count` API calls whose path starts with `path` wait `delay_ms`, then answer
/// `status` (429 or 5xx) or, with `status` 0, go on normally after the delay (a slow Stripe).
#[derive(Debug, Clone)]
pub struct Fault {
    /// Path prefix, e.g. `/v1/checkout/sessions`.
    pub path: String,
    /// 429, 5xx, or 0 for a delay only.
    pub status: u16,
    /// Milliseconds to wait before answering.
    pub delay_ms: u64,
    /// Calls left.
    pub count: u32,
}

impl AppState {
    /// Locks the store (recovering from a poisoned lock: state stays usable after a bug).
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Shared = Arc<AppState>;

/// The router for all endpoints.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/v1/{*rest}", any(api))
        .route("/checkout/pay/{id}", get(checkout_page).post(checkout_submit))
        .route("/portal/{id}", get(portal_page))
        .route("/portal/{id}/subscriptions/{sub}/{action}", post(portal_action))
        .route("/oauth/authorize", get(oauth_page).post(oauth_decide))
        .route("/oauth/token", post(oauth_token))
        .route("/oauth/deauthorize", post(oauth_deauthorize))
        .route("/_emulator/accounts", post(control_connect_account))
        .route("/_emulator/chaos", get(chaos_settings).post(set_chaos))
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(clock_advance))
        .route("/_emulator/customers/{id}/fail_payments", post(fail_payments))
        .route("/_emulator/deliveries", get(deliveries))
        .route("/_emulator/faults", post(add_fault))
        .route("/_emulator/deliveries/wait", post(deliveries_wait))
        .route("/_emulator/events/{id}/redeliver", post(redeliver))
        .route("/_emulator/checkout/sessions/{id}/pay", post(control_pay))
        .route("/_emulator/charges/{id}/dispute", post(control_dispute))
        .route("/_emulator/prices/{id}/delete", post(control_delete_price))
        .route("/_emulator/disputes/{id}/resolve", post(control_resolve_dispute))
        .fallback(not_found)
        .with_state(state)
}

/// Runs due billing every second so a long-running emulator follows real time too.
pub async fn ticker(state: Shared) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    loop {
        interval.tick().await;
        let mut store = state.lock();
        let now = store.now();
        store.run_billing(now);
    }
}

fn json_response(status: u16, body: &Value, request_id: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(r) = request_id.and_then(|r| HeaderValue::from_str(r).ok()) {
        h.insert("request-id", r);
    }
    resp
}

fn error_response(e: &ApiError, request_id: Option<&str>) -> Response {
    let mut resp = json_response(e.status, &e.body(request_id), request_id);
    if e.status == 401 {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Stripe\""));
    }
    resp
}

async fn not_found(method: Method, uri: Uri) -> Response {
    error_response(&ApiError::unrecognized(method.as_str(), uri.path()), None)
}

async fn index(State(state): State<Shared>) -> Html<String> {
    let store = state.lock();
    Html(pages::message(
        "Stripe emulator",
        &format!("A local Stripe emulator. API at {}/v1, emulated time {}.", store.base_url, store.now()),
    ))
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.trim().bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The API key of a request (Bearer, or Basic with the key as user name).
fn api_key(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    if let Some(k) = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")) {
        return Some(k.trim().to_string());
    }
    let b = auth.strip_prefix("Basic ").or_else(|| auth.strip_prefix("basic "))?;
    let decoded = String::from_utf8(decode_base64(b)?).ok()?;
    Some(decoded.split(':').next().unwrap_or_default().to_string())
}

fn check_key(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(key) = api_key(headers).filter(|k| !k.is_empty()) else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        ));
    };
    let ok = match &config.api_key {
        Some(k) => *k == key,
        None => key.starts_with("sk_test_") || key.starts_with("rk_test_"),
    };
    if ok {
        return Ok(());
    }
    let tail: String = key.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let head: String = key.split('_').take(2).collect::<Vec<_>>().join("_");
    Err(ApiError::unauthorized(format!("Invalid API Key provided: {head}_****{tail}")))
}

fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

async fn api(State(state): State<Shared>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = crate::ids::new_id("req");
    let rid = Some(request_id.as_str());
    if let Some(fault) = take_fault(&state, uri.path()) {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
        if fault.status != 0 {
            return error_response(&ApiError::outage(fault.status), rid);
        }
    }
    let mut params = match form::parse(uri.query().unwrap_or_default()) {
        Ok(p) => p,
        Err(e) => return error_response(&ApiError::bad(e.message, Some(&e.param)), rid),
    };
    let content_type = header_str(&headers, "content-type").unwrap_or_default();
    if !body.is_empty() {
        if content_type.starts_with("application/json") {
            return error_response(
                &ApiError::bad(
                    "Invalid request: Stripe's API takes application/x-www-form-urlencoded parameters, not JSON.",
                    None,
                ),
                rid,
            );
        }
        let text = String::from_utf8_lossy(&body);
        match form::parse(&text) {
            Ok(p) => params.extend(p),
            Err(e) => return error_response(&ApiError::bad(e.message, Some(&e.param)), rid),
        }
    }
    let idem_key = if method == Method::POST { header_str(&headers, "idempotency-key") } else { None };
    if let Some(k) = &idem_key
        && k.len() > 255
    {
        return error_response(&ApiError::bad("Idempotency-Key must be at most 255 characters long.", None), rid);
    }
    let fingerprint = format!("{} {} {}", method, uri.path(), Value::Object(params.clone()));
    let mut store = state.lock();
    let token_account = api_key(&headers).and_then(|k| store.account_for_token(&k));
    if let Some(acct) = &token_account {
        if store.account(acct).is_some_and(|a| a.deauthorized) {
            let e = ApiError::unauthorized("Expired API Key provided. Application access may have been revoked.");
            return error_response(&e, rid);
        }
    } else if let Err(e) = check_key(&state.config, &headers) {
        return error_response(&e, rid);
    }
    let account = match (token_account, header_str(&headers, "stripe-account")) {
        (Some(acct), _) => acct,
        (None, None) => store.platform.clone(),
        (None, Some(a)) => {
            if let Err(e) = store.check_account_access(&api_key(&headers).unwrap_or_default(), &a) {
                return error_response(&e, rid);
            }
            a
        }
    };
    if let Some(k) = &idem_key
        && let Some(prev) = store.idempotency.get(&(account.clone(), k.clone()))
    {
        if prev.fingerprint != fingerprint {
            let e = ApiError::idempotency(format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request."
            ));
            return error_response(&e, rid);
        }
        let mut resp = json_response(prev.status, &serde_json::from_str(&prev.body).unwrap_or(Value::Null), rid);
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
        if let Ok(v) = HeaderValue::from_str(k) {
            resp.headers_mut().insert("idempotency-key", v);
        }
        return resp;
    }
    let now = store.now();
    store.run_billing(now);
    store.request = Some(RequestInfo { id: request_id.clone(), idempotency_key: idem_key.clone() });
    let result = routes::dispatch(&mut store, &account, method.as_str(), uri.path(), &Params::new(params));
    store.request = None;
    let version = header_str(&headers, "stripe-version").unwrap_or_else(|| store.api_version.clone());
    let (status, body) = match &result {
        Ok(v) => (200, crate::versions::render(v, &version, store.account(&account))),
        Err(e) => (e.status, e.body(rid)),
    };
    if let Some(k) = &idem_key
        && (status == 200 || status == 402)
    {
        store.idempotency.insert(
            (account, k.clone()),
            crate::store::IdempotentResponse { fingerprint, status, body: body.to_string() },
        );
    }
    drop(store);
    let mut resp = json_response(status, &body, rid);
    if let Ok(v) = HeaderValue::from_str(&version) {
        resp.headers_mut().insert("stripe-version", v);
    }
    if let Some(v) = idem_key.as_deref().and_then(|k| HeaderValue::from_str(k).ok()) {
        resp.headers_mut().insert("idempotency-key", v);
    }
    if status == 401 {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Stripe\""));
    }
    resp
}

fn summary(store: &Store, account: &str, cs: &Value) -> Vec<pages::SummaryLine> {
    let Some(acct) = store.account(account) else {
        return Vec::new();
    };
    cs["_line_items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|it| {
            let price =
                acct.col(Kind::Price).get(it["price"].as_str().unwrap_or_default()).cloned().unwrap_or(Value::Null);
            pages::SummaryLine {
                name: it["description"].as_str().unwrap_or_default().to_string(),
                quantity: it["quantity"].as_i64().unwrap_or(1),
                unit_amount: price["unit_amount"].as_i64().unwrap_or(0),
                currency: price["currency"].as_str().unwrap_or("usd").to_string(),
                interval: price["recurring"]["interval"].as_str().map(str::to_string),
                interval_count: price["recurring"]["interval_count"].as_i64().unwrap_or(1),
            }
        })
        .collect()
}

fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, Html(body)).into_response();
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn checkout_page(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut store = state.lock();
    let now = store.now();
    store.run_billing(now);
    let Some(account) = store.account_of(&id) else {
        return html(StatusCode::NOT_FOUND, pages::message("Not found", "This Checkout Session does not exist."));
    };
    let Some(cs) = store.account(&account).and_then(|a| a.col(Kind::CheckoutSession).get(&id)).cloned() else {
        return html(StatusCode::NOT_FOUND, pages::message("Not found", "This Checkout Session does not exist."));
    };
    if cs["status"] != "open" {
        return html(StatusCode::OK, pages::session_closed(&cs));
    }
    let lines = summary(&store, &account, &cs);
    html(StatusCode::OK, pages::checkout(&cs, &lines, None, None))
}

async fn checkout_submit(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let fields = form::parse(&String::from_utf8_lossy(&body)).unwrap_or_default();
    let field = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    let email = field("email");
    let card = field("cardNumber").or_else(|| field("card_number")).unwrap_or_default();
    let mut store = state.lock();
    let now = store.now();
    store.run_billing(now);
    let Some(account) = store.account_of(&id) else {
        return html(StatusCode::NOT_FOUND, pages::message("Not found", "This Checkout Session does not exist."));
    };
    match checkout::pay(&mut store, &account, &id, email.as_deref(), &card) {
        Ok(cs) => match checkout::success_redirect(&cs) {
            Some(url) => Redirect::to(&url).into_response(),
            None => html(StatusCode::OK, pages::message("Payment complete", "Thanks! You can close this page.")),
        },
        Err(checkout::PayError::NotOpen(_)) => {
            let cs = store.account(&account).and_then(|a| a.col(Kind::CheckoutSession).get(&id)).cloned();
            html(StatusCode::OK, cs.map(|c| pages::session_closed(&c)).unwrap_or_default())
        }
        Err(checkout::PayError::Missing) => {
            html(StatusCode::NOT_FOUND, pages::message("Not found", "This Checkout Session does not exist."))
        }
        Err(e) => {
            let cs = store
                .account(&account)
                .and_then(|a| a.col(Kind::CheckoutSession).get(&id))
                .cloned()
                .unwrap_or(Value::Null);
            let lines = summary(&store, &account, &cs);
            let status = if matches!(e, checkout::PayError::Declined(_)) {
                StatusCode::PAYMENT_REQUIRED
            } else {
                StatusCode::BAD_REQUEST
            };
            html(status, pages::checkout(&cs, &lines, email.as_deref(), Some(&e.message())))
        }
    }
}

fn portal_subs(store: &Store, account: &str, customer: &str) -> Vec<pages::PortalSub> {
    let Some(acct) = store.account(account) else {
        return Vec::new();
    };
    acct.col(Kind::Subscription)
        .newest_first()
        .filter(|s| s["customer"] == customer)
        .map(|s| {
            let items = s["items"]["data"].as_array().cloned().unwrap_or_default();
            let name = items
                .iter()
                .map(|it| {
                    acct.col(Kind::Product)
                        .get(it["price"]["product"].as_str().unwrap_or_default())
                        .and_then(|p| p["name"].as_str())
                        .unwrap_or("Subscription")
                        .to_string()
                })
                .collect::<Vec<_>>()
                .join(", ");
            let price = items
                .first()
                .map(|it| {
                    let p = &it["price"];
                    format!(
                        "{} / {}",
                        crate::objects::format_amount(
                            p["unit_amount"].as_i64().unwrap_or(0),
                            p["currency"].as_str().unwrap_or("usd")
                        ),
                        p["recurring"]["interval"].as_str().unwrap_or("month")
                    )
                })
                .unwrap_or_default();
            pages::PortalSub {
                id: s["id"].as_str().unwrap_or_default().to_string(),
                name,
                status: s["status"].as_str().unwrap_or_default().to_string(),
                price,
                period_end: items.first().and_then(|it| it["current_period_end"].as_i64()),
                cancel_at: s["cancel_at"].as_i64(),
            }
        })
        .collect()
}

async fn portal_page(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut store = state.lock();
    let now = store.now();
    store.run_billing(now);
    let Some(account) = store.account_of(&id) else {
        return html(StatusCode::NOT_FOUND, pages::message("Not found", "This portal session does not exist."));
    };
    let Some(session) = store.account(&account).and_then(|a| a.col(Kind::PortalSession).get(&id)).cloned() else {
        return html(StatusCode::NOT_FOUND, pages::message("Not found", "This portal session does not exist."));
    };
    let customer = session["customer"].as_str().unwrap_or_default().to_string();
    let email = store
        .account(&account)
        .and_then(|a| a.col(Kind::Customer).get(&customer))
        .and_then(|c| c["email"].as_str().map(str::to_string));
    let subs = portal_subs(&store, &account, &customer);
    let look = routes::portal::look(&store, &account, session["configuration"].as_str().unwrap_or_default());
    html(StatusCode::OK, pages::portal(&id, email.as_deref(), &subs, session["return_url"].as_str(), &look))
}

async fn portal_action(
    State(state): State<Shared>,
    Path((id, sub, action)): Path<(String, String, String)>,
) -> Response {
    let mut store = state.lock();
    let Some(account) = store.account_of(&id) else {
        return html(StatusCode::NOT_FOUND, pages::message("Not found", "This portal session does not exist."));
    };
    let session = store.account(&account).and_then(|a| a.col(Kind::PortalSession).get(&id)).cloned();
    let customer = session.as_ref().map_or(Value::Null, |s| s["customer"].clone());
    let configuration = session.as_ref().and_then(|s| s["configuration"].as_str()).unwrap_or_default();
    if action == "cancel" && !routes::portal::look(&store, &account, configuration).cancel {
        return html(
            StatusCode::FORBIDDEN,
            pages::message("Not allowed", "This business does not let customers cancel in the portal."),
        );
    }
    let owned = store
        .account(&account)
        .and_then(|a| a.col(Kind::Subscription).get(&sub))
        .is_some_and(|s| s["customer"] == customer);
    if !owned {
        return html(StatusCode::NOT_FOUND, pages::message("Not found", "No such subscription for this customer."));
    }
    let flag = match action.as_str() {
        "cancel" => "true",
        "renew" => "false",
        _ => {
            return html(StatusCode::NOT_FOUND, pages::message("Not found", "Unknown action."));
        }
    };
    let mut m = serde_json::Map::new();
    m.insert("cancel_at_period_end".into(), json!(flag));
    let result = routes::dispatch(&mut store, &account, "POST", &format!("/v1/subscriptions/{sub}"), &Params::new(m));
    drop(store);
    match result {
        Ok(_) => Redirect::to(&format!("/portal/{id}")).into_response(),
        Err(e) => html(StatusCode::BAD_REQUEST, pages::message("Could not update the subscription", &e.message)),
    }
}

fn control_body(body: &Bytes) -> Result<Value, Box<Response>> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| Box::new(error_response(&ApiError::bad(format!("Invalid JSON body: {e}"), None), None)))
}

async fn clock(State(state): State<Shared>) -> Response {
    json_response(200, &json!({ "now": state.lock().now() }), None)
}

async fn clock_advance(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut store = state.lock();
    let now = store.now();
    let seconds = match (body["seconds"].as_i64(), body["to"].as_i64()) {
        (Some(s), _) => s,
        (None, Some(to)) => to.saturating_sub(now),
        (None, None) => {
            return error_response(
                &ApiError::bad("Send {\"seconds\": N} or {\"to\": unix_time}.", Some("seconds")),
                None,
            );
        }
    };
    if seconds < 0 {
        return error_response(&ApiError::bad("The emulator's clock only moves forward.", Some("seconds")), None);
    }
    if seconds > 20 * 366 * 86_400 {
        return error_response(&ApiError::bad("Advance at most 20 years at a time.", Some("seconds")), None);
    }
    store.clock.advance(seconds);
    let now = store.now();
    let ran = store.run_billing(now);
    json_response(200, &json!({ "now": now, "actions": ran }), None)
}

/// The first pending fault for `path`, counted down.
fn take_fault(state: &AppState, path: &str) -> Option<Fault> {
    let mut faults = state.faults.lock().unwrap_or_else(|e| e.into_inner());
    let i = faults.iter().position(|f| path.starts_with(&f.path))?;
    let fault = faults[i].clone();
    faults[i].count -= 1;
    if faults[i].count == 0 {
        faults.remove(i);
    }
    Some(fault)
}

/// `POST /_emulator/faults {path, status?, delay_ms?, count?}`: the next `count` (default 1) API calls under `path`
/// answer `status` (429 or 500-599; 0 = no error) after `delay_ms`. `{"clear": true}` removes every fault.
async fn add_fault(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut faults = state.faults.lock().unwrap_or_else(|e| e.into_inner());
    if body["clear"].as_bool() == Some(true) {
        faults.clear();
        return json_response(200, &json!({ "faults": 0 }), None);
    }
    let status = body["status"].as_u64().unwrap_or(500);
    let Some(path) = body["path"].as_str().filter(|p| p.starts_with("/v1/")) else {
        return error_response(&ApiError::bad("path must start with /v1/", Some("path")), None);
    };
    if !(status == 0 || status == 429 || (500..600).contains(&status)) {
        return error_response(&ApiError::bad("status must be 0, 429 or 5xx", Some("status")), None);
    }
    let count = u32::try_from(body["count"].as_u64().unwrap_or(1)).unwrap_or(1).max(1);
    faults.push(Fault {
        path: path.to_string(),
        status: status as u16,
        delay_ms: body["delay_ms"].as_u64().unwrap_or(0).min(120_000),
        count,
    });
    json_response(200, &json!({ "faults": faults.len() }), None)
}

async fn fail_payments(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let fail = body["fail"].as_bool().unwrap_or(true);
    let mut store = state.lock();
    let account = body["account"].as_str().map(str::to_string).or_else(|| store.account_of(&id));
    let Some(account) = account.filter(|a| store.account(a).and_then(|x| x.col(Kind::Customer).get(&id)).is_some())
    else {
        return error_response(&ApiError::missing("customer", &id, "id"), None);
    };
    let acct = store.account_mut(&account);
    if fail {
        acct.failing_customers.insert(id.clone());
    } else {
        acct.failing_customers.remove(&id);
    }
    json_response(200, &json!({ "customer": id, "account": account, "fail": fail }), None)
}

fn value_matches(x: &Value, want: &str) -> bool {
    match x {
        Value::String(s) => s == want,
        Value::Bool(b) => want == if *b { "true" } else { "false" },
        Value::Number(n) => n.as_i64().is_some_and(|i| want.parse::<i64>() == Ok(i)),
        Value::Null => want == "null",
        _ => false,
    }
}

async fn deliveries(State(state): State<Shared>, uri: Uri) -> Response {
    let filters = form::parse(uri.query().unwrap_or_default()).unwrap_or_default();
    let dispatcher = state.lock().dispatcher.clone();
    let log: Vec<Value> = dispatcher
        .log()
        .into_iter()
        .filter(|d| {
            filters.iter().all(|(k, v)| d.get(k).is_none_or(|x| value_matches(x, v.as_str().unwrap_or_default())))
        })
        .collect();
    json_response(200, &Value::Array(log), None)
}

async fn deliveries_wait(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let timeout = body["timeout_ms"].as_u64().unwrap_or(10_000).min(600_000);
    let dispatcher = state.lock().dispatcher.clone();
    let idle = dispatcher.wait_idle(Duration::from_millis(timeout)).await;
    json_response(if idle { 200 } else { 408 }, &json!({ "pending": dispatcher.pending() }), None)
}

async fn redeliver(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let store = state.lock();
    match store.redeliver(&id) {
        Some(n) => json_response(200, &json!({ "id": id, "endpoints": n }), None),
        None => error_response(&ApiError::missing("event", &id, "id"), None),
    }
}

async fn control_pay(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let card = body["card"].as_str().unwrap_or("4242424242424242").to_string();
    let email = body["email"].as_str().map(str::to_string);
    let mut store = state.lock();
    let Some(account) = store.account_of(&id) else {
        return error_response(&ApiError::missing("checkout.session", &id, "id"), None);
    };
    match checkout::pay(&mut store, &account, &id, email.as_deref(), &card) {
        Ok(cs) => {
            let mut out = cs.clone();
            out["redirect_url"] = json!(checkout::success_redirect(&cs));
            json_response(200, &out, None)
        }
        Err(e) => error_response(&e.api_error(), None),
    }
}

/// `POST /_emulator/accounts {"id"?, "email"?}`: a connected account, as if its owner had approved OAuth.
async fn control_connect_account(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let id = state.lock().connect_account(body["id"].as_str(), body["email"].as_str());
    json_response(200, &serde_json::json!({ "id": id }), None)
}

/// `GET /_emulator/chaos`: the delivery chaos by endpoint id (`*`: every endpoint without its own).
async fn chaos_settings(State(state): State<Shared>) -> Response {
    json_response(200, &state.lock().dispatcher.chaos(), None)
}

/// `POST /_emulator/chaos {"endpoint"?: "*" | "we_…" | "cli_0", "off"?: true, "seed"?, "shuffle"?, "duplicate"?,
/// "concurrency"?, "delay_ms"?: [min, max], "drop_first"?, "timeout"?}`: switches chaos on or off; answers the
/// settings, seed included.
async fn set_chaos(State(state): State<Shared>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let endpoint = body["endpoint"].as_str().unwrap_or("*").to_string();
    let chaos = if body["off"] == true {
        None
    } else {
        match crate::chaos::Chaos::from_json(&body) {
            Ok(c) => Some(c),
            Err(e) => return error_response(&ApiError::bad(e, None), None),
        }
    };
    let store = state.lock();
    store.dispatcher.set_chaos(&endpoint, chaos);
    json_response(200, &store.dispatcher.chaos(), None)
}

/// `POST /_emulator/prices/{id}/delete`: what the Dashboard's "Delete price" does.
async fn control_delete_price(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let mut store = state.lock();
    let Some(account) = store.account_of(&id) else {
        return error_response(&ApiError::missing("price", &id, "id"), None);
    };
    match store.dashboard_delete_price(&account, &id) {
        Ok(v) => json_response(200, &v, None),
        Err(e) => error_response(&e, None),
    }
}

async fn control_dispute(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut store = state.lock();
    let Some(account) = store.account_of(&id) else {
        return error_response(&ApiError::missing("charge", &id, "id"), None);
    };
    match store.open_dispute(&account, &id, body["reason"].as_str()) {
        Ok(dp) => json_response(200, &dp, None),
        Err(e) => error_response(&e, None),
    }
}

async fn control_resolve_dispute(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let body = match control_body(&body) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut store = state.lock();
    let Some(account) = store.account_of(&id) else {
        return error_response(&ApiError::missing("dispute", &id, "id"), None);
    };
    match store.resolve_dispute(&account, &id, body["outcome"].as_str().unwrap_or_default()) {
        Ok(dp) => json_response(200, &dp, None),
        Err(e) => error_response(&e, None),
    }
}

fn oauth_json(result: Result<Value, crate::oauth::OAuthError>) -> Response {
    match result {
        Ok(v) => json_response(200, &v, None),
        Err(e) => json_response(e.status, &e.body(), None),
    }
}

fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()))
        .finish();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

async fn oauth_page(State(state): State<Shared>, uri: Uri) -> Response {
    let q = form::parse(uri.query().unwrap_or_default()).unwrap_or_default();
    let field = |k: &str| q.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let store = state.lock();
    if let Err(e) = store.check_client_id(Some(&field("client_id"))) {
        return html(StatusCode::BAD_REQUEST, pages::message("Invalid request", &e.description));
    }
    if field("response_type") != "code" {
        return html(StatusCode::BAD_REQUEST, pages::message("Invalid request", "response_type must be 'code'."));
    }
    let redirect =
        q.get("redirect_uri").and_then(Value::as_str).map(str::to_string).or_else(|| store.oauth.redirect_uri.clone());
    if redirect.is_none() {
        return html(
            StatusCode::BAD_REQUEST,
            pages::message("Invalid request", "No redirect_uri provided and none configured."),
        );
    }
    let scope = match field("scope").as_str() {
        "" => "read_write".to_string(),
        s => s.to_string(),
    };
    let hidden = [
        ("client_id", field("client_id")),
        ("redirect_uri", redirect.unwrap_or_default()),
        ("state", field("state")),
        ("scope", scope),
    ];
    let email = q.get("stripe_user").and_then(|u| u["email"].as_str()).map(str::to_string);
    html(StatusCode::OK, pages::oauth_authorize(store.oauth.name(), &hidden, email.as_deref()))
}

async fn oauth_decide(State(state): State<Shared>, body: Bytes) -> Response {
    let f = form::parse(&String::from_utf8_lossy(&body)).unwrap_or_default();
    let field = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut store = state.lock();
    let client_id = match store.check_client_id(Some(&field("client_id"))) {
        Ok(c) => c,
        Err(e) => {
            return html(StatusCode::BAD_REQUEST, pages::message("Invalid request", &e.description));
        }
    };
    let redirect = Some(field("redirect_uri")).filter(|r| !r.is_empty()).or_else(|| store.oauth.redirect_uri.clone());
    let Some(redirect) = redirect.filter(|r| r.starts_with("http://") || r.starts_with("https://")) else {
        return html(StatusCode::BAD_REQUEST, pages::message("Invalid request", "Invalid redirect_uri."));
    };
    let state_param = field("state");
    if field("decision") == "deny" {
        let url = with_query(
            &redirect,
            &[
                ("error", "access_denied"),
                ("error_description", "The user denied your request"),
                ("state", &state_param),
            ],
        );
        return Redirect::to(&url).into_response();
    }
    let scope = match field("scope").as_str() {
        "read_only" => "read_only",
        _ => "read_write",
    };
    let existing = Some(field("account")).filter(|a| !a.is_empty());
    let email = field("email");
    let code = store.approve_oauth(&client_id, existing.as_deref(), Some(&email), scope);
    let url = with_query(&redirect, &[("scope", scope), ("code", &code), ("state", &state_param)]);
    Redirect::to(&url).into_response()
}

/// The platform secret key of an OAuth call: Bearer / Basic, or the `client_secret` parameter.
fn oauth_platform_key(
    state: &AppState,
    headers: &HeaderMap,
    params: &serde_json::Map<String, Value>,
) -> Result<(), Box<Response>> {
    let mut h = headers.clone();
    if let Some(secret) = params.get("client_secret").and_then(Value::as_str)
        && let Ok(v) = HeaderValue::from_str(&format!("Bearer {secret}"))
    {
        h.insert(header::AUTHORIZATION, v);
    }
    check_key(&state.config, &h).map_err(|e| {
        Box::new(json_response(401, &json!({"error": "invalid_client", "error_description": e.message}), None))
    })
}

async fn oauth_token(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let p = form::parse(&String::from_utf8_lossy(&body)).unwrap_or_default();
    if let Err(r) = oauth_platform_key(&state, &headers, &p) {
        return *r;
    }
    let field = |k: &str| p.get(k).and_then(Value::as_str);
    let mut store = state.lock();
    oauth_json(store.oauth_token(field("grant_type"), field("code"), field("refresh_token")))
}

async fn oauth_deauthorize(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let p = form::parse(&String::from_utf8_lossy(&body)).unwrap_or_default();
    if let Err(r) = oauth_platform_key(&state, &headers, &p) {
        return *r;
    }
    let field = |k: &str| p.get(k).and_then(Value::as_str);
    let mut store = state.lock();
    oauth_json(store.oauth_deauthorize(field("client_id"), field("stripe_user_id")))
}
