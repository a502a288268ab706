//! Ordering: which of two views of the same Stripe object wins, by versions, final states and ties.
//!
//! # Ordering, duplicates, delays (policy)
//! - Idempotent: applying an input to the state it produced changes no row, and activities are only emitted for
//!   changes, so a replayed event, or a second event id for the same change, grants once (the edge also skips event
//!   ids found in `processed_events`).
//! - Versions: a row remembers the newest Stripe time it reflects ([`Grant::version`]): the event's `created`; for a
//!   re-fetched object, the newest version already known of its source (the answer reflects every event delivered
//!   before it) or the object's own `created`: never the edge's clock. A subscription snapshot older than the
//!   newest version of any row of the same subscription is ignored as a whole (recorded as ignored): it never
//!   shortens a renewal, undoes a cancellation, or brings back a product the plan moved away from. A paid invoice is
//!   evidence, not a snapshot: it never moves a version (see `invoice`), so a late invoice still counts and an earlier
//!   snapshot delivered after it is still applied.
//! - Final states are absorbing, whatever the versions say: only what Stripe makes final, a canceled or
//!   `incomplete_expired` subscription and a lost dispute, is final for its row (Stripe never revives them), so no
//!   snapshot, however dated, resurrects them. A refund is not final: it can still fail or be canceled. The end of a subscription is final for the whole subscription:
//!   once a row of it is canceled or expired, every later subscription or invoice snapshot of it is ignored, even at
//!   an equal version, so a same-second snapshot from before the end never brings back a product the plan moved
//!   away from (the tie rule below would otherwise let its later period end win). The other way round, a snapshot
//!   that ends the subscription is applied whatever its version: neither a newer row (a fetch stamped by an edge
//!   clock ahead of Stripe's) nor a fetch that settled its second discards it. The database holds the same line
//!   under concurrent writers: the edge's upsert never replaces a row in a [`GrantStatus::FINAL`] status.
//! - Ties on `created` (Stripe often emits several events in one second): at equal versions a final snapshot wins,
//!   then the later end, then the status granting more. When same-second snapshots disagree on the status or on the
//!   products, the engine also asks the edge to re-fetch the subscription ([`Effect::Fetch`]); the answer settles it, also when it lands in the same second: at an equal version a fetched answer
//!   replaces the rows outright (no tie rule, no new fetch) and marks them [`Grant::fetched`], and an event of that
//!   same second is then ignored as already reflected (unless it ends the subscription), so a late or replayed
//!   same-second snapshot never undoes the settlement (a product the plan moved away from does not come back). An unknown subscription status is never
//!   guessed: it triggers a fetch too.
//! - Time: versions compare Stripe's timestamps only, never the edge's clock, and a `created` in the future is taken
//!   as is (it is signed by Stripe); `now` only decides what is active ([`Grant::is_active`]) and which changes are
//!   reported as granted or revoked. A fetched answer is assumed newer than the events delivered before it. One
//!   exception: a canceled subscription's access ends at `min(ended_at, now)`, so an edge clock behind Stripe's (or a
//!   test clock) never lets access outlive a subscription Stripe says has ended.
//!
//! [`Effect::Fetch`]: super::Effect::Fetch

use super::context::Cx;
use super::{FetchObject, Grant, GrantStatus};

/// What a subscription snapshot means for one product row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Derived {
    pub(super) status: GrantStatus,
    pub(super) ends_at: Option<i64>,
}

impl Cx<'_> {
    /// The newest version seen for a source (over all its product rows).
    pub(super) fn source_version(&self, source: &str) -> Option<i64> {
        self.grants
            .iter()
            .filter(|g| g.livemode == self.livemode && g.source == source && !g.is_tombstone())
            .map(|g| g.version)
            .max()
    }

    /// Whether a row of the source records the end of the subscription (`canceled` or `incomplete_expired`).
    pub(super) fn source_ended(&self, source: &str) -> bool {
        self.grants.iter().any(|g| {
            g.livemode == self.livemode
                && g.source == source
                && !g.is_tombstone()
                && matches!(g.status, GrantStatus::Canceled | GrantStatus::Expired)
        })
    }

    /// A snapshot older than what a source's rows already reflect is ignored as a whole: this also keeps an old
    /// snapshot from re-creating a product the subscription has since moved away from. So is any snapshot of a
    /// subscription already seen ended, whatever its version: the end is final for the whole subscription, not only
    /// for the product rows it names, so a same-second snapshot from before the end never brings back a product the
    /// plan moved away from, nor creates a row for it.
    pub(super) fn stale_source(&mut self, source: &str, customer: &str, ending: bool) -> bool {
        if self.source_ended(source) {
            self.ignore(Some(customer), None, "the subscription has ended; no snapshot revives it".into());
            return true;
        }
        if ending {
            return false;
        }
        if self.source_version(source).is_some_and(|v| self.version < v) {
            self.ignore(Some(customer), None, "an older snapshot arrived after a newer one; nothing changes".into());
            return true;
        }
        if !self.fetched && self.source_settled(source) {
            self.ignore(
                Some(customer),
                None,
                "a fetched snapshot of the same second already reflects this event; nothing changes".into(),
            );
            return true;
        }
        false
    }

    /// Whether the source's rows at this version come from a fetched answer, which reflects every event of its
    /// second.
    fn source_settled(&self, source: &str) -> bool {
        self.grants.iter().any(|g| {
            g.livemode == self.livemode
                && g.source == source
                && !g.is_tombstone()
                && g.fetched
                && g.version == self.version
        })
    }

    /// At a tie on versions, a snapshot naming other products than the rows at that version is ambiguous (two
    /// changes in one second): ask for the subscription itself.
    pub(super) fn check_tie_products(&mut self, source: &str, slugs: &[String]) {
        if self.fetched {
            return; // the fetched answer is the subscription itself
        }
        let at_tie: Vec<&Grant> = self
            .grants
            .iter()
            .filter(|g| {
                g.livemode == self.livemode
                    && g.source == source
                    && !g.is_tombstone()
                    && g.version == self.version
                    && g.status != GrantStatus::Removed
            })
            .collect();
        if !at_tie.is_empty() && at_tie.iter().any(|g| !slugs.contains(&g.product)) {
            self.fetch(FetchObject::Subscription, source);
        }
    }
}

/// Tie on versions: final wins, then the later end, then more access.
pub(super) fn tie_wins(new: Derived, old: Derived) -> bool {
    if new.status.is_final() != old.status.is_final() {
        return new.status.is_final();
    }
    let end = |d: Derived| d.ends_at.unwrap_or(i64::MAX);
    match end(new).cmp(&end(old)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => new.status.access_rank() >= old.status.access_rank(),
    }
}
