//! Scenario tests for the access engine, built from Stripe's own object shapes (fixtures3.json, adapted per case).

mod common;

use common::*;
use latch_core::engine::{
    AccessState, ActivityKind, Effect, FetchObject, GrantStatus, Input, apply, scope,
};
use serde_json::{Value, json};

/// Runs events in order from an empty state; returns the final state.
fn run(events: &[latch_core::event::Event], now: i64) -> AccessState {
    events
        .iter()
        .fold(AccessState::default(), |s, e| step(&s, e, now).state)
}

fn pro(state: &AccessState, now: i64) -> bool {
    state.active_products(CUS, now).contains(&"pro")
}

fn kinds(t: &latch_core::engine::Transition) -> Vec<ActivityKind> {
    t.activities().map(|a| a.kind).collect()
}

#[test]
fn subscription_statuses_table() {
    let (start, end) = (T0, T0 + 30 * DAY);
    // (status, cancel_at_period_end, access at start+1d, access at start+10d, access after end)
    let table: &[(&str, bool, bool, bool, bool)] = &[
        ("active", false, true, true, false),
        ("trialing", false, true, true, false),
        ("active", true, true, true, false),
        ("past_due", false, true, false, false), // 7 days of grace from the period start
        ("unpaid", false, false, false, false),
        ("paused", false, false, false, false),
        ("incomplete", false, false, false, false),
        ("incomplete_expired", false, false, false, false),
        ("canceled", false, false, false, false),
    ];
    for &(status, cape, a1, a10, after) in table {
        for old_api in [false, true] {
            let mut s = if old_api {
                subscription_old_api(status, start, end)
            } else {
                subscription(status, start, end)
            };
            set(&mut s, "cancel_at_period_end", json!(cape));
            if status == "canceled" || status == "incomplete_expired" {
                set(&mut s, "ended_at", json!(start));
            }
            let st = run(&[event("customer.subscription.updated", start, s)], start);
            let label = format!("{status} cape={cape} old_api={old_api}");
            assert_eq!(pro(&st, start + DAY), a1, "{label} day 1");
            assert_eq!(pro(&st, start + 10 * DAY), a10, "{label} day 10");
            assert_eq!(pro(&st, end + 1), after, "{label} after end");
            let g = st
                .grants
                .first()
                .unwrap_or_else(|| panic!("{label}: no row"));
            assert_eq!(g.source, SUB);
            assert_eq!(g.customer, CUS);
        }
    }
}

#[test]
fn past_due_grace_is_per_product_policy() {
    let mut s = subscription("past_due", T0, T0 + 30 * DAY);
    set(&mut s, "items.data.0.price.product", json!(PROD_COURSE));
    set(&mut s, "metadata", json!({}));
    let st = run(&[event("customer.subscription.updated", T0, s)], T0);
    assert_eq!(st.active_products(CUS, T0 + 2 * DAY), vec!["course"]);
    assert!(st.active_products(CUS, T0 + 3 * DAY).is_empty());
}

#[test]
fn checkout_payment_mode_grants_lifetime_once() {
    let cs = checkout_session("payment", "paid");
    let e = event("checkout.session.completed", T0, cs.clone());
    let t1 = step(&AccessState::default(), &e, T0);
    assert!(pro(&t1.state, T0 + 3650 * DAY));
    assert_eq!(
        kinds(&t1),
        vec![ActivityKind::ProductPurchased, ActivityKind::AccessGranted]
    );
    let g = &t1.state.grants[0];
    assert_eq!(g.source, "pi_1PgafyB7WZ01zgkWSjxsAJo3");
    assert_eq!(g.ends_at, None);
    // A replay and a second event for the same session change nothing and record nothing.
    let t2 = step(&t1.state, &e, T0 + 5);
    assert_eq!(t2.state, t1.state);
    assert!(t2.effects.is_empty());
    let t3 = step(
        &t1.state,
        &event("checkout.session.async_payment_succeeded", T0 + 9, cs),
        T0 + 9,
    );
    assert_eq!(t3.state, t1.state);
}

