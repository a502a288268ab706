//! Setup mode's last step: the card a member saved through a setup Checkout Session becomes the default of their
//! Stripe customer (`invoice_settings.default_payment_method`) and of their live subscriptions
//! (`default_payment_method`), so renewals charge the new card.
//!
//! The engine asks for the session's SetupIntent ([`crate::engine::FetchObject::SetupIntent`]); the edge fetches it
//! with its payment method expanded and lists the customer's subscriptions; [`plan`] decides the Stripe requests
//! (attach the card if Checkout did not, set the defaults) and the activity entry. Every POST carries an
//! idempotency key scoped by the SetupIntent, so a retried or doubled job repeats nothing at Stripe.

use serde::Deserialize;

use crate::engine::{Activity, ActivityKind};
use crate::stripe_request::{Method, StripeRequest};

/// Subscription statuses that will still charge: they get the new card.
const BILLED: [&str; 4] = ["active", "trialing", "past_due", "unpaid"];

/// A SetupIntent fetched with `expand[]=payment_method`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupIntent {
    /// `seti_...`.
    pub id: String,
    /// `succeeded` once the card is saved.
    pub status: String,
    /// The customer the card is for.
    pub customer: Option<String>,
    /// The saved card.
    pub payment_method: Option<Card>,
}

/// The saved payment method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// `pm_...`.
    pub id: String,
    /// The customer it is attached to, if any.
    pub customer: Option<String>,
    /// Last 4 digits, for the activity entry.
    pub last4: Option<String>,
}

#[derive(Deserialize)]
struct RawIntent {
    id: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default, deserialize_with = "crate::event::expandable_id")]
    customer: Option<String>,
    #[serde(default)]
    payment_method: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawCard {
    id: String,
    #[serde(default, deserialize_with = "crate::event::expandable_id")]
    customer: Option<String>,
    #[serde(default)]
    card: Option<RawCardDetails>,
}

#[derive(Deserialize)]
struct RawCardDetails {
    #[serde(default)]
    last4: Option<String>,
}

/// Parses a SetupIntent as Stripe answers it (with or without `payment_method` expanded).
pub fn parse_setup_intent(body: &[u8]) -> Result<SetupIntent, String> {
    let raw: RawIntent = serde_json::from_slice(body).map_err(|e| format!("setup intent: {e}"))?;
    let payment_method = match raw.payment_method {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(id)) => Some(Card { id, customer: None, last4: None }),
        Some(v) => {
            let c: RawCard = serde_json::from_value(v).map_err(|e| format!("payment method: {e}"))?;
            Some(Card { id: c.id, customer: c.customer, last4: c.card.and_then(|d| d.last4) })
        }
    };
    Ok(SetupIntent { id: raw.id, status: raw.status.unwrap_or_default(), customer: raw.customer, payment_method })
}

/// A subscription of the customer, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CustomerSubscription {
    /// `sub_...`.
    pub id: String,
    /// Stripe status.
    pub status: String,
    /// Its own default card, if any.
    #[serde(default, deserialize_with = "crate::event::expandable_id")]
    pub default_payment_method: Option<String>,
}

#[derive(Deserialize)]
struct List {
    data: Vec<CustomerSubscription>,
}

/// Parses `GET /v1/subscriptions?customer=…` (one page of up to 100: a member has far fewer).
pub fn parse_subscriptions(body: &[u8]) -> Result<Vec<CustomerSubscription>, String> {
    serde_json::from_slice::<List>(body).map(|l| l.data).map_err(|e| format!("subscriptions: {e}"))
}

/// `GET /v1/subscriptions?customer=…&status=all&limit=100`: the customer's subscriptions.
pub fn list_customer_subscriptions(customer: &str) -> StripeRequest {
    StripeRequest::new(Method::Get, "/v1/subscriptions")
        .param("customer", customer)
        .param("status", "all")
        .param("limit", "100")
}

/// Why a saved card cannot become the default.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaveError {
    /// The SetupIntent did not succeed (nothing was saved).
    #[error("the setup intent {0} has not succeeded")]
    NotSucceeded(String),
    /// No customer or no card on it.
    #[error("the setup intent {0} names no customer or no payment method")]
    Incomplete(String),
    /// The card belongs to another customer: never move it.
    #[error("the payment method {0} is attached to another customer")]
    OtherCustomer(String),
}

/// What to do at Stripe, in order, and the activity to record once done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavePlan {
    /// Attach (when needed), the customer's invoice default, then each billed subscription's default.
    pub requests: Vec<StripeRequest>,
    /// "Payment method updated".
    pub activity: Activity,
}

