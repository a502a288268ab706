//! The grant model: the rows the engine reads and writes, and the access they give.
//!
//! # Grants
//! One [`Grant`] row per (customer, Latch product, source object); the edge's unique key is
//! (site, customer, product, source), so the webhook and the claim converge on one row whichever comes first.
//! - Source of a subscription grant: the subscription id (`sub_...`), also when the grant comes from the checkout
//!   session or an invoice, so every subscription event updates the same row.
//! - Source of a one-time grant: the checkout session's payment intent (`pi_...`), because refunds and disputes name
//!   the payment intent; the session id (`cs_...`) when there is no payment (`no_payment_required`).
//! - Customer: the Stripe customer id. If Stripe made no Customer (payment mode without `customer_creation=always`)
//!   the key is `email:{lowercased email}`.
//! - Product: a checkout session's `metadata.latch_product`, else its line items (fetched with
//!   `expand[]=line_items` when absent) through the [`Catalog`]. A subscription's items through the catalog come
//!   first (they follow plan changes made in the portal, where the metadata stays stale), then its
//!   `metadata.latch_product`, then the checkout's.
//! - Rows with an empty `product` are tombstones: a full refund or a lost dispute seen before the purchase it undoes.
//!   Store them like any row; they never grant access.
//!
//! [`Catalog`]: super::Catalog

use serde::{Deserialize, Serialize};

use crate::event::SubscriptionStatus;

/// Where a grant stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantStatus {
    /// Waiting for a first payment (`incomplete` subscription).
    Pending,
    /// Paid.
    Active,
    /// In a free trial.
    Trialing,
    /// Renewal failed; access kept until the grace end.
    PastDue,
    /// Cancellation scheduled; access kept until `ends_at`.
    Canceling,
    /// Subscription paused: no access.
    Paused,
    /// Subscription unpaid after retries: no access.
    Unpaid,
    /// The product was removed from the subscription (plan change): no access, may come back.
    Removed,
    /// Access suspended by an open dispute
    /// ([`DisputeRule::SuspendWhileOpen`](super::DisputeRule::SuspendWhileOpen)).
    Disputed,
    /// Subscription canceled: final. Access only until `ends_at`
    /// ([`CancelRule::KeepPaidPeriod`](super::CancelRule::KeepPaidPeriod)).
    Canceled,
    /// Subscription never paid (`incomplete_expired`): final.
    Expired,
    /// Payment refunded: no access. Not final: a refund that fails or is canceled restores access.
    Refunded,
    /// Dispute lost: final.
    DisputeLost,
    /// Revoked by an older Latch when the customer was deleted (it no longer does: a deleted customer's
    /// subscriptions end, one-time purchases stay): final, kept so such rows still read.
    Revoked,
}

impl GrantStatus {
    /// The final statuses: Stripe never revives their source, and no write replaces them, in the engine or in the
    /// database (the edge's upsert refuses to overwrite a row in one of these with a row in another status). Only
    /// what Stripe makes final: an ended subscription, a lost dispute. A refund is not (it can still fail).
    pub const FINAL: [Self; 4] = [Self::Canceled, Self::Expired, Self::DisputeLost, Self::Revoked];

    /// Stripe never revives the source of a final row; nothing changes it any more.
    pub fn is_final(self) -> bool {
        Self::FINAL.contains(&self)
    }

    /// Whether the status grants access (until `ends_at`).
    pub fn grants_access(self) -> bool {
        matches!(self, Self::Active | Self::Trialing | Self::PastDue | Self::Canceling | Self::Canceled)
    }

    /// Stable snake_case name (for storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
            Self::Trialing => "trialing",
            Self::PastDue => "past_due",
            Self::Canceling => "canceling",
            Self::Paused => "paused",
            Self::Unpaid => "unpaid",
            Self::Removed => "removed",
            Self::Disputed => "disputed",
            Self::Canceled => "canceled",
            Self::Expired => "expired",
            Self::Refunded => "refunded",
            Self::DisputeLost => "dispute_lost",
            Self::Revoked => "revoked",
        }
    }

    /// Parses [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        ALL_STATUSES.iter().copied().find(|st| st.as_str() == s)
    }

    /// Rank used to break ties: more access ranks higher.
    pub(super) fn access_rank(self) -> u8 {
        match self {
            Self::Active => 6,
            Self::Trialing => 5,
            Self::Canceling => 4,
            Self::PastDue => 3,
            Self::Pending | Self::Removed | Self::Disputed => 1,
            Self::Paused | Self::Unpaid => 2,
            Self::Canceled | Self::Expired | Self::Refunded | Self::DisputeLost | Self::Revoked => 0,
        }
    }
}

