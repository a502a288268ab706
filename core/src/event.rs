//! Stripe events and the Stripe objects Latch reads, parsed from Stripe's own JSON shapes.
//!
//! Owns: turning a webhook body (or a fetched object) into typed values with serde. Only the fields the access
//! engine reads are kept; everything else is skipped. Must not: decide anything about access (that is
//! [`crate::engine`]) or verify signatures (that is [`crate::webhook`]).
//!
//! # Tolerance of shapes
//! - Unknown object kinds are not errors: they become [`StripeObject::Other`] with their `object` and `id`.
//! - Unknown fields are ignored; almost every field is optional or defaulted (`null` and missing are the same), so
//!   a field Stripe adds, drops or nulls in another API version does not break parsing. A *known* kind whose
//!   required fields (`id`) are missing or have the wrong JSON type is an [`EventError::Object`].
//! - Expandable references (`customer`, `subscription`, `payment_intent`, `price.product`, `charge`) accept both
//!   the id string and the expanded object.
//! - Both API shapes are read: the current one (`current_period_end` on subscription items; invoice
//!   `parent.subscription_details`; invoice line `pricing.price_details.product`) and the older one
//!   (`current_period_end` on the subscription; `invoice.subscription`; line `price.product`).
//!
//! # Speed
//! One pass over the body, no intermediate JSON tree: Stripe writes `id` and `object` first, so the kind of
//! `data.object` is known after two keys and the rest streams into the typed struct. Keys that come before `object`
//! (alphabetical fixtures) are buffered and replayed, which is slower but gives the same result. Bodies are read by
//! `crate::json` (serde_json's acceptance, faster on Stripe's pretty-printed bodies); strings that are only
//! compared (`object`, the kind) stay borrowed from the body.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::value::CowStrDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::de::{DeserializeSeed, Error as _};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Why a body is not a usable Stripe event or object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The body is not JSON or does not have an event's required fields (`id`, `type`, `created`,
    /// `data.object`).
    #[error("not a Stripe event: {0}")]
    Malformed(String),
    /// The body is JSON but its `object` is not `"event"`.
    #[error("not a Stripe event: object is {0:?}")]
    NotAnEvent(String),
    /// `data.object` is a kind Latch reads, but its fields do not have Stripe's shape.
    #[error("unreadable {kind} object: {message}")]
    Object {
        /// The object's `object` field (`subscription`, `invoice`, ...).
        kind: String,
        /// What serde could not read (field and position, never a secret).
        message: String,
    },
}

/// A Stripe event as delivered to a webhook endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `evt_...`: the idempotency key of a delivery.
    pub id: String,
    /// The event type (`type` in JSON), for example `customer.subscription.updated`.
    pub kind: String,
    /// When Stripe created the event (Unix seconds): the version of the snapshot in `data.object`.
    pub created: i64,
    /// Live (`true`) or test mode.
    pub livemode: bool,
    /// The connected account the event happened on (Connect endpoints), if any.
    pub account: Option<String>,
    /// `data.object`: the object's state when the event happened.
    pub object: StripeObject,
}

impl Event {
    /// Parses a webhook body (verify its signature first with [`crate::webhook::verify`]).
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        Self::from_raw(crate::json::from_str(utf8(body)?).map_err(classify)?)
    }

    fn from_raw(raw: RawEvent<'_>) -> Result<Self, EventError> {
        if raw.object != "event" {
            return Err(EventError::NotAnEvent(raw.object.into_owned()));
        }
        Ok(Self {
            id: raw.id,
            kind: raw.kind,
            created: raw.created,
            livemode: raw.livemode,
            account: raw.account,
            object: *raw.data.object,
        })
    }
}

/// Marks a serde error raised while reading a known object kind, so it becomes [`EventError::Object`].
const OBJECT_ERROR_MARK: &str = "\u{1f}latch-object\u{1f}";

/// The body as text. Validating UTF-8 once up front (vectorized in std) lets serde_json read strings without
/// checking each one again: measurably faster than `from_slice` on Stripe's 3 KB events.
fn utf8(body: &[u8]) -> Result<&str, EventError> {
    std::str::from_utf8(body).map_err(|e| EventError::Malformed(format!("the body is not UTF-8: {e}")))
}

fn classify(e: impl fmt::Display) -> EventError {
    let text = e.to_string();
    match text.split_once(OBJECT_ERROR_MARK).and_then(|(_, rest)| rest.split_once(OBJECT_ERROR_MARK)) {
        Some((kind, message)) => EventError::Object { kind: kind.to_owned(), message: message.to_owned() },
        None => EventError::Malformed(text),
    }
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    id: String,
    /// Only compared with `"event"`: borrowed from the body.
    #[serde(borrow)]
    object: Cow<'a, str>,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    #[serde(default)]
    livemode: bool,
    #[serde(default)]
    account: Option<String>,
    data: RawData,
}

#[derive(Deserialize)]
struct RawData {
    /// Boxed as soon as it is read: the event's layers then move a pointer, not the object.
    object: Box<StripeObject>,
}

