//! What goes in and out of the engine: the [`Input`] it is fed, the [`Scope`] the edge loads for it, and the
//! [`Transition`] it answers: the rows to write and the [`Effect`]s to perform (activity rows, notifications, fetches
//! whose answer comes back as [`Input::Fetched`]); and the [`Buyer`] a completed checkout names.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::AccessState;
use crate::event::{Event, StripeObject};
use crate::stripe_request::{Method, StripeRequest};

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
    pub(super) fn object(&self) -> &StripeObject {
        match self {
            Self::Event(e) => &e.object,
            Self::Fetched { object, .. } => object,
        }
    }

    /// Stripe's time of the input: the event's `created`, or the fetched object's own `created` (raised to the
    /// newest version known of its source when it is applied).
    pub(super) fn version(&self) -> i64 {
        match self {
            Self::Event(e) => e.created,
            Self::Fetched { object } => object.created().unwrap_or(0),
        }
    }
}

/// What the edge must load before calling [`apply`](super::apply): the site's rows (of the input's mode) whose
/// customer is `customer` or whose source is one of `sources`.
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

/// The result of [`apply`](super::apply).
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
