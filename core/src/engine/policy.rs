//! The catalog: the site's linked products and what Latch does on each Stripe outcome.
//!
//! # Policy as data
//! Per product ([`ProductPolicy`], defaults in [`ProductPolicy::new`]): lifetime or N-day one-time access, 7 days of
//! past-due grace, revoke on a full refund, revoke when a dispute is lost, end access when Stripe ends the
//! subscription (or keep the paid period).

use serde::{Deserialize, Serialize};

use super::DAY;

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

    pub(super) fn grace_secs(&self) -> i64 {
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