/// The Stripe objects Latch reads; anything else is [`StripeObject::Other`].
#[derive(Debug, Clone, PartialEq)]
pub enum StripeObject {
    /// `checkout.session`
    CheckoutSession(CheckoutSession),
    /// `subscription`
    Subscription(Subscription),
    /// `invoice`
    Invoice(Invoice),
    /// `charge`
    Charge(Charge),
    /// `dispute`
    Dispute(Dispute),
    /// `refund` (`charge.refund.updated` carries one)
    Refund(Refund),
    /// `customer` (also a deleted customer: `{"id", "object": "customer", "deleted": true}`)
    Customer(Customer),
    /// `product` (`product.*` events keep Latch's copy of the catalog in sync)
    Product(Product),
    /// `price` (`price.*` events)
    Price(CatalogPrice),
    /// Any other kind: not an error, the engine records it as ignored.
    Other {
        /// The object's `object` field (empty when absent).
        object: String,
        /// Its `id`, if it has a string one.
        id: Option<String>,
    },
}

impl StripeObject {
    /// Parses one Stripe object (for example the body of `GET /v1/subscriptions/{id}`), dispatching on its
    /// `object` field.
    pub fn parse(body: &[u8]) -> Result<Self, EventError> {
        crate::json::from_str(utf8(body)?).map_err(classify)
    }

    /// The object's `object` field as Stripe names it.
    pub fn kind(&self) -> &str {
        match self {
            Self::CheckoutSession(_) => "checkout.session",
            Self::Subscription(_) => "subscription",
            Self::Invoice(_) => "invoice",
            Self::Charge(_) => "charge",
            Self::Dispute(_) => "dispute",
            Self::Refund(_) => "refund",
            Self::Customer(_) => "customer",
            Self::Product(_) => "product",
            Self::Price(_) => "price",
            Self::Other { object, .. } => object,
        }
    }

    /// The object's id (`cs_...`, `sub_...`, ...), empty for an unknown kind without one.
    pub fn id(&self) -> &str {
        match self {
            Self::CheckoutSession(o) => &o.id,
            Self::Subscription(o) => &o.id,
            Self::Invoice(o) => &o.id,
            Self::Charge(o) => &o.id,
            Self::Dispute(o) => &o.id,
            Self::Refund(o) => &o.id,
            Self::Customer(o) => &o.id,
            Self::Product(o) => &o.id,
            Self::Price(o) => &o.id,
            Self::Other { id, .. } => id.as_deref().unwrap_or(""),
        }
    }

    /// The object's creation time (Stripe's clock), when it has one.
    pub fn created(&self) -> Option<i64> {
        match self {
            Self::CheckoutSession(o) => o.created,
            Self::Subscription(o) => o.created,
            Self::Invoice(o) => o.created,
            Self::Charge(o) => o.created,
            Self::Dispute(o) => o.created,
            Self::Refund(o) => o.created,
            Self::Customer(_) | Self::Product(_) | Self::Price(_) | Self::Other { .. } => None,
        }
    }

    /// The object's own `livemode`, when it has one.
    pub fn livemode(&self) -> Option<bool> {
        match self {
            Self::CheckoutSession(o) => o.livemode,
            Self::Subscription(o) => o.livemode,
            Self::Invoice(o) => o.livemode,
            Self::Charge(o) => o.livemode,
            Self::Dispute(o) => o.livemode,
            Self::Refund(o) => o.livemode,
            Self::Customer(o) => o.livemode,
            Self::Product(o) => o.livemode,
            Self::Price(o) => o.livemode,
            Self::Other { .. } => None,
        }
    }
}

/// One pass over the object: Stripe writes `id` then `object` first, so the kind is known after two keys and the
/// rest streams straight into the typed struct. Keys before `object` (any order, e.g. alphabetical fixtures) are
/// buffered as JSON values and replayed.
impl<'de> Deserialize<'de> for StripeObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = StripeObject;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Stripe object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StripeObject, A::Error> {
        let mut buffered: Vec<(Cow<'de, str>, Buffered<'de>)> = Vec::new();
        let kind = loop {
            match map.next_key::<Key<'de>>()? {
                None => {
                    let id = buffered.iter().find(|(k, _)| k == "id").and_then(|(_, v)| v.as_str());
                    return Ok(StripeObject::Other { object: String::new(), id: id.map(str::to_owned) });
                }
                Some(Key(k)) if k == "object" => {
                    break map.next_value::<LenientCow<'de>>()?.0.unwrap_or_default();
                }
                Some(Key(k)) => {
                    let v = map.next_value::<Buffered<'de>>()?;
                    buffered.push((k, v));
                }
            }
        };
        let replay = Replay { buffered: buffered.into_iter(), value: None, inner: map };
        let de = de::value::MapAccessDeserializer::new(replay);
        let wrap = |e: A::Error| A::Error::custom(format_args!("{OBJECT_ERROR_MARK}{kind}{OBJECT_ERROR_MARK}{e}"));
        Ok(match &*kind {
            "checkout.session" => StripeObject::CheckoutSession(CheckoutSession::deserialize(de).map_err(wrap)?),
            "subscription" => StripeObject::Subscription(Subscription::deserialize(de).map_err(wrap)?),
            "invoice" => StripeObject::Invoice(Invoice::deserialize(de).map_err(wrap)?),
            "charge" => StripeObject::Charge(Charge::deserialize(de).map_err(wrap)?),
            "dispute" => StripeObject::Dispute(Dispute::deserialize(de).map_err(wrap)?),
            "refund" => StripeObject::Refund(Refund::deserialize(de).map_err(wrap)?),
            "customer" => StripeObject::Customer(Customer::deserialize(de).map_err(wrap)?),
            "product" => StripeObject::Product(Product::deserialize(de).map_err(wrap)?),
            "price" => StripeObject::Price(CatalogPrice::deserialize(de).map_err(wrap)?),
            _ => {
                let head = IdOnly::deserialize(de)?;
                StripeObject::Other { object: kind.into_owned(), id: head.id }
            }
        })
    }
}

