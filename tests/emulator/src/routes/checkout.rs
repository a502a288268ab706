//! Checkout Sessions (the domain logic is in [`crate::checkout`]).

use super::{list_where, retrieve};
use crate::error::ApiResult;
use crate::expand::{expand, line_items_list};
use crate::list::page;
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::Value;

/// `POST /v1/checkout/sessions`.
pub(super) fn create(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    let cs = crate::checkout::create(store, account, p)?;
    let id = cs["id"].as_str().unwrap_or_default().to_string();
    retrieve(store, account, Kind::CheckoutSession, &id, p)
}

/// `POST /v1/checkout/sessions/{id}/expire`.
pub(super) fn expire(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    crate::checkout::expire(store, account, id)?;
    retrieve(store, account, Kind::CheckoutSession, id, p)
}

/// `GET /v1/checkout/sessions/{id}/line_items`.
pub(super) fn line_items(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&[])?;
    let acct = store.account_mut(account);
    acct.get(Kind::CheckoutSession, id, "id")?;
    let all = line_items_list(acct, id);
    let items: Vec<Value> = all["data"].as_array().cloned().unwrap_or_default().into_iter().rev().collect();
    let mut out = page(items.iter().rev(), p, &format!("/v1/checkout/sessions/{id}/line_items"))?;
    expand(acct, &mut out, &p.expand()?)?;
    Ok(out)
}

/// `GET /v1/checkout/sessions` with `customer`, `payment_intent`, `subscription`, `status`,
/// `customer_details[email]`, `payment_link`.
pub(super) fn list(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&[
        "customer",
        "payment_intent",
        "subscription",
        "status",
        "customer_details",
        "payment_link",
        "customer_account",
    ])?;
    let customer = p.nonempty("customer")?;
    let pi = p.nonempty("payment_intent")?;
    let sub = p.nonempty("subscription")?;
    let status = p.one_of("status", &["open", "complete", "expired"])?;
    let email = match p.sub("customer_details")? {
        Some(d) => d.nonempty("email")?,
        None => None,
    };
    list_where(store, account, Kind::CheckoutSession, "/v1/checkout/sessions", p, |v| {
        Ok(customer.as_ref().is_none_or(|c| v["customer"] == c.as_str())
            && pi.as_ref().is_none_or(|x| v["payment_intent"] == x.as_str())
            && sub.as_ref().is_none_or(|x| v["subscription"] == x.as_str())
            && status.as_ref().is_none_or(|x| v["status"] == x.as_str())
            && email.as_ref().is_none_or(|x| v["customer_details"]["email"] == x.as_str()))
    })
}