#[test]
fn checkout_unpaid_setup_and_unlinked_grant_nothing() {
    let unpaid = event(
        "checkout.session.completed",
        T0,
        checkout_session("payment", "unpaid"),
    );
    let t = step(&AccessState::default(), &unpaid, T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::AwaitingPayment]);

    let setup = event(
        "checkout.session.completed",
        T0,
        checkout_session("setup", "no_payment_required"),
    );
    let t = step(&AccessState::default(), &setup, T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);

    let mut cs = checkout_session("payment", "paid");
    set(&mut cs, "metadata", json!({"latch_product": "not-here"}));
    let t = step(
        &AccessState::default(),
        &event("checkout.session.completed", T0, cs),
        T0,
    );
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);

    let mut cs = checkout_session("payment", "paid");
    set(
        &mut cs,
        "metadata",
        json!({"latch_site": "site_other", "latch_product": "pro"}),
    );
    let t = step(
        &AccessState::default(),
        &event("checkout.session.completed", T0, cs),
        T0,
    );
    assert!(t.state.grants.is_empty());

    let mut sub = subscription("active", T0, T0 + 30 * DAY);
    set(&mut sub, "items.data.0.price.product", json!(PROD_UNLINKED));
    set(&mut sub, "metadata", json!({}));
    let t = step(
        &AccessState::default(),
        &event("customer.subscription.created", T0, sub),
        T0,
    );
    assert!(t.state.grants.is_empty());
    let a = t
        .activities()
        .next()
        .unwrap_or_else(|| panic!("no activity"));
    assert_eq!(a.kind, ActivityKind::Ignored);
    assert!(a.reason.contains(PROD_UNLINKED), "{}", a.reason);
}

#[test]
fn delayed_payment_then_success() {
    let cs = checkout_session("payment", "unpaid");
    let mut paid = cs.clone();
    set(&mut paid, "payment_status", json!("paid"));
    let st = run(
        &[
            event("checkout.session.completed", T0, cs.clone()),
            event("checkout.session.async_payment_succeeded", T0 + DAY, paid),
        ],
        T0,
    );
    assert!(pro(&st, T0 + 2 * DAY));
    let st = run(
        &[
            event("checkout.session.completed", T0, cs.clone()),
            event("checkout.session.async_payment_failed", T0 + DAY, cs),
        ],
        T0,
    );
    assert!(st.grants.is_empty());
}

#[test]
fn test_mode_and_live_mode_never_mix() {
    let mut e = event(
        "checkout.session.completed",
        T0,
        checkout_session("payment", "paid"),
    );
    e.livemode = true;
    let t = step(&AccessState::default(), &e, T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);
}

#[test]
fn subscription_checkout_source_is_the_subscription_and_claim_converges() {
    let (start, end) = (T0, T0 + 30 * DAY);
    // Webhook path: session with an unexpanded subscription -> provisional row on the subscription + fetch.
    let e = event(
        "checkout.session.completed",
        T0,
        checkout_session("subscription", "paid"),
    );
    let t = step(&AccessState::default(), &e, T0);
    assert_eq!(t.state.grants.len(), 1);
    assert_eq!(t.state.grants[0].source, SUB);
    assert!(t.effects.iter().any(
        |f| matches!(f, Effect::Fetch(r) if r.object == FetchObject::Subscription && r.id == SUB)
    ));
    assert!(pro(&t.state, T0 + 60));

    // Claim path: the fetched session with the subscription expanded.
    let mut cs = checkout_session("subscription", "paid");
    set(&mut cs, "subscription", subscription("active", start, end));
    let obj = object(cs);
    let fetched = Input::Fetched {
        object: &obj,
        fetched_at: T0 + 2,
    };
    let sc = scope(&fetched);
    assert_eq!(sc.customer.as_deref(), Some(CUS));
    assert!(sc.sources.iter().any(|s| s == SUB));
    let claim_first = apply(&fetched, &AccessState::default(), &catalog(), T0 + 2);
    let webhook_then_claim = apply(&fetched, &t.state, &catalog(), T0 + 2);
    for st in [&claim_first.state, &webhook_then_claim.state] {
        assert_eq!(st.grants.len(), 1);
        let g = &st.grants[0];
        assert_eq!(
            (g.customer.as_str(), g.product.as_str(), g.source.as_str()),
            (CUS, "pro", SUB)
        );
        assert_eq!(g.ends_at, Some(end));
    }
    // And the webhook after the claim keeps the real period (no provisional downgrade).
    let after = step(&claim_first.state, &e, T0 + 3);
    assert_eq!(after.state.grants, claim_first.state.grants);
}

