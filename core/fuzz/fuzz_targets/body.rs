//! The fuzz body, shared by the cargo-fuzz target and by `core/tests/fuzz_body.rs` (proptest, stable).
//!
//! Input layout: `header \n secret \n now \n body`. Whatever the bytes, nothing may panic: the signature is
//! checked, the body parsed as an event and as a bare object, and every parsed object goes through `scope` and
//! `apply` with a state holding a row for every id the input names.

use latch_core::engine::{AccessState, Catalog, Grant, GrantStatus, Input, ProductPolicy, apply, scope};
use latch_core::event::{Event, StripeObject};
use latch_core::webhook;

/// Runs one input; panics only on a bug.
pub(crate) fn run(data: &[u8]) {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let header = parts.next().map(String::from_utf8_lossy).unwrap_or_default();
    let secret = parts.next().map(String::from_utf8_lossy).unwrap_or_default();
    let now = parts
        .next()
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| n.trim().parse::<i64>().ok())
        .unwrap_or(1_790_000_000);
    let body = parts.next().unwrap_or_default();

    let verdict = webhook::verify(body, &header, &[&secret, "whsec_fixed"], now, webhook::DEFAULT_TOLERANCE_SECS);
    let _ = webhook::verify(body, &header, &[], now, 0);
    if verdict.is_ok() && header.is_empty() {
        panic!("an empty header verified");
    }
    // A header we sign ourselves always verifies (for any secret that is not blank).
    if !secret.trim().is_empty() {
        let signed = webhook::signature_header(body, &secret, now);
        assert_eq!(webhook::verify(body, &signed, &[&secret], now, 300), Ok(()));
    }

    let catalog = Catalog {
        products: vec![ProductPolicy::new("pro", "prod_QXg1hqf4jFNsqG"), ProductPolicy::new("x", "")],
        livemode: false,
        site: Some("site_pub_1".into()),
        account: None,
    };
    if let Ok(event) = Event::parse(body) {
        exercise(&Input::Event(&event), &catalog, now);
        if event.livemode {
            // The same event against a live site, so live events run the real paths too.
            let live = Catalog { livemode: true, ..catalog.clone() };
            exercise(&Input::Event(&event), &live, now);
        }
    }
    if let Ok(object) = StripeObject::parse(body) {
        exercise(&Input::Fetched { object: &object }, &catalog, now);
    }
}

fn exercise(input: &Input<'_>, catalog: &Catalog, now: i64) {
    let scope = scope(input);
    // A state with rows on every id in scope, in several statuses, so the update paths run too.
    let mut grants = Vec::new();
    let customer = scope.customer.clone().unwrap_or_default();
    for (i, source) in scope.sources.iter().enumerate() {
        for (j, status) in [GrantStatus::Active, GrantStatus::PastDue, GrantStatus::Canceled].into_iter().enumerate() {
            grants.push(Grant {
                customer: customer.clone(),
                product: if j == 2 { String::new() } else { "pro".into() },
                source: source.clone(),
                livemode: catalog.livemode,
                status,
                starts_at: now.wrapping_sub(1000),
                ends_at: if i % 2 == 0 { Some(now.wrapping_add(1000)) } else { None },
                version: now.wrapping_sub(i64::try_from(i).unwrap_or(0)),
                email: None,
                dispute: None,
                fetched: false,
                paid_through: if i % 2 == 0 { Some(now) } else { None },
                subscription_status: None,
                period_end: None,
            });
        }
    }
    let state = AccessState { grants };
    let t = apply(input, &state, catalog, now);
    // The engine never drops rows of the scope.
    assert!(t.state.grants.len() >= state.grants.len());
    // Applying the same input again changes no row (idempotence).
    let again = apply(input, &t.state, catalog, now);
    assert_eq!(again.state, t.state, "second application changed the state");
    for g in &t.state.grants {
        let _ = g.is_active(now);
        let _ = g.is_active(i64::MIN);
        let _ = g.is_active(i64::MAX);
    }
}
