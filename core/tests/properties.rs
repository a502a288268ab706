//! Property tests: for random interleavings, duplications and delays of a realistic event history (buy, renew,
//! fail, recover, cancel at period end, resume, plan change, refund), with the edge's re-fetches answered by the
//! true state at the time of the fetch, the final access equals the access computed from the last true state of
//! each Stripe object. No permutation grants what the true state denies, and none revokes what it grants.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use latch_core::engine::{AccessState, Effect, FetchObject, Input, apply, scope};
use latch_core::event::{Event, StripeObject};
use proptest::prelude::*;
use serde_json::json;

/// The true state of the subscription after a step.
#[derive(Debug, Clone, PartialEq)]
struct Snap {
    t: i64,
    status: &'static str,
    ps: i64,
    pe: i64,
    cape: bool,
    product: &'static str,
    ended_at: Option<i64>,
}

impl Snap {
    fn json(&self) -> serde_json::Value {
        let mut s = subscription(self.status, self.ps, self.pe);
        set(&mut s, "cancel_at_period_end", json!(self.cape));
        set(&mut s, "items.data.0.price.product", json!(self.product));
        if let Some(e) = self.ended_at {
            set(&mut s, "ended_at", json!(e));
            set(&mut s, "canceled_at", json!(e));
        }
        s
    }

    /// The oracle: access to `slug` at `now` from this snapshot alone, per the catalog's policy.
    fn grants(&self, slug: &str, now: i64) -> bool {
        let product = if slug == "pro" { PROD_PRO } else { PROD_COURSE };
        let grace = if slug == "pro" { 7 * DAY } else { 3 * DAY };
        self.product == product
            && match self.status {
                "active" | "trialing" => now < self.pe,
                "past_due" => now < self.pe.min(self.ps + grace),
                _ => false,
            }
    }
}

struct History {
    events: Vec<Event>,
    snaps: Vec<Snap>,
    bought: bool,
    fully_refunded: bool,
    end: i64,
}

impl History {
    /// The subscription as Stripe would answer a fetch at `at`.
    fn truth_at(&self, at: i64) -> Option<&Snap> {
        self.snaps.iter().rev().find(|s| s.t <= at)
    }
}

const PI: &str = "pi_3OneTimePurchase000001";