#[test]
fn claim_of_payment_session_matches_webhook_row() {
    let cs = checkout_session("payment", "paid");
    let obj = object(cs.clone());
    let claim = apply(
        &Input::Fetched {
            object: &obj,
            fetched_at: T0 + 1,
        },
        &AccessState::default(),
        &catalog(),
        T0 + 1,
    );
    let hook = step(
        &AccessState::default(),
        &event("checkout.session.completed", T0, cs.clone()),
        T0,
    );
    let key = |s: &AccessState| {
        s.grants
            .iter()
            .map(|g| (g.customer.clone(), g.product.clone(), g.source.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&claim.state), key(&hook.state));
    let both = step(
        &claim.state,
        &event("checkout.session.completed", T0, cs),
        T0 + 2,
    );
    assert_eq!(both.state.grants.len(), 1);
    assert!(both.effects.is_empty());
}

#[test]
fn renewals_extend_and_older_snapshots_never_shorten_or_resurrect() {
    let p1 = (T0, T0 + 30 * DAY);
    let p2 = (p1.1, p1.1 + 30 * DAY);
    let created = event(
        "customer.subscription.created",
        T0,
        subscription("active", p1.0, p1.1),
    );
    let renewed = event(
        "customer.subscription.updated",
        p2.0,
        subscription("active", p2.0, p2.1),
    );
    let paid = event("invoice.paid", p2.0, invoice("paid", p2.0, p2.1));
    // In order and in every reversed order the end is the renewed period's.
    for order in [
        vec![&created, &renewed, &paid],
        vec![&paid, &renewed, &created],
        vec![&renewed, &created, &paid],
    ] {
        let st = order
            .iter()
            .fold(AccessState::default(), |s, e| step(&s, e, T0).state);
        assert_eq!(st.grants.len(), 1);
        assert_eq!(
            st.grants[0].ends_at,
            Some(p2.1),
            "order {:?}",
            order.iter().map(|e| &e.kind).collect::<Vec<_>>()
        );
    }
    // Cancelled, then an older "active" snapshot arrives: still cancelled.
    let mut c = subscription("canceled", p1.0, p1.1);
    set(&mut c, "ended_at", json!(T0 + 5 * DAY));
    let cancel = event("customer.subscription.deleted", T0 + 5 * DAY, c);
    let st = run(&[created, cancel, renewed, paid], T0);
    assert_eq!(st.grants[0].status, GrantStatus::Canceled);
    assert!(!pro(&st, T0 + 6 * DAY));
    // Even a same-second or newer-dated non-final snapshot cannot resurrect it.
    let late = event(
        "customer.subscription.updated",
        T0 + 99 * DAY,
        subscription("active", p2.0, p2.1),
    );
    let st2 = step(&st, &late, T0).state;
    assert_eq!(st2, st);
}

#[test]
fn invoice_paid_old_api_shape_extends() {
    let mut inv = invoice("paid", T0, T0 + 30 * DAY);
    set(&mut inv, "parent", Value::Null);
    set(&mut inv, "subscription", json!(SUB));
    set(&mut inv, "lines.data.0.pricing", Value::Null);
    set(&mut inv, "lines.data.0.parent", Value::Null);
    set(
        &mut inv,
        "lines.data.0.price",
        json!({"id": "price_1", "product": PROD_PRO}),
    );
    let st = run(&[event("invoice.paid", T0, inv)], T0);
    assert_eq!(st.grants.len(), 1);
    assert_eq!(st.grants[0].source, SUB);
    assert!(pro(&st, T0 + 29 * DAY));
}

#[test]
fn past_due_then_recovered_then_cancel_at_period_end() {
    let p2 = (T0 + 30 * DAY, T0 + 60 * DAY);
    let st = run(
        &[
            event(
                "customer.subscription.created",
                T0,
                subscription("active", T0, p2.0),
            ),
            event(
                "customer.subscription.updated",
                p2.0 + 1,
                subscription("past_due", p2.0, p2.1),
            ),
        ],
        T0,
    );
    assert!(pro(&st, p2.0 + 6 * DAY));
    assert!(!pro(&st, p2.0 + 8 * DAY));
    let t = step(
        &st,
        &event("invoice.paid", p2.0 + 3 * DAY, invoice("paid", p2.0, p2.1)),
        p2.0 + 3 * DAY,
    );
    assert!(kinds(&t).contains(&ActivityKind::SubscriptionRenewed));
    assert!(pro(&t.state, p2.0 + 20 * DAY));
    let mut cape = subscription("active", p2.0, p2.1);
    set(&mut cape, "cancel_at_period_end", json!(true));
    let t2 = step(
        &t.state,
        &event("customer.subscription.updated", p2.0 + 4 * DAY, cape),
        p2.0 + 4 * DAY,
    );
    assert!(kinds(&t2).contains(&ActivityKind::SubscriptionCancelled));
    assert!(pro(&t2.state, p2.1 - 1));
    assert!(!pro(&t2.state, p2.1));
}

#[test]
fn refunds_follow_policy_and_order() {
    let cs = checkout_session("payment", "paid");
    let pi = "pi_1PgafyB7WZ01zgkWSjxsAJo3";
    let buy = event("checkout.session.completed", T0, cs);
    let partial = event("charge.refunded", T0 + DAY, charge(pi, 1000, 300));
    let full = event("charge.refunded", T0 + 2 * DAY, charge(pi, 1000, 1000));
    let st = run(&[buy.clone(), partial], T0);
    assert!(
        pro(&st, T0 + 3 * DAY),
        "a partial refund keeps access by default"
    );
    let t = step(&st, &full, T0 + 2 * DAY);
    assert!(!pro(&t.state, T0 + 3 * DAY));
    assert!(kinds(&t).contains(&ActivityKind::AccessRevoked));
    // Refund delivered before the purchase: the purchase never grants.
    let st = run(&[full, buy], T0);
    assert!(!pro(&st, T0 + 3 * DAY));
    assert!(st.grants.iter().all(|g| !g.is_active(T0 + 3 * DAY)));
}

#[test]
fn plan_change_moves_access_between_products() {
    let p = (T0, T0 + 30 * DAY);
    let a = subscription("active", p.0, p.1);
    let mut b = subscription("active", p.0, p.1);
    set(&mut b, "items.data.0.price.product", json!(PROD_COURSE));
    let st = run(
        &[
            event("customer.subscription.created", T0, a),
            event("customer.subscription.updated", T0 + DAY, b),
        ],
        T0,
    );
    assert_eq!(st.active_products(CUS, T0 + 2 * DAY), vec!["course"]);
}

#[test]
fn unknown_events_are_ignored_with_a_reason() {
    let e = event("plan.created", T0, fixture("plan"));
    let t = step(&AccessState::default(), &e, T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);
}
