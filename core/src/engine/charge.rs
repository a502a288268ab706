//! Charges: refunds (and refunds that failed or were canceled) and disputes of one-time purchases.
//!
//! # What each input does
//! - `charge.refunded`: per [`RefundRule`] on the one-time purchase it paid; a refund of a subscription invoice
//!   changes nothing (access follows the subscription; cancel it to end access). An event's charge only takes
//!   access away (an older view of the charge never undoes a newer one). `charge.refund.updated`,
//!   `refund.updated` and `refund.failed` carry a Refund: when it `failed` or was `canceled` the engine fetches the
//!   charge, and the fetched charge (the current truth) gives back what no refund stands for any more.
//! - `charge.dispute.*`: per [`DisputeRule`] on the one-time purchase it disputes; `won`, `prevented`,
//!   `warning_closed` and `charge_refunded` close it.

use super::context::Cx;
use super::{
    ActivityKind, DAY, DisputeRule, FetchObject, Grant, GrantStatus, NotificationKind, OneTimeAccess, RefundRule,
};

impl Cx<'_> {
    fn matching_payment_rows(&self, ids: &[&str]) -> Vec<usize> {
        (0..self.grants.len())
            .filter(|&i| {
                self.grants.get(i).is_some_and(|g| g.livemode == self.livemode && ids.contains(&g.source.as_str()))
            })
            .collect()
    }

    /// Marks a payment not yet seen as refunded or lost, so its purchase never grants. A tombstone a fetched charge
    /// lifted (its refund failed) comes back only for news newer than that answer.
    fn tombstone(&mut self, customer: Option<&str>, source: &str, status: GrantStatus) {
        let (version, livemode) = (self.version, self.livemode);
        if let Some(g) =
            self.grants.iter_mut().find(|g| g.is_tombstone() && g.livemode == livemode && g.source == source)
        {
            if g.status == GrantStatus::Active && (version > g.version || (version == g.version && !g.fetched)) {
                g.status = status;
                g.version = version;
                g.fetched = false;
            }
            return;
        }
        self.grants.push(Grant {
            customer: customer.unwrap_or_default().to_owned(),
            product: String::new(),
            source: source.to_owned(),
            livemode: self.livemode,
            status,
            starts_at: self.version,
            ends_at: Some(self.version),
            version: self.version,
            email: None,
            dispute: None,
            fetched: false,
            paid_through: None,
            subscription_status: None,
            period_end: None,
        });
    }

    /// A charge's refunds, decided per product policy. An event's charge can only take access away (events of one
    /// charge arrive in any order, so an older snapshot with less refunded must not undo a newer one); a fetched
    /// charge is the current truth, so it also gives back what a refund that failed or was canceled took.
    pub(super) fn refund(&mut self, ch: &crate::event::Charge) {
        let mut ids: Vec<&str> = vec![ch.id.as_str()];
        ids.extend(ch.payment_intent.as_deref());
        let matching = self.matching_payment_rows(&ids);
        if self.fetched {
            // A fetched charge reflects every event of it delivered before it.
            let known = matching.iter().filter_map(|&i| self.grants.get(i)).map(|g| g.version).max();
            self.version = self.version.max(known.unwrap_or(0));
        }
        let rows: Vec<usize> =
            matching.into_iter().filter(|&i| self.grants.get(i).is_some_and(|g| !g.is_tombstone())).collect();
        let full = ch.fully_refunded();
        let amount = format!("{} of {} refunded", ch.amount_refunded, ch.amount);
        if rows.is_empty() {
            self.activity(
                ActivityKind::Refunded,
                ch.customer.as_deref(),
                None,
                format!("{amount}; no one-time purchase matches (subscription access follows the subscription)"),
            );
            // The purchase may not have arrived yet: leave a tombstone so it never grants. Default rule only:
            // without the product, the strictest rule that revokes on full refunds is applied. A fetched charge no
            // longer fully refunded lifts it.
            let source = ch.payment_intent.as_deref().unwrap_or(&ch.id).to_owned();
            if full {
                self.tombstone(ch.customer.as_deref(), &source, GrantStatus::Refunded);
            } else if self.fetched {
                self.not_refunded(ch.customer.as_deref(), &source);
            }
            return;
        }
        for i in rows {
            let Some(g) = self.grants.get(i) else {
                continue;
            };
            if g.source.starts_with("sub_") || g.status.is_final() {
                continue;
            }
            if !self.fetched && (self.version < g.version || (self.version == g.version && g.fetched)) {
                let (c, p) = (g.customer.clone(), g.product.clone());
                self.ignore(Some(&c), Some(&p), format!("{amount}: an older view of the charge; nothing changes"));
                continue;
            }
            let Some(policy) = self.catalog.by_slug(&g.product) else {
                continue;
            };
            let revoke = match policy.refund {
                RefundRule::RevokeOnFullRefund => full,
                RefundRule::RevokeOnAnyRefund => ch.amount_refunded > 0 || full,
                RefundRule::Keep => false,
            };
            let (c, p, status) = (g.customer.clone(), g.product.clone(), g.status);
            match (revoke, status) {
                (true, GrantStatus::Refunded) => {}
                (true, _) => {
                    self.revoke_row(
                        i,
                        GrantStatus::Refunded,
                        ActivityKind::Refunded,
                        &format!("{amount}: access revoked"),
                    );
                }
                (false, GrantStatus::Refunded) if self.fetched => self.restore_payment(i, &amount),
                (false, _) => {
                    self.activity(
                        ActivityKind::Refunded,
                        Some(&c),
                        Some(&p),
                        format!("{amount}: access kept by policy"),
                    );
                }
            }
            if let Some(g) = self.grants.get_mut(i) {
                g.fetched = self.fetched;
            }
        }
    }

    /// A one-time purchase whose refund did not happen after all: its access comes back, as the purchase gave it.
    fn restore_payment(&mut self, i: usize, amount: &str) {
        let (now, version) = (self.now, self.version);
        let Some(g) = self.grants.get(i) else {
            return;
        };
        let Some(policy) = self.catalog.by_slug(&g.product) else {
            return;
        };
        let ends_at = match policy.one_time {
            OneTimeAccess::Lifetime => None,
            OneTimeAccess::Days(d) => Some(g.starts_at.saturating_add(i64::from(d).saturating_mul(DAY))),
        };
        let (c, p) = (g.customer.clone(), g.product.clone());
        if let Some(g) = self.grants.get_mut(i) {
            g.status = GrantStatus::Active;
            g.ends_at = ends_at;
            g.version = g.version.max(version);
        }
        self.activity(ActivityKind::Refunded, Some(&c), Some(&p), format!("{amount}: the refund did not go through"));
        if ends_at.is_none_or(|e| now < e) {
            self.activity(ActivityKind::AccessGranted, Some(&c), Some(&p), "refund undone: access restored".into());
            self.notify(NotificationKind::AccessGranted, &c, &p, None);
        }
    }

    /// Records that a payment not yet seen is not refunded as of this input (a refund of it failed): its tombstone,
    /// made or lifted, no longer blocks the purchase, and a `charge.refunded` older than this is old news.
    fn not_refunded(&mut self, customer: Option<&str>, source: &str) {
        let (version, fetched, livemode) = (self.version, self.fetched, self.livemode);
        match self.grants.iter_mut().find(|g| g.is_tombstone() && g.livemode == livemode && g.source == source) {
            Some(g) if g.status.is_final() || version < g.version => {}
            Some(g) => {
                g.status = GrantStatus::Active;
                g.version = version;
                g.fetched = fetched;
            }
            None => {
                self.tombstone(customer, source, GrantStatus::Active);
                if let Some(g) = self.grants.last_mut() {
                    g.fetched = fetched;
                }
            }
        }
    }

    /// A refund that failed or was canceled: the money stayed with the merchant. How much of the charge is still
    /// refunded decides what access comes back, so the engine asks for the charge; meanwhile the refund's time
    /// marks the payment's rows, so an older `charge.refunded` delivered late cannot take access away.
    pub(super) fn refund_updated(&mut self, re: &crate::event::Refund) {
        let status = re.status.as_deref().unwrap_or("unknown");
        let Some(charge) = re.charge.clone().filter(|_| re.undone()) else {
            self.ignore(None, None, format!("refund {status}: nothing changes"));
            return;
        };
        let mut ids: Vec<&str> = vec![charge.as_str()];
        ids.extend(re.payment_intent.as_deref());
        let version = self.version;
        let rows = self.matching_payment_rows(&ids);
        if rows.is_empty() {
            let source = re.payment_intent.clone().unwrap_or_else(|| charge.clone());
            self.tombstone(None, &source, GrantStatus::Active);
        }
        for i in rows {
            if let Some(g) = self.grants.get_mut(i).filter(|g| g.version < version) {
                g.version = version;
                g.fetched = false;
            }
        }
        self.activity(
            ActivityKind::Refunded,
            None,
            None,
            format!("refund {status}: the money stayed with the merchant; fetching the charge"),
        );
        self.fetch(FetchObject::Charge, &charge);
    }

    pub(super) fn dispute(&mut self, dp: &crate::event::Dispute, kind: &str) {
        let mut ids: Vec<&str> = Vec::new();
        ids.extend(dp.charge.as_deref());
        ids.extend(dp.payment_intent.as_deref());
        let rows: Vec<usize> = self
            .matching_payment_rows(&ids)
            .into_iter()
            .filter(|&i| self.grants.get(i).is_some_and(|g| !g.is_tombstone()))
            .collect();
        let status = dp.status.as_deref().unwrap_or("");
        let lost = status == "lost";
        // `prevented`: the card network stopped it before it became a dispute, like a win.
        let closed = matches!(status, "won" | "lost" | "warning_closed" | "charge_refunded" | "prevented");
        if rows.is_empty() {
            self.activity(
                if closed { ActivityKind::DisputeClosed } else { ActivityKind::DisputeOpened },
                None,
                None,
                format!("dispute {status} on a payment that granted no one-time access"),
            );
            if lost && let Some(source) = dp.payment_intent.as_deref().or(dp.charge.as_deref()) {
                let source = source.to_owned();
                self.tombstone(None, &source, GrantStatus::DisputeLost);
            }
            return;
        }
        let _ = kind;
        for i in rows {
            let Some(g) = self.grants.get(i) else {
                continue;
            };
            if g.status.is_final() {
                continue;
            }
            let Some(policy) = self.catalog.by_slug(&g.product) else {
                continue;
            };
            let rule = policy.dispute;
            let (c, p) = (g.customer.clone(), g.product.clone());
            if lost && rule != DisputeRule::Keep {
                self.revoke_row(
                    i,
                    GrantStatus::DisputeLost,
                    ActivityKind::DisputeClosed,
                    "dispute lost: access revoked",
                );
            } else if closed {
                let restore = g.status == GrantStatus::Disputed;
                if let Some(g) = self.grants.get_mut(i) {
                    g.dispute = None;
                    if restore {
                        g.status = GrantStatus::Active;
                    }
                }
                self.activity(
                    ActivityKind::DisputeClosed,
                    Some(&c),
                    Some(&p),
                    format!("dispute {status}: access kept"),
                );
                if restore {
                    self.activity(
                        ActivityKind::AccessGranted,
                        Some(&c),
                        Some(&p),
                        "dispute closed: access restored".into(),
                    );
                    self.notify(NotificationKind::AccessGranted, &c, &p, None);
                }
            } else if g.dispute.as_deref() != Some(dp.id.as_str()) {
                if let Some(g) = self.grants.get_mut(i) {
                    g.dispute = Some(dp.id.clone());
                }
                if rule == DisputeRule::SuspendWhileOpen {
                    self.revoke_row_soft(i);
                } else {
                    self.activity(
                        ActivityKind::DisputeOpened,
                        Some(&c),
                        Some(&p),
                        "dispute opened: access kept while it is open".into(),
                    );
                }
            }
        }
    }

    fn revoke_row_soft(&mut self, i: usize) {
        let now = self.now;
        let Some(g) = self.grants.get_mut(i) else {
            return;
        };
        let was_active = g.is_active(now);
        g.status = GrantStatus::Disputed;
        let (c, p) = (g.customer.clone(), g.product.clone());
        self.activity(
            ActivityKind::DisputeOpened,
            Some(&c),
            Some(&p),
            "dispute opened: access suspended while it is open".into(),
        );
        if was_active {
            self.activity(ActivityKind::AccessRevoked, Some(&c), Some(&p), "dispute opened".into());
            self.notify(NotificationKind::AccessRevoked, &c, &p, None);
        }
    }
}
