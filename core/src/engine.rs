//! The access engine: a pure function from (Stripe event or fetched Stripe object, current grants, catalog, now)
//! to (new grants, effects).
//!
//! Owns every decision about who has access to what. Must not: do I/O, read a clock, or trust anything but Stripe's
//! objects. The edge loads the rows named by [`scope`], calls [`apply`], writes [`Transition::state`] and the
//! activity rows (plus the processed event id) in one D1 batch, then performs the other effects ([`Effect::Notify`],
//! [`Effect::Fetch`], whose answer comes back as [`Input::Fetched`]).
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
//! # Ordering, duplicates, delays (policy)
//! - Idempotent: applying an input to the state it produced changes no row, and activities are only emitted for
//!   changes, so a replayed event, or a second event id for the same change, grants once (the edge also skips event
//!   ids found in `processed_events`).
//! - Versions: a row remembers the newest Stripe time it reflects ([`Grant::version`]): the event's `created`; for a
//!   re-fetched object, the newest version already known of its source (the answer reflects every event delivered
//!   before it) or the object's own `created`: never the edge's clock. A subscription snapshot older than the
//!   newest version of any row of the same subscription is ignored as a whole (recorded as ignored): it never
//!   shortens a renewal, undoes a cancellation, or brings back a product the plan moved away from. A paid invoice is
//!   evidence, not a snapshot: it never moves a version (see below), so a late invoice still counts and an earlier
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
//! - A checkout session whose subscription is not expanded gets a provisional row (version 0, one day) plus a fetch
//!   of the subscription; any real subscription snapshot replaces it, its first period paid by the checkout. The
//!   claim fetches the session with `expand[]=subscription.latest_invoice` and gets the real row directly.
//! - Time: versions compare Stripe's timestamps only, never the edge's clock, and a `created` in the future is taken
//!   as is (it is signed by Stripe); `now` only decides what is active ([`Grant::is_active`]) and which changes are
//!   reported as granted or revoked. A fetched answer is assumed newer than the events delivered before it. One
//!   exception: a canceled subscription's access ends at `min(ended_at, now)`, so an edge clock behind Stripe's (or a
//!   test clock) never lets access outlive a subscription Stripe says has ended.
//! - Test and live mode never mix: inputs of the other mode than [`Catalog::livemode`] are ignored and rows of the
//!   other mode are never touched. Events from any other account than [`Catalog::account`] (for a connected site,
//!   the platform's own events too), and objects whose `metadata.latch_site` names another site, are ignored.
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
//! - `checkout.session.completed` / `async_payment_succeeded` (or a fetched complete session): `paid` or
//!   `no_payment_required` grants (payment mode: per [`OneTimeAccess`]; subscription mode: on the subscription);
//!   `unpaid` (a delayed payment method) records "awaiting payment" and grants nothing yet; setup mode grants nothing.
//!   `async_payment_failed` and `expired` are recorded, nothing granted.
//! - `customer.subscription.*` (created, updated, deleted, paused, resumed, trial_will_end, ...) or a fetched
//!   subscription: the row follows the snapshot and what is paid (above): `active` / `trialing` until the current
//!   period end (items' `current_period_end`, or the subscription's own field in API versions before 2025-03-31);
//!   with `cancel_at_period_end` or `cancel_at` until then (status canceling); `past_due` for the grace; `unpaid`,
//!   `paused` and `incomplete` grant nothing (not final: a payment or a resume brings access back); `canceled` and
//!   `incomplete_expired` end access ([`CancelRule`]). Quantity does not matter (one access per customer and
//!   product). Products that left the subscription (plan change) are marked removed.
//! - `invoice.paid`: records the payment on the subscription's rows; it extends access only while the subscription's
//!   last known status allows it (active, trialing, past due: the grace then runs from the new paid end). For a
//!   paused, unpaid, incomplete or unknown subscription, and for a scheduled cancellation, it fetches the
//!   subscription instead. Arriving before any snapshot, it makes a pending row and fetches the subscription.
//!   `invoice.payment_failed`: recorded and notified; access follows what is paid and the grace.
//! - `charge.refunded`: per [`RefundRule`] on the one-time purchase it paid; a refund of a subscription invoice
//!   changes nothing (access follows the subscription; cancel it to end access). An event's charge only takes
//!   access away (an older view of the charge never undoes a newer one). `charge.refund.updated`,
//!   `refund.updated` and `refund.failed` carry a Refund: when it `failed` or was `canceled` the engine fetches the
//!   charge, and the fetched charge (the current truth) gives back what no refund stands for any more.
//! - `charge.dispute.*`: per [`DisputeRule`] on the one-time purchase it disputes; `won`, `prevented`,
//!   `warning_closed` and `charge_refunded` close it.
//! - `customer.deleted`: Stripe cancels the customer's subscriptions, so their rows end (canceled); one-time
//!   purchases stay: deleting a customer refunds nothing.
//! - `account.application.deauthorized`: recorded and notified to the owner; access is not revoked, rows run until
//!   their end and are no longer renewed.
//! - Anything else: recorded as ignored, with the reason.
//!
//! # Policy as data
//! Per product ([`ProductPolicy`], defaults in [`ProductPolicy::new`]): lifetime or N-day one-time access, 7 days of
//! past-due grace, revoke on a full refund, revoke when a dispute is lost, end access when Stripe ends the
//! subscription (or keep the paid period).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::{CheckoutSession, Event, Expandable, Invoice, StripeObject, Subscription, SubscriptionStatus};
use crate::stripe_request::{Method, StripeRequest};

