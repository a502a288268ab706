//! Stripe object shapes. Each object starts as a copy of Stripe's own fixture (trimmed into
//! `fixtures/templates.json`) and gets its fields overwritten; nothing here touches the store.

use crate::ids::new_id;
use serde_json::{Map, Value, json};
use std::sync::OnceLock;

fn templates() -> &'static Map<String, Value> {
    static T: OnceLock<Map<String, Value>> = OnceLock::new();
    T.get_or_init(|| {
        serde_json::from_str::<Map<String, Value>>(include_str!("../fixtures/templates.json")).unwrap_or_default()
    })
}

/// A fresh copy of Stripe's fixture for `name` (`product`, `checkout.session`, ...), or `{}` if unknown.
pub fn template(name: &str) -> Value {
    templates().get(name).cloned().unwrap_or_else(|| json!({}))
}

/// Names of all embedded templates.
pub fn template_names() -> Vec<String> {
    templates().keys().cloned().collect()
}

/// An empty Stripe list object.
pub fn list(url: &str, data: Vec<Value>, has_more: bool) -> Value {
    json!({ "object": "list", "data": data, "has_more": has_more, "url": url })
}

/// A product with id, name and creation time.
pub fn product(id: Option<String>, name: &str, now: i64) -> Value {
    let mut p = template("product");
    p["id"] = json!(id.unwrap_or_else(|| new_id("prod")));
    p["name"] = json!(name);
    p["created"] = json!(now);
    p["updated"] = json!(now);
    p
}

/// A price. `recurring` is `(interval, interval_count, trial_period_days)`.
pub fn price(
    product: &str,
    currency: &str,
    unit_amount: i64,
    recurring: Option<(String, i64, Option<i64>)>,
    now: i64,
) -> Value {
    let mut p = template("price");
    p["id"] = json!(new_id("price"));
    p["product"] = json!(product);
    p["currency"] = json!(currency);
    p["unit_amount"] = json!(unit_amount);
    p["unit_amount_decimal"] = json!(unit_amount.to_string());
    p["created"] = json!(now);
    if let Some((interval, count, trial)) = recurring {
        let mut r = template("price_recurring");
        r["interval"] = json!(interval);
        r["interval_count"] = json!(count);
        r["trial_period_days"] = json!(trial);
        p["recurring"] = r;
        p["type"] = json!("recurring");
    }
    p
}

/// The legacy `plan` object Stripe still embeds in subscription items for a recurring price.
pub fn plan_from_price(price: &Value) -> Value {
    let mut pl = template("plan");
    for k in [
        "id",
        "active",
        "created",
        "currency",
        "livemode",
        "metadata",
        "nickname",
        "product",
        "billing_scheme",
        "tiers_mode",
    ] {
        pl[k] = price[k].clone();
    }
    pl["amount"] = price["unit_amount"].clone();
    pl["amount_decimal"] = price["unit_amount_decimal"].clone();
    pl["interval"] = price["recurring"]["interval"].clone();
    pl["interval_count"] = price["recurring"]["interval_count"].clone();
    pl["trial_period_days"] = price["recurring"]["trial_period_days"].clone();
    pl["usage_type"] = price["recurring"]["usage_type"].clone();
    pl
}

/// A customer.
pub fn customer(email: Option<&str>, name: Option<&str>, now: i64) -> Value {
    let mut c = template("customer");
    c["id"] = json!(new_id("cus"));
    c["email"] = json!(email);
    c["name"] = json!(name);
    c["created"] = json!(now);
    c["invoice_prefix"] = json!(crate::ids::random_chars(8).to_uppercase());
    c
}

/// A succeeded card payment method (the test card's details), optionally attached to a customer.
pub fn payment_method(last4: &str, email: Option<&str>, customer: Option<&str>, now: i64) -> Value {
    let mut pm = template("payment_method");
    pm["id"] = json!(new_id("pm"));
    pm["created"] = json!(now);
    pm["customer"] = json!(customer);
    pm["billing_details"]["email"] = json!(email);
    pm["card"]["last4"] = json!(last4);
    pm
}

