//! Subscription snapshots (an event's, a fetched one, or a checkout's expanded one): what each product row of the
//! subscription becomes, given what is paid.
//!
//! # Payment (what Stripe's status alone does not say)
//! Stripe can show a subscription `active` whose period is not paid: a bank debit (SEPA, ACH, Bacs) still
//! processing, or one that bounced ("Stripe voids the invoice but the subscription remains active"). So a row
//! remembers the end of what is known paid ([`Grant::paid_through`]): the periods of its paid invoices, a paid
//! checkout's first period, a trial, a fetched snapshot's paid latest invoice (the edge fetches subscriptions with
//! `expand[]=latest_invoice`). Payment is the subscription's, shared by all its product rows. Access follows both:
//! - `active`: the current period when it is paid; else what was paid plus the product's grace, within the period;
//!   nothing before a first payment (status pending);
//! - `past_due`: what was paid plus the grace, counted from the end of the last paid period: a subscription left
//!   past due earns no fresh grace (nor a fresh "access granted" email) each period, and one that fails in the
//!   middle of a paid period (an upgrade invoiced at once) keeps the paid days. First seen past due with nothing
//!   known paid, the grace runs once from that period's start (Stripe makes a subscription whose first payment
//!   fails `incomplete`, not `past_due`).
//!
//! # What each input does
//! - `customer.subscription.*` (created, updated, deleted, paused, resumed, trial_will_end, ...) or a fetched
//!   subscription: the row follows the snapshot and what is paid (above): `active` / `trialing` until the current
//!   period end (items' `current_period_end`, or the subscription's own field in API versions before 2025-03-31);
//!   with `cancel_at_period_end` or `cancel_at` until then (status canceling); `past_due` for the grace; `unpaid`,
//!   `paused` and `incomplete` grant nothing (not final: a payment or a resume brings access back); `canceled` and
//!   `incomplete_expired` end access ([`CancelRule`]). Quantity does not matter (one access per customer and
//!   product). Products that left the subscription (plan change) are marked removed.

use super::context::{Cx, push_unique};
use super::order::{Derived, tie_wins};
use super::{
    ActivityKind, CancelRule, DAY, DisputeRule, FetchObject, Grant, GrantStatus, META_PRODUCT, NotificationKind,
    ProductPolicy,
};
use crate::event::{Expandable, Subscription, SubscriptionStatus};

/// The longest a checkout session stays open (Stripe: 24 hours), so the subscription it paid for starts within this
/// of the session's creation.
const CHECKOUT_OPEN_SECS: i64 = DAY;

