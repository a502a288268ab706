//! Access an owner grants or revokes by hand (a comp, a refund handled elsewhere), with a reason that goes into the
//! member's timeline. A manual grant is a grant row whose source is `manual_...` (never a Stripe object), so the
//! engine's Stripe-driven rows and manual rows never overwrite each other. Only manual grants can be revoked by
//! hand: access that comes from Stripe ends in Stripe (cancel or refund there), or the next event would bring it back.

use crate::engine::{Activity, ActivityKind, Grant, GrantStatus};

/// Prefix of manual grants' sources.
pub const SOURCE_PREFIX: &str = "manual_";

/// Longest reason accepted.
pub const MAX_REASON: usize = 500;

/// Why a manual change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualError {
    /// No reason, or too long a reason.
    #[error("give a reason (up to {MAX_REASON} characters); it is shown in the member's timeline")]
    Reason,
    /// The end is not in the future.
    #[error("the end date must be in the future")]
    EndInPast,
    /// The grant comes from Stripe.
    #[error("this access comes from Stripe; cancel or refund it in Stripe instead")]
    NotManual,
    /// The grant gives no access now.
    #[error("this access has already ended")]
    NotActive,
    /// The product is not one of the site's.
    #[error("Pick one of the site's products.")]
    UnknownProduct,
    /// Days not a whole number from 1 to [`MAX_DAYS`].
    #[error("Days must be a number from 1 to {MAX_DAYS}.")]
    Days,
}

/// The longest access an owner grants by hand, in days (ten years; no end at all is an empty field).
pub const MAX_DAYS: i64 = 3650;

/// What an owner asked in the "grant access" form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantForm<'a> {
    /// A product slug.
    pub product: &'a str,
    /// Days of access as typed; empty for no end.
    pub days: &'a str,
    /// Why (shown in the member's timeline).
    pub reason: &'a str,
}

/// A manual grant planned from the form: the row, its activity entry, and the customer key to link to the member
/// when they had none yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualGrant {
    /// The grant row.
    pub grant: Grant,
    /// Its activity entry.
    pub activity: Activity,
    /// `member:{id}`, to link, when the member has no Stripe customer: the grant moves with them if they merge.
    pub link_customer: Option<String>,
}

/// Plans the grant an owner asked for `member` (its id and its customers), among the site's `products`; `source`
/// is a fresh `manual_...` id.
pub fn grant_from_form(
    form: GrantForm<'_>,
    member: &str,
    customers: &[String],
    products: &[&str],
    source: &str,
    now: i64,
    livemode: bool,
) -> Result<ManualGrant, ManualError> {
    if !products.contains(&form.product) {
        return Err(ManualError::UnknownProduct);
    }
    let days = form.days.trim();
    let ends_at = match days {
        "" => None,
        typed => match typed.parse::<i64>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => Some(now + d * 86_400),
            _ => return Err(ManualError::Days),
        },
    };
    let (customer, link_customer) = match customers.first() {
        Some(customer) => (customer.clone(), None),
        None => {
            let key = format!("member:{member}");
            (key.clone(), Some(key))
        }
    };
    let (grant, activity) = grant(&customer, form.product, source, form.reason, now, ends_at, livemode)?;
    Ok(ManualGrant { grant, activity, link_customer })
}

/// Whether an owner may revoke `g` by hand now: a manual grant that still gives access.
pub fn revocable(g: &Grant, now: i64) -> bool {
    g.source.starts_with(SOURCE_PREFIX) && g.is_active(now)
}

fn reason(raw: &str) -> Result<&str, ManualError> {
    let r = raw.trim();
    if r.is_empty() || r.chars().count() > MAX_REASON { Err(ManualError::Reason) } else { Ok(r) }
}

/// A grant of `product` to `customer` from `now` until `ends_at` (`None` = no end), with its activity entry.
/// `source` is a fresh `manual_...` id from the caller.
pub fn grant(
    customer: &str,
    product: &str,
    source: &str,
    why: &str,
    now: i64,
    ends_at: Option<i64>,
    livemode: bool,
) -> Result<(Grant, Activity), ManualError> {
    let why = reason(why)?;
    if ends_at.is_some_and(|end| end <= now) {
        return Err(ManualError::EndInPast);
    }
    let grant = Grant {
        customer: customer.to_owned(),
        product: product.to_owned(),
        source: source.to_owned(),
        livemode,
        status: GrantStatus::Active,
        starts_at: now,
        ends_at,
        version: now,
        email: None,
        dispute: None,
        fetched: false,
        paid_through: None,
        subscription_status: None,
        period_end: None,
    };
    let activity = Activity {
        kind: ActivityKind::AccessGranted,
        customer: Some(customer.to_owned()),
        product: Some(product.to_owned()),
        stripe_object: source.to_owned(),
        reason: format!("granted by the site owner: {why}"),
    };
    Ok((grant, activity))
}