const DAY: i64 = 86_400;
/// How long a provisional grant (subscription not yet seen) lasts.
const PROVISIONAL_SECS: i64 = DAY;
/// The longest a checkout session stays open (Stripe: 24 hours), so the subscription it paid for starts within this
/// of the session's creation.
const CHECKOUT_OPEN_SECS: i64 = DAY;
/// Metadata key carrying the Latch product slug.
pub const META_PRODUCT: &str = "latch_product";
/// Metadata key carrying the site's public key.
pub const META_SITE: &str = "latch_site";

/// The site's linked products and the policy of each.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Linked products.
    pub products: Vec<ProductPolicy>,
    /// Whether the site runs in live mode; events and objects of the other mode are ignored.
    pub livemode: bool,
    /// The site's public key: objects whose `metadata.latch_site` names another site are ignored.
    pub site: Option<String>,
    /// The account whose events are the site's: its connected account, or `None` for the site on the platform's own
    /// account. Events from any other account (or from the platform, for a connected site) are ignored.
    pub account: Option<String>,
}

impl Catalog {
    /// The product with this Latch slug.
    pub fn by_slug(&self, slug: &str) -> Option<&ProductPolicy> {
        self.products.iter().find(|p| p.slug == slug)
    }

    /// The product linked to this Stripe product id.
    pub fn by_stripe_product(&self, id: &str) -> Option<&ProductPolicy> {
        self.products.iter().find(|p| p.stripe_product == id)
    }
}

/// Longest past-due grace an owner can set: Stripe's retries span at most two months.
pub const MAX_GRACE_DAYS: u32 = 60;

/// One linked product and what Latch does on each Stripe outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPolicy {
    /// Latch product slug (`data-latch-content="course"`).
    pub slug: String,
    /// The linked Stripe product id (`prod_...`).
    pub stripe_product: String,
    /// Access length of a one-time purchase.
    pub one_time: OneTimeAccess,
    /// Days a `past_due` subscription keeps access after the end of what was paid.
    pub past_due_grace_days: u32,
    /// What a refund does.
    pub refund: RefundRule,
    /// What a dispute does.
    pub dispute: DisputeRule,
    /// What a canceled subscription does.
    pub cancel: CancelRule,
}