#[derive(Deserialize)]
struct IdOnly {
    #[serde(default, deserialize_with = "lenient_string")]
    id: Option<String>,
}

/// A map key, borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A value read before the object's kind was known: strings (Stripe's `id`) stay borrowed from the body, anything
/// else becomes a JSON value.
enum Buffered<'de> {
    Str(Cow<'de, str>),
    Json(serde_json::Value),
}

impl Buffered<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Json(v) => v.as_str(),
        }
    }
}

impl<'de> Deserialize<'de> for Buffered<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Buffered<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Buffered::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Buffered::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Buffered::Str(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Buffered::Json(v.into()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Buffered::Json(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Buffered::Json(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Buffered::Json(v.into()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Buffered::Json(serde_json::Value::Null))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Buffered::Json)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                serde_json::Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Buffered::Json)
            }
        }
        d.deserialize_any(V)
    }
}

/// Replays buffered entries, then continues with the underlying map.
struct Replay<'de, A> {
    buffered: std::vec::IntoIter<(Cow<'de, str>, Buffered<'de>)>,
    value: Option<Buffered<'de>>,
    inner: A,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        if let Some((k, v)) = self.buffered.next() {
            self.value = Some(v);
            return seed.deserialize(CowStrDeserializer::<A::Error>::new(k)).map(Some);
        }
        self.inner.next_key_seed(seed)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.value.take() {
            Some(Buffered::Str(s)) => seed.deserialize(BufferedStr::<A::Error>(s, std::marker::PhantomData)),
            Some(Buffered::Json(v)) => seed.deserialize(v).map_err(A::Error::custom),
            None => self.inner.next_value_seed(seed),
        }
    }
}

/// A buffered string replayed into any field: a plain string, or `Some` of one for an optional field (an
/// `Option<Expandable<_>>` whose key came before `object`).
struct BufferedStr<'de, E>(Cow<'de, str>, std::marker::PhantomData<E>);

impl<'de, E: de::Error> Deserializer<'de> for BufferedStr<'de, E> {
    type Error = E;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        CowStrDeserializer::<E>::new(self.0).deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, E> {
        visitor.visit_some(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

/// Metadata: string keys to string values (`null` and missing are empty).
pub type Metadata = BTreeMap<String, String>;

/// A `checkout.session`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CheckoutSession {
    /// `cs_...`
    pub id: String,
    /// `payment`, `subscription` or `setup`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub mode: Option<String>,
    /// `paid`, `unpaid` or `no_payment_required`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub payment_status: Option<String>,
    /// `open`, `complete` or `expired`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// The customer id (expanded or not).
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    /// `customer_details.email`, else `customer_email`.
    #[serde(default)]
    pub customer_details: Option<CustomerDetails>,
    /// The email the session was created with, if any.
    #[serde(default, deserialize_with = "lenient_string")]
    pub customer_email: Option<String>,
    /// The subscription (subscription mode): an id, or the object when fetched with `expand[]=subscription`.
    #[serde(default)]
    pub subscription: Option<Expandable<Subscription>>,
    /// The payment intent id (payment mode).
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    /// The invoice id, when the session created one.
    #[serde(default, deserialize_with = "expandable_id")]
    pub invoice: Option<String>,
    /// The setup intent id (setup mode).
    #[serde(default, deserialize_with = "expandable_id")]
    pub setup_intent: Option<String>,
    /// Latch puts `latch_site` and `latch_product` here.
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: Metadata,
    /// Latch sets the site's public key here.
    #[serde(default, deserialize_with = "lenient_string")]
    pub client_reference_id: Option<String>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<i64>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// Line items: only present when fetched with `expand[]=line_items`.
    #[serde(default)]
    pub line_items: Option<List<CheckoutLineItem>>,
}

impl CheckoutSession {
    /// The buyer's email: `customer_details.email`, else `customer_email`.
    pub fn email(&self) -> Option<&str> {
        self.customer_details.as_ref().and_then(|d| d.email.as_deref()).or(self.customer_email.as_deref())
    }
}

/// `checkout.session.customer_details` (only the email is read).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CustomerDetails {
    /// The email the buyer entered.
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: Option<String>,
}

