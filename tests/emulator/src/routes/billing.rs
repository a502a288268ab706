//! Subscriptions, invoices and billing portal sessions.

use super::{list_where, retrieve};
use crate::error::{ApiError, ApiResult};
use crate::expand::expand;
use crate::ids::new_id;
use crate::list::page;
use crate::objects;
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::{Value, json};

const UPDATE_FIELDS: &[&str] = &[
    "cancel_at_period_end",
    "cancel_at",
    "metadata",
    "description",
    "default_payment_method",
    "proration_behavior",
    "cancellation_details",
    "trial_end",
    "pause_collection",
    "payment_behavior",
    "off_session",
    "items",
    "collection_method",
    "days_until_due",
    "default_source",
    "default_tax_rates",
    "billing_cycle_anchor",
    "payment_settings",
    "proration_date",
    "trial_from_plan",
    "coupon",
    "promotion_code",
    "discounts",
    "automatic_tax",
    "invoice_settings",
    "on_behalf_of",
    "transfer_data",
    "application_fee_percent",
    "pending_invoice_item_interval",
    "billing_thresholds",
    "add_invoice_items",
    "trial_settings",
];

/// `POST /v1/subscriptions/{id}`.
pub(super) fn update_subscription(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(UPDATE_FIELDS)?;
    let now = store.now();
    if let Some(pm) = p.nonempty("default_payment_method")? {
        let acct = store.account_mut(account);
        let customer = acct.get(Kind::Subscription, id, "id")?["customer"].as_str().unwrap_or_default().to_string();
        super::payments::require_attached(store, account, &pm, &customer, "default_payment_method")?;
    }
    let acct = store.account_mut(account);
    let sub = acct.get_mut(Kind::Subscription, id, "id")?;
    let canceled = sub["status"] == "canceled";
    if canceled
        && let Some(k) = p.raw().keys().find(|k| !matches!(k.as_str(), "metadata" | "cancellation_details" | "expand"))
    {
        return Err(ApiError::bad(
            "A canceled subscription can only update its cancellation_details and metadata.",
            Some(k),
        ));
    }
    if p.has("items") {
        return Err(ApiError::bad(
            "The Stripe emulator does not support changing subscription items yet.",
            Some("items"),
        ));
    }
    let before = sub.clone();
    let period_end = sub["items"]["data"][0]["current_period_end"].as_i64().unwrap_or(now);
    if let Some(flag) = p.bool("cancel_at_period_end")? {
        if flag {
            sub["cancel_at_period_end"] = json!(true);
            sub["cancel_at"] = json!(period_end);
            sub["canceled_at"] = json!(now);
            sub["cancellation_details"]["reason"] = json!("cancellation_requested");
        } else {
            sub["cancel_at_period_end"] = json!(false);
            sub["cancel_at"] = Value::Null;
            sub["canceled_at"] = Value::Null;
            sub["cancellation_details"]["reason"] = Value::Null;
        }
    }
    if let Some(c) = p.str("cancel_at")? {
        if c.is_empty() {
            sub["cancel_at"] = Value::Null;
            sub["canceled_at"] = Value::Null;
            sub["cancel_at_period_end"] = json!(false);
            sub["cancellation_details"]["reason"] = Value::Null;
        } else {
            let at = match c.as_str() {
                "min_period_end" | "max_period_end" => period_end,
                other => other.parse::<i64>().map_err(|_| {
                    ApiError::invalid(
                        "parameter_invalid_integer",
                        format!("Invalid timestamp: {other}"),
                        Some("cancel_at"),
                    )
                })?,
            };
            if at < now {
                return Err(ApiError::bad("cancel_at must be in the future.", Some("cancel_at")));
            }
            sub["cancel_at"] = json!(at);
            sub["cancel_at_period_end"] = json!(false);
            sub["canceled_at"] = json!(now);
            sub["cancellation_details"]["reason"] = json!("cancellation_requested");
        }
    }
    if let Some(cd) = p.sub("cancellation_details")? {
        cd.allow(&["comment", "feedback"])?;
        if let Some(c) = cd.str("comment")? {
            sub["cancellation_details"]["comment"] = if c.is_empty() { Value::Null } else { json!(c) };
        }
        if let Some(f) = cd.one_of(
            "feedback",
            &[
                "customer_service",
                "low_quality",
                "missing_features",
                "other",
                "switched_service",
                "too_complex",
                "too_expensive",
                "unused",
            ],
        )? {
            sub["cancellation_details"]["feedback"] = json!(f);
        }
    }
    for key in ["description", "default_payment_method"] {
        if let Some(v) = p.str(key)? {
            sub[key] = if v.is_empty() { Value::Null } else { json!(v) };
        }
    }
    p.apply_metadata(sub)?;
    let mut end_trial_now = false;
    if let Some(t) = p.nonempty("trial_end")? {
        if sub["status"] != "trialing" && t != "now" {
            return Err(ApiError::bad("Only trialing subscriptions can change trial_end.", Some("trial_end")));
        }
        if sub["status"] == "trialing" {
            let at = if t == "now" {
                now
            } else {
                t.parse::<i64>().map_err(|_| {
                    ApiError::invalid("parameter_invalid_integer", format!("Invalid timestamp: {t}"), Some("trial_end"))
                })?
            };
            if at < now {
                return Err(ApiError::bad(
                    "Invalid timestamp: must be an integer Unix timestamp in the future.",
                    Some("trial_end"),
                ));
            }
            sub["trial_end"] = json!(at);
            if let Some(items) = sub["items"]["data"].as_array_mut() {
                for it in items {
                    it["current_period_end"] = json!(at);
                }
            }
            end_trial_now = at <= now;
        }
    }
    let after = sub.clone();
    let mut previous = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (k, v) in b {
            if a.get(k) != Some(v) {
                previous.insert(k.clone(), v.clone());
            }
        }
    }
    if !previous.is_empty() {
        store.emit(account, "customer.subscription.updated", &after, Some(Value::Object(previous)));
    }
    if end_trial_now {
        store.run_billing(now);
    }
    retrieve(store, account, Kind::Subscription, id, p)
}