impl ProductPolicy {
    /// A product with the default policy: lifetime one-time access, 7 days of past-due grace, revoke on a full
    /// refund, revoke when a dispute is lost, end access when Stripe ends the subscription.
    pub fn new(slug: impl Into<String>, stripe_product: impl Into<String>) -> Self {
        Self {
            slug: slug.into(),
            stripe_product: stripe_product.into(),
            one_time: OneTimeAccess::Lifetime,
            past_due_grace_days: 7,
            refund: RefundRule::RevokeOnFullRefund,
            dispute: DisputeRule::RevokeWhenLost,
            cancel: CancelRule::EndWithSubscription,
        }
    }

    /// The product's policy: `overrides` (the owner's changes, a JSON object of [`ProductPolicy`] fields other than
    /// `slug` and `stripe_product`) over [`ProductPolicy::new`]'s defaults. An error names what is wrong.
    pub fn with_overrides(
        slug: &str,
        stripe_product: &str,
        overrides: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Self, String> {
        let Ok(serde_json::Value::Object(mut merged)) = serde_json::to_value(Self::new(slug, stripe_product)) else {
            unreachable!("a policy serializes to an object")
        };
        for (key, value) in overrides {
            if key == "slug" || key == "stripe_product" || !merged.contains_key(key) {
                return Err(format!("{key} is not a policy field"));
            }
            merged.insert(key.clone(), value.clone());
        }
        let policy: Self = serde_json::from_value(serde_json::Value::Object(merged)).map_err(|e| e.to_string())?;
        if policy.past_due_grace_days > MAX_GRACE_DAYS {
            return Err(format!("past_due_grace_days is at most {MAX_GRACE_DAYS}"));
        }
        if matches!(policy.one_time, OneTimeAccess::Days(0)) {
            return Err("one_time days must be at least 1".to_owned());
        }
        Ok(policy)
    }

    fn grace_secs(&self) -> i64 {
        i64::from(self.past_due_grace_days).saturating_mul(DAY)
    }
}

/// Access length of a one-time purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OneTimeAccess {
    /// Never ends.
    Lifetime,
    /// Ends this many days after the purchase.
    Days(u32),
}

/// What a refund of a one-time purchase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundRule {
    /// Revoke when the whole charge is refunded; partial refunds keep access.
    RevokeOnFullRefund,
    /// Revoke on any refund.
    RevokeOnAnyRefund,
    /// Keep access.
    Keep,
}

/// What a dispute (chargeback) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeRule {
    /// Keep access while open, revoke if lost.
    RevokeWhenLost,
    /// Suspend access while open, restore if won, revoke if lost.
    SuspendWhileOpen,
    /// Keep access.
    Keep,
}

/// What a canceled subscription does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelRule {
    /// Access ends when Stripe ends the subscription (`ended_at`). With `cancel_at_period_end` that is the period end.
    EndWithSubscription,
    /// Access lasts until the end of the period already paid even when the subscription is canceled immediately.
    KeepPaidPeriod,
}

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
    /// Access suspended by an open dispute ([`DisputeRule::SuspendWhileOpen`]).
    Disputed,
    /// Subscription canceled: final. Access only until `ends_at` ([`CancelRule::KeepPaidPeriod`]).
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
    fn access_rank(self) -> u8 {
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

/// The grants the edge loaded for an input's [`Scope`].
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

/// What the engine is fed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Input<'a> {
    /// A verified, parsed webhook event.
    Event(&'a Event),
    /// An object the edge fetched from Stripe itself (the claim's checkout session with its subscription expanded,
    /// or the answer to an [`Effect::Fetch`]). It reflects every event of its objects delivered before it, so its
    /// version is the newest Stripe time already known for them (the object's own `created` when none is): never
    /// the edge's clock.
    Fetched {
        /// The fetched object.
        object: &'a StripeObject,
    },
}

impl Input<'_> {
    fn object(&self) -> &StripeObject {
        match self {
            Self::Event(e) => &e.object,
            Self::Fetched { object, .. } => object,
        }
    }

    /// Stripe's time of the input: the event's `created`, or the fetched object's own `created` (raised to the
    /// newest version known of its source when it is applied).
    fn version(&self) -> i64 {
        match self {
            Self::Event(e) => e.created,
            Self::Fetched { object } => object.created().unwrap_or(0),
        }
    }
}

