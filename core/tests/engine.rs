//! Scenario tests for the access engine, built from Stripe's own object shapes (fixtures3.json, adapted per case).

mod common;

use common::*;
use latch_core::engine::{AccessState, ActivityKind, Effect, FetchObject, GrantStatus, Input, apply, buyer, scope};
use serde_json::{Value, json};

/// Runs events in order from an empty state; returns the final state.
fn run(events: &[latch_core::event::Event], now: i64) -> AccessState {
    events.iter().fold(AccessState::default(), |s, e| step(&s, e, now).state)
}

fn pro(state: &AccessState, now: i64) -> bool {
    state.active_products(CUS, now).contains(&"pro")
}

fn kinds(t: &latch_core::engine::Transition) -> Vec<ActivityKind> {
    t.activities().map(|a| a.kind).collect()
}

#[test]
fn subscription_statuses_table() {
    // The member paid the previous period; the snapshot is of the current one, its latest invoice paid or not.
    let (start, end) = (T0, T0 + 30 * DAY);
    let previous = invoice_paid(start - 30 * DAY, start, start - 30 * DAY);
    // (status, cancel_at_period_end, latest invoice paid, access at start+1d, at start+10d, after end)
    let table: &[(&str, bool, bool, bool, bool, bool)] = &[
        ("active", false, true, true, true, false),
        // A renewal still being paid (a bank debit) or voided (a bounced debit Stripe keeps active): the grace only.
        ("active", false, false, true, false, false),
        ("trialing", false, false, true, true, false),
        ("active", true, true, true, true, false),
        ("active", true, false, true, false, false),
        ("past_due", false, false, true, false, false), // 7 days of grace from the end of the paid period
        ("unpaid", false, false, false, false, false),
        ("paused", false, false, false, false, false),
        ("incomplete", false, false, false, false, false),
        ("incomplete_expired", false, false, false, false, false),
        ("canceled", false, false, false, false, false),
    ];
    for &(status, cape, paid, a1, a10, after) in table {
        for old_api in [false, true] {
            let mut s =
                if old_api { subscription_old_api(status, start, end) } else { subscription(status, start, end) };
            set(&mut s, "cancel_at_period_end", json!(cape));
            if status == "canceled" || status == "incomplete_expired" {
                set(&mut s, "ended_at", json!(start));
            }
            let mut events = vec![previous.clone()];
            if paid {
                events.push(invoice_paid(start, end, start));
            }
            events.push(event("customer.subscription.updated", start, s));
            let st = run(&events, start);
            let label = format!("{status} cape={cape} paid={paid} old_api={old_api}");
            assert_eq!(pro(&st, start + DAY), a1, "{label} day 1");
            assert_eq!(pro(&st, start + 10 * DAY), a10, "{label} day 10");
            assert_eq!(pro(&st, end + 1), after, "{label} after end");
            let g = st.grants.first().unwrap_or_else(|| panic!("{label}: no row"));
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
    assert_eq!(kinds(&t1), vec![ActivityKind::ProductPurchased, ActivityKind::AccessGranted]);
    let g = &t1.state.grants[0];
    assert_eq!(g.source, "pi_1PgafyB7WZ01zgkWSjxsAJo3");
    assert_eq!(g.ends_at, None);
    // A replay and a second event for the same session change nothing and record nothing.
    let t2 = step(&t1.state, &e, T0 + 5);
    assert_eq!(t2.state, t1.state);
    assert!(t2.effects.is_empty());
    let t3 = step(&t1.state, &event("checkout.session.async_payment_succeeded", T0 + 9, cs), T0 + 9);
    assert_eq!(t3.state, t1.state);
}

fn fetches(t: &latch_core::engine::Transition) -> Vec<&latch_core::engine::FetchRequest> {
    t.effects.iter().filter_map(|e| if let Effect::Fetch(f) = e { Some(f) } else { None }).collect()
}

#[test]
fn checkout_unpaid_setup_and_unlinked_grant_nothing() {
    let unpaid = event("checkout.session.completed", T0, checkout_session("payment", "unpaid"));
    let t = step(&AccessState::default(), &unpaid, T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::AwaitingPayment]);

    let mut setup = checkout_session("setup", "no_payment_required");
    set(&mut setup, "setup_intent", json!(null));
    let t = step(&AccessState::default(), &event("checkout.session.completed", T0, setup.clone()), T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);
    assert!(fetches(&t).is_empty(), "no setup intent, nothing to save");
    // With its setup intent, the saved card is fetched to become the customer's default; still no access.
    set(&mut setup, "setup_intent", json!("seti_1"));
    let t = step(&AccessState::default(), &event("checkout.session.completed", T0, setup.clone()), T0);
    assert!(t.state.grants.is_empty());
    let fetched = fetches(&t);
    assert_eq!(fetched.len(), 1);
    assert_eq!((fetched[0].object, fetched[0].id.as_str()), (FetchObject::SetupIntent, "seti_1"));
    assert_eq!(fetched[0].to_stripe_request().path_and_query(), "/v1/setup_intents/seti_1?expand%5B%5D=payment_method");
    set(&mut setup, "status", json!("open"));
    let t = step(&AccessState::default(), &event("checkout.session.completed", T0, setup), T0);
    assert!(fetches(&t).is_empty(), "an unfinished setup saves nothing");

    let mut cs = checkout_session("payment", "paid");
    set(&mut cs, "metadata", json!({"latch_product": "not-here"}));
    let t = step(&AccessState::default(), &event("checkout.session.completed", T0, cs), T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);

    let mut cs = checkout_session("payment", "paid");
    set(&mut cs, "metadata", json!({"latch_site": "site_other", "latch_product": "pro"}));
    let t = step(&AccessState::default(), &event("checkout.session.completed", T0, cs), T0);
    assert!(t.state.grants.is_empty());

    let mut sub = subscription("active", T0, T0 + 30 * DAY);
    set(&mut sub, "items.data.0.price.product", json!(PROD_UNLINKED));
    set(&mut sub, "metadata", json!({}));
    let t = step(&AccessState::default(), &event("customer.subscription.created", T0, sub), T0);
    assert!(t.state.grants.is_empty());
    let a = t.activities().next().unwrap_or_else(|| panic!("no activity"));
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
    let mut e = event("checkout.session.completed", T0, checkout_session("payment", "paid"));
    e.livemode = true;
    let t = step(&AccessState::default(), &e, T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);
}

#[test]
fn subscription_checkout_source_is_the_subscription_and_claim_converges() {
    let (start, end) = (T0, T0 + 30 * DAY);
    // Webhook path: session with an unexpanded subscription -> provisional row on the subscription + fetch.
    let e = event("checkout.session.completed", T0, checkout_session("subscription", "paid"));
    let t = step(&AccessState::default(), &e, T0);
    assert_eq!(t.state.grants.len(), 1);
    assert_eq!(t.state.grants[0].source, SUB);
    assert!(
        t.effects.iter().any(|f| matches!(f, Effect::Fetch(r) if r.object == FetchObject::Subscription && r.id == SUB))
    );
    assert!(pro(&t.state, T0 + 60));

    // Claim path: the fetched session with the subscription expanded.
    let mut cs = checkout_session("subscription", "paid");
    set(&mut cs, "subscription", subscription("active", start, end));
    let obj = object(cs);
    let fetched = Input::Fetched { object: &obj };
    let sc = scope(&fetched);
    assert_eq!(sc.customer.as_deref(), Some(CUS));
    assert!(sc.sources.iter().any(|s| s == SUB));
    let claim_first = apply(&fetched, &AccessState::default(), &catalog(), T0 + 2);
    let webhook_then_claim = apply(&fetched, &t.state, &catalog(), T0 + 2);
    for st in [&claim_first.state, &webhook_then_claim.state] {
        assert_eq!(st.grants.len(), 1);
        let g = &st.grants[0];
        assert_eq!((g.customer.as_str(), g.product.as_str(), g.source.as_str()), (CUS, "pro", SUB));
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
    let claim = apply(&Input::Fetched { object: &obj }, &AccessState::default(), &catalog(), T0 + 1);
    let hook = step(&AccessState::default(), &event("checkout.session.completed", T0, cs.clone()), T0);
    let key = |s: &AccessState| {
        s.grants.iter().map(|g| (g.customer.clone(), g.product.clone(), g.source.clone())).collect::<Vec<_>>()
    };
    assert_eq!(key(&claim.state), key(&hook.state));
    let both = step(&claim.state, &event("checkout.session.completed", T0, cs), T0 + 2);
    assert_eq!(both.state.grants.len(), 1);
    assert!(both.effects.is_empty());
}

#[test]
fn renewals_extend_and_older_snapshots_never_shorten_or_resurrect() {
    let p1 = (T0, T0 + 30 * DAY);
    let p2 = (p1.1, p1.1 + 30 * DAY);
    let created = event("customer.subscription.created", T0, subscription("active", p1.0, p1.1));
    let renewed = event("customer.subscription.updated", p2.0, subscription("active", p2.0, p2.1));
    let paid = event("invoice.paid", p2.0, invoice("paid", p2.0, p2.1));
    // In order and in every reversed order the end is the renewed period's.
    for order in [vec![&created, &renewed, &paid], vec![&paid, &renewed, &created], vec![&renewed, &created, &paid]] {
        let st = order.iter().fold(AccessState::default(), |s, e| step(&s, e, T0).state);
        assert_eq!(st.grants.len(), 1);
        assert_eq!(st.grants[0].ends_at, Some(p2.1), "order {:?}", order.iter().map(|e| &e.kind).collect::<Vec<_>>());
    }
    // Cancelled, then an older "active" snapshot arrives: still cancelled.
    let mut c = subscription("canceled", p1.0, p1.1);
    set(&mut c, "ended_at", json!(T0 + 5 * DAY));
    let cancel = event("customer.subscription.deleted", T0 + 5 * DAY, c);
    let st = run(&[created, cancel, renewed, paid], T0);
    assert_eq!(st.grants[0].status, GrantStatus::Canceled);
    assert!(!pro(&st, T0 + 6 * DAY));
    // Even a same-second or newer-dated non-final snapshot cannot resurrect it.
    let late = event("customer.subscription.updated", T0 + 99 * DAY, subscription("active", p2.0, p2.1));
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
    set(&mut inv, "lines.data.0.price", json!({"id": "price_1", "product": PROD_PRO}));
    // A first debit still processing: no access until its invoice is paid.
    let created = event("customer.subscription.created", T0, subscription("active", T0, T0 + 30 * DAY));
    let st = run(std::slice::from_ref(&created), T0);
    assert!(!pro(&st, T0 + DAY));
    let st = run(&[created, event("invoice.paid", T0, inv)], T0);
    assert_eq!(st.grants.len(), 1);
    assert_eq!(st.grants[0].source, SUB);
    assert!(pro(&st, T0 + 29 * DAY));
}

#[test]
fn past_due_then_recovered_then_cancel_at_period_end() {
    let p2 = (T0 + 30 * DAY, T0 + 60 * DAY);
    let st = run(
        &[
            event("customer.subscription.created", T0, subscription("active", T0, p2.0)),
            invoice_paid(T0, p2.0, T0),
            event("customer.subscription.updated", p2.0 + 1, subscription("past_due", p2.0, p2.1)),
        ],
        T0,
    );
    assert!(pro(&st, p2.0 + 6 * DAY));
    assert!(!pro(&st, p2.0 + 8 * DAY));
    // The retry succeeds: Stripe sends the paid invoice and the subscription, active again, in either order.
    let paid = event("invoice.paid", p2.0 + 3 * DAY, invoice("paid", p2.0, p2.1));
    let recovered = event("customer.subscription.updated", p2.0 + 3 * DAY, subscription("active", p2.0, p2.1));
    let t = step(&st, &paid, p2.0 + 3 * DAY);
    assert!(pro(&t.state, p2.0 + 20 * DAY), "paid through the period, whatever the status");
    let t = step(&t.state, &recovered, p2.0 + 3 * DAY);
    assert!(kinds(&t).contains(&ActivityKind::SubscriptionRenewed), "{:?}", kinds(&t));
    let other_order = step(&step(&st, &recovered, p2.0 + 3 * DAY).state, &paid, p2.0 + 3 * DAY).state;
    assert_eq!(other_order.grants[0].ends_at, t.state.grants[0].ends_at);
    assert_eq!(other_order.grants[0].status, GrantStatus::Active);
    assert!(pro(&t.state, p2.1 - 1));
    assert!(!pro(&t.state, p2.1));
    let mut cape = subscription("active", p2.0, p2.1);
    set(&mut cape, "cancel_at_period_end", json!(true));
    let t2 = step(&t.state, &event("customer.subscription.updated", p2.0 + 4 * DAY, cape), p2.0 + 4 * DAY);
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
    assert!(pro(&st, T0 + 3 * DAY), "a partial refund keeps access by default");
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
            invoice_paid(p.0, p.1, T0),
            event("customer.subscription.updated", T0 + DAY, b),
        ],
        T0,
    );
    // What was paid is the subscription's, so the product it moved to has the rest of the period.
    assert_eq!(st.active_products(CUS, T0 + 2 * DAY), vec!["course"]);
    assert_eq!(st.active_products(CUS, p.1 - 1), vec!["course"]);
}

