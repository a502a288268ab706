//! Shared test helpers: Stripe's own object shapes from `tests/fixtures/stripe/fixtures3.json`, adapted per case.
#![allow(dead_code, unreachable_pub)] // each test crate uses a different subset of the helpers

use latch_core::engine::{AccessState, Catalog, Input, ProductPolicy, Transition, apply};
use latch_core::event::{Event, StripeObject};
use serde_json::{Value, json};
use std::sync::OnceLock;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/stripe/fixtures3.json");
pub const DAY: i64 = 86_400;
pub const T0: i64 = 1_790_000_000;
pub const CUS: &str = "cus_QXg1o8vcGmoR32";
pub const SUB: &str = "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw";
pub const PROD_PRO: &str = "prod_QXg1hqf4jFNsqG";
pub const PROD_COURSE: &str = "prod_Course0000001";
pub const PROD_UNLINKED: &str = "prod_Unlinked00001";

fn fixtures() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let text = std::fs::read_to_string(FIXTURES).unwrap_or_else(|e| panic!("read {FIXTURES}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse fixtures: {e}"))
    })
}

/// A fixture object by resource name (`subscription`, `checkout.session`, ...).
pub fn fixture(name: &str) -> Value {
    fixtures()["resources"][name].clone()
}

/// Sets `path` (dot-separated, numeric segments index arrays) in `v`.
pub fn set(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    for seg in path.split('.') {
        cur = match seg.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[seg],
        };
    }
    *cur = new;
}

pub fn catalog() -> Catalog {
    let mut course = ProductPolicy::new("course", PROD_COURSE);
    course.past_due_grace_days = 3;
    Catalog {
        products: vec![ProductPolicy::new("pro", PROD_PRO), course],
        livemode: false,
        site: Some("site_pub_1".into()),
        account: None,
    }
}

/// The fixture subscription, current API shape: `status`, period end on the item, given product.
pub fn subscription(status: &str, period_start: i64, period_end: i64) -> Value {
    let mut s = fixture("subscription");
    set(&mut s, "status", json!(status));
    set(&mut s, "cancel_at_period_end", json!(false));
    set(&mut s, "cancel_at", Value::Null);
    set(&mut s, "canceled_at", Value::Null);
    set(&mut s, "ended_at", Value::Null);
    set(&mut s, "metadata", json!({"latch_site": "site_pub_1", "latch_product": "pro"}));
    set(&mut s, "items.data.0.current_period_start", json!(period_start));
    set(&mut s, "items.data.0.current_period_end", json!(period_end));
    s
}

/// The same subscription in the older API shape: period on the subscription, none on the items.
pub fn subscription_old_api(status: &str, period_start: i64, period_end: i64) -> Value {
    let mut s = subscription(status, period_start, period_end);
    if let Some(item) = s["items"]["data"][0].as_object_mut() {
        item.remove("current_period_end");
        item.remove("current_period_start");
    }
    set(&mut s, "current_period_start", json!(period_start));
    set(&mut s, "current_period_end", json!(period_end));
    s
}

pub fn checkout_session(mode: &str, payment_status: &str) -> Value {
    let mut cs = fixture("checkout.session");
    set(&mut cs, "mode", json!(mode));
    set(&mut cs, "status", json!("complete"));
    set(&mut cs, "payment_status", json!(payment_status));
    set(&mut cs, "customer", json!(CUS));
    set(&mut cs, "created", json!(T0));
    set(&mut cs, "metadata", json!({"latch_site": "site_pub_1", "latch_product": "pro"}));
    if mode == "subscription" {
        set(&mut cs, "subscription", json!(SUB));
        set(&mut cs, "payment_intent", Value::Null);
    }
    cs
}