/// What the edge must load before calling [`apply`]: the site's rows (of the input's mode) whose customer is
/// `customer` or whose source is one of `sources`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Load every row of this customer.
    pub customer: Option<String>,
    /// Load every row with one of these sources.
    pub sources: Vec<String>,
}

impl Scope {
    /// Whether nothing needs loading.
    pub fn is_empty(&self) -> bool {
        self.customer.is_none() && self.sources.is_empty()
    }
}

/// The result of [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transition {
    /// Every row of the scope after the input (unchanged rows included), to be upserted.
    pub state: AccessState,
    /// What else the edge must do, in order.
    pub effects: Vec<Effect>,
}

impl Transition {
    /// The activity entries among the effects.
    pub fn activities(&self) -> impl Iterator<Item = &Activity> {
        self.effects.iter().filter_map(|e| match e {
            Effect::RecordActivity(a) => Some(a),
            _ => None,
        })
    }
}

/// Something the edge does after writing the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write an activity row (same D1 batch as the state).
    RecordActivity(Activity),
    /// Tell someone (email through the outbox).
    Notify(Notification),
    /// Fetch the latest object from Stripe and feed it back as [`Input::Fetched`].
    Fetch(FetchRequest),
}

/// An activity entry for the dashboard feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// What happened.
    pub kind: ActivityKind,
    /// The Stripe customer (or `email:` key), when known.
    pub customer: Option<String>,
    /// The Latch product slug, when known.
    pub product: Option<String>,
    /// The Stripe object it came from (`cs_...`, `sub_...`, `in_...`, `ch_...`, `dp_...`, `evt_...`).
    pub stripe_object: String,
    /// Why, in words a site owner understands.
    pub reason: String,
}

/// Kinds of activity entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// A one-time purchase was paid.
    ProductPurchased,
    /// A subscription started (paid or trialing).
    SubscriptionStarted,
    /// A subscription renewed or recovered from a failed payment.
    SubscriptionRenewed,
    /// A subscription changed product, or resumed.
    SubscriptionUpdated,
    /// A subscription was canceled or scheduled to cancel.
    SubscriptionCancelled,
    /// A payment failed.
    PaymentFailed,
    /// A payment method is still processing (delayed payment methods).
    AwaitingPayment,
    /// A checkout session expired unpaid.
    CheckoutExpired,
    /// A payment was refunded (fully or partly).
    Refunded,
    /// A dispute was opened.
    DisputeOpened,
    /// A dispute was closed (won or lost).
    DisputeClosed,
    /// The customer was deleted in Stripe.
    CustomerDeleted,
    /// The site's Stripe account disconnected Latch.
    AccountDisconnected,
    /// Access was granted (or extended after being off).
    AccessGranted,
    /// Access was revoked.
    AccessRevoked,
    /// A member saved a new card (setup mode): it is now the default of their customer and subscriptions.
    PaymentMethodUpdated,
    /// Nothing changed; the reason says why.
    Ignored,
}

/// A notification for the edge to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// What to tell.
    pub kind: NotificationKind,
    /// The member's customer key, when it is about a member.
    pub customer: Option<String>,
    /// The product, when it is about one.
    pub product: Option<String>,
    /// The member's email when the source told it.
    pub email: Option<String>,
}

/// Kinds of notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationKind {
    /// Tell the member their access is ready.
    AccessGranted,
    /// Tell the member their access ended.
    AccessRevoked,
    /// Tell the member a payment failed (update the card in the portal).
    PaymentFailed,
    /// Tell the site owner Stripe disconnected Latch.
    AccountDisconnected,
}

/// An object the engine wants fresh from Stripe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    /// Which kind.
    pub object: FetchObject,
    /// Its id.
    pub id: String,
}