/// One line of an expanded `checkout.session.line_items` (object `item`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckoutLineItem {
    /// The price bought.
    #[serde(default)]
    pub price: Option<Price>,
    /// Quantity.
    #[serde(default)]
    pub quantity: Option<u64>,
}

/// A Stripe list (`{"object": "list", "data": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct List<T> {
    /// The page of items.
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    /// Whether more items exist beyond this page.
    #[serde(default)]
    pub has_more: bool,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        Self { data: Vec::new(), has_more: false }
    }
}

/// A `price` (only what maps it to a product).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Price {
    /// `price_...`
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The Stripe product id (expanded or not).
    #[serde(default, deserialize_with = "expandable_id")]
    pub product: Option<String>,
    /// The price's lookup key.
    #[serde(default, deserialize_with = "lenient_string")]
    pub lookup_key: Option<String>,
}

/// Subscription status, as Stripe spells it; unknown future statuses are kept as [`SubscriptionStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    /// First payment not yet made (23 hours to complete).
    Incomplete,
    /// First payment never made: final.
    IncompleteExpired,
    /// In a free trial.
    Trialing,
    /// Paid and current.
    Active,
    /// A renewal payment failed; Stripe is retrying.
    PastDue,
    /// Retries exhausted, subscription kept open but unpaid.
    Unpaid,
    /// Ended: final.
    Canceled,
    /// Trial ended without a payment method.
    Paused,
    /// A status this version of Latch does not know.
    #[serde(other)]
    Other,
}

/// A `subscription`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Subscription {
    /// `sub_...`
    pub id: String,
    /// The customer id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    /// Status.
    #[serde(default = "unknown_status")]
    pub status: SubscriptionStatus,
    /// Cancels at the end of the current period.
    #[serde(default)]
    pub cancel_at_period_end: bool,
    /// Scheduled cancellation time.
    #[serde(default)]
    pub cancel_at: Option<i64>,
    /// When the cancellation was requested.
    #[serde(default)]
    pub canceled_at: Option<i64>,
    /// When the subscription ended.
    #[serde(default)]
    pub ended_at: Option<i64>,
    /// Older API versions: the period on the subscription itself.
    #[serde(default)]
    pub current_period_end: Option<i64>,
    /// Older API versions: the period on the subscription itself.
    #[serde(default)]
    pub current_period_start: Option<i64>,
    /// End of the trial, if any.
    #[serde(default)]
    pub trial_end: Option<i64>,
    /// Start of the subscription.
    #[serde(default)]
    pub start_date: Option<i64>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<i64>,
    /// The items (price, quantity and, in the current API, the period).
    #[serde(default)]
    pub items: List<SubscriptionItem>,
    /// Latch puts `latch_site` and `latch_product` here (`subscription_data.metadata` at checkout).
    #[serde(default, deserialize_with = "metadata")]
    pub metadata: Metadata,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// The latest invoice: its id, or the invoice when fetched with `expand[]=latest_invoice` (then its status
    /// tells whether the current period is paid).
    #[serde(default)]
    pub latest_invoice: Option<Expandable<Invoice>>,
}

fn unknown_status() -> SubscriptionStatus {
    SubscriptionStatus::Other
}

impl Subscription {
    /// End of the current period: the latest item's `current_period_end` (current API), else the subscription's
    /// own field (API versions before 2025-03-31).
    pub fn period_end(&self) -> Option<i64> {
        self.items.data.iter().filter_map(|i| i.current_period_end).max().or(self.current_period_end)
    }

    /// Start of the current period, read like [`Self::period_end`].
    pub fn period_start(&self) -> Option<i64> {
        self.items.data.iter().filter_map(|i| i.current_period_start).min().or(self.current_period_start)
    }
}

/// A `subscription_item`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscriptionItem {
    /// `si_...`
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// The price (its product maps the item to a Latch product).
    #[serde(default)]
    pub price: Option<Price>,
    /// Quantity (seats); Latch grants one access per customer and product whatever the quantity.
    #[serde(default)]
    pub quantity: Option<u64>,
    /// Current API: end of this item's current period.
    #[serde(default)]
    pub current_period_end: Option<i64>,
    /// Current API: start of this item's current period.
    #[serde(default)]
    pub current_period_start: Option<i64>,
}