#[test]
fn unknown_events_are_ignored_with_a_reason() {
    let e = event("plan.created", T0, fixture("plan"));
    let t = step(&AccessState::default(), &e, T0);
    assert!(t.state.grants.is_empty());
    assert_eq!(kinds(&t), vec![ActivityKind::Ignored]);
}

fn cat_with(f: impl FnOnce(&mut latch_core::engine::ProductPolicy)) -> latch_core::engine::Catalog {
    let mut c = catalog();
    if let Some(p) = c.products.first_mut() {
        f(p);
    }
    c
}

fn run_with(cat: &latch_core::engine::Catalog, events: &[latch_core::event::Event], now: i64) -> AccessState {
    events.iter().fold(AccessState::default(), |s, e| apply(&Input::Event(e), &s, cat, now).state)
}

#[test]
fn checkout_expired_and_async_failed_are_recorded_without_access() {
    let cs = checkout_session("payment", "unpaid");
    let t = step(&AccessState::default(), &event("checkout.session.expired", T0, cs.clone()), T0);
    assert_eq!(kinds(&t), vec![ActivityKind::CheckoutExpired]);
    let t = step(&AccessState::default(), &event("checkout.session.async_payment_failed", T0, cs), T0);
    assert_eq!(kinds(&t), vec![ActivityKind::PaymentFailed]);
    assert!(t.state.grants.is_empty());
}

