//! Invoices: a paid invoice is evidence of payment, not a snapshot of its subscription; a failed one is recorded.
//!
//! # What each input does
//! - `invoice.paid`: records the payment on the subscription's rows; it extends access only while the subscription's
//!   last known status allows it (active, trialing, past due: the grace then runs from the new paid end). For a
//!   paused, unpaid, incomplete or unknown subscription, and for a scheduled cancellation, it fetches the
//!   subscription instead. Arriving before any snapshot, it makes a pending row and fetches the subscription.
//!   `invoice.payment_failed`: recorded and notified; access follows what is paid and the grace.

use super::context::{Cx, push_unique};
use super::order::Derived;
use super::subscription::paid_access;
use super::{ActivityKind, FetchObject, Grant, GrantStatus, META_PRODUCT, NotificationKind, ProductPolicy};
use crate::event::{Invoice, SubscriptionStatus};

impl Cx<'_> {
    /// The Latch products an invoice's lines bill (else its subscription's `latch_product` metadata).
    fn invoice_products(&mut self, inv: &Invoice, customer: &str) -> Vec<String> {
        let mut out = Vec::new();
        for line in &inv.lines.data {
            if let Some(p) = line.product().and_then(|id| self.catalog.by_stripe_product(id)) {
                push_unique(&mut out, &p.slug);
            }
        }
        if out.is_empty() {
            let meta = inv.subscription_metadata().and_then(|m| m.get(META_PRODUCT)).map(String::as_str);
            match meta.and_then(|s| self.catalog.by_slug(s)) {
                Some(p) => out.push(p.slug.clone()),
                None => self.ignore(Some(customer), meta, "invoice for products not linked to Latch".into()),
            }
        }
        out
    }

    /// A paid invoice is evidence: the periods it billed are paid ([`Grant::paid_through`]). It extends access only
    /// for a subscription whose last known status allows it (active, trialing, past due); for any other (paused,
    /// unpaid, incomplete, canceled) or unknown status it asks for the subscription itself. It is not a snapshot of
    /// the subscription, so it never moves a row's version: an older subscription snapshot is still refused, and an
    /// invoice delivered late still counts.
    pub(super) fn invoice_paid(&mut self, inv: &Invoice) {
        let Some(customer) = inv.customer.clone() else {
            self.ignore(None, None, "invoice without a customer".into());
            return;
        };
        let Some(sub_id) = inv.subscription_id().map(str::to_owned) else {
            self.ignore(
                Some(&customer),
                None,
                "not a subscription invoice; one-time access comes from checkout".into(),
            );
            return;
        };
        if inv.subscription_metadata().is_some_and(|m| self.site_mismatch(m)) {
            return;
        }
        if self.source_ended(&sub_id) {
            self.ignore(Some(&customer), None, "the subscription has ended; a paid invoice does not revive it".into());
            return;
        }
        let trial = inv.amount_paid == Some(0);
        let periods = inv.lines.data.iter().filter_map(|l| l.period);
        let (start, end) = (periods.clone().filter_map(|p| p.start).min(), periods.filter_map(|p| p.end).max());
        let Some(end) = end else {
            self.ignore(Some(&customer), None, "invoice lines without a period".into());
            return;
        };
        // The payment is the subscription's, whichever of its products the lines name.
        let rows: Vec<usize> = (0..self.grants.len())
            .filter(|&i| {
                self.grants.get(i).is_some_and(|g| {
                    g.livemode == self.livemode && g.source == sub_id && g.customer == customer && !g.is_tombstone()
                })
            })
            .collect();
        if rows.is_empty() {
            // The invoice came before any snapshot of its subscription: remember the payment, and ask for the
            // subscription to learn whether it gives access.
            for slug in self.invoice_products(inv, &customer) {
                self.grants.push(Grant {
                    customer: customer.clone(),
                    product: slug.clone(),
                    source: sub_id.clone(),
                    livemode: self.livemode,
                    status: self.tombstone_for(&sub_id).unwrap_or(GrantStatus::Pending),
                    starts_at: start.or(inv.created).unwrap_or(self.version),
                    ends_at: Some(end),
                    version: 0,
                    email: None,
                    dispute: None,
                    fetched: false,
                    paid_through: Some(end),
                    subscription_status: None,
                    period_end: None,
                });
                self.activity(
                    ActivityKind::AwaitingPayment,
                    Some(&customer),
                    Some(&slug),
                    "invoice paid before the subscription was seen; fetching the subscription".into(),
                );
                self.fetch(FetchObject::Subscription, &sub_id);
            }
            return;
        }
        for i in rows {
            self.paid_row(i, &sub_id, end, trial);
        }
    }

    /// One row of a subscription whose invoice was paid through `end` (`trial`: a zero trial invoice).
    fn paid_row(&mut self, i: usize, sub_id: &str, end: i64, trial: bool) {
        let Some(g) = self.grants.get(i) else {
            return;
        };
        // Already known paid (no news), a product the plan moved away from, or an ended subscription: nothing moves.
        let known_paid = g.paid_until();
        if known_paid.is_some_and(|p| end <= p) || g.status.is_final() || g.status == GrantStatus::Removed {
            return;
        }
        let old = Derived { status: g.status, ends_at: g.ends_at };
        let (customer, slug, provisional) = (g.customer.clone(), g.product.clone(), g.is_provisional());
        let status = g.subscription_status.clone();
        let allowed = match &status {
            Some(s) => {
                matches!(s, SubscriptionStatus::Active | SubscriptionStatus::Trialing | SubscriptionStatus::PastDue)
            }
            // A row from before Latch recorded the status: what it grants says.
            None => g.status.grants_access() && g.version > 0,
        };
        let grace = self.catalog.by_slug(&slug).map_or(0, ProductPolicy::grace_secs);
        let longer = Some(g.ends_at.map_or(end, |e| e.max(end)));
        // How far the payment carries the subscription's current period (known from its last snapshot; a row from
        // before Latch recorded it: the invoice's own periods).
        let access = if g.period_end.is_some() { paid_access(Some(end), g.period_end, grace) } else { longer };
        let new = match (g.status, status) {
            // Paused, unpaid, incomplete, or unknown: the subscription says whether it gives access. So does a
            // scheduled cancellation say when it falls.
            _ if !allowed || g.status == GrantStatus::Canceling => {
                self.fetch(FetchObject::Subscription, sub_id);
                old
            }
            // Still past due at Stripe (an older invoice paid, or the subscription not yet updated): the grace runs
            // from the new end of what is paid.
            (GrantStatus::PastDue, Some(SubscriptionStatus::PastDue)) => {
                Derived { status: GrantStatus::PastDue, ends_at: Some(end.saturating_add(grace)) }
            }
            (GrantStatus::Trialing, _) => {
                Derived { status: if trial { GrantStatus::Trialing } else { GrantStatus::Active }, ends_at: longer }
            }
            (GrantStatus::Pending | GrantStatus::PastDue | GrantStatus::Active, _) => {
                Derived { status: GrantStatus::Active, ends_at: access }
            }
            // A suspension keeps its end.
            _ => old,
        };
        if let Some(g) = self.grants.get_mut(i) {
            g.status = new.status;
            g.ends_at = new.ends_at;
            g.paid_through = Some(end);
        }
        if new != old {
            self.report_subscription(&customer, &slug, Some(old), new, provisional);
        } else if !allowed {
            let reason = "invoice paid; access follows the subscription's status, fetching it".into();
            self.activity(ActivityKind::Ignored, Some(&customer), Some(&slug), reason);
        }
    }

    pub(super) fn invoice_failed(&mut self, inv: &Invoice) {
        let customer = inv.customer.clone();
        let sub = inv.subscription_id().map(str::to_owned);
        let products: Vec<String> = self
            .grants
            .iter()
            .filter(|g| sub.as_deref() == Some(g.source.as_str()) && g.livemode == self.livemode && !g.is_tombstone())
            .map(|g| g.product.clone())
            .collect();
        let retry = inv
            .next_payment_attempt
            .map_or_else(|| "no retry scheduled".to_owned(), |t| format!("next retry {}", crate::dates::moment(t)));
        let reason =
            format!("invoice payment failed ({retry}); access follows the subscription's status and grace period");
        if products.is_empty() {
            self.activity(ActivityKind::PaymentFailed, customer.as_deref(), None, reason);
        } else {
            for p in products {
                self.activity(ActivityKind::PaymentFailed, customer.as_deref(), Some(&p), reason.clone());
                if let Some(c) = &customer {
                    self.notify(NotificationKind::PaymentFailed, c, &p, None);
                }
            }
        }
    }
}