/// An `invoice`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Invoice {
    /// `in_...`
    pub id: String,
    /// The customer id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    /// `draft`, `open`, `paid`, `uncollectible` or `void`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// `subscription_create`, `subscription_cycle`, `subscription_update`, `manual`, ...
    #[serde(default, deserialize_with = "lenient_string")]
    pub billing_reason: Option<String>,
    /// Older API versions: the subscription id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    /// Older API versions: the subscription's metadata.
    #[serde(default)]
    pub subscription_details: Option<SubscriptionDetails>,
    /// Current API: what the invoice was created for.
    #[serde(default)]
    pub parent: Option<InvoiceParent>,
    /// The lines (periods and prices).
    #[serde(default)]
    pub lines: List<InvoiceLine>,
    /// Amount paid, in the smallest currency unit.
    #[serde(default)]
    pub amount_paid: Option<i64>,
    /// Payment attempts so far.
    #[serde(default)]
    pub attempt_count: Option<u32>,
    /// Next retry time, if Stripe will retry.
    #[serde(default)]
    pub next_payment_attempt: Option<i64>,
    /// Older API versions: the payment intent.
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    /// Older API versions: the charge.
    #[serde(default, deserialize_with = "expandable_id")]
    pub charge: Option<String>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<i64>,
}

impl Invoice {
    /// The subscription the invoice bills, from either API shape.
    pub fn subscription_id(&self) -> Option<&str> {
        self.parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.subscription.as_deref())
            .or(self.subscription.as_deref())
            .or_else(|| self.lines.data.iter().find_map(InvoiceLine::subscription_id))
    }

    /// The subscription's metadata as copied on the invoice, from either API shape.
    pub fn subscription_metadata(&self) -> Option<&Metadata> {
        self.parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.metadata.as_ref())
            .or_else(|| self.subscription_details.as_ref().and_then(|d| d.metadata.as_ref()))
    }
}

/// Older API: `invoice.subscription_details`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscriptionDetails {
    /// The subscription's metadata at invoicing time.
    #[serde(default, deserialize_with = "opt_metadata")]
    pub metadata: Option<Metadata>,
}

/// Current API: `invoice.parent`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InvoiceParent {
    /// Set when the invoice bills a subscription.
    #[serde(default)]
    pub subscription_details: Option<ParentSubscriptionDetails>,
}

/// Current API: `invoice.parent.subscription_details`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ParentSubscriptionDetails {
    /// The subscription id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    /// The subscription's metadata at invoicing time.
    #[serde(default, deserialize_with = "opt_metadata")]
    pub metadata: Option<Metadata>,
}

/// An invoice line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct InvoiceLine {
    /// The service period the line pays for.
    #[serde(default)]
    pub period: Option<Period>,
    /// Older API versions: the price.
    #[serde(default)]
    pub price: Option<Price>,
    /// Current API: `pricing.price_details`.
    #[serde(default)]
    pub pricing: Option<LinePricing>,
    /// Older API versions: the subscription.
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
    /// Current API: `parent.subscription_item_details.subscription`.
    #[serde(default)]
    pub parent: Option<LineParent>,
    /// Quantity.
    #[serde(default)]
    pub quantity: Option<u64>,
}

impl InvoiceLine {
    /// The Stripe product the line bills, from either API shape.
    pub fn product(&self) -> Option<&str> {
        self.pricing
            .as_ref()
            .and_then(|p| p.price_details.as_ref())
            .and_then(|d| d.product.as_deref())
            .or_else(|| self.price.as_ref().and_then(|p| p.product.as_deref()))
    }

    /// The subscription the line bills, from either API shape.
    pub fn subscription_id(&self) -> Option<&str> {
        self.parent
            .as_ref()
            .and_then(|p| p.subscription_item_details.as_ref())
            .and_then(|d| d.subscription.as_deref())
            .or(self.subscription.as_deref())
    }
}

/// A period (`{start, end}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Period {
    /// Start (Unix seconds).
    #[serde(default)]
    pub start: Option<i64>,
    /// End (Unix seconds).
    #[serde(default)]
    pub end: Option<i64>,
}

/// Current API: `line.pricing`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LinePricing {
    /// Set for price-based lines.
    #[serde(default)]
    pub price_details: Option<PriceDetails>,
}

/// Current API: `line.pricing.price_details`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PriceDetails {
    /// The price id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub price: Option<String>,
    /// The product id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub product: Option<String>,
}

/// Current API: `line.parent`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LineParent {
    /// Set for subscription lines.
    #[serde(default)]
    pub subscription_item_details: Option<LineSubscriptionItemDetails>,
}

/// Current API: `line.parent.subscription_item_details`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LineSubscriptionItemDetails {
    /// The subscription id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub subscription: Option<String>,
}

/// A `charge`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Charge {
    /// `ch_...`
    pub id: String,
    /// The customer id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub customer: Option<String>,
    /// The payment intent the charge belongs to.
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    /// Older API versions: the invoice.
    #[serde(default, deserialize_with = "expandable_id")]
    pub invoice: Option<String>,
    /// Amount charged.
    #[serde(default)]
    pub amount: i64,
    /// Amount captured.
    #[serde(default)]
    pub amount_captured: Option<i64>,
    /// Amount refunded so far.
    #[serde(default)]
    pub amount_refunded: i64,
    /// Whether the charge is fully refunded.
    #[serde(default)]
    pub refunded: bool,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<i64>,
}