impl Cx<'_> {
    /// The Latch products on a subscription: its items through the catalog (authoritative, follows plan
    /// changes), else its `latch_product` metadata, else the checkout's.
    fn subscription_products(&mut self, sub: &Subscription, fallback: Option<&str>, customer: &str) -> Vec<String> {
        let mut slugs = Vec::new();
        let mut unlinked = Vec::new();
        for item in &sub.items.data {
            let product = item.price.as_ref().and_then(|p| p.product.as_deref()).unwrap_or("");
            match self.catalog.by_stripe_product(product) {
                Some(p) => push_unique(&mut slugs, &p.slug),
                None => unlinked.push(product.to_owned()),
            }
        }
        if slugs.is_empty() {
            let meta = sub.metadata.get(META_PRODUCT).map(String::as_str).or(fallback);
            if let Some(slug) = meta.filter(|s| self.catalog.by_slug(s).is_some()) {
                slugs.push(slug.to_owned());
            } else {
                let what = if unlinked.is_empty() { "no linked product".to_owned() } else { unlinked.join(", ") };
                self.ignore(
                    Some(customer),
                    meta,
                    format!("subscription for Stripe products not linked to Latch ({what})"),
                );
            }
        }
        slugs
    }

    /// What a snapshot itself proves paid: a trial (nothing is due until its end), or its expanded latest invoice
    /// when that is paid (through the end of the periods it billed).
    fn snapshot_paid(sub: &Subscription) -> Option<i64> {
        let trial = (sub.status == SubscriptionStatus::Trialing).then(|| sub.period_end().or(sub.trial_end)).flatten();
        let invoice = sub
            .latest_invoice
            .as_ref()
            .and_then(Expandable::object)
            .filter(|inv| inv.status.as_deref() == Some("paid"))
            .and_then(|inv| {
                inv.lines.data.iter().filter_map(|l| l.period.and_then(|p| p.end)).max().or(sub.period_end())
            });
        trial.max(invoice)
    }

    /// What a snapshot means for one product row, given the end of what is known paid (`paid`):
    /// - `active`: its current period when that is paid; while a renewal's payment is pending (or a delayed debit
    ///   failed and Stripe keeps the subscription active) what was paid plus the grace, within the period; nothing
    ///   before any payment (a first debit still processing);
    /// - `past_due`: what was paid plus the grace, counted from the end of the last paid period, not from the current
    ///   period: a subscription left past due for months earns no fresh grace each period, and one that fails in the
    ///   middle of a paid period keeps the paid days;
    /// - `trialing` until its end; `unpaid`, `paused`, `incomplete`: nothing; `canceled`: see [`CancelRule`].
    fn derive(&self, sub: &Subscription, policy: &ProductPolicy, paid: Option<i64>) -> Derived {
        let period_end = sub.period_end();
        let grace = policy.grace_secs();
        let paying = paid_access(paid, period_end, grace);
        let (status, ends_at) = match sub.status {
            SubscriptionStatus::Incomplete => (GrantStatus::Pending, period_end),
            SubscriptionStatus::IncompleteExpired => (GrantStatus::Expired, sub.ended_at.or(Some(self.version))),
            SubscriptionStatus::Trialing => (GrantStatus::Trialing, period_end.or(sub.trial_end)),
            SubscriptionStatus::Active => match paying {
                None => (GrantStatus::Pending, period_end),
                Some(end) => {
                    let cancel = sub.cancel_at.filter(|c| *c < end);
                    if sub.cancel_at_period_end || sub.cancel_at.is_some() {
                        (GrantStatus::Canceling, Some(cancel.unwrap_or(end)))
                    } else {
                        (GrantStatus::Active, Some(end))
                    }
                }
            },
            // Nothing known paid (a subscription first seen past due): Stripe makes a subscription whose first
            // payment fails `incomplete`, not `past_due`, so it was paid up to its current period.
            SubscriptionStatus::PastDue => {
                let since = paid.or(sub.period_start()).unwrap_or(self.version);
                (GrantStatus::PastDue, Some(since.saturating_add(grace)))
            }
            SubscriptionStatus::Unpaid => (GrantStatus::Unpaid, period_end),
            SubscriptionStatus::Paused => (GrantStatus::Paused, period_end),
            SubscriptionStatus::Canceled => {
                let ended = sub.ended_at.or(sub.canceled_at).unwrap_or(self.version);
                let ends = match (policy.cancel, paid) {
                    (CancelRule::KeepPaidPeriod, Some(p)) => p.max(ended),
                    // Stripe says it has ended: that holds now even if our clock is behind Stripe's
                    // (clock skew, test clocks), so access never outlives a canceled subscription.
                    _ => ended.min(self.now),
                };
                (GrantStatus::Canceled, Some(ends))
            }
            SubscriptionStatus::Other => (GrantStatus::Pending, period_end),
        };
        Derived { status, ends_at }
    }

    /// A subscription snapshot (an event's, a fetched one, or a checkout's expanded one). `paid` is what the caller
    /// knows paid besides the snapshot itself (a paid checkout paid the first period).
    pub(super) fn subscription(&mut self, sub: &Subscription, fallback: Option<&str>, paid: Option<i64>) {
        let Some(customer) = sub.customer.clone() else {
            self.ignore(None, None, "subscription without a customer".into());
            return;
        };
        if self.site_mismatch(&sub.metadata) {
            return;
        }
        if sub.status == SubscriptionStatus::Other {
            self.ignore(Some(&customer), None, "unknown subscription status; fetching the subscription".into());
            self.fetch(FetchObject::Subscription, &sub.id);
            return;
        }
        if self.fetched {
            // A fetched answer reflects every event of this subscription delivered before it.
            self.version = self.version.max(self.source_version(&sub.id).unwrap_or(0));
        }
        // Stripe never revives a subscription it ended: that snapshot is the truth whatever its version, so neither
        // an older version nor a fetch that settled its second may discard it.
        let ending = matches!(sub.status, SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired);
        if self.stale_source(&sub.id, &customer, ending) {
            return;
        }
        let slugs = self.subscription_products(sub, fallback, &customer);
        if slugs.is_empty() {
            return;
        }
        self.check_tie_products(&sub.id, &slugs);
        // Rows of this subscription for products no longer on it: the plan changed.
        let removed: Vec<usize> = (0..self.grants.len())
            .filter(|&i| {
                self.grants.get(i).is_some_and(|g| {
                    g.livemode == self.livemode
                        && g.source == sub.id
                        && !g.is_tombstone()
                        && !slugs.contains(&g.product)
                        && !g.status.is_final()
                        && g.status != GrantStatus::Removed
                        && g.version <= self.version
                        && !sub.items.data.is_empty()
                })
            })
            .collect();
        for i in removed {
            let Some(g) = self.grants.get_mut(i) else {
                continue;
            };
            let was_active = g.is_active(self.now);
            g.status = GrantStatus::Removed;
            g.ends_at = Some(g.ends_at.map_or(self.version, |e| e.min(self.version)));
            g.version = self.version;
            g.fetched = self.fetched;
            let (c, p) = (g.customer.clone(), g.product.clone());
            self.activity(
                ActivityKind::SubscriptionUpdated,
                Some(&c),
                Some(&p),
                format!("plan changed to {}", slugs.join(", ")),
            );
            if was_active {
                self.activity(
                    ActivityKind::AccessRevoked,
                    Some(&c),
                    Some(&p),
                    "product removed from the subscription".into(),
                );
                self.notify(NotificationKind::AccessRevoked, &c, &p, None);
            }
        }
        let starts_at = sub.start_date.or(sub.created).unwrap_or(self.version);
        // What is known paid: the caller's, the snapshot's own, the subscription's rows', a paid checkout's.
        let proven = paid.max(Self::snapshot_paid(sub)).max(self.source_paid(&sub.id)).max(self.checkout_paid(sub));
        for slug in slugs {
            let Some(policy) = self.catalog.by_slug(&slug).cloned() else {
                continue;
            };
            match self.row(&customer, &slug, &sub.id) {
                None => {
                    let mut d = self.derive(sub, &policy, proven);
                    if let Some(g) = self.tombstone_for(&sub.id) {
                        d = Derived { status: g, ends_at: Some(self.version) };
                    }
                    self.grants.push(Grant {
                        customer: customer.clone(),
                        product: slug.clone(),
                        source: sub.id.clone(),
                        livemode: self.livemode,
                        status: d.status,
                        starts_at,
                        ends_at: d.ends_at,
                        version: self.version,
                        email: None,
                        dispute: None,
                        fetched: self.fetched,
                        paid_through: proven,
                        subscription_status: Some(sub.status.clone()),
                        period_end: sub.period_end(),
                    });
                    self.report_subscription(&customer, &slug, None, d, false);
                }
                Some(i) => {
                    let Some(g) = self.grants.get(i) else {
                        continue;
                    };
                    if g.status.is_final() {
                        continue;
                    }
                    let old = Derived { status: g.status, ends_at: g.ends_at };
                    let (row_version, disputed, provisional) = (g.version, g.dispute.is_some(), g.is_provisional());
                    let paid_through = g.paid_until().max(proven);
                    if self.version < row_version && !ending {
                        self.ignore(
                            Some(&customer),
                            Some(&slug),
                            "an older subscription snapshot arrived after a newer one".into(),
                        );
                        continue;
                    }
                    let mut d = self.derive(sub, &policy, paid_through);
                    // A fetched answer settles a tie instead of joining it.
                    if self.version == row_version && old != d && !self.fetched {
                        if old.status != d.status {
                            self.fetch(FetchObject::Subscription, &sub.id);
                        }
                        if !tie_wins(d, old) {
                            continue;
                        }
                    }
                    // Still past due and still nothing known paid: the grace the first sighting gave stands, it does
                    // not start again with each period.
                    if d.status == GrantStatus::PastDue && paid_through.is_none() && old.status == GrantStatus::PastDue
                    {
                        d.ends_at = old.ends_at;
                    }
                    if disputed && policy.dispute == DisputeRule::SuspendWhileOpen && d.status.grants_access() {
                        d.status = GrantStatus::Disputed;
                    }
                    if let Some(g) = self.grants.get_mut(i) {
                        g.status = d.status;
                        g.ends_at = d.ends_at;
                        g.version = self.version.max(row_version);
                        g.fetched = self.fetched && self.version >= row_version;
                        g.paid_through = paid_through;
                        g.subscription_status = Some(sub.status.clone());
                        g.period_end = sub.period_end();
                    }
                    if old != d {
                        self.report_subscription(&customer, &slug, Some(old), d, provisional);
                    }
                }
            }
        }
    }

    /// The first period, when a paid checkout for the subscription was seen before it (its provisional row): the
    /// checkout paid the period it started in.
    fn checkout_paid(&self, sub: &Subscription) -> Option<i64> {
        let start = sub.period_start()?;
        self.grants
            .iter()
            .filter(|g| g.livemode == self.livemode && g.source == sub.id && g.is_provisional())
            .any(|g| start >= g.starts_at && start <= g.starts_at.saturating_add(CHECKOUT_OPEN_SECS))
            .then(|| sub.period_end())
            .flatten()
    }

    /// The end of what is known paid of a subscription, over all its product rows: a payment is the subscription's,
    /// so a product the plan moves to inherits it.
    fn source_paid(&self, source: &str) -> Option<i64> {
        self.grants
            .iter()
            .filter(|g| g.livemode == self.livemode && g.source == source && !g.is_tombstone())
            .filter_map(Grant::paid_until)
            .max()
    }

    pub(super) fn report_subscription(
        &mut self,
        customer: &str,
        slug: &str,
        old: Option<Derived>,
        new: Derived,
        provisional: bool,
    ) {
        let now = self.now;
        let active = |d: &Derived| d.status.grants_access() && d.ends_at.is_none_or(|e| now < e);
        let was = old.as_ref().is_some_and(active);
        let is = active(&new);
        let until = new.ends_at.map_or_else(|| "with no end".to_owned(), |e| format!("until {}", crate::dates::day(e)));
        use GrantStatus as S;
        let (kind, reason) = match (old.map(|o| o.status), new.status) {
            (None, S::Active | S::Trialing) => {
                (ActivityKind::SubscriptionStarted, format!("subscription {}", new.status.as_str()))
            }
            (None | Some(S::Pending), S::Pending) => {
                (ActivityKind::AwaitingPayment, "subscription waiting for its first payment; no access yet".into())
            }
            (None, _) => (ActivityKind::SubscriptionUpdated, format!("subscription seen as {}", new.status.as_str())),
            (Some(S::Trialing), S::Active) => {
                (ActivityKind::SubscriptionRenewed, format!("trial converted to paid, {until}"))
            }
            (Some(S::PastDue | S::Unpaid), S::Active) => {
                (ActivityKind::SubscriptionRenewed, "payment recovered".into())
            }
            (Some(S::Pending), S::Active) => {
                (ActivityKind::SubscriptionStarted, format!("first payment made, {until}"))
            }
            (Some(S::Active), S::Active) => (ActivityKind::SubscriptionRenewed, format!("renewed {until}")),
            (Some(_), S::Canceling) => {
                (ActivityKind::SubscriptionCancelled, format!("cancellation scheduled; access kept {until}"))
            }
            (Some(_), S::Canceled | S::Expired) => (ActivityKind::SubscriptionCancelled, "subscription ended".into()),
            (Some(S::PastDue), S::PastDue) => {
                (ActivityKind::SubscriptionUpdated, format!("an invoice was paid; still past due, access {until}"))
            }
            (Some(_), S::PastDue) => (
                ActivityKind::PaymentFailed,
                format!("renewal payment failed; access kept during the grace period, {until}"),
            ),
            (Some(_), s) => (ActivityKind::SubscriptionUpdated, format!("subscription is now {}", s.as_str())),
        };
        // The checkout already reported the start; a provisional row only gets its real period here.
        if !provisional {
            self.activity(kind, Some(customer), Some(slug), reason);
        }
        if is && !was {
            self.activity(ActivityKind::AccessGranted, Some(customer), Some(slug), format!("access {until}"));
            self.notify(NotificationKind::AccessGranted, customer, slug, None);
        } else if was && !is {
            self.activity(
                ActivityKind::AccessRevoked,
                Some(customer),
                Some(slug),
                format!("subscription {}", new.status.as_str()),
            );
            self.notify(NotificationKind::AccessRevoked, customer, slug, None);
        }
    }
}

/// How far an active subscription's access runs, given the end of what is paid and of its current period: the
/// period when it is paid; else what was paid plus the grace, within the period (a renewal still being paid, or a
/// bounced debit Stripe keeps active); `None` before any payment.
pub(super) fn paid_access(paid: Option<i64>, period_end: Option<i64>, grace: i64) -> Option<i64> {
    match (paid?, period_end) {
        (p, Some(end)) if p >= end => Some(end),
        (p, Some(end)) => Some(p.saturating_add(grace).min(end)),
        (p, None) => Some(p.saturating_add(grace)),
    }
}
