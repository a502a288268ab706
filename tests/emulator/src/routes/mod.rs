//! The Stripe API surface: `(method, path)` -> operation on the store. Every operation is synchronous and
//! runs under the store lock; HTTP concerns (auth, idempotency, encoding) live in [`crate::server`].

mod billing;
mod catalog;
mod checkout;
mod customers;
mod events;
mod payments;
pub mod portal;

use crate::error::{ApiError, ApiResult};
use crate::events::public;
use crate::expand::expand;
use crate::list::page;
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::Value;

/// Serves one API call for `account`. `path` is the URL path without the query string.
pub fn dispatch(store: &mut Store, account: &str, method: &str, path: &str, p: &Params) -> ApiResult<Value> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(2).collect();
    let not_found = || ApiError::unrecognized(method, path);
    if method == "GET" && segs.last().is_some_and(|s| Kind::of_id(s).is_some() || s.starts_with("acct_")) {
        // `GET /v1/{objects}/{id}` takes nothing but `expand[]`.
        p.allow(&[])?;
    }
    match (method, segs.as_slice()) {
        ("GET", ["account"]) => events::account(store, account, p),
        ("GET", ["accounts", id]) => events::connected_account(store, account, id),
        ("POST", ["products"]) => catalog::create_product(store, account, p),
        ("GET", ["products"]) => catalog::list_products(store, account, p),
        ("GET", ["products", id]) => retrieve(store, account, Kind::Product, id, p),
        ("POST", ["products", id]) => catalog::update_product(store, account, id, p),
        ("DELETE", ["products", id]) => catalog::delete_product(store, account, id),
        ("POST", ["prices"]) => catalog::create_price(store, account, p),
        ("GET", ["prices"]) => catalog::list_prices(store, account, p),
        ("GET", ["prices", id]) => retrieve(store, account, Kind::Price, id, p),
        ("POST", ["prices", id]) => catalog::update_price(store, account, id, p),
        ("POST", ["customers"]) => customers::create(store, account, p),
        ("GET", ["customers"]) => customers::list(store, account, p),
        ("GET", ["customers", id]) => retrieve(store, account, Kind::Customer, id, p),
        ("POST", ["customers", id]) => customers::update(store, account, id, p),
        ("DELETE", ["customers", id]) => customers::delete(store, account, id),
        ("GET", ["customers", id, "payment_methods"]) => payments::customer_payment_methods(store, account, id, p),
        ("POST", ["checkout", "sessions"]) => checkout::create(store, account, p),
        ("GET", ["checkout", "sessions"]) => checkout::list(store, account, p),
        ("GET", ["checkout", "sessions", id]) => retrieve(store, account, Kind::CheckoutSession, id, p),
        ("GET", ["checkout", "sessions", id, "line_items"]) => checkout::line_items(store, account, id, p),
        ("POST", ["checkout", "sessions", id, "expire"]) => checkout::expire(store, account, id, p),
        ("GET", ["subscriptions"]) => billing::list_subscriptions(store, account, p),
        ("GET", ["subscriptions", id]) => retrieve(store, account, Kind::Subscription, id, p),
        ("POST", ["subscriptions", id]) => billing::update_subscription(store, account, id, p),
        ("DELETE", ["subscriptions", id]) => billing::cancel_subscription(store, account, id, p),
        ("GET", ["invoices"]) => billing::list_invoices(store, account, p),
        ("GET", ["invoices", id]) => retrieve(store, account, Kind::Invoice, id, p),
        ("GET", ["invoices", id, "lines"]) => billing::invoice_lines(store, account, id, p),
        ("POST", ["billing_portal", "sessions"]) => billing::create_portal_session(store, account, p),
        ("POST", ["billing_portal", "configurations"]) => portal::create(store, account, p),
        ("GET", ["billing_portal", "configurations"]) => portal::list(store, account, p),
        ("GET", ["billing_portal", "configurations", id]) => retrieve(store, account, Kind::PortalConfiguration, id, p),
        ("POST", ["billing_portal", "configurations", id]) => portal::update(store, account, id, p),
        ("GET", ["charges"]) => payments::list(store, account, Kind::Charge, "/v1/charges", p),
        ("GET", ["charges", id]) => retrieve(store, account, Kind::Charge, id, p),
        ("GET", ["payment_intents"]) => payments::list(store, account, Kind::PaymentIntent, "/v1/payment_intents", p),
        ("GET", ["payment_intents", id]) => retrieve(store, account, Kind::PaymentIntent, id, p),
        ("GET", ["setup_intents"]) => payments::list(store, account, Kind::SetupIntent, "/v1/setup_intents", p),
        ("GET", ["setup_intents", id]) => retrieve(store, account, Kind::SetupIntent, id, p),
        ("GET", ["payment_methods"]) => payments::list_payment_methods(store, account, p),
        ("GET", ["payment_methods", id]) => retrieve(store, account, Kind::PaymentMethod, id, p),
        ("POST", ["payment_methods", id, "attach"]) => payments::attach_payment_method(store, account, id, p),
        ("POST", ["refunds"]) => payments::create_refund(store, account, p),
        ("GET", ["refunds"]) => payments::list(store, account, Kind::Refund, "/v1/refunds", p),
        ("GET", ["refunds", id]) => retrieve(store, account, Kind::Refund, id, p),
        ("GET", ["disputes"]) => payments::list(store, account, Kind::Dispute, "/v1/disputes", p),
        ("GET", ["disputes", id]) => retrieve(store, account, Kind::Dispute, id, p),
        ("POST", ["disputes", id, "close"]) => {
            store.resolve_dispute(account, id, "lost")?;
            retrieve(store, account, Kind::Dispute, id, p)
        }
        ("POST", ["webhook_endpoints"]) => events::create_endpoint(store, account, p),
        ("GET", ["webhook_endpoints"]) => events::list_endpoints(store, account, p),
        ("GET", ["webhook_endpoints", id]) => events::retrieve_endpoint(store, account, id),
        ("POST", ["webhook_endpoints", id]) => events::update_endpoint(store, account, id, p),
        ("DELETE", ["webhook_endpoints", id]) => events::delete_endpoint(store, account, id),
        ("GET", ["events"]) => events::list_events(store, account, p),
        ("GET", ["events", id]) => retrieve(store, account, Kind::Event, id, p),
        _ => Err(not_found()),
    }
}

/// `GET /v1/{kind}/{id}` with `expand[]`.
fn retrieve(store: &mut Store, account: &str, kind: Kind, id: &str, p: &Params) -> ApiResult<Value> {
    let acct = store.account_mut(account);
    let mut v = public(acct.get(kind, id, "id")?);
    expand(acct, &mut v, &p.expand()?)?;
    Ok(v)
}

/// A filtered, paged, expanded list of `kind`.
fn list_where(
    store: &mut Store,
    account: &str,
    kind: Kind,
    url: &str,
    p: &Params,
    keep: impl Fn(&Value) -> ApiResult<bool>,
) -> ApiResult<Value> {
    let acct = store.account_mut(account);
    let mut matching = Vec::new();
    for v in acct.col(kind).newest_first() {
        if v.get("deleted").is_none() && crate::list::created_matches(p, v)? && keep(v)? {
            matching.push(v);
        }
    }
    let mut out = page(matching.into_iter(), p, url)?;
    expand(acct, &mut out, &p.expand()?)?;
    Ok(out)
}
