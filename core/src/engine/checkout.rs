//! Checkout sessions: a completed (or fetched) session grants a one-time purchase or starts a subscription.
//!
//! # What each input does
//! - `checkout.session.completed` / `async_payment_succeeded` (or a fetched complete session): `paid` or
//!   `no_payment_required` grants (payment mode: per [`OneTimeAccess`]; subscription mode: on the subscription);
//!   `unpaid` (a delayed payment method) records "awaiting payment" and grants nothing yet; setup mode grants nothing.
//!   `async_payment_failed` and `expired` are recorded, nothing granted.
//!
//! # Ordering: a subscription not seen yet
//! - A checkout session whose subscription is not expanded gets a provisional row (version 0, one day) plus a fetch
//!   of the subscription; any real subscription snapshot replaces it, its first period paid by the checkout. The
//!   claim fetches the session with `expand[]=subscription.latest_invoice` and gets the real row directly.

use super::context::{Cx, push_unique};
use super::{
    ActivityKind, DAY, Effect, FetchObject, FetchRequest, Grant, GrantStatus, META_PRODUCT, NotificationKind,
    OneTimeAccess, customer_key,
};
use crate::event::CheckoutSession;

/// How long a provisional grant (subscription not yet seen) lasts.
const PROVISIONAL_SECS: i64 = DAY;