const ALL_STATUSES: [GrantStatus; 14] = [
    GrantStatus::Pending,
    GrantStatus::Active,
    GrantStatus::Trialing,
    GrantStatus::PastDue,
    GrantStatus::Canceling,
    GrantStatus::Paused,
    GrantStatus::Unpaid,
    GrantStatus::Removed,
    GrantStatus::Disputed,
    GrantStatus::Canceled,
    GrantStatus::Expired,
    GrantStatus::Refunded,
    GrantStatus::DisputeLost,
    GrantStatus::Revoked,
];

/// One member's access to one product through one Stripe object. Plain data: the edge stores every field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Stripe customer id, or `email:{email}` when Stripe made no Customer.
    pub customer: String,
    /// Latch product slug (empty for a tombstone).
    pub product: String,
    /// The Stripe object the access comes from: `sub_...`, `pi_...` or `cs_...`.
    pub source: String,
    /// Live or test mode; the engine never touches rows of the other mode.
    pub livemode: bool,
    /// Where the grant stands.
    pub status: GrantStatus,
    /// When access started (Unix seconds).
    pub starts_at: i64,
    /// When access ends; `None` for lifetime.
    pub ends_at: Option<i64>,
    /// Newest Stripe version reflected: an event's `created`, or what a fetched answer reflected (0 for a
    /// provisional row or one an invoice made).
    pub version: i64,
    /// The buyer's email when the source told it.
    pub email: Option<String>,
    /// An open dispute on the source's payment (`dp_...`).
    pub dispute: Option<String>,
    /// Whether [`Self::version`] comes from a re-fetched object rather than an event: at that version the row
    /// outranks events, which the fetched answer already reflects (absent in older rows: false).
    #[serde(default)]
    pub fetched: bool,
    /// Subscription rows: the end of the latest period known to be paid (a paid invoice, a paid checkout, a trial).
    /// Access never runs past it by more than the product's grace ([`Grant::paid_until`]). `None`: nothing paid yet.
    #[serde(default)]
    pub paid_through: Option<i64>,
    /// Subscription rows: the subscription's status as Stripe last told it, so a paid invoice knows whether it may
    /// extend access (absent in older rows and in rows an invoice made before any subscription snapshot).
    #[serde(default)]
    pub subscription_status: Option<SubscriptionStatus>,
    /// Subscription rows: the end of the subscription's current period as Stripe last told it, so a paid invoice
    /// can tell how far it extends access (absent in older rows).
    #[serde(default)]
    pub period_end: Option<i64>,
}

impl Grant {
    /// Whether the grant gives access at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        if self.product.is_empty() || !self.status.grants_access() {
            return false;
        }
        match self.ends_at {
            Some(end) => now < end,
            None => self.status != GrantStatus::Canceled,
        }
    }

    /// Whether the row is a paid subscription checkout's, its subscription not seen yet (it reported the start).
    pub fn is_provisional(&self) -> bool {
        self.version == 0 && self.status == GrantStatus::Active && self.subscription_status.is_none()
    }

    /// Whether the row is a tombstone (a refund or lost dispute seen before the purchase).
    pub fn is_tombstone(&self) -> bool {
        self.product.is_empty()
    }

    /// The end of what is known paid: [`Self::paid_through`], or, for a row from before Latch recorded payments that
    /// was paid up (active, trialing, canceling), its end (what it was granted on).
    pub fn paid_until(&self) -> Option<i64> {
        let paid_up = matches!(self.status, GrantStatus::Active | GrantStatus::Trialing | GrantStatus::Canceling);
        self.paid_through.or(if paid_up { self.ends_at } else { None })
    }
}

/// The grants the edge loaded for an input's [`Scope`](super::Scope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessState {
    /// The rows.
    pub grants: Vec<Grant>,
}

/// One product a member can see now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    /// Product slug.
    pub product: String,
    /// When access ends; `None` for lifetime.
    pub ends_at: Option<i64>,
}

/// The products `grants` give at `now`, one entry per product, sorted: the longest-lasting grant wins (lifetime
/// beats any end).
pub fn access_list(grants: &[Grant], now: i64) -> Vec<Access> {
    let mut by_product: std::collections::BTreeMap<&str, Option<i64>> = std::collections::BTreeMap::new();
    for g in grants.iter().filter(|g| g.is_active(now)) {
        let entry = by_product.entry(&g.product).or_insert(g.ends_at);
        *entry = match (*entry, g.ends_at) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.max(b)),
        };
    }
    by_product.into_iter().map(|(product, ends_at)| Access { product: product.to_owned(), ends_at }).collect()
}

impl AccessState {
    /// The products `customer` can access at `now` (deduplicated, sorted).
    pub fn active_products(&self, customer: &str, now: i64) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .grants
            .iter()
            .filter(|g| g.customer == customer && g.is_active(now))
            .map(|g| g.product.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}