impl Charge {
    /// Whether the whole charge is refunded (`refunded`, or the refunded amount reaches the captured amount).
    pub fn fully_refunded(&self) -> bool {
        let base = self.amount_captured.filter(|c| *c > 0).unwrap_or(self.amount);
        self.refunded || (base > 0 && self.amount_refunded >= base)
    }
}

/// A `dispute`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Dispute {
    /// `dp_...`
    pub id: String,
    /// The disputed charge id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub charge: Option<String>,
    /// The disputed payment intent id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    /// `warning_needs_response`, `needs_response`, `under_review`, `won`, `lost`, `warning_closed`, ...
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// Disputed amount.
    #[serde(default)]
    pub amount: i64,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<i64>,
}

/// A `refund`. Its status moves `pending` -> `succeeded`, and a refund can still end `failed` or `canceled`: the
/// money then stays with the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    /// `re_...`
    pub id: String,
    /// The refunded charge id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub charge: Option<String>,
    /// The refunded payment intent id.
    #[serde(default, deserialize_with = "expandable_id")]
    pub payment_intent: Option<String>,
    /// `pending`, `requires_action`, `succeeded`, `failed` or `canceled`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// Refunded amount.
    #[serde(default)]
    pub amount: i64,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// Creation time.
    #[serde(default)]
    pub created: Option<i64>,
}

impl Refund {
    /// Whether the refund did not happen after all (`failed` or `canceled`).
    pub fn undone(&self) -> bool {
        matches!(self.status.as_deref(), Some("failed" | "canceled"))
    }
}

/// A `customer` (or a deleted customer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Customer {
    /// `cus_...`
    pub id: String,
    /// `true` for a deleted customer.
    #[serde(default)]
    pub deleted: bool,
    /// The customer's email.
    #[serde(default, deserialize_with = "lenient_string")]
    pub email: Option<String>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

/// A `product`, as `product.*` events carry it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Product {
    /// `prod_...`
    pub id: String,
    /// Its name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// Whether it is still sold.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub active: bool,
    /// `true` for a deleted product.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deleted: bool,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

/// A `price`, as `price.*` events carry it (line items read the smaller [`Price`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogPrice {
    /// `price_...`
    pub id: String,
    /// The Stripe product id (expanded or not).
    #[serde(default, deserialize_with = "expandable_id")]
    pub product: Option<String>,
    /// Whether it is still sold.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub active: bool,
    /// `true` for a deleted price.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub deleted: bool,
    /// Amount in the smallest unit (`None` for tiered prices).
    #[serde(default)]
    pub unit_amount: Option<i64>,
    /// Currency code.
    #[serde(default, deserialize_with = "lenient_string")]
    pub currency: Option<String>,
    /// Lookup key.
    #[serde(default, deserialize_with = "lenient_string")]
    pub lookup_key: Option<String>,
    /// Recurrence; `None` for one-time prices.
    #[serde(default)]
    pub recurring: Option<Recurring>,
    /// Live or test mode.
    #[serde(default)]
    pub livemode: Option<bool>,
}

/// A price's `recurring` hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    /// Default trial length.
    #[serde(default)]
    pub trial_period_days: Option<i64>,
}

/// An expandable reference: the id alone, or the expanded object.
#[derive(Debug, Clone, PartialEq)]
pub enum Expandable<T> {
    /// Not expanded: the id.
    Id(String),
    /// Expanded.
    Object(Box<T>),
}

impl<T> Expandable<T> {
    /// The expanded object, if it is one.
    pub fn object(&self) -> Option<&T> {
        match self {
            Self::Id(_) => None,
            Self::Object(o) => Some(o),
        }
    }
}

impl Expandable<Subscription> {
    /// The id, expanded or not.
    pub fn id(&self) -> &str {
        match self {
            Self::Id(id) => id,
            Self::Object(o) => &o.id,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Expandable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Expandable<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id or an expanded object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Expandable::Id(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|o| Expandable::Object(Box::new(o)))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// An expandable reference read as its id: `"cus_1"`, `{"id": "cus_1", ...}` or `null`.
pub(crate) fn expandable_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an id, an expanded object or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut id = None;
            while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
                if k == "id" && id.is_none() {
                    id = map.next_value::<Option<String>>()?;
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(id)
        }
    }
    d.deserialize_any(V)
}

/// A string field that reads any non-string (number, object, ...) as absent instead of failing.
/// A boolean; `null` reads as `false`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(false))
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    LenientCow::deserialize(d).map(|s| s.0.map(Cow::into_owned))
}

/// [`lenient_string`] borrowed from the body when the string has no escapes.
struct LenientCow<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for LenientCow<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LenientCow<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or null")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LenientCow(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LenientCow(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LenientCow(Some(Cow::Owned(v))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientCow(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LenientCow(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LenientCow(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LenientCow(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LenientCow(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LenientCow(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(LenientCow(None))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(LenientCow(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// Metadata: an object of strings; `null` is empty, non-string values are skipped.
fn metadata<'de, D: Deserializer<'de>>(d: D) -> Result<Metadata, D::Error> {
    opt_metadata(d).map(Option::unwrap_or_default)
}