impl Cx<'_> {
    pub(super) fn session(&mut self, cs: &CheckoutSession) {
        if self.site_mismatch(&cs.metadata) {
            return;
        }
        let customer = customer_key(cs.customer.as_deref(), cs.email());
        let mode = cs.mode.as_deref().unwrap_or("");
        if mode == "setup" {
            self.ignore(
                customer.as_deref(),
                None,
                "a setup session saves a payment method and grants no access".into(),
            );
            // The saved card becomes the customer's default (`crate::payment_method`), off the request path.
            if cs.status.as_deref() == Some("complete")
                && cs.customer.is_some()
                && let Some(seti) = &cs.setup_intent
            {
                self.effects.push(Effect::Fetch(FetchRequest { object: FetchObject::SetupIntent, id: seti.clone() }));
            }
            return;
        }
        if cs.status.as_deref().is_some_and(|s| s != "complete") {
            self.ignore(customer.as_deref(), None, "the checkout session is not complete".into());
            return;
        }
        match cs.payment_status.as_deref() {
            Some("paid" | "no_payment_required") => {}
            _ => {
                let product = cs.metadata.get(META_PRODUCT).map(String::as_str);
                self.activity(
                    ActivityKind::AwaitingPayment,
                    customer.as_deref(),
                    product,
                    "the payment is still processing; access starts when it succeeds".into(),
                );
                return;
            }
        }
        let Some(customer) = customer else {
            self.ignore(None, None, "the checkout session has neither a customer nor an email".into());
            return;
        };
        match mode {
            "subscription" => self.session_subscription(cs, &customer),
            "payment" => self.session_payment(cs, &customer),
            other => self.ignore(Some(&customer), None, format!("unknown checkout mode {other:?}")),
        }
    }

    fn session_products(&mut self, cs: &CheckoutSession, customer: &str) -> Option<Vec<String>> {
        if let Some(slug) = cs.metadata.get(META_PRODUCT) {
            if self.catalog.by_slug(slug).is_some() {
                return Some(vec![slug.clone()]);
            }
            self.ignore(Some(customer), Some(slug), format!("product {slug:?} is not linked on this site"));
            return Some(Vec::new());
        }
        let items = cs.line_items.as_ref()?;
        let mut slugs = Vec::new();
        for item in &items.data {
            let stripe_product = item.price.as_ref().and_then(|p| p.product.as_deref()).unwrap_or("");
            match self.catalog.by_stripe_product(stripe_product) {
                Some(p) => push_unique(&mut slugs, &p.slug),
                None => self.ignore(
                    Some(customer),
                    None,
                    format!("Stripe product {stripe_product:?} is not linked to a Latch product"),
                ),
            }
        }
        Some(slugs)
    }

    fn session_payment(&mut self, cs: &CheckoutSession, customer: &str) {
        let Some(slugs) = self.session_products(cs, customer) else {
            self.activity(
                ActivityKind::Ignored,
                Some(customer),
                None,
                "no latch_product metadata: fetching the session's line items".into(),
            );
            self.fetch(FetchObject::CheckoutSession, &cs.id);
            return;
        };
        let source = cs.payment_intent.clone().unwrap_or_else(|| cs.id.clone());
        let starts_at = cs.created.unwrap_or(self.version);
        for slug in slugs {
            let Some(policy) = self.catalog.by_slug(&slug) else {
                continue;
            };
            let ends_at = match policy.one_time {
                OneTimeAccess::Lifetime => None,
                OneTimeAccess::Days(d) => Some(starts_at.saturating_add(i64::from(d).saturating_mul(DAY))),
            };
            // A refund or lost dispute seen before the purchase leaves a tombstone for the source; the row takes
            // its status and what it knows (a refund that failed: a late `charge.refunded` is older news).
            let tomb = self
                .grants
                .iter()
                .find(|g| g.is_tombstone() && g.livemode == self.livemode && g.source == source)
                .map(|g| (g.status, g.version, g.fetched));
            match self.row(customer, &slug, &source) {
                Some(_) => {} // already granted (claim or an earlier delivery): nothing to do
                None => {
                    let (status, known, fetched) = tomb.unwrap_or((GrantStatus::Active, 0, false));
                    self.grants.push(Grant {
                        customer: customer.to_owned(),
                        product: slug.clone(),
                        source: source.clone(),
                        livemode: self.livemode,
                        status,
                        starts_at,
                        ends_at,
                        version: self.version.max(known),
                        email: cs.email().map(str::to_owned),
                        dispute: None,
                        fetched: fetched && known >= self.version,
                        paid_through: None,
                        subscription_status: None,
                        period_end: None,
                    });
                    self.activity(
                        ActivityKind::ProductPurchased,
                        Some(customer),
                        Some(&slug),
                        "one-time purchase paid".into(),
                    );
                    if status == GrantStatus::Active {
                        let until = match ends_at {
                            Some(e) => format!("until {}", crate::dates::day(e)),
                            None => "for life".into(),
                        };
                        self.activity(
                            ActivityKind::AccessGranted,
                            Some(customer),
                            Some(&slug),
                            format!("one-time purchase: access {until}"),
                        );
                        self.notify(NotificationKind::AccessGranted, customer, &slug, cs.email());
                    } else {
                        self.ignore(
                            Some(customer),
                            Some(&slug),
                            format!("the payment was already {}; no access", status.as_str()),
                        );
                    }
                }
            }
        }
    }

    fn session_subscription(&mut self, cs: &CheckoutSession, customer: &str) {
        let Some(sub_ref) = &cs.subscription else {
            self.ignore(Some(customer), None, "subscription checkout without a subscription".into());
            return;
        };
        let fallback = cs.metadata.get(META_PRODUCT).map(String::as_str);
        if let Some(sub) = sub_ref.object() {
            // A paid (or free) checkout paid the subscription's first period.
            self.subscription(sub, fallback, sub.period_end());
            return;
        }
        let sub_id = sub_ref.id().to_owned();
        if self.source_ended(&sub_id) {
            self.ignore(Some(customer), None, "the subscription has ended; no provisional access".into());
            return;
        }
        self.fetch(FetchObject::Subscription, &sub_id);
        let Some(slug) = fallback.map(str::to_owned) else {
            self.activity(
                ActivityKind::Ignored,
                Some(customer),
                None,
                "no latch_product metadata: fetching the subscription to find its products".into(),
            );
            return;
        };
        if self.catalog.by_slug(&slug).is_none() {
            self.ignore(Some(customer), Some(&slug), format!("product {slug:?} is not linked on this site"));
            return;
        }
        if self.row(customer, &slug, &sub_id).is_some() {
            return; // the subscription's own events got here first; they are authoritative
        }
        let starts_at = cs.created.unwrap_or(self.version);
        // The checkout was paid, so the first period is; how long it runs is known once the subscription is.
        let provisional_end = self.version.max(starts_at).saturating_add(PROVISIONAL_SECS);
        self.grants.push(Grant {
            customer: customer.to_owned(),
            product: slug.clone(),
            source: sub_id,
            livemode: self.livemode,
            status: GrantStatus::Active,
            starts_at,
            ends_at: Some(provisional_end),
            version: 0,
            email: cs.email().map(str::to_owned),
            dispute: None,
            fetched: false,
            paid_through: Some(provisional_end),
            subscription_status: None,
            period_end: None,
        });
        self.activity(
            ActivityKind::SubscriptionStarted,
            Some(customer),
            Some(&slug),
            "subscription checkout paid".into(),
        );
        self.activity(
            ActivityKind::AccessGranted,
            Some(customer),
            Some(&slug),
            "provisional access until the subscription's period is known".into(),
        );
        self.notify(NotificationKind::AccessGranted, customer, &slug, cs.email());
    }
}