/// Kinds of objects the engine re-fetches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchObject {
    /// `GET /v1/subscriptions/{id}?expand[]=latest_invoice`.
    Subscription,
    /// `GET /v1/checkout/sessions/{id}?expand[]=subscription.latest_invoice&expand[]=line_items`.
    CheckoutSession,
    /// `GET /v1/charges/{id}`: how much of a payment is refunded now, after one of its refunds failed.
    Charge,
    /// `GET /v1/setup_intents/{id}?expand[]=payment_method`: a setup session's card, to make it the customer's
    /// default (`crate::payment_method`); not fed back to the engine.
    SetupIntent,
}

impl FetchRequest {
    /// The object kind's stored name (`subscription`, `checkout_session`), for a durable fetch job.
    pub fn object_name(&self) -> &'static str {
        match self.object {
            FetchObject::Subscription => "subscription",
            FetchObject::CheckoutSession => "checkout_session",
            FetchObject::SetupIntent => "setup_intent",
            FetchObject::Charge => "charge",
        }
    }

    /// A fetch read back from a durable job (`object_name`, id); `None` for an unknown kind.
    pub fn from_stored(object: &str, id: &str) -> Option<Self> {
        let object = match object {
            "subscription" => FetchObject::Subscription,
            "checkout_session" => FetchObject::CheckoutSession,
            "setup_intent" => FetchObject::SetupIntent,
            "charge" => FetchObject::Charge,
            _ => return None,
        };
        Some(Self { object, id: id.to_owned() })
    }

    /// The id of the durable job that performs this fetch for `site` because of `cause` (an event id, or the job
    /// that asked for it): the same cause always gives the same id, so a replay queues nothing new.
    pub fn job_id(&self, site: &str, cause: &str) -> String {
        let mut hash = Sha256::new();
        for part in [site, self.object_name(), &self.id, cause] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        format!("fet_{}", hex::encode(&hash.finalize()[..12]))
    }

    /// The GET request (add the `Stripe-Account` with [`StripeRequest::on_account`]).
    pub fn to_stripe_request(&self) -> StripeRequest {
        let (path, params) = match self.object {
            // The latest invoice tells whether the current period is paid.
            FetchObject::Subscription => {
                (format!("/v1/subscriptions/{}", self.id), vec![("expand[]".to_owned(), "latest_invoice".to_owned())])
            }
            FetchObject::CheckoutSession => (
                format!("/v1/checkout/sessions/{}", self.id),
                vec![
                    ("expand[]".to_owned(), "subscription.latest_invoice".to_owned()),
                    ("expand[]".to_owned(), "line_items".to_owned()),
                ],
            ),
            FetchObject::SetupIntent => {
                (format!("/v1/setup_intents/{}", self.id), vec![("expand[]".to_owned(), "payment_method".to_owned())])
            }
            FetchObject::Charge => (format!("/v1/charges/{}", self.id), Vec::new()),
        };
        StripeRequest { method: Method::Get, path, params, account: None, idempotency_key: None }
    }
}

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

/// Who bought, as a completed checkout session tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buyer {
    /// The Stripe customer.
    pub customer: String,
    /// The email typed on Stripe's page (normalized like every email, `validate::email`): it names an unverified
    /// member, it proves nothing.
    pub email: String,
    /// The member who started the checkout with a member token ([`crate::member::META_MEMBER`]), if any.
    pub member: Option<String>,
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

/// What a subscription snapshot means for one product row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Derived {
    status: GrantStatus,
    ends_at: Option<i64>,
}

struct Cx<'c> {
    grants: Vec<Grant>,
    effects: Vec<Effect>,
    catalog: &'c Catalog,
    version: i64,
    /// The input is a re-fetched object: at an equal version it outranks events.
    fetched: bool,
    livemode: bool,
    object_id: String,
    now: i64,
}