/// Builds a true history from choices: every step is a valid transition of Stripe's subscription state machine,
/// emitting the events Stripe emits for it (several in the same second when Stripe does).
fn history(choices: &[u32], trial: bool, one_time: u8) -> History {
    let mut events = Vec::new();
    let mut n = 0u32;
    let mut push = |events: &mut Vec<Event>, kind: &str, t: i64, obj: serde_json::Value| {
        n += 1;
        let body = serde_json::to_vec(&event_json(kind, &format!("evt_{n}"), t, obj)).unwrap_or_default();
        events.push(Event::parse(&body).unwrap_or_else(|e| panic!("{kind}: {e}")));
    };
    let mut t = T0;
    let period = if trial { 14 * DAY } else { 30 * DAY };
    let mut cur = Snap {
        t,
        status: if trial { "trialing" } else { "active" },
        ps: t,
        pe: t + period,
        cape: false,
        product: PROD_PRO,
        ended_at: None,
    };
    let mut snaps = vec![cur.clone()];
    push(&mut events, "customer.subscription.created", t, cur.json());
    let mut inv = invoice("paid", cur.ps, cur.pe);
    if trial {
        set(&mut inv, "amount_paid", json!(0));
    }
    push(&mut events, "invoice.paid", t, inv);
    push(&mut events, "checkout.session.completed", t, checkout_session("subscription", "paid"));

    let mut bought = false;
    let mut fully_refunded = false;
    if one_time > 0 {
        let mut cs = checkout_session("payment", "paid");
        set(&mut cs, "payment_intent", json!(PI));
        push(&mut events, "checkout.session.completed", t + 60, cs);
        bought = true;
        match one_time {
            2 => push(&mut events, "charge.refunded", t + 3 * DAY, charge(PI, 5000, 1000)),
            3 => {
                push(&mut events, "charge.refunded", t + 3 * DAY, charge(PI, 5000, 5000));
                fully_refunded = true;
            }
            _ => {}
        }
    }

    for &c in choices {
        if cur.status == "canceled" {
            break;
        }
        // A quarter of the steps happen in the same second as the previous one (ties on `created`).
        let dt = if c % 4 == 0 { 0 } else { i64::from((c >> 2) % 600_000) + 1 };
        let within = |t: i64, pe: i64| (t + dt).min(pe - 1).max(t);
        let actions: &[&str] = match (cur.status, cur.cape) {
            ("active" | "trialing", false) => &["renew", "fail", "cape_on", "cancel_now", "plan", "touch"],
            ("active" | "trialing", true) => &["cape_off", "end_at_period", "cancel_now", "touch"],
            ("past_due", _) => &["recover", "unpaid", "cancel_now", "touch"],
            ("unpaid", _) => &["recover", "cancel_now"],
            _ => &["cancel_now"],
        };
        let action = actions[(c >> 22) as usize % actions.len()];
        let mut next = cur.clone();
        match action {
            "renew" => {
                t = cur.pe;
                (next.status, next.ps, next.pe) = ("active", cur.pe, cur.pe + 30 * DAY);
                next.t = t;
                push(&mut events, "customer.subscription.updated", t, next.json());
                let mut inv = invoice("paid", next.ps, next.pe);
                set(&mut inv, "lines.data.0.pricing.price_details.product", json!(next.product));
                push(&mut events, "invoice.paid", t, inv);
            }
            "fail" => {
                t = cur.pe;
                (next.status, next.ps, next.pe) = ("past_due", cur.pe, cur.pe + 30 * DAY);
                next.t = t;
                push(&mut events, "customer.subscription.updated", t, next.json());
                push(&mut events, "invoice.payment_failed", t, invoice("open", next.ps, next.pe));
            }
            "recover" => {
                t = within(t, cur.pe);
                next.status = "active";
                next.t = t;
                let mut inv = invoice("paid", next.ps, next.pe);
                set(&mut inv, "lines.data.0.pricing.price_details.product", json!(next.product));
                push(&mut events, "invoice.paid", t, inv);
                push(&mut events, "customer.subscription.updated", t, next.json());
            }
            "unpaid" => {
                t = within(t, cur.pe);
                next.status = "unpaid";
                next.t = t;
                push(&mut events, "customer.subscription.updated", t, next.json());
            }
            "cape_on" | "cape_off" => {
                t = within(t, cur.pe);
                next.cape = action == "cape_on";
                next.t = t;
                push(&mut events, "customer.subscription.updated", t, next.json());
            }
            "end_at_period" => {
                t = cur.pe;
                (next.status, next.ended_at) = ("canceled", Some(cur.pe));
                next.t = t;
                push(&mut events, "customer.subscription.deleted", t, next.json());
            }
            "cancel_now" => {
                t = within(t, cur.pe);
                (next.status, next.ended_at) = ("canceled", Some(t));
                next.t = t;
                push(&mut events, "customer.subscription.deleted", t, next.json());
            }
            "plan" => {
                t = within(t, cur.pe);
                next.product = if cur.product == PROD_PRO { PROD_COURSE } else { PROD_PRO };
                next.t = t;
                push(&mut events, "customer.subscription.updated", t, next.json());
            }
            _ => {
                // A second event with another id for the same state (metadata edit, ...): must grant once.
                t = within(t, cur.pe);
                next.t = t;
                push(&mut events, "customer.subscription.updated", t, next.json());
            }
        }
        cur = next;
        snaps.push(cur.clone());
    }
    let end = events.iter().map(|e| e.created).max().unwrap_or(T0);
    History { events, snaps, bought, fully_refunded, end }
}

