//! Charges, payment intents, setup intents, payment methods and refunds.

use super::{list_where, retrieve};
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::objects::{self, format_amount};
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::{Value, json};

/// `GET /v1/charges`, `/v1/payment_intents`, `/v1/setup_intents`, `/v1/refunds` with `customer`,
/// `payment_intent` and `charge` filters.
pub(super) fn list(store: &mut Store, account: &str, kind: Kind, url: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["customer", "payment_intent", "charge", "transfer_group", "attach_to_self", "payment_method"])?;
    let customer = p.nonempty("customer")?;
    let pi = p.nonempty("payment_intent")?;
    let charge = p.nonempty("charge")?;
    list_where(store, account, kind, url, p, |v| {
        Ok(customer.as_ref().is_none_or(|c| v["customer"] == c.as_str())
            && pi.as_ref().is_none_or(|x| v["payment_intent"] == x.as_str())
            && charge.as_ref().is_none_or(|x| v["charge"] == x.as_str()))
    })
}

/// `GET /v1/customers/{id}/payment_methods`.
pub(super) fn customer_payment_methods(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["type", "allow_redisplay"])?;
    store.account_mut(account).get(Kind::Customer, id, "id")?;
    let url = format!("/v1/customers/{id}/payment_methods");
    list_where(store, account, Kind::PaymentMethod, &url, p, |v| Ok(v["customer"] == id))
}

/// The error Stripe gives when a payment method is set as a default for a customer it is not attached to.
pub(super) fn not_attached(pm: &str, param: &str) -> ApiError {
    ApiError::bad(
        format!(
            "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
        ),
        Some(param),
    )
}

/// Checks that `pm` exists and is attached to `customer` (for a default payment method named by `param`).
pub(super) fn require_attached(store: &Store, account: &str, pm: &str, customer: &str, param: &str) -> ApiResult<()> {
    let attached = store
        .account(account)
        .and_then(|a| a.col(Kind::PaymentMethod).get(pm))
        .is_some_and(|v| v["customer"] == customer);
    if attached { Ok(()) } else { Err(not_attached(pm, param)) }
}

/// Stripe's test payment methods (`pm_card_visa`, ...): attaching one attaches a fresh card with its last 4.
fn test_card(id: &str) -> Option<&'static str> {
    match id {
        "pm_card_visa" => Some("4242"),
        "pm_card_mastercard" => Some("4444"),
        _ => None,
    }
}

/// `GET /v1/payment_methods?customer=&type=`: a customer's payment methods (the customer is required here).
pub(super) fn list_payment_methods(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["customer", "type"])?;
    let customer = p.nonempty("customer")?.ok_or_else(|| ApiError::param_missing("customer"))?;
    store.account_mut(account).get(Kind::Customer, &customer, "customer")?;
    let kind = p.nonempty("type")?;
    list_where(store, account, Kind::PaymentMethod, "/v1/payment_methods", p, |v| {
        Ok(v["customer"] == customer.as_str() && kind.as_ref().is_none_or(|t| v["type"] == t.as_str()))
    })
}

/// `POST /v1/payment_methods/{id}/attach {customer}`: attaching to the customer it already has answers it
/// unchanged; another customer's is refused; a card that paid without a customer, or was detached, cannot be
/// attached (as at Stripe). Emits `payment_method.attached`.
pub(super) fn attach_payment_method(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["customer", "expand"])?;
    let customer = p.nonempty("customer")?.ok_or_else(|| ApiError::param_missing("customer"))?;
    let now = store.now();
    let acct = store.account_mut(account);
    let c = acct.get(Kind::Customer, &customer, "customer")?;
    if c.get("deleted").is_some() {
        return Err(ApiError::missing("customer", &customer, "customer"));
    }
    let email = c["email"].as_str().map(str::to_string);
    let pm = match test_card(id) {
        Some(last4) => {
            let pm = objects::payment_method(last4, email.as_deref(), None, now);
            acct.put(Kind::PaymentMethod, pm.clone());
            pm
        }
        None => acct.get(Kind::PaymentMethod, id, "id")?.clone(),
    };
    let pm_id = pm["id"].as_str().unwrap_or_default().to_string();
    if pm["customer"] == customer.as_str() {
        return retrieve(store, account, Kind::PaymentMethod, &pm_id, p);
    }
    if !pm["customer"].is_null() {
        return Err(ApiError::bad("The payment method you provided has already been attached to a customer.", None));
    }
    if pm["_single_use"] == true {
        return Err(ApiError::bad(
            "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, shared \
             with a connected account without Customer attachment, or was detached from a Customer. It may not be \
             used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.",
            None,
        ));
    }
    let pm = acct.get_mut(Kind::PaymentMethod, &pm_id, "payment_method")?;
    pm["customer"] = json!(customer);
    let pm = pm.clone();
    store.emit(account, "payment_method.attached", &pm, None);
    retrieve(store, account, Kind::PaymentMethod, &pm_id, p)
}