/// `DELETE /v1/subscriptions/{id}`: cancels at once.
pub(super) fn cancel_subscription(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["invoice_now", "prorate", "cancellation_details"])?;
    let acct = store.account_mut(account);
    let sub = acct.get_mut(Kind::Subscription, id, "id")?;
    if sub["status"] == "canceled" {
        return Err(ApiError::missing("subscription", id, "id"));
    }
    if let Some(cd) = p.sub("cancellation_details")? {
        if let Some(c) = cd.nonempty("comment")? {
            sub["cancellation_details"]["comment"] = json!(c);
        }
        if let Some(f) = cd.nonempty("feedback")? {
            sub["cancellation_details"]["feedback"] = json!(f);
        }
    }
    sub["canceled_at"] = Value::Null;
    sub["cancellation_details"]["reason"] = json!("cancellation_requested");
    store.end_subscription(account, id, "cancellation_requested");
    retrieve(store, account, Kind::Subscription, id, p)
}

/// `GET /v1/subscriptions` with `customer`, `price`, `status` (default: all but canceled).
pub(super) fn list_subscriptions(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&[
        "customer",
        "price",
        "status",
        "collection_method",
        "current_period_end",
        "current_period_start",
        "test_clock",
        "automatic_tax",
    ])?;
    let customer = p.nonempty("customer")?;
    let price = p.nonempty("price")?;
    let status = p.one_of(
        "status",
        &[
            "active",
            "all",
            "canceled",
            "ended",
            "incomplete",
            "incomplete_expired",
            "past_due",
            "paused",
            "trialing",
            "unpaid",
        ],
    )?;
    list_where(store, account, Kind::Subscription, "/v1/subscriptions", p, |v| {
        let s = v["status"].as_str().unwrap_or_default();
        let status_ok = match status.as_deref() {
            None => !matches!(s, "canceled" | "incomplete_expired"),
            Some("all") => true,
            Some("ended") => matches!(s, "canceled" | "incomplete_expired"),
            Some(x) => s == x,
        };
        let price_ok = price.as_ref().is_none_or(|pr| {
            v["items"]["data"].as_array().is_some_and(|items| items.iter().any(|it| it["price"]["id"] == pr.as_str()))
        });
        Ok(status_ok && price_ok && customer.as_ref().is_none_or(|c| v["customer"] == c.as_str()))
    })
}

/// `GET /v1/invoices` with `customer`, `subscription`, `status`.
pub(super) fn list_invoices(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["customer", "subscription", "status", "collection_method", "due_date", "customer_account"])?;
    let customer = p.nonempty("customer")?;
    let sub = p.nonempty("subscription")?;
    let status = p.one_of("status", &["draft", "open", "paid", "uncollectible", "void"])?;
    list_where(store, account, Kind::Invoice, "/v1/invoices", p, |v| {
        Ok(customer.as_ref().is_none_or(|c| v["customer"] == c.as_str())
            && sub.as_ref().is_none_or(|s| crate::billing::subscription_of(v) == s.as_str())
            && status.as_ref().is_none_or(|s| v["status"] == s.as_str()))
    })
}

/// `GET /v1/invoices/{id}/lines`.
pub(super) fn invoice_lines(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&[])?;
    let acct = store.account_mut(account);
    let inv = acct.get(Kind::Invoice, id, "id")?;
    let lines: Vec<Value> = inv["lines"]["data"].as_array().cloned().unwrap_or_default();
    let mut out = page(lines.iter(), p, &format!("/v1/invoices/{id}/lines"))?;
    expand(acct, &mut out, &p.expand()?)?;
    Ok(out)
}

/// `POST /v1/billing_portal/sessions`.
pub(super) fn create_portal_session(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["customer", "return_url", "configuration", "flow_data", "locale", "on_behalf_of", "customer_account"])?;
    let customer = p.req_str("customer")?;
    let return_url = p.nonempty("return_url")?;
    if let Some(u) = &return_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return Err(ApiError::invalid("url_invalid", "Not a valid URL", Some("return_url")));
    }
    let now = store.now();
    let base = store.base_url.clone();
    let configuration = super::portal::for_session(store, account, p.nonempty("configuration")?)?;
    let return_url = return_url.or_else(|| super::portal::look(store, account, &configuration).default_return_url);
    let acct = store.account_mut(account);
    let c = acct.get(Kind::Customer, &customer, "customer")?;
    if c.get("deleted").is_some() {
        return Err(ApiError::missing("customer", &customer, "customer"));
    }
    let id = new_id("bps");
    let mut s = objects::template("billing_portal.session");
    objects::merge(
        &mut s,
        json!({
            "id": id, "created": now, "customer": customer, "return_url": return_url,
            "url": format!("{base}/portal/{id}"), "locale": p.nonempty("locale")?,
            "configuration": configuration,
        }),
    );
    acct.put(Kind::PortalSession, s.clone());
    Ok(s)
}