impl Cx<'_> {
    fn finish(self) -> Transition {
        Transition { state: AccessState { grants: self.grants }, effects: self.effects }
    }

    fn activity(&mut self, kind: ActivityKind, customer: Option<&str>, product: Option<&str>, reason: String) {
        self.effects.push(Effect::RecordActivity(Activity {
            kind,
            customer: customer.map(str::to_owned),
            product: product.map(str::to_owned),
            stripe_object: self.object_id.clone(),
            reason,
        }));
    }

    fn ignore(&mut self, customer: Option<&str>, product: Option<&str>, reason: String) {
        self.activity(ActivityKind::Ignored, customer, product, reason);
    }

    fn notify(&mut self, kind: NotificationKind, customer: &str, product: &str, email: Option<&str>) {
        self.effects.push(Effect::Notify(Notification {
            kind,
            customer: Some(customer.to_owned()),
            product: Some(product.to_owned()),
            email: email.map(str::to_owned),
        }));
    }

    fn fetch(&mut self, object: FetchObject, id: &str) {
        let req = FetchRequest { object, id: id.to_owned() };
        if !self.effects.iter().any(|e| matches!(e, Effect::Fetch(f) if *f == req)) {
            self.effects.push(Effect::Fetch(req));
        }
    }

    fn row(&self, customer: &str, product: &str, source: &str) -> Option<usize> {
        self.grants.iter().position(|g| {
            g.livemode == self.livemode && g.customer == customer && g.product == product && g.source == source
        })
    }

    fn site_mismatch(&mut self, metadata: &crate::event::Metadata) -> bool {
        match (metadata.get(META_SITE), &self.catalog.site) {
            (Some(got), Some(want)) if got != want => {
                self.ignore(None, None, format!("created for another Latch site ({got})"));
                true
            }
            _ => false,
        }
    }

    fn event(&mut self, e: &Event) {
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

    fn fetched(&mut self, object: &StripeObject) {
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

    // ----- checkout sessions -----

    fn session(&mut self, cs: &CheckoutSession) {
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
                            Some(e) => format!("until {e}"),
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

    // ----- subscriptions -----

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
    fn subscription(&mut self, sub: &Subscription, fallback: Option<&str>, paid: Option<i64>) {
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

    /// The newest version seen for a source (over all its product rows).
    fn source_version(&self, source: &str) -> Option<i64> {
        self.grants
            .iter()
            .filter(|g| g.livemode == self.livemode && g.source == source && !g.is_tombstone())
            .map(|g| g.version)
            .max()
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

    /// Whether a row of the source records the end of the subscription (`canceled` or `incomplete_expired`).
    fn source_ended(&self, source: &str) -> bool {
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
    fn stale_source(&mut self, source: &str, customer: &str, ending: bool) -> bool {
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
    fn check_tie_products(&mut self, source: &str, slugs: &[String]) {
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

    fn tombstone_for(&self, source: &str) -> Option<GrantStatus> {
        self.grants
            .iter()
            .find(|g| g.is_tombstone() && g.livemode == self.livemode && g.source == source)
            .map(|g| g.status)
    }

    fn report_subscription(
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
        let until = new.ends_at.map_or_else(|| "with no end".to_owned(), |e| format!("until {e}"));
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

    // ----- invoices -----

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
    fn invoice_paid(&mut self, inv: &Invoice) {
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

    fn invoice_failed(&mut self, inv: &Invoice) {
        let customer = inv.customer.clone();
        let sub = inv.subscription_id().map(str::to_owned);
        let products: Vec<String> = self
            .grants
            .iter()
            .filter(|g| sub.as_deref() == Some(g.source.as_str()) && g.livemode == self.livemode && !g.is_tombstone())
            .map(|g| g.product.clone())
            .collect();
        let retry =
            inv.next_payment_attempt.map_or_else(|| "no retry scheduled".to_owned(), |t| format!("next retry at {t}"));
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

    // ----- refunds, disputes, customers, accounts -----

    fn matching_payment_rows(&self, ids: &[&str]) -> Vec<usize> {
        (0..self.grants.len())
            .filter(|&i| {
                self.grants.get(i).is_some_and(|g| g.livemode == self.livemode && ids.contains(&g.source.as_str()))
            })
            .collect()
    }

    fn revoke_row(&mut self, i: usize, status: GrantStatus, kind: ActivityKind, reason: &str) {
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
    fn refund(&mut self, ch: &crate::event::Charge) {
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
    fn refund_updated(&mut self, re: &crate::event::Refund) {
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

    fn dispute(&mut self, dp: &crate::event::Dispute, kind: &str) {
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

    /// Deleting a customer cancels their subscriptions at Stripe; it says nothing about what they paid for once,
    /// which stays theirs.
    fn customer_deleted(&mut self, customer: &str) {
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
            self.revoke_row(i, GrantStatus::Canceled, ActivityKind::AccessRevoked, "customer deleted in Stripe");
        }
    }

    fn deauthorized(&mut self, e: &Event) {
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

/// Tie on versions: final wins, then the later end, then more access.
/// How far an active subscription's access runs, given the end of what is paid and of its current period: the
/// period when it is paid; else what was paid plus the grace, within the period (a renewal still being paid, or a
/// bounced debit Stripe keeps active); `None` before any payment.
fn paid_access(paid: Option<i64>, period_end: Option<i64>, grace: i64) -> Option<i64> {
    match (paid?, period_end) {
        (p, Some(end)) if p >= end => Some(end),
        (p, Some(end)) => Some(p.saturating_add(grace).min(end)),
        (p, None) => Some(p.saturating_add(grace)),
    }
}

fn tie_wins(new: Derived, old: Derived) -> bool {
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

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

#[cfg(test)]
mod fetch_job_tests {
    use super::*;

    #[test]
    fn fetch_jobs_round_trip_and_have_deterministic_ids() {
        let f = FetchRequest { object: FetchObject::CheckoutSession, id: "cs_1".into() };
        assert_eq!(FetchRequest::from_stored(f.object_name(), &f.id), Some(f.clone()));
        assert_eq!(FetchRequest::from_stored("invoice", "in_1"), None);
        let id = f.job_id("site_a", "evt_1");
        assert!(id.starts_with("fet_") && id.len() == 28);
        assert_eq!(id, f.job_id("site_a", "evt_1"));
        assert_ne!(id, f.job_id("site_b", "evt_1"));
        assert_ne!(id, f.job_id("site_a", "evt_2"));
        let sub = FetchRequest { object: FetchObject::Subscription, id: "cs_1".into() };
        assert_ne!(id, sub.job_id("site_a", "evt_1"));
    }
}

#[cfg(test)]
mod policy_tests {
    use super::*;

    fn with(overrides: serde_json::Value) -> Result<ProductPolicy, String> {
        let serde_json::Value::Object(map) = overrides else { panic!("an object") };
        ProductPolicy::with_overrides("course", "prod_1", &map)
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        assert_eq!(with(serde_json::json!({})), Ok(ProductPolicy::new("course", "prod_1")));
        let p = with(serde_json::json!({ "one_time": { "days": 30 }, "past_due_grace_days": 3 })).expect("valid");
        assert_eq!(
            (p.one_time, p.past_due_grace_days, p.refund),
            (OneTimeAccess::Days(30), 3, RefundRule::RevokeOnFullRefund)
        );
        assert_eq!(
            with(serde_json::json!({ "one_time": "lifetime" })).map(|p| p.one_time),
            Ok(OneTimeAccess::Lifetime)
        );
    }

    #[test]
    fn bad_overrides_are_named() {
        for (bad, says) in [
            (serde_json::json!({ "slug": "other" }), "slug is not a policy field"),
            (serde_json::json!({ "colour": 1 }), "colour is not a policy field"),
            (serde_json::json!({ "one_time": { "days": 0 } }), "at least 1"),
            (serde_json::json!({ "one_time": { "days": -1 } }), "invalid value"),
            (serde_json::json!({ "past_due_grace_days": 61 }), "at most 60"),
            (serde_json::json!({ "refund": "sometimes" }), "unknown variant"),
        ] {
            let err = with(bad.clone()).expect_err("refused");
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