/// Delivers every event (plus duplicates) in the order given by `keys`; Fetch effects are answered by the true
/// state at the edge's time (after the newest delivered event, plus a delay), immediately or at the end.
fn deliver(h: &History, keys: &[u32]) -> AccessState {
    let cat = catalog();
    let key = |i: usize| keys.get(i % keys.len().max(1)).copied().unwrap_or(0);
    let mut order: Vec<(u32, usize)> = (0..h.events.len()).map(|i| (key(i), i)).collect();
    for i in 0..h.events.len() {
        if key(i + 7) % 3 == 0 {
            order.push((key(i + 13), i)); // duplicate delivery (Stripe retries)
        }
    }
    order.sort();
    let mut state = AccessState::default();
    let mut edge_clock = T0;
    let mut pending: Vec<String> = Vec::new();
    let fetch = |state: &AccessState, at: i64, id: &str| -> (AccessState, Vec<String>) {
        let Some(snap) = h.truth_at(at) else {
            return (state.clone(), Vec::new());
        };
        assert_eq!(id, SUB);
        let obj = object(snap.json());
        let input = Input::Fetched { object: &obj, fetched_at: at };
        let t = apply(&input, state, &cat, at);
        (t.state, fetches(&t.effects))
    };
    for (n, &(k, i)) in order.iter().enumerate() {
        let e = &h.events[i];
        edge_clock = edge_clock.max(e.created) + i64::from(k % 3);
        let input = Input::Event(e);
        assert!(!scope(&input).is_empty() || matches!(e.object, StripeObject::Other { .. }));
        let t = apply(&input, &state, &cat, edge_clock);
        state = t.state;
        pending.extend(fetches(&t.effects));
        if key(n + 3) % 2 == 0 {
            for id in std::mem::take(&mut pending) {
                let (s, more) = fetch(&state, edge_clock, &id);
                state = s;
                pending.extend(more);
            }
        }
    }
    // The edge's remaining fetches, answered after the last event.
    let mut at = h.end.max(edge_clock) + 1;
    for _ in 0..5 {
        if pending.is_empty() {
            break;
        }
        for id in std::mem::take(&mut pending) {
            let (s, more) = fetch(&state, at, &id);
            state = s;
            pending.extend(more);
            at += 1;
        }
    }
    assert!(pending.is_empty(), "fetches never settled");
    state
}

fn fetches(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Fetch(f) if f.object == FetchObject::Subscription => Some(f.id.clone()),
            _ => None,
        })
        .collect()
}

fn check(h: &History, state: &AccessState) -> Result<(), TestCaseError> {
    let last = h.snaps.last().ok_or_else(|| TestCaseError::fail("no snapshot"))?;
    for now in [h.end, h.end + DAY, h.end + 5 * DAY, h.end + 10 * DAY, h.end + 45 * DAY] {
        for slug in ["pro", "course"] {
            let one_time = slug == "pro" && h.bought && !h.fully_refunded;
            let want = one_time || last.grants(slug, now);
            let got = state.active_products(CUS, now).contains(&slug);
            prop_assert_eq!(
                got,
                want,
                "{} at end+{}s; last true state {:?}; rows {:#?}",
                slug,
                now - h.end,
                last,
                state.grants
            );
        }
    }
    Ok(())
}

proptest! {
    // 256 cases; `PROPTEST_CASES` raises it (an explicit `cases:` here would silently override the variable).
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn any_delivery_order_converges_to_the_true_state(
        choices in prop::collection::vec(any::<u32>(), 0..14),
        keys in prop::collection::vec(any::<u32>(), 1..64),
        trial in any::<bool>(),
        one_time in 0u8..4,
    ) {
        let h = history(&choices, trial, one_time);
        let state = deliver(&h, &keys);
        check(&h, &state)?;
        // Replaying everything once more in another order changes nothing.
        let mut again = state.clone();
        for e in h.events.iter().rev() {
            again = apply(&Input::Event(e), &again, &catalog(), h.end + 100).state;
        }
        prop_assert_eq!(&again.grants.iter().map(|g| (&g.product, g.status, g.ends_at)).collect::<Vec<_>>(),
                        &state.grants.iter().map(|g| (&g.product, g.status, g.ends_at)).collect::<Vec<_>>());
    }

    #[test]
    fn in_order_delivery_without_fetches_is_exact(
        choices in prop::collection::vec(any::<u32>(), 0..14),
        trial in any::<bool>(),
        one_time in 0u8..4,
    ) {
        // Strictly increasing times (no ties): versions alone must be enough, fetch answers or not.
        let choices: Vec<u32> = choices.into_iter().map(|c| if c % 4 == 0 { c | 1 } else { c }).collect();
        let h = history(&choices, trial, one_time);
        let mut state = AccessState::default();
        for e in &h.events {
            state = apply(&Input::Event(e), &state, &catalog(), e.created).state;
        }
        check(&h, &state)?;
    }
}