#[test]
fn no_payment_required_grants_on_the_session() {
    let mut cs = checkout_session("payment", "no_payment_required");
    set(&mut cs, "payment_intent", Value::Null);
    let st = run(&[event("checkout.session.completed", T0, cs)], T0);
    assert_eq!(st.grants.len(), 1);
    assert!(st.grants[0].source.starts_with("cs_"));
    assert!(pro(&st, T0 + DAY));
}

#[test]
fn one_time_access_for_n_days() {
    let cat = cat_with(|p| p.one_time = latch_core::engine::OneTimeAccess::Days(30));
    let st = run_with(&cat, &[event("checkout.session.completed", T0, checkout_session("payment", "paid"))], T0);
    assert!(st.active_products(CUS, T0 + 29 * DAY).contains(&"pro"));
    assert!(st.active_products(CUS, T0 + 30 * DAY).is_empty());
}

#[test]
fn guest_checkout_keys_on_the_email() {
    let mut cs = checkout_session("payment", "paid");
    set(&mut cs, "customer", Value::Null);
    set(&mut cs, "customer_details.email", json!("Member@Example.com"));
    let st = run(&[event("checkout.session.completed", T0, cs)], T0);
    assert_eq!(st.grants[0].customer, "email:member@example.com");
    assert_eq!(st.grants[0].email.as_deref(), Some("Member@Example.com"));
}

