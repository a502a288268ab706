//! The access engine: a pure function from (Stripe event or fetched Stripe object, current grants, catalog, now)
//! to (new grants, effects).
//!
//! Owns every decision about who has access to what. Must not: do I/O, read a clock, or trust anything but Stripe's
//! objects. The edge loads the rows named by [`scope`], calls [`apply`], writes [`Transition::state`] and the
//! activity rows (plus the processed event id) in one D1 batch, then performs the other effects ([`Effect::Notify`],
//! [`Effect::Fetch`], whose answer comes back as [`Input::Fetched`]).
//! [`buyer`] names who bought in a completed checkout, and [`access_list`] is what a member's grants give now.
//!
//! # Whose inputs count
//! - Test and live mode never mix: inputs of the other mode than [`Catalog::livemode`] are ignored and rows of the
//!   other mode are never touched. Events from any other account than [`Catalog::account`] (for a connected site,
//!   the platform's own events too), and objects whose `metadata.latch_site` names another site, are ignored.
//!
//! # Where each decision lives
//! The policy is written next to the code that applies it, in the `//!` doc of each submodule of
//! `core/src/engine/`:
//! - `policy`: the [`Catalog`] and each product's rules ([`ProductPolicy`]): policy as data.
//! - `grant`: the grant rows ([`Grant`]): their key, sources, customers, products and tombstones; what is active.
//! - `effects`: what the engine is fed ([`Input`]), what the edge loads ([`Scope`]) and what it is told to do
//!   ([`Transition`], [`Effect`]).
//! - `order`: ordering, duplicates, delays: versions, final states, ties, time.
//! - `context`: the reducer's working state and the dispatch of each input to its reducer.
//! - `checkout`: checkout sessions (and the provisional row of a subscription not seen yet).
//! - `subscription`: subscription snapshots, and what is paid (what Stripe's status alone does not say).
//! - `invoice`: paid and failed invoices.
//! - `charge`: refunds and disputes.
//! - `customer`: a deleted customer, a disconnected account.

mod charge;
mod checkout;
mod context;
mod customer;
mod effects;
mod grant;
mod invoice;
mod order;
mod policy;
mod subscription;

pub use effects::{
    Activity, ActivityKind, Buyer, Effect, FetchObject, FetchRequest, Input, Notification, NotificationKind, Scope,
    Transition,
};
pub use grant::{Access, AccessState, Grant, GrantStatus, access_list};
pub use policy::{CancelRule, Catalog, DisputeRule, MAX_GRACE_DAYS, OneTimeAccess, ProductPolicy, RefundRule};

use crate::event::StripeObject;
use context::Cx;

const DAY: i64 = 86_400;
/// Metadata key carrying the Latch product slug.
pub const META_PRODUCT: &str = "latch_product";
/// Metadata key carrying the site's public key.
pub const META_SITE: &str = "latch_site";

/// What the edge must load for `input`.
pub fn scope(input: &Input<'_>) -> Scope {
    let mut s = Scope::default();
    match input.object() {
        StripeObject::CheckoutSession(cs) => {
            s.customer = customer_key(cs.customer.as_deref(), cs.email());
            if let Some(sub) = &cs.subscription {
                s.sources.push(sub.id().to_owned());
            }
            if let Some(pi) = &cs.payment_intent {
                s.sources.push(pi.clone());
            }
            s.sources.push(cs.id.clone());
        }
        StripeObject::Subscription(sub) => {
            s.customer = sub.customer.clone();
            s.sources.push(sub.id.clone());
        }
        StripeObject::Invoice(inv) => {
            s.customer = inv.customer.clone();
            if let Some(sub) = inv.subscription_id() {
                s.sources.push(sub.to_owned());
            }
        }
        StripeObject::Charge(ch) => {
            s.sources.extend(ch.payment_intent.iter().cloned());
            s.sources.push(ch.id.clone());
        }
        StripeObject::Dispute(dp) => {
            s.sources.extend(dp.payment_intent.iter().cloned());
            s.sources.extend(dp.charge.iter().cloned());
        }
        StripeObject::Refund(re) => {
            s.sources.extend(re.payment_intent.iter().cloned());
            s.sources.extend(re.charge.iter().cloned());
        }
        StripeObject::Customer(c) => s.customer = Some(c.id.clone()),
        StripeObject::Product(_) | StripeObject::Price(_) | StripeObject::Other { .. } => {}
    }
    s
}

/// The buyer a completed checkout session names, when the session concerns rows of `t` (it bought something this
/// site grants). The edge links the customer to its member ([`crate::member::link_purchase`]) even when the
/// session changed no row (the subscription's own events got there first), so notifications and sign-in find the
/// member. `None` for other inputs, for sessions without a Stripe customer or an email, and for purchases that
/// grant nothing here.
pub fn buyer(input: &Input<'_>, t: &Transition) -> Option<Buyer> {
    let StripeObject::CheckoutSession(cs) = input.object() else { return None };
    let customer = cs.customer.clone()?;
    let granted = t.state.grants.iter().any(|g| g.customer == customer && !g.is_tombstone());
    if cs.status.as_deref() != Some("complete") || !granted {
        return None;
    }
    let email = crate::validate::email(cs.email()?).ok()?;
    let member = cs.metadata.get(crate::member::META_MEMBER).cloned();
    Some(Buyer { customer, email, member })
}

/// Applies one input to the loaded rows. Pure: same arguments, same answer.
pub fn apply(input: &Input<'_>, state: &AccessState, catalog: &Catalog, now: i64) -> Transition {
    let object = input.object();
    let mut cx = Cx {
        grants: state.grants.clone(),
        effects: Vec::new(),
        catalog,
        version: input.version(),
        fetched: matches!(input, Input::Fetched { .. }),
        livemode: catalog.livemode,
        object_id: object.id().to_owned(),
        now,
    };
    let livemode = match input {
        Input::Event(e) => Some(e.livemode),
        Input::Fetched { object, .. } => object.livemode(),
    };
    if let Some(mode) = livemode.filter(|m| *m != catalog.livemode) {
        let what = if mode { "a live-mode" } else { "a test-mode" };
        cx.ignore(None, None, format!("{what} object does not touch this site's {} data", mode_name(catalog.livemode)));
        return cx.finish();
    }
    if let Input::Event(e) = input {
        // Only the site's own account speaks for it: a connected site ignores the platform's events and another
        // account's, whatever their metadata names; the platform's site ignores every connected account's.
        if e.account != catalog.account {
            let from = e
                .account
                .as_deref()
                .map_or_else(|| "the platform account".to_owned(), |a| format!("Stripe account {a}"));
            cx.ignore(None, None, format!("event from {from}, not this site's account"));
            return cx.finish();
        }
        cx.event(e);
    } else {
        cx.fetched(object);
    }
    cx.finish()
}

fn mode_name(live: bool) -> &'static str {
    if live { "live" } else { "test" }
}

fn customer_key(customer: Option<&str>, email: Option<&str>) -> Option<String> {
    customer.map(str::to_owned).or_else(|| email.map(|e| format!("email:{}", e.trim().to_lowercase())))
}
