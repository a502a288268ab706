//! Customers.

use super::{list_where, payments, retrieve};
use crate::error::{ApiError, ApiResult};
use crate::objects;
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    "email",
    "name",
    "description",
    "phone",
    "metadata",
    "address",
    "shipping",
    "payment_method",
    "invoice_settings",
    "preferred_locales",
    "tax_exempt",
    "tax_id_data",
    "test_clock",
    "balance",
    "coupon",
    "promotion_code",
    "source",
    "invoice_prefix",
    "next_invoice_sequence",
    "tax",
    "cash_balance",
    "validate",
    "individual_name",
    "business_name",
    "default_source",
];

fn set_fields(c: &mut Value, p: &Params) -> ApiResult<Value> {
    let mut previous = json!({});
    for key in ["email", "name", "description", "phone"] {
        if let Some(v) = p.str(key)? {
            if key == "email" && !v.is_empty() && (!v.contains('@') || v.len() > 512) {
                return Err(ApiError::invalid("email_invalid", format!("Invalid email address: {v}"), Some("email")));
            }
            let v = if v.is_empty() { Value::Null } else { json!(v) };
            if c[key] != v {
                previous[key] = c[key].clone();
                c[key] = v;
            }
        }
    }
    if let Some(inv) = p.sub("invoice_settings")?
        && let Some(pm) = inv.str("default_payment_method")?
    {
        previous["invoice_settings"] = c["invoice_settings"].clone();
        c["invoice_settings"]["default_payment_method"] = if pm.is_empty() { Value::Null } else { json!(pm) };
    }
    if let Some(old) = p.apply_metadata(c)? {
        previous["metadata"] = old;
    }
    Ok(previous)
}

/// `POST /v1/customers`.
pub(super) fn create(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(FIELDS)?;
    let now = store.now();
    let mut c = objects::customer(None, None, now);
    set_fields(&mut c, p)?;
    let id = c["id"].as_str().unwrap_or_default().to_string();
    store.account_mut(account).put(Kind::Customer, c.clone());
    store.emit(account, "customer.created", &c, None);
    retrieve(store, account, Kind::Customer, &id, p)
}

/// `POST /v1/customers/{id}`.
pub(super) fn update(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(FIELDS)?;
    let acct = store.account_mut(account);
    if acct.get(Kind::Customer, id, "id")?.get("deleted").is_some() {
        return Err(ApiError::missing("customer", id, "id"));
    }
    if let Some(pm) = p.sub("invoice_settings")?.and_then(|inv| inv.nonempty("default_payment_method").transpose()) {
        payments::require_attached(store, account, &pm?, id, "invoice_settings[default_payment_method]")?;
    }
    let acct = store.account_mut(account);
    let c = acct.get_mut(Kind::Customer, id, "id")?;
    let previous = set_fields(c, p)?;
    let c = c.clone();
    if previous.as_object().is_some_and(|m| !m.is_empty()) {
        store.emit(account, "customer.updated", &c, Some(previous));
    }
    retrieve(store, account, Kind::Customer, id, p)
}

/// `DELETE /v1/customers/{id}`: cancels the customer's subscriptions, leaves a deleted stub.
pub(super) fn delete(store: &mut Store, account: &str, id: &str) -> ApiResult<Value> {
    let acct = store.account_mut(account);
    let c = acct.get(Kind::Customer, id, "id")?.clone();
    if c.get("deleted").is_some() {
        return Err(ApiError::missing("customer", id, "id"));
    }
    let subs: Vec<String> = acct
        .col(Kind::Subscription)
        .oldest_first()
        .filter(|s| s["customer"] == id && s["status"] != "canceled")
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    for s in subs {
        store.end_subscription(account, &s, "cancellation_requested");
    }
    let mut stub = objects::template("deleted_customer");
    stub["id"] = json!(id);
    store.account_mut(account).put(Kind::Customer, stub.clone());
    store.emit(account, "customer.deleted", &c, None);
    Ok(stub)
}

/// `GET /v1/customers` with `email`.
pub(super) fn list(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["email", "test_clock"])?;
    let email = p.nonempty("email")?;
    list_where(store, account, Kind::Customer, "/v1/customers", p, |v| {
        Ok(email.as_ref().is_none_or(|e| v["email"] == e.as_str()))
    })
}
