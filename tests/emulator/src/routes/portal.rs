//! Billing portal configurations (`/v1/billing_portal/configurations`): what a portal session may do (cancel,
//! update the customer, see invoices) and which business links it shows, per account.

use super::{list_where, retrieve};
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::objects;
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::{Value, json};

const FIELDS: &[&str] = &["business_profile", "default_return_url", "features", "login_page", "metadata", "name"];
const FEATURES: &[&str] =
    &["customer_update", "invoice_history", "payment_method_update", "subscription_cancel", "subscription_update"];
const CUSTOMER_UPDATES: &[&str] = &["address", "email", "name", "phone", "shipping", "tax_id"];
const CANCEL_REASONS: &[&str] = &[
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
];
const PRORATIONS: &[&str] = &["always_invoice", "create_prorations", "none"];

/// Stripe's check of a URL parameter (absolute http(s) with a host); the empty string clears it.
fn url(p: &Params, key: &str) -> ApiResult<Option<Value>> {
    let Some(raw) = p.str(key)? else { return Ok(None) };
    if raw.is_empty() {
        return Ok(Some(Value::Null));
    }
    let host = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://")).unwrap_or_default();
    if host.split(['/', '?', '#']).next().unwrap_or_default().is_empty() || raw.chars().any(char::is_whitespace) {
        return Err(ApiError::invalid("url_invalid", format!("Invalid URL: {raw}"), Some(&p.name(key))));
    }
    Ok(Some(json!(raw)))
}

/// A feature's `enabled` flag: required when the feature is sent on create.
fn enabled(f: &Params, creating: bool) -> ApiResult<Option<bool>> {
    match f.bool("enabled")? {
        None if creating => Err(ApiError::param_missing(&f.name("enabled"))),
        other => Ok(other),
    }
}

/// Applies `business_profile`, `features`, `login_page` and the plain fields to `c`.
fn apply(c: &mut Value, p: &Params, creating: bool) -> ApiResult<()> {
    if let Some(bp) = p.sub("business_profile")? {
        bp.allow(&["headline", "privacy_policy_url", "terms_of_service_url"])?;
        if let Some(h) = bp.str("headline")? {
            if h.chars().count() > 60 {
                return Err(ApiError::bad("Headline must be at most 60 characters.", Some(&bp.name("headline"))));
            }
            c["business_profile"]["headline"] = if h.is_empty() { Value::Null } else { json!(h) };
        }
        for key in ["privacy_policy_url", "terms_of_service_url"] {
            if let Some(v) = url(&bp, key)? {
                c["business_profile"][key] = v;
            }
        }
    }
    if let Some(v) = url(p, "default_return_url")? {
        c["default_return_url"] = v;
    }
    if let Some(name) = p.str("name")? {
        c["name"] = if name.is_empty() { Value::Null } else { json!(name) };
    }
    if let Some(lp) = p.sub("login_page")? {
        lp.allow(&["enabled"])?;
        let on = lp.bool("enabled")?.ok_or_else(|| ApiError::param_missing(&lp.name("enabled")))?;
        c["login_page"] = if on {
            json!({ "enabled": true, "url": format!("https://billing.stripe.com/p/login/test_{}", new_id("lp")) })
        } else {
            json!({ "enabled": false, "url": null })
        };
    }
    if let Some(m) = p.metadata()? {
        c["metadata"] = m.map_or_else(|| json!({}), Value::Object);
    }
    let features = match p.sub("features")? {
        Some(f) => f,
        None if creating => return Err(ApiError::param_missing("features")),
        None => return Ok(()),
    };
    features.allow(FEATURES)?;
    let feat = &mut c["features"];
    if let Some(f) = features.sub("customer_update")? {
        f.allow(&["allowed_updates", "enabled"])?;
        if let Some(on) = enabled(&f, creating)? {
            feat["customer_update"]["enabled"] = json!(on);
        }
        if f.has("allowed_updates") {
            let updates = f.str_list("allowed_updates")?;
            if let Some(bad) = updates.iter().find(|u| !CUSTOMER_UPDATES.contains(&u.as_str())) {
                return Err(ApiError::bad(
                    format!(
                        "Invalid {}: must be one of {} (got '{bad}')",
                        f.name("allowed_updates"),
                        CUSTOMER_UPDATES.join(", ")
                    ),
                    Some(&f.name("allowed_updates")),
                ));
            }
            feat["customer_update"]["allowed_updates"] = json!(updates);
        }
        if feat["customer_update"]["enabled"] == true
            && feat["customer_update"]["allowed_updates"].as_array().is_none_or(Vec::is_empty)
        {
            return Err(ApiError::param_missing(&f.name("allowed_updates")));
        }
    }
    if let Some(f) = features.sub("invoice_history")? {
        f.allow(&["enabled"])?;
        if let Some(on) = enabled(&f, creating)? {
            feat["invoice_history"]["enabled"] = json!(on);
        }
    }
    if let Some(f) = features.sub("payment_method_update")? {
        f.allow(&["enabled", "payment_method_configuration"])?;
        if let Some(on) = enabled(&f, creating)? {
            feat["payment_method_update"]["enabled"] = json!(on);
        }
    }
    if let Some(f) = features.sub("subscription_cancel")? {
        f.allow(&["cancellation_reason", "enabled", "mode", "proration_behavior"])?;
        if let Some(on) = enabled(&f, creating)? {
            feat["subscription_cancel"]["enabled"] = json!(on);
        }
        if let Some(mode) = f.one_of("mode", &["at_period_end", "immediately"])? {
            feat["subscription_cancel"]["mode"] = json!(mode);
        }
        if let Some(pb) = f.one_of("proration_behavior", PRORATIONS)? {
            feat["subscription_cancel"]["proration_behavior"] = json!(pb);
        }
        if let Some(cr) = f.sub("cancellation_reason")? {
            cr.allow(&["enabled", "options"])?;
            let on = cr.bool("enabled")?.ok_or_else(|| ApiError::param_missing(&cr.name("enabled")))?;
            let options = cr.str_list("options")?;
            if let Some(bad) = options.iter().find(|o| !CANCEL_REASONS.contains(&o.as_str())) {
                return Err(ApiError::bad(
                    format!(
                        "Invalid {}: must be one of {} (got '{bad}')",
                        cr.name("options"),
                        CANCEL_REASONS.join(", ")
                    ),
                    Some(&cr.name("options")),
                ));
            }
            feat["subscription_cancel"]["cancellation_reason"] = json!({ "enabled": on, "options": options });
        }
    }
    if let Some(f) = features.sub("subscription_update")? {
        f.allow(&["default_allowed_updates", "enabled", "products", "proration_behavior", "schedule_at_period_end"])?;
        if let Some(on) = enabled(&f, creating)? {
            if on {
                return Err(ApiError::bad(
                    "The Stripe emulator does not support plan changes in the portal (features[subscription_update][enabled]=true) yet.",
                    Some(&f.name("enabled")),
                ));
            }
            feat["subscription_update"]["enabled"] = json!(false);
        }
        if let Some(pb) = f.one_of("proration_behavior", PRORATIONS)? {
            feat["subscription_update"]["proration_behavior"] = json!(pb);
        }
    }
    Ok(())
}