/// Decides how the SetupIntent's card becomes the default on `account` (the site's connected account, if any).
pub fn plan(
    intent: &SetupIntent,
    subscriptions: &[CustomerSubscription],
    account: Option<&str>,
) -> Result<SavePlan, SaveError> {
    if intent.status != "succeeded" {
        return Err(SaveError::NotSucceeded(intent.id.clone()));
    }
    let (Some(customer), Some(card)) = (&intent.customer, &intent.payment_method) else {
        return Err(SaveError::Incomplete(intent.id.clone()));
    };
    let scope = format!("save-card:{}", intent.id);
    let post = |path: String, params: &[(&str, &str)]| {
        let mut req = StripeRequest::new(Method::Post, path);
        for (k, v) in params {
            req = req.param(*k, *v);
        }
        req.on_account(account).idempotent(&scope)
    };
    let mut requests = Vec::new();
    match &card.customer {
        Some(owner) if owner != customer => return Err(SaveError::OtherCustomer(card.id.clone())),
        Some(_) => {}
        None => requests.push(post(format!("/v1/payment_methods/{}/attach", card.id), &[("customer", customer)])),
    }
    requests.push(post(format!("/v1/customers/{customer}"), &[("invoice_settings[default_payment_method]", &card.id)]));
    let billed: Vec<&CustomerSubscription> = subscriptions
        .iter()
        .filter(|s| BILLED.contains(&s.status.as_str()) && s.default_payment_method.as_deref() != Some(&card.id))
        .collect();
    for sub in &billed {
        requests.push(post(format!("/v1/subscriptions/{}", sub.id), &[("default_payment_method", &card.id)]));
    }
    let ending = card.last4.as_deref().map(|l| format!(" ending {l}")).unwrap_or_default();
    let subs = match billed.len() {
        0 => String::new(),
        1 => " and of 1 subscription".to_owned(),
        n => format!(" and of {n} subscriptions"),
    };
    let activity = Activity {
        kind: ActivityKind::PaymentMethodUpdated,
        customer: Some(customer.clone()),
        product: None,
        stripe_object: intent.id.clone(),
        reason: format!("Payment method updated: the card{ending} is now the default for invoices{subs}"),
    };
    Ok(SavePlan { requests, activity })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(pm_customer: Option<&str>) -> SetupIntent {
        SetupIntent {
            id: "seti_1".into(),
            status: "succeeded".into(),
            customer: Some("cus_1".into()),
            payment_method: Some(Card {
                id: "pm_1".into(),
                customer: pm_customer.map(str::to_owned),
                last4: Some("4242".into()),
            }),
        }
    }

    fn sub(id: &str, status: &str, pm: Option<&str>) -> CustomerSubscription {
        CustomerSubscription { id: id.into(), status: status.into(), default_payment_method: pm.map(str::to_owned) }
    }

    #[test]
    fn parses_the_expanded_intent_and_a_bare_one() {
        let body = br#"{"id":"seti_1","object":"setup_intent","status":"succeeded","customer":"cus_1",
            "payment_method":{"id":"pm_1","object":"payment_method","customer":{"id":"cus_1","object":"customer"},
            "card":{"last4":"4242"}}}"#;
        assert_eq!(parse_setup_intent(body), Ok(intent(Some("cus_1"))));
        let bare = parse_setup_intent(br#"{"id":"seti_2","status":"requires_payment_method","payment_method":"pm_9"}"#);
        let bare = bare.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(bare.payment_method.map(|c| c.id).as_deref(), Some("pm_9"));
        assert!(parse_setup_intent(b"[]").is_err());
        let subs = parse_subscriptions(
            br#"{"object":"list","data":[{"id":"sub_1","status":"active",
            "default_payment_method":null}],"has_more":false}"#,
        );
        assert_eq!(subs, Ok(vec![sub("sub_1", "active", None)]));
    }

    #[test]
    fn sets_the_defaults_of_the_customer_and_its_billed_subscriptions() {
        let subs = [
            sub("sub_a", "active", Some("pm_old")),
            sub("sub_t", "trialing", None),
            sub("sub_c", "canceled", Some("pm_old")),
            sub("sub_done", "past_due", Some("pm_1")),
        ];
        let p = plan(&intent(Some("cus_1")), &subs, Some("acct_1")).unwrap_or_else(|e| panic!("{e}"));
        let paths: Vec<&str> = p.requests.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["/v1/customers/cus_1", "/v1/subscriptions/sub_a", "/v1/subscriptions/sub_t"]);
        assert_eq!(p.requests[0].params, [("invoice_settings[default_payment_method]".into(), "pm_1".into())]);
        assert_eq!(p.requests[1].params, [("default_payment_method".into(), "pm_1".into())]);
        for r in &p.requests {
            assert_eq!((r.method, r.account.as_deref()), (Method::Post, Some("acct_1")));
            assert!(r.idempotency_key.is_some(), "every POST has a key");
        }
        assert_eq!(p.activity.kind, ActivityKind::PaymentMethodUpdated);
        // The edge's once-per-intent insert names the kind as stored.
        assert_eq!(serde_json::to_value(p.activity.kind).ok(), Some(serde_json::json!("payment_method_updated")));
        assert_eq!(p.activity.customer.as_deref(), Some("cus_1"));
        assert!(p.activity.reason.contains("ending 4242") && p.activity.reason.contains("2 subscriptions"));
        // The same intent plans the same keys (a retried job repeats nothing at Stripe); another intent, others.
        let again = plan(&intent(Some("cus_1")), &subs, Some("acct_1")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.requests, p.requests);
        let other = SetupIntent { id: "seti_2".into(), ..intent(Some("cus_1")) };
        let other = plan(&other, &subs, Some("acct_1")).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(other.requests[0].idempotency_key, p.requests[0].idempotency_key);
    }

    #[test]
    fn attaches_only_when_needed_and_never_takes_another_customers_card() {
        let p = plan(&intent(None), &[], None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.requests[0].path, "/v1/payment_methods/pm_1/attach");
        assert_eq!(p.requests[0].params, [("customer".into(), "cus_1".into())]);
        assert_eq!(p.requests.len(), 2);
        assert_eq!(plan(&intent(Some("cus_2")), &[], None), Err(SaveError::OtherCustomer("pm_1".into())));
        let pending = SetupIntent { status: "requires_payment_method".into(), ..intent(Some("cus_1")) };
        assert_eq!(plan(&pending, &[], None), Err(SaveError::NotSucceeded("seti_1".into())));
        let no_card = SetupIntent { payment_method: None, ..intent(Some("cus_1")) };
        assert_eq!(plan(&no_card, &[], None), Err(SaveError::Incomplete("seti_1".into())));
    }
}