/// The fixture invoice billing the subscription (current API shape) for one period.
pub fn invoice(status: &str, period_start: i64, period_end: i64) -> Value {
    let mut inv = fixture("invoice");
    set(&mut inv, "status", json!(status));
    set(&mut inv, "amount_paid", json!(if status == "paid" { 2000 } else { 0 }));
    set(
        &mut inv,
        "parent",
        json!({"type": "subscription_details", "quote_details": null,
               "subscription_details": {"subscription": SUB, "metadata": {"latch_site": "site_pub_1", "latch_product": "pro"}}}),
    );
    set(&mut inv, "lines.data.0.period", json!({"start": period_start, "end": period_end}));
    set(
        &mut inv,
        "lines.data.0.pricing",
        json!({"type": "price_details", "price_details": {"price": "price_1PgafmB7WZ01zgkW6dKueIc5", "product": PROD_PRO}, "unit_amount_decimal": "2000"}),
    );
    set(
        &mut inv,
        "lines.data.0.parent",
        json!({"type": "subscription_item_details", "invoice_item_details": null,
               "subscription_item_details": {"subscription": SUB, "subscription_item": "si_QXhVnC2h0Jczwc", "invoice_item": null, "proration": false, "proration_details": {"credited_items": null}}}),
    );
    inv
}

pub fn charge(payment_intent: &str, amount: i64, refunded: i64) -> Value {
    let mut ch = fixture("charge");
    set(&mut ch, "payment_intent", json!(payment_intent));
    set(&mut ch, "customer", json!(CUS));
    set(&mut ch, "amount", json!(amount));
    set(&mut ch, "amount_captured", json!(amount));
    set(&mut ch, "amount_refunded", json!(refunded));
    set(&mut ch, "refunded", json!(refunded >= amount));
    ch
}

/// Wraps an object in the fixture event envelope.
pub fn event_json(kind: &str, id: &str, created: i64, object: Value) -> Value {
    let mut e = fixture("event");
    set(&mut e, "id", json!(id));
    set(&mut e, "type", json!(kind));
    set(&mut e, "created", json!(created));
    set(&mut e, "data", json!({ "object": object }));
    e
}

pub fn event(kind: &str, created: i64, object: Value) -> Event {
    let id = format!("evt_{kind}_{created}");
    let body = serde_json::to_vec(&event_json(kind, &id, created, object)).unwrap_or_default();
    Event::parse(&body).unwrap_or_else(|e| panic!("{kind}: {e}"))
}

pub fn object(v: Value) -> StripeObject {
    let body = serde_json::to_vec(&v).unwrap_or_default();
    StripeObject::parse(&body).unwrap_or_else(|e| panic!("{e}"))
}

/// Applies an event to `state`, returning the transition.
pub fn step(state: &AccessState, e: &Event, now: i64) -> Transition {
    apply(&Input::Event(e), state, &catalog(), now)
}

/// Like [`set`], but does nothing when a segment of `path` is missing or not a container.
pub fn set_if_present(v: &mut Value, path: &str, new: Value) {
    let mut cur = v;
    for seg in path.split('.') {
        let next = match seg.parse::<usize>() {
            Ok(i) => cur.get_mut(i),
            Err(_) => cur.get_mut(seg),
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    *cur = new;
}

/// A subscription as the edge fetches it (`expand[]=latest_invoice`): its latest invoice inline, in `status`,
/// billing the subscription's current period.
pub fn with_latest_invoice(mut sub: Value, status: &str) -> Value {
    let item = &sub["items"]["data"][0];
    let start = item["current_period_start"].as_i64().or(sub["current_period_start"].as_i64()).unwrap_or(T0);
    let end = item["current_period_end"].as_i64().or(sub["current_period_end"].as_i64()).unwrap_or(T0);
    let product = item["price"]["product"].clone();
    let mut inv = invoice(status, start, end);
    set(&mut inv, "lines.data.0.pricing.price_details.product", product);
    set(&mut sub, "latest_invoice", inv);
    sub
}

/// `invoice.paid` for one period of the subscription, delivered at `created`.
pub fn invoice_paid(period_start: i64, period_end: i64, created: i64) -> Event {
    event("invoice.paid", created, invoice("paid", period_start, period_end))
}
