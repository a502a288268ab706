//! The reducer's working state ([`Cx`]): the rows being changed and the effects emitted so far, with the helpers
//! every reducer shares (activity, notification and fetch effects, row lookup, revocation) and the dispatch of each
//! input to the reducer of its Stripe object family (`checkout`, `subscription`, `invoice`, `charge`, `customer`).
//!
//! # What each input does
//! Each input goes to the reducer of its Stripe object family, whose doc says what it does.
//! - Anything else: recorded as ignored, with the reason.

use super::{
    AccessState, Activity, ActivityKind, Catalog, Effect, FetchObject, FetchRequest, Grant, GrantStatus, META_PRODUCT,
    META_SITE, Notification, NotificationKind, Transition, customer_key,
};
use crate::event::{Event, StripeObject};

pub(super) struct Cx<'c> {
    pub(super) grants: Vec<Grant>,
    pub(super) effects: Vec<Effect>,
    pub(super) catalog: &'c Catalog,
    pub(super) version: i64,
    /// The input is a re-fetched object: at an equal version it outranks events.
    pub(super) fetched: bool,
    pub(super) livemode: bool,
    pub(super) object_id: String,
    pub(super) now: i64,
}

impl Cx<'_> {
    pub(super) fn finish(self) -> Transition {
        Transition { state: AccessState { grants: self.grants }, effects: self.effects }
    }

    pub(super) fn activity(
        &mut self,
        kind: ActivityKind,
        customer: Option<&str>,
        product: Option<&str>,
        reason: String,
    ) {
        self.effects.push(Effect::RecordActivity(Activity {
            kind,
            customer: customer.map(str::to_owned),
            product: product.map(str::to_owned),
            stripe_object: self.object_id.clone(),
            reason,
        }));
    }

    pub(super) fn ignore(&mut self, customer: Option<&str>, product: Option<&str>, reason: String) {
        self.activity(ActivityKind::Ignored, customer, product, reason);
    }

    pub(super) fn notify(&mut self, kind: NotificationKind, customer: &str, product: &str, email: Option<&str>) {
        self.effects.push(Effect::Notify(Notification {
            kind,
            customer: Some(customer.to_owned()),
            product: Some(product.to_owned()),
            email: email.map(str::to_owned),
        }));
    }

    pub(super) fn fetch(&mut self, object: FetchObject, id: &str) {
        let req = FetchRequest { object, id: id.to_owned() };
        if !self.effects.iter().any(|e| matches!(e, Effect::Fetch(f) if *f == req)) {
            self.effects.push(Effect::Fetch(req));
        }
    }

    pub(super) fn row(&self, customer: &str, product: &str, source: &str) -> Option<usize> {
        self.grants.iter().position(|g| {
            g.livemode == self.livemode && g.customer == customer && g.product == product && g.source == source
        })
    }

    pub(super) fn site_mismatch(&mut self, metadata: &crate::event::Metadata) -> bool {
        match (metadata.get(META_SITE), &self.catalog.site) {
            (Some(got), Some(want)) if got != want => {
                self.ignore(None, None, format!("created for another Latch site ({got})"));
                true
            }
            _ => false,
        }
    }

    pub(super) fn event(&mut self, e: &Event) {
        let kind = e.kind.as_str();
        match (&e.object, kind) {
            (
                StripeObject::CheckoutSession(cs),
                "checkout.session.completed" | "checkout.session.async_payment_succeeded",
            ) => self.session(cs),
            (StripeObject::CheckoutSession(cs), "checkout.session.async_payment_failed") => {
                let customer = customer_key(cs.customer.as_deref(), cs.email());
                let product = cs.metadata.get(META_PRODUCT).map(String::as_str);
                self.activity(
                    ActivityKind::PaymentFailed,
                    customer.as_deref(),
                    product,
                    "the delayed payment of the checkout failed; no access was granted".into(),
                );
            }
            (StripeObject::CheckoutSession(cs), "checkout.session.expired") => {
                let customer = customer_key(cs.customer.as_deref(), cs.email());
                let product = cs.metadata.get(META_PRODUCT).map(String::as_str);
                self.activity(
                    ActivityKind::CheckoutExpired,
                    customer.as_deref(),
                    product,
                    "the checkout session expired without payment".into(),
                );
            }
            (StripeObject::Subscription(sub), k) if k.starts_with("customer.subscription.") => {
                self.subscription(sub, None, None);
            }
            (StripeObject::Invoice(inv), "invoice.paid" | "invoice.payment_succeeded") => self.invoice_paid(inv),
            (StripeObject::Invoice(inv), "invoice.payment_failed") => self.invoice_failed(inv),
            (StripeObject::Charge(ch), "charge.refunded") => self.refund(ch),
            (StripeObject::Refund(re), "charge.refund.updated" | "refund.updated" | "refund.failed") => {
                self.refund_updated(re);
            }
            (StripeObject::Dispute(dp), k) if k.starts_with("charge.dispute.") => self.dispute(dp, k),
            (StripeObject::Customer(c), "customer.deleted") => self.customer_deleted(&c.id),
            (_, "account.application.deauthorized") => self.deauthorized(e),
            _ => self.ignore(None, None, format!("{kind} does not affect access")),
        }
    }

    pub(super) fn fetched(&mut self, object: &StripeObject) {
        match object {
            StripeObject::CheckoutSession(cs) => self.session(cs),
            StripeObject::Subscription(sub) => self.subscription(sub, None, None),
            StripeObject::Invoice(inv) if inv.status.as_deref() == Some("paid") => self.invoice_paid(inv),
            StripeObject::Refund(re) => self.refund_updated(re),
            StripeObject::Charge(ch) => self.refund(ch),
            StripeObject::Dispute(dp) => self.dispute(dp, "fetched"),
            StripeObject::Customer(c) if c.deleted => self.customer_deleted(&c.id),
            other => self.ignore(None, None, format!("a fetched {} does not change access", other.kind())),
        }
    }

    pub(super) fn revoke_row(&mut self, i: usize, status: GrantStatus, kind: ActivityKind, reason: &str) {
        let now = self.now;
        let version = self.version;
        let Some(g) = self.grants.get_mut(i) else {
            return;
        };
        if g.status.is_final() {
            return;
        }
        let was_active = g.is_active(now);
        g.status = status;
        g.ends_at = Some(g.ends_at.map_or(version, |e| e.min(version)));
        g.version = g.version.max(version);
        let (c, p) = (g.customer.clone(), g.product.clone());
        self.activity(kind, Some(&c), Some(&p), reason.to_owned());
        if was_active {
            self.activity(ActivityKind::AccessRevoked, Some(&c), Some(&p), reason.to_owned());
            self.notify(NotificationKind::AccessRevoked, &c, &p, None);
        }
    }

    pub(super) fn tombstone_for(&self, source: &str) -> Option<GrantStatus> {
        self.grants
            .iter()
            .find(|g| g.is_tombstone() && g.livemode == self.livemode && g.source == source)
            .map(|g| g.status)
    }
}

pub(super) fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}