/// `POST /v1/billing_portal/configurations`.
pub(super) fn create(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(FIELDS)?;
    let now = store.now();
    let mut c = objects::template("billing_portal.configuration");
    objects::merge(&mut c, json!({ "id": new_id("bpc"), "created": now, "updated": now, "active": true }));
    apply(&mut c, p, true)?;
    let acct = store.account_mut(account);
    acct.put(Kind::PortalConfiguration, c.clone());
    Ok(c)
}

/// `POST /v1/billing_portal/configurations/{id}`.
pub(super) fn update(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    let mut fields = FIELDS.to_vec();
    fields.push("active");
    p.allow(&fields)?;
    let now = store.now();
    let acct = store.account_mut(account);
    let mut c = acct.get(Kind::PortalConfiguration, id, "id")?.clone();
    if let Some(active) = p.bool("active")? {
        c["active"] = json!(active);
    }
    apply(&mut c, p, false)?;
    c["updated"] = json!(now);
    acct.put(Kind::PortalConfiguration, c.clone());
    retrieve(store, account, Kind::PortalConfiguration, id, p)
}

/// `GET /v1/billing_portal/configurations?active=&is_default=`.
pub(super) fn list(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["active", "is_default"])?;
    let active = p.bool("active")?;
    let is_default = p.bool("is_default")?;
    list_where(store, account, Kind::PortalConfiguration, "/v1/billing_portal/configurations", p, |v| {
        Ok(active.is_none_or(|a| v["active"] == a) && is_default.is_none_or(|d| v["is_default"] == d))
    })
}

/// The configuration a portal session uses: an explicit one must exist on the account and be active; without
/// one, the account's default (whose id is [`crate::store::Account::portal_configuration`]).
pub(super) fn for_session(store: &mut Store, account: &str, requested: Option<String>) -> ApiResult<String> {
    let acct = store.account_mut(account);
    let Some(id) = requested else { return Ok(acct.portal_configuration.clone()) };
    if id == acct.portal_configuration {
        return Ok(id);
    }
    let c = acct.get(Kind::PortalConfiguration, &id, "configuration")?;
    if c["active"] != true {
        return Err(ApiError::bad(
            format!("The configuration {id} is not active. Activate it or use another configuration."),
            Some("configuration"),
        ));
    }
    Ok(id)
}

/// What the hosted portal page needs from a session's configuration.
#[derive(Debug, Clone, Default)]
pub struct PortalLook {
    /// Whether the customer may cancel subscriptions.
    pub cancel: bool,
    /// Business headline, if any.
    pub headline: Option<String>,
    /// Privacy policy link, if any.
    pub privacy_policy_url: Option<String>,
    /// Terms of service link, if any.
    pub terms_of_service_url: Option<String>,
    /// Where "Return" goes when the session has no return URL.
    pub default_return_url: Option<String>,
}

/// The look of a stored configuration; the implicit default allows cancelling and shows no links.
pub fn look(store: &Store, account: &str, configuration: &str) -> PortalLook {
    let Some(c) = store.account(account).and_then(|a| a.col(Kind::PortalConfiguration).get(configuration)) else {
        return PortalLook { cancel: true, ..PortalLook::default() };
    };
    let text = |v: &Value| v.as_str().map(str::to_string);
    PortalLook {
        cancel: c["features"]["subscription_cancel"]["enabled"] == true,
        headline: text(&c["business_profile"]["headline"]),
        privacy_policy_url: text(&c["business_profile"]["privacy_policy_url"]),
        terms_of_service_url: text(&c["business_profile"]["terms_of_service_url"]),
        default_return_url: text(&c["default_return_url"]),
    }
}