/// Ends a manual grant now, with its activity entry.
pub fn revoke(existing: &Grant, why: &str, now: i64) -> Result<(Grant, Activity), ManualError> {
    let why = reason(why)?;
    if !existing.source.starts_with(SOURCE_PREFIX) {
        return Err(ManualError::NotManual);
    }
    if !existing.is_active(now) {
        return Err(ManualError::NotActive);
    }
    let grant = Grant {
        status: GrantStatus::Canceled,
        ends_at: Some(now),
        version: now.max(existing.version),
        ..existing.clone()
    };
    let activity = Activity {
        kind: ActivityKind::AccessRevoked,
        customer: Some(existing.customer.clone()),
        product: Some(existing.product.clone()),
        stripe_object: existing.source.clone(),
        reason: format!("revoked by the site owner: {why}"),
    };
    Ok((grant, activity))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_grant_gives_access_until_revoked() {
        let (g, a) = grant("cus_1", "pro", "manual_1", " comp for a speaker ", 100, None, false).expect("grant");
        assert!(g.is_active(100) && g.is_active(1_000_000));
        assert_eq!(
            (a.kind, a.reason.as_str()),
            (ActivityKind::AccessGranted, "granted by the site owner: comp for a speaker")
        );
        let (ended, b) = revoke(&g, "left the team", 200).expect("revoke");
        assert!(!ended.is_active(200));
        assert_eq!(ended.source, "manual_1");
        assert_eq!(b.kind, ActivityKind::AccessRevoked);
        assert_eq!(revoke(&ended, "again", 300), Err(ManualError::NotActive));
    }

    #[test]
    fn limited_grants_end_and_bad_input_is_refused() {
        let (g, _) = grant("cus_1", "pro", "manual_2", "trial extension", 100, Some(200), false).expect("grant");
        assert!(g.is_active(199) && !g.is_active(200));
        assert_eq!(grant("c", "p", "manual_3", "   ", 100, None, false), Err(ManualError::Reason));
        assert_eq!(grant("c", "p", "manual_3", &"x".repeat(501), 100, None, false), Err(ManualError::Reason));
        assert_eq!(grant("c", "p", "manual_3", "why", 100, Some(100), false), Err(ManualError::EndInPast));
    }

    #[test]
    fn stripe_access_is_not_revoked_by_hand() {
        let (mut g, _) = grant("cus_1", "pro", "manual_4", "why", 100, None, false).expect("grant");
        g.source = "sub_123".into();
        assert_eq!(revoke(&g, "why", 150), Err(ManualError::NotManual));
    }

    #[test]
    fn the_grant_form_is_decided_here() {
        let form = GrantForm { product: "pro", days: "30", reason: "comp" };
        let planned = grant_from_form(form, "mem_1", &[], &["pro"], "manual_1", 100, false).unwrap();
        assert_eq!(planned.grant.ends_at, Some(100 + 30 * 86_400));
        assert_eq!(planned.link_customer.as_deref(), Some("member:mem_1"), "no customer yet: a key of their own");
        assert_eq!(planned.grant.customer, "member:mem_1");
        let customers = vec!["cus_1".to_owned()];
        let forever = GrantForm { days: "", ..form };
        let planned = grant_from_form(forever, "mem_1", &customers, &["pro"], "manual_2", 100, false).unwrap();
        assert_eq!(
            (planned.grant.ends_at, planned.link_customer, planned.grant.customer.as_str()),
            (None, None, "cus_1")
        );
        assert_eq!(grant_from_form(form, "m", &[], &["course"], "s", 1, false), Err(ManualError::UnknownProduct));
        for days in ["0", "3651", "x", "-1"] {
            let bad = GrantForm { days, ..form };
            assert_eq!(grant_from_form(bad, "m", &[], &["pro"], "s", 1, false), Err(ManualError::Days), "{days}");
        }
        assert!(revocable(&planned.grant, 101));
        let stripe = Grant { source: "sub_1".into(), ..planned.grant.clone() };
        assert!(!revocable(&stripe, 101), "access from Stripe ends in Stripe");
        let ended = Grant { ends_at: Some(50), ..planned.grant };
        assert!(!revocable(&ended, 101));
    }
}