/// A succeeded payment intent and its charge.
pub fn payment(
    amount: i64,
    currency: &str,
    customer: Option<&str>,
    pm: &Value,
    email: Option<&str>,
    description: Option<&str>,
    now: i64,
) -> (Value, Value) {
    let pi_id = new_id("pi");
    let ch_id = new_id("ch");
    let mut pi = template("payment_intent");
    pi["id"] = json!(pi_id);
    pi["amount"] = json!(amount);
    pi["amount_received"] = json!(amount);
    pi["currency"] = json!(currency);
    pi["customer"] = json!(customer);
    pi["created"] = json!(now);
    pi["client_secret"] = json!(format!("{pi_id}_secret_{}", crate::ids::random_chars(25)));
    pi["latest_charge"] = json!(ch_id);
    pi["payment_method"] = pm["id"].clone();
    pi["status"] = json!("succeeded");
    pi["description"] = json!(description);
    pi["receipt_email"] = json!(email);

    let mut ch = template("charge");
    ch["id"] = json!(ch_id);
    ch["amount"] = json!(amount);
    ch["amount_captured"] = json!(amount);
    ch["currency"] = json!(currency);
    ch["customer"] = json!(customer);
    ch["created"] = json!(now);
    ch["payment_intent"] = json!(pi_id);
    ch["payment_method"] = pm["id"].clone();
    ch["billing_details"]["email"] = json!(email);
    ch["receipt_email"] = json!(email);
    ch["description"] = json!(description);
    ch["payment_method_details"]["card"]["last4"] = pm["card"]["last4"].clone();
    ch["payment_method_details"]["card"]["amount_authorized"] = json!(amount);
    ch["refunds"]["url"] = json!(format!("/v1/charges/{ch_id}/refunds"));
    if pm["_refund_fails"] == true {
        ch["_refund_fails"] = json!(true);
    }
    (pi, ch)
}

/// Turns a succeeded card payment into a SEPA Direct Debit still processing: the intent `processing`, the charge
/// `pending`, both naming a `sepa_debit` method ending in `last4`.
pub fn as_pending_debit(pi: &mut Value, ch: &mut Value, last4: &str) {
    pi["status"] = json!("processing");
    pi["amount_received"] = json!(0);
    pi["payment_method_types"] = json!(["sepa_debit"]);
    ch["status"] = json!("pending");
    ch["paid"] = json!(false);
    ch["payment_method_details"] = json!({
        "type": "sepa_debit",
        "sepa_debit": {"bank_code": "37040044", "branch_code": null, "country": "DE", "last4": last4, "mandate": null},
    });
}

/// A failed payment intent and its failed charge (insufficient funds style decline).
pub fn failed_payment(
    amount: i64,
    currency: &str,
    customer: Option<&str>,
    pm_id: Option<&str>,
    now: i64,
) -> (Value, Value) {
    let (mut pi, mut ch) = payment(
        amount,
        currency,
        customer,
        &json!({"id": pm_id, "card": {"last4": "0341"}}),
        None,
        Some("Subscription update"),
        now,
    );
    let error = json!({
        "charge": ch["id"], "code": "card_declined", "decline_code": "generic_decline",
        "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        "message": "Your card was declined.", "type": "card_error", "payment_method": pm_id,
    });
    pi["status"] = json!("requires_payment_method");
    pi["amount_received"] = json!(0);
    pi["last_payment_error"] = error;
    ch["status"] = json!("failed");
    ch["paid"] = json!(false);
    ch["captured"] = json!(false);
    ch["amount_captured"] = json!(0);
    ch["failure_code"] = json!("card_declined");
    ch["failure_message"] = json!("Your card was declined.");
    ch["outcome"]["network_status"] = json!("declined_by_network");
    ch["outcome"]["reason"] = json!("generic_decline");
    ch["outcome"]["seller_message"] = json!("The bank did not return any further details with this decline.");
    ch["outcome"]["type"] = json!("issuer_declined");
    (pi, ch)
}

/// A webhook endpoint (the secret is added by the caller on creation only).
pub fn webhook_endpoint(url: &str, events: Vec<String>, now: i64) -> Value {
    let mut we = template("webhook_endpoint");
    we["id"] = json!(new_id("we"));
    we["url"] = json!(url);
    we["enabled_events"] = json!(events);
    we["created"] = json!(now);
    we
}

/// Replaces object keys of `target` with those of `patch` (one level).
pub fn merge(target: &mut Value, patch: Value) {
    if let (Some(t), Value::Object(p)) = (target.as_object_mut(), patch) {
        for (k, v) in p {
            t.insert(k, v);
        }
    }
}

/// Formats an amount in minor units for people (`$9.00`, `¥500`).
pub fn format_amount(amount: i64, currency: &str) -> String {
    let zero_decimal = matches!(
        currency,
        "bif"
            | "clp"
            | "djf"
            | "gnf"
            | "jpy"
            | "kmf"
            | "krw"
            | "mga"
            | "pyg"
            | "rwf"
            | "ugx"
            | "vnd"
            | "vuv"
            | "xaf"
            | "xof"
            | "xpf"
    );
    let symbol = match currency {
        "usd" | "cad" | "aud" | "nzd" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        _ => "",
    };
    let number = if zero_decimal {
        amount.to_string()
    } else {
        let sign = if amount < 0 { "-" } else { "" };
        let a = amount.abs();
        format!("{sign}{}.{:02}", a / 100, a % 100)
    };
    if symbol.is_empty() { format!("{number} {}", currency.to_uppercase()) } else { format!("{symbol}{number}") }
}