/// `POST /v1/refunds`: full or partial refund of a charge (or a payment intent's charge).
pub(super) fn create_refund(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "charge",
        "payment_intent",
        "amount",
        "reason",
        "metadata",
        "refund_application_fee",
        "reverse_transfer",
        "instructions_email",
        "origin",
        "currency",
        "customer",
    ])?;
    let acct = store.account_mut(account);
    let charge_id = match (p.nonempty("charge")?, p.nonempty("payment_intent")?) {
        (Some(c), _) => {
            acct.get(Kind::Charge, &c, "charge")?;
            c
        }
        (None, Some(pi)) => {
            let intent = acct.get(Kind::PaymentIntent, &pi, "payment_intent")?;
            intent["latest_charge"].as_str().map(str::to_string).ok_or_else(|| {
                ApiError::bad(
                    format!("This PaymentIntent ({pi}) does not have a successful charge to refund."),
                    Some("payment_intent"),
                )
            })?
        }
        (None, None) => {
            return Err(ApiError::bad(
                "One of the following params should be provided for this request: payment_intent or charge.",
                None,
            ));
        }
    };
    let reason = p.one_of("reason", &["duplicate", "fraudulent", "requested_by_customer"])?;
    let now = store.now();
    let acct = store.account_mut(account);
    let charge = acct.get(Kind::Charge, &charge_id, "charge")?.clone();
    if charge["status"] != "succeeded" {
        return Err(ApiError::bad(
            format!("Charge {charge_id} has not succeeded and cannot be refunded."),
            Some("charge"),
        ));
    }
    let amount_total = charge["amount"].as_i64().unwrap_or(0);
    let refunded = charge["amount_refunded"].as_i64().unwrap_or(0);
    let remaining = amount_total - refunded;
    let currency = charge["currency"].as_str().unwrap_or("usd").to_string();
    if remaining <= 0 {
        return Err(ApiError::invalid(
            "charge_already_refunded",
            format!("Charge {charge_id} has already been refunded."),
            Some("charge"),
        ));
    }
    let amount = p.int("amount")?.unwrap_or(remaining);
    if amount <= 0 {
        return Err(ApiError::bad("Refund amount must be greater than 0.", Some("amount")));
    }
    if amount > remaining {
        return Err(ApiError::invalid(
            "amount_too_large",
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                format_amount(amount, &currency),
                format_amount(remaining, &currency)
            ),
            Some("amount"),
        ));
    }
    let mut re = objects::template("refund");
    objects::merge(
        &mut re,
        json!({
            "id": new_id("re"), "amount": amount, "charge": charge_id, "currency": currency, "created": now,
            "payment_intent": charge["payment_intent"], "reason": reason, "status": "succeeded",
            "payment_method": charge["payment_method"],
        }),
    );
    p.apply_metadata(&mut re)?;
    if charge["_refund_fails"] == true {
        // The card cannot take the money back: the refund fails a little later (see billing).
        re["_fails_at"] = json!(now + crate::billing::REFUND_FAILS_AFTER);
    }
    acct.put(Kind::Refund, re.clone());
    let ch = acct.get_mut(Kind::Charge, &charge_id, "charge")?;
    let previous =
        json!({"amount_refunded": ch["amount_refunded"], "refunded": ch["refunded"], "refunds": ch["refunds"]});
    ch["amount_refunded"] = json!(refunded + amount);
    ch["refunded"] = json!(refunded + amount == amount_total);
    if let Some(list) = ch["refunds"]["data"].as_array_mut() {
        list.insert(0, re.clone());
    }
    let ch = ch.clone();
    store.emit(account, "refund.created", &re, None);
    store.emit(account, "charge.refunded", &ch, Some(previous));
    let id = re["id"].as_str().unwrap_or_default().to_string();
    retrieve(store, account, Kind::Refund, &id, p)
}