fn opt_metadata<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Metadata>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Metadata>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a metadata object or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = Metadata::new();
            while let Some(k) = map.next_key::<String>()? {
                if let Some(v) = map.next_value::<Option<LenientCow<'de>>>()?.and_then(|v| v.0) {
                    out.insert(k, v.into_owned());
                }
            }
            Ok(Some(out))
        }
    }
    d.deserialize_any(V)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What serde_json makes of a body, through the same types: the oracle for [`crate::json`].
    fn parse_with_serde_json(body: &str) -> Result<Event, EventError> {
        Event::from_raw(serde_json::from_str(body).map_err(classify)?)
    }

    fn outcome<T>(r: &Result<T, EventError>) -> String {
        match r {
            Ok(_) => "ok".to_owned(),
            Err(EventError::Malformed(_)) => "malformed".to_owned(),
            Err(EventError::NotAnEvent(k)) => format!("not an event: {k}"),
            Err(EventError::Object { kind, .. }) => format!("object {kind}"),
        }
    }

    /// Event::parse (the crate's JSON reader) and serde_json agree on the result, value or kind of error.
    fn same_outcome(body: &str) {
        let ours = Event::parse(body.as_bytes());
        let theirs = parse_with_serde_json(body);
        assert_eq!(outcome(&ours), outcome(&theirs), "{body}\nours: {ours:?}\nserde_json: {theirs:?}");
        if let (Ok(a), Ok(b)) = (&ours, &theirs) {
            assert_eq!(a, b, "{body}");
        }
        if let Some(object) = body.find(r#""object": {"#).and_then(|at| body.get(at + 10..)) {
            let ours = StripeObject::parse(object.as_bytes());
            let theirs = serde_json::from_str::<StripeObject>(object).map_err(classify);
            assert_eq!(outcome(&ours), outcome(&theirs), "{object}");
            if let (Ok(a), Ok(b)) = (&ours, &theirs) {
                assert_eq!(a, b, "{object}");
            }
        }
    }

    const BODIES: &[&str] = &[
        include_str!("../benches/fixtures/event.json"),
        r#"{"id":"evt_2","object":"event","type":"invoice.paid","created":5,"livemode":false,"data":{"object": {
            "object":"invoice","id":"in_1","customer":{"id":"cus_1","object":"customer"},"status":"paid",
            "parent":{"subscription_details":{"subscription":"sub_1","metadata":{"latch_site":"s","n":null}}},
            "lines":{"object":"list","data":[{"period":{"start":1,"end":2},"pricing":{"price_details":{"product":"p"}},
            "parent":{"subscription_item_details":{"subscription":"sub_1"}},"quantity":1}],"has_more":false},
            "amount_paid":2000,"attempt_count":1,"next_payment_attempt":null}},"account":"acct_1","api_version":null}"#,
        r#"{"object":"event","id":"evt_3","type":"checkout.session.completed","created":7,"data":{"object": {
            "status":"complete","id":"cs_1","object":"checkout.session","mode":"subscription","payment_status":"paid",
            "customer_details":{"email":"a\u00e9@x.io","name":"\ud83d\ude00"},"metadata":{"latch_product":"pro"},
            "subscription":{"id":"sub_9","object":"subscription","status":{"active":null},"items":{"data":[]}},
            "client_reference_id":"site_1","line_items":{"data":[{"price":{"id":"price_1","product":"prod_1"}}]}},
            "previous_attributes":{"a":[1,{"b":2}],"c":"\ud800"}}}"#,
    ];

    /// Keys before `object` (serde_json's alphabetical order) replay into optional expandable fields too.
    #[test]
    fn optional_references_read_before_the_kind_is_known() {
        for (latest, expected) in [
            (r#""in_1""#, Some(Expandable::Id("in_1".to_owned()))),
            ("null", None),
            (r#"{"id":"in_1","object":"invoice","status":"paid"}"#, None),
        ] {
            let object =
                format!(r#"{{"id":"sub_1","latest_invoice":{latest},"object":"subscription","status":"active"}}"#);
            let Ok(StripeObject::Subscription(sub)) = StripeObject::parse(object.as_bytes()) else {
                panic!("{object} does not read");
            };
            match (sub.latest_invoice, expected) {
                (Some(Expandable::Object(invoice)), None) => assert_eq!(invoice.id, "in_1"),
                (got, expected) => assert_eq!(got, expected, "{object}"),
            }
        }
    }

    #[test]
    fn reads_like_serde_json() {
        for body in BODIES {
            same_outcome(body);
        }
        let deep = format!(r#""data": {{"zzz": {}1{}, "#, "[".repeat(150), "]".repeat(150));
        let deep_read = format!(r#""id": {}1{},"#, "[".repeat(130), "]".repeat(130));
        for (from, to) in [
            (r#""created": 1790000100"#, r#""created": -0"#),
            (r#""created": 1790000100"#, r#""created": 1.5"#),
            (r#""created": 1790000100"#, r#""created": 99999999999999999999"#),
            (r#""id": "evt_1PgcBenchB7WZ01zgkW0000""#, r#""id": "\ud800""#),
            (r#""id": "evt_1PgcBenchB7WZ01zgkW0000""#, r#""id": "\ud83d\ude00\n""#),
            (r#""status": "active""#, r#""status": {"active": null}"#),
            (r#""status": "active""#, r#""status": {"active": 1}"#),
            (r#""status": "active""#, r#""status": {"paused": null, "x": 1}"#),
            (r#""status": "active""#, r#""status": {"1": null}"#),
            (r#""status": "active""#, r#""status": 3"#),
            (r#""status": "active""#, r#""status": "\u0061ctive""#),
            (r#""quantity": 1"#, r#""quantity": -1"#),
            (r#""quantity": 1"#, r#""quantity": 1e3"#),
            (r#""quantity": 1"#, r#""quantity": 18446744073709551616"#),
            (r#""data": {"#, &deep),
            (r#""id": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw","#, &deep_read),
            (r#""object": "subscription","#, r#""object": "subscription", "id": 5,"#),
            (r#""id": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw","#, r#""id": {"x": [1, "\ud800"]},"#),
            (r#""id": "sub_1Pgc6rB7WZ01zgkWNy0Cn5nw","#, r#""created": 5, "id": "sub_\u0031","#),
            (r#""latch_product": "pro""#, r#""latch_product": 1, "x": "y""#),
            (r#""comment": null"#, r#""comment": "\ud800""#),
        ] {
            let body = BODIES[0].replacen(from, to, 1);
            assert_ne!(body, BODIES[0], "{from} not found");
            same_outcome(&body);
        }
    }

    const ALPHABET: &[char] = &['{', '}', '[', ']', '"', ':', ',', '\\', 'u', '0', '1', 'e', '-', '.', 'n', ' ', 'a'];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 1500, ..Default::default() })]

        #[test]
        fn mutated_bodies_read_like_serde_json(
            which in 0..BODIES.len(),
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), 0..ALPHABET.len(), 0u8..3), 1..5),
        ) {
            let mut chars: Vec<char> = BODIES[which].chars().collect();
            for (pos, c, op) in edits {
                let at = pos % chars.len().max(1);
                match op {
                    0 if !chars.is_empty() => chars[at] = ALPHABET[c],
                    1 => chars.insert(at, ALPHABET[c]),
                    _ if !chars.is_empty() => { chars.remove(at); }
                    _ => {}
                }
            }
            same_outcome(&chars.into_iter().collect::<String>());
        }
    }

    #[test]
    fn unknown_kinds_are_other() {
        let body = br#"{"id":"evt_1","object":"event","type":"plan.created","created":5,"livemode":false,
            "data":{"object":{"id":"price_1","object":"plan","amount":2000}}}"#;
        let e = Event::parse(body);
        assert_eq!(e.map(|e| e.object), Ok(StripeObject::Other { object: "plan".into(), id: Some("price_1".into()) }));
    }

    #[test]
    fn errors_are_typed() {
        assert!(matches!(Event::parse(b"not json"), Err(EventError::Malformed(_))));
        assert!(matches!(Event::parse(b"{}"), Err(EventError::Malformed(_))));
        assert!(matches!(
            Event::parse(br#"{"id":"x","object":"charge","type":"t","created":1,"data":{"object":{}}}"#),
            Err(EventError::NotAnEvent(k)) if k == "charge"
        ));
        assert!(matches!(
            Event::parse(br#"{"id":"x","object":"event","type":"t","created":1,"data":{"object":{"object":"subscription","id":5}}}"#),
            Err(EventError::Object { kind, .. }) if kind == "subscription"
        ));
        assert!(matches!(
            Event::parse(br#"{"id":"x","object":"event","type":"t","created":1,"data":{"object":[1]}}"#),
            Err(EventError::Malformed(_))
        ));
    }

    #[test]
    fn expandable_references() {
        let s: Subscription = serde_json::from_str(
            r#"{"id":"sub_1","customer":{"id":"cus_9","object":"customer","email":null},"status":"past_due",
                "items":{"data":[{"price":{"id":"price_1","product":{"id":"prod_1","name":"x"}},"current_period_end":50}]},
                "metadata":null}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.customer.as_deref(), Some("cus_9"));
        assert_eq!(s.status, SubscriptionStatus::PastDue);
        assert_eq!(s.period_end(), Some(50));
        assert_eq!(
            s.items.data.first().and_then(|i| i.price.as_ref()).and_then(|p| p.product.as_deref()),
            Some("prod_1")
        );
        let s: Subscription = serde_json::from_str(r#"{"id":"sub_1","status":"brand_new","current_period_end":7}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.status, SubscriptionStatus::Other);
        assert_eq!(s.period_end(), Some(7));
    }
}