#[test]
fn payment_session_without_metadata_fetches_line_items_then_grants() {
    let mut cs = checkout_session("payment", "paid");
    set(&mut cs, "metadata", json!({}));
    let t = step(&AccessState::default(), &event("checkout.session.completed", T0, cs.clone()), T0);
    assert!(t.state.grants.is_empty());
    let req = t
        .effects
        .iter()
        .find_map(|e| match e {
            Effect::Fetch(r) => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no fetch"));
    assert_eq!(req.object, FetchObject::CheckoutSession);
    let http = req.to_stripe_request();
    assert!(http.path_and_query().contains("expand%5B%5D=line_items"), "{}", http.path_and_query());
    set(
        &mut cs,
        "line_items",
        json!({"object": "list", "has_more": false, "url": "/v1/checkout/sessions/x/line_items",
               "data": [{"id": "li_1", "object": "item", "quantity": 1,
                         "price": {"id": "price_1", "object": "price", "product": PROD_COURSE}}]}),
    );
    let obj = object(cs);
    let t = apply(&Input::Fetched { object: &obj }, &t.state, &catalog(), T0 + 1);
    assert_eq!(t.state.active_products(CUS, T0 + DAY), vec!["course"]);
}

#[test]
fn trial_then_paid() {
    let trial_end = T0 + 14 * DAY;
    let mut trial_inv = invoice("paid", T0, trial_end);
    set(&mut trial_inv, "amount_paid", json!(0));
    let st = run(
        &[
            event("customer.subscription.created", T0, subscription("trialing", T0, trial_end)),
            event("invoice.paid", T0, trial_inv),
        ],
        T0,
    );
    assert_eq!(st.grants[0].status, GrantStatus::Trialing);
    assert!(pro(&st, trial_end - 1));
    assert!(!pro(&st, trial_end));
    let converted = [
        event("customer.subscription.created", T0, subscription("trialing", T0, trial_end)),
        event("customer.subscription.updated", trial_end, subscription("active", trial_end, trial_end + 30 * DAY)),
    ];
    // Converted, its first invoice not yet paid: the grace past the trial, no more.
    let st = run(&converted, T0);
    assert!(pro(&st, trial_end + 6 * DAY));
    assert!(!pro(&st, trial_end + 8 * DAY));
    let st = step(&st, &invoice_paid(trial_end, trial_end + 30 * DAY, trial_end), trial_end).state;
    assert_eq!(st.grants[0].status, GrantStatus::Active);
    assert!(pro(&st, trial_end + 29 * DAY));
}

#[test]
fn cancel_at_ends_access_at_that_time() {
    let mut s = subscription("active", T0, T0 + 30 * DAY);
    set(&mut s, "cancel_at", json!(T0 + 10 * DAY));
    let st = run(&[invoice_paid(T0, T0 + 30 * DAY, T0), event("customer.subscription.updated", T0, s)], T0);
    assert_eq!(st.grants[0].status, GrantStatus::Canceling);
    assert!(pro(&st, T0 + 10 * DAY - 1));
    assert!(!pro(&st, T0 + 10 * DAY));
}

#[test]
fn paused_and_resumed() {
    let p = (T0, T0 + 30 * DAY);
    let st = run(
        &[
            event("customer.subscription.created", T0, subscription("active", p.0, p.1)),
            invoice_paid(p.0, p.1, T0),
            event("customer.subscription.paused", T0 + DAY, subscription("paused", p.0, p.1)),
        ],
        T0,
    );
    assert!(!pro(&st, T0 + 2 * DAY));
    let t = step(
        &st,
        &event("customer.subscription.resumed", T0 + 3 * DAY, subscription("active", T0 + 3 * DAY, T0 + 33 * DAY)),
        T0 + 3 * DAY,
    );
    assert!(pro(&t.state, T0 + 4 * DAY));
    assert!(kinds(&t).contains(&ActivityKind::AccessGranted));
}

#[test]
fn quantity_does_not_multiply_access() {
    let mut s = subscription("active", T0, T0 + 30 * DAY);
    set(&mut s, "items.data.0.quantity", json!(5));
    let st = run(&[event("customer.subscription.created", T0, s)], T0);
    assert_eq!(st.grants.len(), 1);
}

#[test]
fn canceled_with_keep_paid_period_policy() {
    let mut c = subscription("canceled", T0, T0 + 30 * DAY);
    set(&mut c, "ended_at", json!(T0 + DAY));
    let events = [invoice_paid(T0, T0 + 30 * DAY, T0), event("customer.subscription.deleted", T0 + DAY, c)];
    let strict = run(&events, T0);
    assert!(!pro(&strict, T0 + 2 * DAY));
    let cat = cat_with(|p| p.cancel = latch_core::engine::CancelRule::KeepPaidPeriod);
    let kind = run_with(&cat, &events, T0);
    assert!(kind.active_products(CUS, T0 + 29 * DAY).contains(&"pro"));
    assert!(kind.active_products(CUS, T0 + 30 * DAY).is_empty());
}

#[test]
fn refund_rules() {
    let pi = "pi_1PgafyB7WZ01zgkWSjxsAJo3";
    let buy = event("checkout.session.completed", T0, checkout_session("payment", "paid"));
    let partial = event("charge.refunded", T0 + DAY, charge(pi, 1000, 10));
    let any = cat_with(|p| p.refund = latch_core::engine::RefundRule::RevokeOnAnyRefund);
    assert!(run_with(&any, &[buy.clone(), partial], T0).active_products(CUS, T0 + 2 * DAY).is_empty());
    let keep = cat_with(|p| p.refund = latch_core::engine::RefundRule::Keep);
    let full = event("charge.refunded", T0 + DAY, charge(pi, 1000, 1000));
    assert_eq!(run_with(&keep, &[buy, full], T0).active_products(CUS, T0 + 2 * DAY), vec!["pro"]);
    // A refund of a subscription invoice's charge changes nothing.
    let sub = run(&[event("customer.subscription.created", T0, subscription("active", T0, T0 + 30 * DAY))], T0);
    let t = step(&sub, &event("charge.refunded", T0 + DAY, charge("pi_other", 2000, 2000)), T0 + DAY);
    assert_eq!(t.state.grants[..1], sub.grants[..]);
    assert_eq!(kinds(&t), vec![ActivityKind::Refunded]);
}

fn dispute(status: &str) -> Value {
    let mut d = fixture("dispute");
    set(&mut d, "payment_intent", json!("pi_1PgafyB7WZ01zgkWSjxsAJo3"));
    set(&mut d, "status", json!(status));
    d
}

#[test]
fn disputes_follow_policy() {
    let buy = event("checkout.session.completed", T0, checkout_session("payment", "paid"));
    let opened = event("charge.dispute.created", T0 + DAY, dispute("needs_response"));
    let lost = event("charge.dispute.closed", T0 + 9 * DAY, dispute("lost"));
    let won = event("charge.dispute.closed", T0 + 9 * DAY, dispute("won"));
    // Default: keep while open, revoke when lost, keep when won.
    let open = run(&[buy.clone(), opened.clone()], T0);
    assert!(pro(&open, T0 + 2 * DAY));
    assert!(!pro(&step(&open, &lost, T0).state, T0 + 10 * DAY));
    assert!(pro(&step(&open, &won, T0).state, T0 + 10 * DAY));
    // Suspend while open, restore when won.
    let suspend = cat_with(|p| p.dispute = latch_core::engine::DisputeRule::SuspendWhileOpen);
    let open = run_with(&suspend, &[buy.clone(), opened.clone()], T0);
    assert!(open.active_products(CUS, T0 + 2 * DAY).is_empty());
    let restored = apply(&Input::Event(&won), &open, &suspend, T0).state;
    assert_eq!(restored.active_products(CUS, T0 + 10 * DAY), vec!["pro"]);
    // Keep: even a lost dispute keeps access.
    let keep = cat_with(|p| p.dispute = latch_core::engine::DisputeRule::Keep);
    assert_eq!(
        run_with(&keep, &[buy.clone(), opened, lost.clone()], T0).active_products(CUS, T0 + 10 * DAY),
        vec!["pro"]
    );
    // Lost before the purchase is delivered: never grants.
    assert!(!pro(&run(&[lost, buy], T0), T0 + 10 * DAY));
}

#[test]
fn customer_deleted_ends_subscriptions_and_keeps_one_time_purchases() {
    // Stripe: deleting a customer cancels their subscriptions; it refunds nothing.
    let st = run(
        &[
            event("checkout.session.completed", T0, checkout_session("payment", "paid")),
            event(
                "customer.subscription.created",
                T0,
                with_latest_invoice(subscription("active", T0, T0 + 30 * DAY), "paid"),
            ),
        ],
        T0,
    );
    assert_eq!(st.grants.len(), 2);
    let t = step(&st, &event("customer.deleted", T0 + DAY, fixture("deleted_customer")), T0 + DAY);
    // Each thing said once (found end to end with delivery chaos: access_revoked was written twice).
    assert_eq!(
        kinds(&t),
        vec![ActivityKind::CustomerDeleted, ActivityKind::SubscriptionCancelled, ActivityKind::AccessRevoked]
    );
    let status = |source: &str| t.state.grants.iter().find(|g| g.source.starts_with(source)).map(|g| g.status);
    assert_eq!(status("sub_"), Some(GrantStatus::Canceled));
    assert_eq!(status("pi_"), Some(GrantStatus::Active));
    assert_eq!(t.state.active_products(CUS, T0 + 400 * DAY), vec!["pro"], "the lifetime purchase stays");
}

#[test]
fn deauthorization_is_recorded_and_notified_without_touching_access() {
    let st = run(&[event("customer.subscription.created", T0, subscription("active", T0, T0 + 30 * DAY))], T0);
    let mut e = event("account.application.deauthorized", T0 + DAY, fixture("application"));
    e.account = Some("acct_1PgafTB7WZ01zgkW".into());
    let mut cat = catalog();
    cat.account = e.account.clone();
    let t = apply(&Input::Event(&e), &st, &cat, T0 + DAY);
    assert_eq!(t.state, st);
    assert_eq!(kinds(&t), vec![ActivityKind::AccountDisconnected]);
    assert!(t.effects.iter().any(
        |e| matches!(e, Effect::Notify(n) if n.kind == latch_core::engine::NotificationKind::AccountDisconnected)
    ));
}

#[test]
fn events_of_another_connected_account_are_ignored() {
    let mut cat = catalog();
    cat.account = Some("acct_mine".into());
    let mut e = event("checkout.session.completed", T0, checkout_session("payment", "paid"));
    e.account = Some("acct_other".into());
    let t = apply(&Input::Event(&e), &AccessState::default(), &cat, T0);
    assert!(t.state.grants.is_empty());
    // Nor do the platform's own events, whatever site their metadata names.
    e.account = None;
    assert!(apply(&Input::Event(&e), &AccessState::default(), &cat, T0).state.grants.is_empty());
    e.account = Some("acct_mine".into());
    assert_eq!(apply(&Input::Event(&e), &AccessState::default(), &cat, T0).state.grants.len(), 1);
    // The site on the platform's account ignores every connected account's events.
    assert!(apply(&Input::Event(&e), &AccessState::default(), &catalog(), T0).state.grants.is_empty());
}

#[test]
fn invoice_payment_failed_notifies_and_keeps_access() {
    let st = run(&[event("customer.subscription.created", T0, subscription("active", T0, T0 + 30 * DAY))], T0);
    let t =
        step(&st, &event("invoice.payment_failed", T0 + 30 * DAY, invoice("open", T0 + 30 * DAY, T0 + 60 * DAY)), T0);
    assert_eq!(t.state, st);
    assert_eq!(kinds(&t), vec![ActivityKind::PaymentFailed]);
    assert!(
        t.effects
            .iter()
            .any(|e| matches!(e, Effect::Notify(n) if n.kind == latch_core::engine::NotificationKind::PaymentFailed))
    );
}

#[test]
fn same_second_conflicts_ask_for_the_subscription() {
    let p = (T0, T0 + 30 * DAY);
    let mut cape = subscription("active", p.0, p.1);
    set(&mut cape, "cancel_at_period_end", json!(true));
    let st = run(&[invoice_paid(p.0, p.1, T0), event("customer.subscription.updated", T0 + 5, cape)], T0);
    let t = step(&st, &event("customer.subscription.updated", T0 + 5, subscription("active", p.0, p.1)), T0);
    assert!(t.effects.iter().any(|e| matches!(e, Effect::Fetch(r) if r.object == FetchObject::Subscription)));
    // The fetched subscription (newer version) settles it.
    let mut truth = subscription("active", p.0, p.1);
    set(&mut truth, "cancel_at_period_end", json!(true));
    let obj = object(with_latest_invoice(truth, "paid"));
    let settled = apply(&Input::Fetched { object: &obj }, &t.state, &catalog(), T0 + 60);
    assert_eq!(settled.state.grants[0].status, GrantStatus::Canceling);
}

#[test]
fn unknown_subscription_status_fetches_instead_of_guessing() {
    let s = subscription("some_future_status", T0, T0 + 30 * DAY);
    let t = step(&AccessState::default(), &event("customer.subscription.updated", T0, s), T0);
    assert!(t.state.grants.is_empty());
    assert!(t.effects.iter().any(|e| matches!(e, Effect::Fetch(_))));
}

#[test]
fn scope_names_what_the_edge_must_load() {
    let e = event("charge.refunded", T0, charge("pi_1", 100, 100));
    let s = scope(&Input::Event(&e));
    assert_eq!(s.sources, vec!["pi_1".to_owned(), "ch_1PgafuB7WZ01zgkWXYmPNZs8".to_owned()]);
    let e = event("invoice.paid", T0, invoice("paid", T0, T0 + DAY));
    let s = scope(&Input::Event(&e));
    assert_eq!((s.customer.as_deref(), s.sources.as_slice()), (Some(CUS), &[SUB.to_owned()][..]));
    let e = event("customer.deleted", T0, fixture("deleted_customer"));
    assert_eq!(scope(&Input::Event(&e)).customer.as_deref(), Some(CUS));
}

#[test]
fn each_start_is_reported_once_in_either_order() {
    let p = (T0, T0 + 30 * DAY);
    let checkout = event("checkout.session.completed", T0, checkout_session("subscription", "paid"));
    let created = event("customer.subscription.created", T0, subscription("active", p.0, p.1));
    let paid = event("invoice.paid", T0, invoice("paid", p.0, p.1));
    let orders = [
        [&checkout, &created, &paid],
        [&created, &checkout, &paid],
        [&paid, &created, &checkout],
        [&paid, &checkout, &created],
    ];
    for order in orders {
        let mut st = AccessState::default();
        let mut all = Vec::new();
        for e in order {
            let t = step(&st, e, T0);
            all.extend(kinds(&t));
            st = t.state;
        }
        let count = |k: ActivityKind| all.iter().filter(|x| **x == k).count();
        assert_eq!(count(ActivityKind::SubscriptionStarted), 1, "{all:?}");
        assert_eq!(count(ActivityKind::AccessGranted), 1, "{all:?}");
        assert_eq!(count(ActivityKind::SubscriptionRenewed), 0, "{all:?} {:?}", order.map(|e| &e.kind));
        assert_eq!(st.grants.len(), 1);
        assert_eq!(st.grants[0].ends_at, Some(p.1));
    }
}

#[test]
fn an_ended_subscription_never_brings_back_a_product_the_plan_moved_away_from() {
    // Seed `2fe1939e` of the property test: in one second (t1) the member resumes (`pro`), changes plan to `course`,
    // schedules the cancellation and cancels now. Stripe's last word is "canceled, `course`": `pro` was removed.
    let (p, t1) = ((T0, T0 + 30 * DAY), T0 + 10 * DAY);
    let with = |product: &str, cape: bool| {
        let mut s = subscription("active", p.0, p.1);
        set(&mut s, "items.data.0.price.product", json!(product));
        set(&mut s, "cancel_at_period_end", json!(cape));
        s
    };
    let mut ended = with(PROD_COURSE, false);
    set(&mut ended, "status", json!("canceled"));
    set(&mut ended, "ended_at", json!(t1));
    set(&mut ended, "canceled_at", json!(t1));
    let mut pro_paid = invoice("paid", t1, p.1 + 30 * DAY);
    set(&mut pro_paid, "lines.data.0.pricing.price_details.product", json!(PROD_PRO));
    let events = [
        event("customer.subscription.created", T0, with(PROD_PRO, true)), // 0
        event("invoice.paid", T0, invoice("paid", p.0, p.1)),             // 1
        event("customer.subscription.updated", t1, with(PROD_PRO, false)), // 2: resume
        event("customer.subscription.updated", t1, with(PROD_COURSE, false)), // 3: plan change
        event("customer.subscription.updated", t1, with(PROD_COURSE, true)), // 4: cancel at period end
        event("customer.subscription.deleted", t1, ended),                // 5: cancel now
        event("invoice.paid", t1, pro_paid),                              // 6: a same-second invoice naming `pro`
        event("checkout.session.completed", t1, checkout_session("subscription", "paid")), // 7: late, stale metadata
    ];
    // Delivery orders (indices into `events`); the engine is not told the truth by a fetch in between.
    let table: &[(&str, &[usize])] = &[
        ("true order, then the same second replayed backwards", &[0, 1, 2, 3, 4, 5, 4, 3, 2]),
        ("the end first, then the same second", &[0, 1, 5, 2, 3, 4]),
        ("the end before anything else", &[5, 2, 0, 1, 7, 6]),
        ("plan change, end, then the resume and a pro invoice", &[0, 1, 3, 5, 2, 6]),
        ("checkout without the subscription after the end", &[5, 7, 0, 2, 1]),
    ];
    for &(label, order) in table {
        let mut st = AccessState::default();
        for &i in order {
            let t = step(&st, &events[i], t1);
            assert!(
                !t.effects.iter().any(|e| matches!(e, Effect::Fetch(_)))
                    || !st.grants.iter().any(|g| g.status == GrantStatus::Canceled),
                "{label}: event {i} fetched although the subscription had ended"
            );
            st = t.state;
        }
        for now in [t1, t1 + DAY, p.1 - 1, p.1 + DAY] {
            assert_eq!(st.active_products(CUS, now), Vec::<&str>::new(), "{label}: access at {now}");
        }
        for g in &st.grants {
            let want = if g.product == "course" { GrantStatus::Canceled } else { GrantStatus::Removed };
            assert_eq!(g.status, want, "{label}: {} row {:#?}", g.product, st.grants);
        }
        // Replaying every event once more, in either order, changes no row.
        let again = events.iter().rev().chain(events.iter()).fold(st.clone(), |s, e| step(&s, e, t1 + 100).state);
        assert_eq!(again, st, "{label}: replay");
    }
}

#[test]
fn a_fetch_in_the_same_second_settles_the_tie_for_good() {
    // Seeds `e8b1ea67` / `4862ec16` of the property test: the plan changes from `pro` to `course` in the second the
    // subscription starts, and the edge's fetch is answered in that same second (fetched_at == created).
    let p = (T0, T0 + 30 * DAY);
    let course = |cape: bool| {
        let mut s = subscription("active", p.0, p.1);
        set(&mut s, "items.data.0.price.product", json!(PROD_COURSE));
        set(&mut s, "cancel_at_period_end", json!(cape));
        s
    };
    let events = [
        event("customer.subscription.created", T0, subscription("active", p.0, p.1)), // 0: pro
        event("invoice.paid", T0, invoice("paid", p.0, p.1)),                         // 1: pro
        event("checkout.session.completed", T0, checkout_session("subscription", "paid")), // 2: pro metadata
        event("customer.subscription.updated", T0, course(false)),                    // 3: plan change
    ];
    // (label, events delivered before the fetch, the true subscription the fetch returns, events delivered after,
    //  the product expected, its status)
    type Case<'a> = (&'a str, &'a [usize], bool, &'a [usize], &'a str, GrantStatus);
    let table: &[Case<'_>] = &[
        (
            "plan change last, then the older snapshots again",
            &[0, 3],
            false,
            &[0, 1, 2, 3],
            "course",
            GrantStatus::Active,
        ),
        ("plan change first, then the older snapshots", &[3, 0], false, &[1, 2, 0], "course", GrantStatus::Active),
        ("the fetch outranks a tie it would lose", &[3], true, &[3, 0], "course", GrantStatus::Canceling),
    ];
    for &(label, before, cape, after, want, status) in table {
        let mut st = AccessState::default();
        for &i in before {
            st = step(&st, &events[i], T0).state;
        }
        let obj = object(with_latest_invoice(course(cape), "paid"));
        let t = apply(&Input::Fetched { object: &obj }, &st, &catalog(), T0);
        assert!(!t.effects.iter().any(|e| matches!(e, Effect::Fetch(_))), "{label}: the answer asked again");
        st = t.state;
        let settled = st.clone();
        for &i in after {
            let t = step(&st, &events[i], T0);
            // (The checkout without its subscription always asks for it; the snapshots must not.)
            let fetch = t.effects.iter().any(|e| matches!(e, Effect::Fetch(_)));
            assert!(i == 2 || !fetch, "{label}: event {i} reopened the tie");
            st = t.state;
        }
        assert_eq!(st, settled, "{label}: a same-second event changed a settled row");
        assert_eq!(st.active_products(CUS, T0 + DAY), vec![want], "{label}");
        let row = st.grants.iter().find(|g| g.product == want).unwrap_or_else(|| panic!("{label}: no {want} row"));
        assert_eq!(row.status, status, "{label}");
        // The same answer applied twice changes nothing.
        let again = apply(&Input::Fetched { object: &obj }, &st, &catalog(), T0);
        assert_eq!(again.state, st, "{label}: second application of the fetch");
    }
}

#[test]
fn a_completed_checkout_names_its_buyer_whatever_it_changes() {
    let p = (T0, T0 + 30 * DAY);
    let created = event("customer.subscription.created", T0, subscription("active", p.0, p.1));
    let checkout = event("checkout.session.completed", T0, checkout_session("subscription", "paid"));
    let buyer_of = |e: &latch_core::event::Event, st: &AccessState| buyer(&Input::Event(e), &step(st, e, T0));
    // The subscription's event came first: the checkout changes no row, and still names its buyer.
    let st = step(&AccessState::default(), &created, T0).state;
    let found = buyer_of(&checkout, &st).expect("a buyer");
    assert_eq!(found.customer, CUS);
    assert!(found.email.contains('@') && found.email == found.email.to_lowercase(), "{found:?}");
    assert_eq!(found.member, None, "started signed out");
    let mut signed_in = checkout_session("subscription", "paid");
    set(&mut signed_in, "metadata.latch_member", json!("mem_1"));
    let found = buyer_of(&event("checkout.session.completed", T0, signed_in), &st).expect("a buyer");
    assert_eq!(found.member.as_deref(), Some("mem_1"));
    assert_eq!(buyer_of(&created, &st), None, "only checkout sessions name buyers");
    let mut open = checkout_session("subscription", "unpaid");
    set(&mut open, "status", json!("open"));
    assert_eq!(buyer_of(&event("checkout.session.completed", T0, open), &st), None);
    let mut guest = checkout_session("payment", "paid");
    set(&mut guest, "customer", Value::Null);
    assert_eq!(buyer_of(&event("checkout.session.completed", T0, guest), &st), None);
    // A purchase this site grants nothing for (a product it does not sell) makes no member.
    let mut other = checkout_session("subscription", "paid");
    set(&mut other, "metadata.latch_product", json!("not-sold-here"));
    assert_eq!(buyer_of(&event("checkout.session.completed", T0, other), &AccessState::default()), None);
}

#[test]
fn an_ending_is_never_discarded_by_a_fetch_or_an_older_version() {
    let p = (T0, T0 + 30 * DAY);
    let created = event("customer.subscription.created", T0, subscription("active", p.0, p.1));
    let mut ended = subscription("canceled", p.0, p.1);
    set(&mut ended, "ended_at", json!(T0 + 5));
    let active = object(with_latest_invoice(subscription("active", p.0, p.1), "paid"));
    // (label, when the last active snapshot was, when the end was stamped)
    for (label, active_at, deleted_at) in
        [("a fetch settled the same second", T0 + 5, T0 + 5), ("a newer snapshot came first", T0 + 60, T0 + 5)]
    {
        let st = step(&AccessState::default(), &created, T0).state;
        let st =
            step(&st, &event("customer.subscription.updated", active_at, subscription("active", p.0, p.1)), T0).state;
        let st = apply(&Input::Fetched { object: &active }, &st, &catalog(), active_at).state;
        assert!(pro(&st, T0 + 6), "{label}: active before the end");
        let t = step(&st, &event("customer.subscription.deleted", deleted_at, ended.clone()), T0 + 61);
        let row = t.state.grants.iter().find(|g| g.product == "pro").expect("row");
        assert_eq!(row.status, GrantStatus::Canceled, "{label}");
        assert!(!pro(&t.state, T0 + 61), "{label}: access ended");
        assert!(row.version >= active_at, "{label}: the row's version never goes back");
        assert!(kinds(&t).contains(&ActivityKind::AccessRevoked), "{label}: {:?}", kinds(&t));
        // Once ended, no snapshot brings it back.
        let late = apply(&Input::Fetched { object: &active }, &t.state, &catalog(), T0 + 999);
        assert_eq!(late.state, t.state, "{label}");
    }
}

// ----- Stripe's documented semantics, scenario by scenario -----

fn days(st: &AccessState, from: i64, days: &[i64]) -> Vec<bool> {
    days.iter().map(|d| pro(st, from + d * DAY)).collect()
}

#[test]
fn a_bank_debit_that_bounces_gives_no_free_year() {
    // Stripe: with a delayed payment method the subscription can go straight to `active`; "if the payment fails
    // later, Stripe voids the invoice but the subscription remains active".
    let year = (T0, T0 + 365 * DAY);
    let processing = checkout_session("subscription", "unpaid");
    let created = event("customer.subscription.created", T0, subscription("active", year.0, year.1));
    let st = run(&[event("checkout.session.completed", T0, processing.clone()), created.clone()], T0);
    assert_eq!(days(&st, T0, &[0, 1, 3]), [false; 3], "nothing while the debit is processing");
    let bounced = [
        event("invoice.payment_failed", T0 + 4 * DAY, invoice("open", year.0, year.1)),
        event("checkout.session.async_payment_failed", T0 + 4 * DAY, processing.clone()),
        event("invoice.voided", T0 + 4 * DAY, invoice("void", year.0, year.1)),
        event("customer.subscription.updated", T0 + 4 * DAY + 1, subscription("active", year.0, year.1)),
    ];
    let st = bounced.iter().fold(st, |s, e| step(&s, e, T0 + 4 * DAY).state);
    assert_eq!(days(&st, T0, &[5, 100, 364]), [false; 3], "a bounced debit is not a year of access");
    // The edge's fetch of the subscription (its latest invoice void) agrees.
    let fetched = object(with_latest_invoice(subscription("active", year.0, year.1), "void"));
    let st = apply(&Input::Fetched { object: &fetched }, &st, &catalog(), T0 + 5 * DAY).state;
    assert_eq!(days(&st, T0, &[5, 100, 364]), [false; 3]);
    // The same start whose debit clears: the year, from the payment.
    let mut cleared = processing.clone();
    set(&mut cleared, "payment_status", json!("paid"));
    let st = run(
        &[
            event("checkout.session.completed", T0, processing),
            created,
            event("checkout.session.async_payment_succeeded", T0 + 3 * DAY, cleared),
            invoice_paid(year.0, year.1, T0 + 3 * DAY),
        ],
        T0,
    );
    assert_eq!(days(&st, T0, &[4, 364, 365]), [true, true, false]);
}

#[test]
fn a_renewal_debit_that_bounces_gives_only_the_grace() {
    let (y1, y2) = ((T0, T0 + 365 * DAY), (T0 + 365 * DAY, T0 + 730 * DAY));
    let renewing = run(
        &[
            event("customer.subscription.created", T0, subscription("active", y1.0, y1.1)),
            invoice_paid(y1.0, y1.1, T0),
            // The renewal's debit is processing: Stripe already shows the new period, active.
            event("customer.subscription.updated", y2.0, subscription("active", y2.0, y2.1)),
        ],
        y2.0,
    );
    assert_eq!(days(&renewing, y2.0, &[0, 6, 8, 300]), [true, true, false, false], "the grace, no more");
    let bounced = step(&renewing, &event("invoice.payment_failed", y2.0 + 5 * DAY, invoice("open", y2.0, y2.1)), y2.0);
    assert_eq!(days(&bounced.state, y2.0, &[6, 8, 300]), [true, false, false]);
    let cleared = step(&renewing, &invoice_paid(y2.0, y2.1, y2.0 + 5 * DAY), y2.0).state;
    assert_eq!(days(&cleared, y2.0, &[8, 364, 365]), [true, true, false]);
}

#[test]
fn past_due_grace_runs_from_the_first_unpaid_invoice_not_from_each_period() {
    // "Leave the subscription past due": Stripe keeps renewing it, each period with a new open invoice.
    let p = |n: i64| (T0 + n * 30 * DAY, T0 + (n + 1) * 30 * DAY);
    let st = run(
        &[
            event("customer.subscription.created", T0, subscription("active", p(0).0, p(0).1)),
            invoice_paid(p(0).0, p(0).1, T0),
            event("customer.subscription.updated", p(1).0, subscription("past_due", p(1).0, p(1).1)),
        ],
        p(1).0,
    );
    assert_eq!(days(&st, p(1).0, &[6, 8]), [true, false], "a week of grace after the paid period");
    let t =
        step(&st, &event("customer.subscription.updated", p(2).0, subscription("past_due", p(2).0, p(2).1)), p(2).0);
    assert_eq!(days(&t.state, p(2).0, &[0, 1, 6]), [false; 3], "no fresh week for the next period");
    assert!(!kinds(&t).contains(&ActivityKind::AccessGranted), "{:?}", kinds(&t));
    assert!(!t.effects.iter().any(|e| matches!(e, Effect::Notify(_))), "no \"access granted\" email");
    // First seen already past due (no payment known): the grace runs from that period's start, once.
    let st = run(&[event("customer.subscription.updated", p(1).0, subscription("past_due", p(1).0, p(1).1))], p(1).0);
    let st =
        step(&st, &event("customer.subscription.updated", p(2).0, subscription("past_due", p(2).0, p(2).1)), p(2).0);
    assert_eq!(days(&st.state, p(2).0, &[0, 1]), [false, false]);
}

#[test]
fn a_failed_upgrade_in_a_paid_period_keeps_the_paid_days_then_the_grace() {
    let p = (T0, T0 + 30 * DAY);
    let st = run(
        &[
            event("customer.subscription.created", T0, subscription("active", p.0, p.1)),
            invoice_paid(p.0, p.1, T0),
            // Day 10: an upgrade invoiced at once fails; Stripe marks the subscription past due.
            event("customer.subscription.updated", T0 + 10 * DAY, subscription("past_due", p.0, p.1)),
        ],
        T0 + 10 * DAY,
    );
    assert_eq!(days(&st, T0, &[11, 29, 36, 38]), [true, true, true, false]);
}

#[test]
fn a_paid_invoice_does_not_open_a_paused_subscription_nor_outrank_a_snapshot() {
    let p = (T0, T0 + 30 * DAY);
    let paused = run(
        &[
            event("customer.subscription.created", T0, subscription("active", p.0, p.1)),
            invoice_paid(p.0, p.1 - DAY, T0),
            event("customer.subscription.paused", T0 + 5 * DAY, subscription("paused", p.0, p.1)),
        ],
        T0 + 5 * DAY,
    );
    assert!(!pro(&paused, T0 + 6 * DAY));
    // An old open invoice gets paid: Stripe keeps the subscription paused.
    let t = step(&paused, &invoice_paid(p.0, p.1, T0 + 6 * DAY), T0 + 6 * DAY);
    assert!(!pro(&t.state, T0 + 7 * DAY), "paused stays closed");
    assert!(fetches(&t).iter().any(|f| f.object == FetchObject::Subscription && f.id == SUB), "asks Stripe");
    let answer = object(with_latest_invoice(subscription("paused", p.0, p.1), "paid"));
    let st = apply(&Input::Fetched { object: &answer }, &t.state, &catalog(), T0 + 6 * DAY).state;
    assert!(!pro(&st, T0 + 7 * DAY));
    // An invoice is not a snapshot: a snapshot taken before it but delivered after still counts.
    let mut cape = subscription("active", p.0, p.1);
    set(&mut cape, "cancel_at_period_end", json!(true));
    let st = run(
        &[
            event("customer.subscription.created", T0, subscription("active", p.0, p.1)),
            invoice_paid(p.0, p.1, T0 + 20 * DAY),
            event("customer.subscription.updated", T0 + 10 * DAY, cape),
        ],
        T0 + 20 * DAY,
    );
    assert_eq!(st.grants[0].status, GrantStatus::Canceling);
}

fn refund_object(status: &str) -> Value {
    let mut re = fixture("refund");
    set(&mut re, "payment_intent", json!("pi_1PgafyB7WZ01zgkWSjxsAJo3"));
    set(&mut re, "status", json!(status));
    re
}

#[test]
fn a_refund_that_fails_or_is_canceled_gives_the_purchase_back() {
    let pi = "pi_1PgafyB7WZ01zgkWSjxsAJo3";
    let buy = event("checkout.session.completed", T0, checkout_session("payment", "paid"));
    let refunded = event("charge.refunded", T0 + DAY, charge(pi, 1000, 1000));
    for (kind, status) in
        [("charge.refund.updated", "failed"), ("refund.failed", "failed"), ("refund.updated", "canceled")]
    {
        let st = run(&[buy.clone(), refunded.clone()], T0);
        assert!(!pro(&st, T0 + 2 * DAY));
        // Stripe sends the Refund, not the Charge: the engine asks for the charge to learn what stays refunded.
        let t = step(&st, &event(kind, T0 + 2 * DAY, refund_object(status)), T0 + 2 * DAY);
        let f = fetches(&t);
        assert_eq!((f.len(), f[0].object), (1, FetchObject::Charge), "{kind}");
        assert_eq!(f[0].to_stripe_request().path_and_query(), "/v1/charges/ch_1PgafuB7WZ01zgkWXYmPNZs8");
        let charge_now = object(charge(pi, 1000, 0));
        let back = apply(&Input::Fetched { object: &charge_now }, &t.state, &catalog(), T0 + 2 * DAY);
        assert!(pro(&back.state, T0 + 3 * DAY), "{kind} {status}: access back");
        assert!(
            back.effects.iter().any(
                |e| matches!(e, Effect::Notify(n) if n.kind == latch_core::engine::NotificationKind::AccessGranted)
            ),
            "the member is told"
        );
        // The refund's own `charge.refunded`, delivered again late, is older news.
        let late = step(&back.state, &refunded, T0 + 3 * DAY);
        assert!(pro(&late.state, T0 + 4 * DAY), "{kind}: a late charge.refunded");
    }
    // A refund still pending or succeeded changes nothing.
    let st = run(&[buy.clone(), refunded.clone()], T0);
    let t = step(&st, &event("charge.refund.updated", T0 + 2 * DAY, refund_object("succeeded")), T0 + 2 * DAY);
    assert_eq!(t.state, st);
    assert!(fetches(&t).is_empty());
    // The refund and its failure both delivered before the purchase: the purchase still grants.
    let failed = event("refund.failed", T0 + 2 * DAY, refund_object("failed"));
    let st = run(&[refunded.clone(), failed], T0);
    let charge_now = object(charge(pi, 1000, 0));
    let st = apply(&Input::Fetched { object: &charge_now }, &st, &catalog(), T0 + 2 * DAY).state;
    let st = step(&st, &buy, T0 + 3 * DAY).state;
    let st = step(&st, &refunded, T0 + 3 * DAY).state;
    assert!(pro(&st, T0 + 4 * DAY));
}

#[test]
fn a_prevented_dispute_closes_like_a_win() {
    let buy = event("checkout.session.completed", T0, checkout_session("payment", "paid"));
    let suspend = cat_with(|p| p.dispute = latch_core::engine::DisputeRule::SuspendWhileOpen);
    let open =
        run_with(&suspend, &[buy, event("charge.dispute.created", T0 + DAY, dispute("warning_needs_response"))], T0);
    assert!(open.active_products(CUS, T0 + 2 * DAY).is_empty());
    let prevented = event("charge.dispute.closed", T0 + 3 * DAY, dispute("prevented"));
    let st = apply(&Input::Event(&prevented), &open, &suspend, T0 + 3 * DAY).state;
    assert_eq!(st.active_products(CUS, T0 + 4 * DAY), vec!["pro"]);
}

#[test]
fn a_fetched_object_carries_stripes_time_not_the_edges_clock() {
    // The edge's clock runs a day ahead of Stripe's when it fetches the subscription.
    let p = (T0, T0 + 30 * DAY);
    let st = run(&[event("customer.subscription.created", T0, subscription("active", p.0, p.1))], T0);
    let answer = object(with_latest_invoice(subscription("active", p.0, p.1), "paid"));
    let st = apply(&Input::Fetched { object: &answer }, &st, &catalog(), T0 + DAY).state;
    assert!(st.grants[0].version <= T0, "version {} is not Stripe's", st.grants[0].version);
    // The member cancels an hour later (Stripe's time): the event is newer than anything the fetch knew.
    let mut cape = subscription("active", p.0, p.1);
    set(&mut cape, "cancel_at_period_end", json!(true));
    let st = step(&st, &event("customer.subscription.updated", T0 + 3600, cape), T0 + DAY).state;
    assert_eq!(st.grants[0].status, GrantStatus::Canceling);
}

#[test]
fn a_cancellation_scheduled_while_the_renewal_is_a_draft_keeps_the_paid_period() {
    // Found end to end (tests/e2e/tests/chaos.rs, seed 11): the member schedules the cancellation during the hour the
    // renewal's invoice is a draft; the invoice is then paid. Access runs to the end of the paid period.
    let (y1, y2) = ((T0, T0 + 30 * DAY), (T0 + 30 * DAY, T0 + 60 * DAY));
    let mut canceling = subscription("active", y2.0, y2.1);
    set(&mut canceling, "cancel_at_period_end", json!(true));
    let st = run(
        &[
            event("customer.subscription.created", T0, subscription("active", y1.0, y1.1)),
            invoice_paid(y1.0, y1.1, T0),
            event("customer.subscription.updated", y2.0, subscription("active", y2.0, y2.1)),
            event("customer.subscription.updated", y2.0 + 600, canceling.clone()),
        ],
        y2.0 + 600,
    );
    assert_eq!(days(&st, y2.0, &[6, 8]), [true, false], "unpaid yet: the grace");
    let paid = step(&st, &invoice_paid(y2.0, y2.1, y2.0 + 3600), y2.0 + 3600);
    let mut state = paid.state.clone();
    for effect in &paid.effects {
        if let Effect::Fetch(_) = effect {
            let fetched = object(with_latest_invoice(canceling.clone(), "paid"));
            state = apply(&Input::Fetched { object: &fetched }, &state, &catalog(), y2.0 + 3700).state;
        }
    }
    assert_eq!(days(&state, y2.0, &[8, 29, 31]), [true, true, false], "paid through the period, then it ends");
}

#[test]
fn draft_renewal_cancel_and_payment_in_any_order() {
    let (y1, y2) = ((T0, T0 + 30 * DAY), (T0 + 30 * DAY, T0 + 60 * DAY));
    let mut canceling = subscription("active", y2.0, y2.1);
    set(&mut canceling, "cancel_at_period_end", json!(true));
    let base = run(
        &[event("customer.subscription.created", T0, subscription("active", y1.0, y1.1)), invoice_paid(y1.0, y1.1, T0)],
        T0,
    );
    let later = [
        event("customer.subscription.updated", y2.0, subscription("active", y2.0, y2.1)),
        event("customer.subscription.updated", y2.0 + 600, canceling.clone()),
        invoice_paid(y2.0, y2.1, y2.0 + 3600),
    ];
    for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let mut state = base.clone();
        let mut fetches = 0;
        for &i in &order {
            let t = step(&state, &later[i], y2.0 + 4000);
            fetches += t.effects.iter().filter(|e| matches!(e, Effect::Fetch(_))).count();
            state = t.state;
        }
        if fetches > 0 {
            let fetched = object(with_latest_invoice(canceling.clone(), "paid"));
            state = apply(&Input::Fetched { object: &fetched }, &state, &catalog(), y2.0 + 5000).state;
        }
        assert_eq!(days(&state, y2.0, &[8, 29, 31]), [true, true, false], "order {order:?}: {state:?}");
    }
}
