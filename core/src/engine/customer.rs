//! Customers and accounts: a customer deleted in Stripe, an account that disconnected Latch.
//!
//! # What each input does
//! - `customer.deleted`: Stripe cancels the customer's subscriptions, so their rows end (canceled); one-time
//!   purchases stay: deleting a customer refunds nothing.
//! - `account.application.deauthorized`: recorded and notified to the owner; access is not revoked, rows run until
//!   their end and are no longer renewed.

use super::context::Cx;
use super::{ActivityKind, Effect, GrantStatus, Notification, NotificationKind};
use crate::event::Event;

impl Cx<'_> {
    /// Deleting a customer cancels their subscriptions at Stripe; it says nothing about what they paid for once,
    /// which stays theirs.
    pub(super) fn customer_deleted(&mut self, customer: &str) {
        let rows: Vec<usize> = (0..self.grants.len())
            .filter(|&i| {
                self.grants.get(i).is_some_and(|g| {
                    g.customer == customer
                        && g.livemode == self.livemode
                        && !g.is_tombstone()
                        && g.source.starts_with("sub_")
                })
            })
            .collect();
        self.activity(
            ActivityKind::CustomerDeleted,
            Some(customer),
            None,
            "customer deleted in Stripe: their subscriptions end; one-time purchases stay".into(),
        );
        for i in rows {
            self.revoke_row(
                i,
                GrantStatus::Canceled,
                ActivityKind::SubscriptionCancelled,
                "customer deleted in Stripe: the subscription ends with it",
            );
        }
    }

    pub(super) fn deauthorized(&mut self, e: &Event) {
        let account = e.account.as_deref().unwrap_or("the site's account");
        self.activity(
            ActivityKind::AccountDisconnected,
            None,
            None,
            format!("Stripe account {account} disconnected Latch; existing access runs until its end and is no longer renewed"),
        );
        self.effects.push(Effect::Notify(Notification {
            kind: NotificationKind::AccountDisconnected,
            customer: None,
            product: None,
            email: None,
        }));
    }
}
