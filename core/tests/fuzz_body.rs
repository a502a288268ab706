//! Runs the cargo-fuzz body (`core/fuzz/fuzz_targets/body.rs`) under proptest on stable, so CI covers it without
//! nightly: random bytes, byte-level mutations of Stripe's own event shapes, and type-confused JSON values at every
//! field the engine reads. Nothing may panic, and applying an input twice equals applying it once.
#![cfg(not(target_arch = "wasm32"))]

mod common;

#[path = "../fuzz/fuzz_targets/body.rs"]
mod body;

use common::*;
use proptest::prelude::*;
use serde_json::{Value, json};

fn events() -> Vec<Value> {
    let mut cs_sub = checkout_session("subscription", "paid");
    set(&mut cs_sub, "subscription", subscription("active", T0, T0 + 30 * DAY));
    let mut dispute = fixture("dispute");
    set(&mut dispute, "payment_intent", json!("pi_1PgafyB7WZ01zgkWSjxsAJo3"));
    vec![
        event_json("checkout.session.completed", "evt_1", T0, checkout_session("payment", "paid")),
        event_json("checkout.session.completed", "evt_2", T0, checkout_session("subscription", "paid")),
        event_json("checkout.session.completed", "evt_3", T0, cs_sub),
        event_json("customer.subscription.updated", "evt_4", T0, subscription("past_due", T0, T0 + 30 * DAY)),
        event_json("customer.subscription.deleted", "evt_5", T0, subscription_old_api("canceled", T0, T0 + DAY)),
        event_json("invoice.paid", "evt_6", T0, invoice("paid", T0, T0 + 30 * DAY)),
        event_json("invoice.payment_failed", "evt_7", T0, invoice("open", T0, T0 + 30 * DAY)),
        event_json("charge.refunded", "evt_8", T0, charge("pi_1PgafyB7WZ01zgkWSjxsAJo3", 100, 100)),
        event_json("charge.dispute.created", "evt_9", T0, dispute.clone()),
        event_json("charge.dispute.closed", "evt_10", T0, {
            let mut d = dispute;
            set(&mut d, "status", json!("lost"));
            d
        }),
        event_json("customer.deleted", "evt_11", T0, fixture("deleted_customer")),
        event_json("account.application.deauthorized", "evt_12", T0, fixture("application")),
    ]
}

/// Paths the engine reads, to be replaced by values of the wrong type.
const PATHS: &[&str] = &[
    "id",
    "type",
    "created",
    "livemode",
    "account",
    "data",
    "data.object",
    "data.object.id",
    "data.object.object",
    "data.object.customer",
    "data.object.status",
    "data.object.mode",
    "data.object.payment_status",
    "data.object.subscription",
    "data.object.payment_intent",
    "data.object.metadata",
    "data.object.metadata.latch_product",
    "data.object.items",
    "data.object.items.data",
    "data.object.items.data.0",
    "data.object.items.data.0.price",
    "data.object.items.data.0.price.product",
    "data.object.items.data.0.current_period_end",
    "data.object.current_period_end",
    "data.object.cancel_at_period_end",
    "data.object.cancel_at",
    "data.object.ended_at",
    "data.object.lines",
    "data.object.lines.data.0.period",
    "data.object.lines.data.0.period.end",
    "data.object.lines.data.0.pricing",
    "data.object.parent",
    "data.object.parent.subscription_details",
    "data.object.amount",
    "data.object.amount_refunded",
    "data.object.refunded",
    "data.object.charge",
    "data.object.deleted",
    "data.object.customer_details",
    "data.object.line_items",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z_0-9é\"\\\\]{0,12}".prop_map(Value::from),
        Just(json!("prod_QXg1hqf4jFNsqG")),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,8}|id|object|data", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn input(header: &str, secret: &str, now: i64, body: &[u8]) -> Vec<u8> {
    let mut v = format!("{header}\n{secret}\n{now}\n").into_bytes();
    v.extend_from_slice(body);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        body::run(&data);
    }

    #[test]
    fn random_headers(header in "[tv01=,a-f+ _-]{0,90}", secret in "(whsec_)?[a-z]{0,6}| ", now in any::<i64>()) {
        body::run(&input(&header, &secret, now, b"{}"));
    }

    #[test]
    fn mutated_stripe_events(which in 0usize..12, edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..8)) {
        let mut bytes = serde_json::to_vec_pretty(&events()[which]).unwrap_or_default();
        for (pos, byte, op) in edits {
            if bytes.is_empty() { break; }
            let at = pos % bytes.len();
            match op {
                0 => bytes[at] = byte,
                1 => bytes.insert(at, byte),
                _ => { bytes.remove(at); }
            }
        }
        body::run(&input("t=1,v1=00", "whsec_fuzz", T0, &bytes));
    }

    #[test]
    fn type_confused_fields(which in 0usize..12, path in 0usize..PATHS.len(), value in any_json(), now in any::<i64>()) {
        let mut e = events()[which].clone();
        set_if_present(&mut e, PATHS[path], value);
        let bytes = serde_json::to_vec(&e).unwrap_or_default();
        body::run(&input("", "", now, &bytes));
        body::run(&input("", "", T0, &bytes));
    }

    #[test]
    fn well_formed_events_at_any_time(which in 0usize..12, now in any::<i64>(), created in any::<i64>()) {
        let mut e = events()[which].clone();
        set(&mut e, "created", json!(created));
        let bytes = serde_json::to_vec(&e).unwrap_or_default();
        body::run(&input("", "whsec_x", now, &bytes));
    }
}
