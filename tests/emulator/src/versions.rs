//! API versions. Objects are kept in the current shape; a request (`Stripe-Version`, else the account's default)
//! and a webhook endpoint (its `api_version`, else the account's default) see them in the shape of their version
//! where a field moved between versions:
//!
//! - before 2025-03-31.basil a subscription carries `current_period_start` / `current_period_end` (its items do
//!   not); an invoice names its subscription in `subscription` and `subscription_details` (no `parent`); an
//!   invoice line carries its `price`, `plan`, `subscription_item`, `proration` and `type` (no `pricing`, no
//!   `parent`).

use crate::store::{Account, Kind};
use serde_json::{Map, Value, json};

/// The first version of the current shape.
const BASIL: &str = "2025-03-31";

/// Whether `version` (`YYYY-MM-DD.name`) predates the current shape.
pub fn is_legacy(version: &str) -> bool {
    version.get(..10).is_some_and(|date| date < BASIL)
}

/// `value` (any API answer or event, nested objects included) as `version` shows it; prices of invoice lines are
/// read from `account`.
pub fn render(value: &Value, version: &str, account: Option<&Account>) -> Value {
    let mut out = value.clone();
    if is_legacy(version) {
        to_legacy(&mut out, account);
    }
    out
}

fn to_legacy(v: &mut Value, account: Option<&Account>) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|x| to_legacy(x, account)),
        Value::Object(m) => {
            match m.get("object").and_then(Value::as_str) {
                Some("subscription") => legacy_subscription(m),
                Some("subscription_item") => {
                    m.remove("current_period_start");
                    m.remove("current_period_end");
                }
                Some("invoice") => legacy_invoice(m),
                Some("line_item") if m.contains_key("pricing") => legacy_invoice_line(m, account),
                _ => {}
            }
            m.values_mut().for_each(|x| to_legacy(x, account));
        }
        _ => {}
    }
}

fn legacy_subscription(m: &mut Map<String, Value>) {
    let first = &m["items"]["data"][0];
    let (start, end) = (first["current_period_start"].clone(), first["current_period_end"].clone());
    m.insert("current_period_start".into(), start);
    m.insert("current_period_end".into(), end);
}

fn legacy_invoice(m: &mut Map<String, Value>) {
    let parent = m.remove("parent").unwrap_or(Value::Null);
    let details = &parent["subscription_details"];
    m.insert("subscription".into(), details["subscription"].clone());
    let metadata = if details.is_object() { json!({ "metadata": details["metadata"] }) } else { Value::Null };
    m.insert("subscription_details".into(), metadata);
}

fn legacy_invoice_line(m: &mut Map<String, Value>, account: Option<&Account>) {
    let pricing = m.remove("pricing").unwrap_or(Value::Null);
    let parent = m.remove("parent").unwrap_or(Value::Null);
    let price_id = pricing["price_details"]["price"].as_str().unwrap_or_default();
    let price = account.and_then(|a| a.col(Kind::Price).get(price_id).cloned()).unwrap_or_else(
        || json!({ "id": price_id, "object": "price", "product": pricing["price_details"]["product"] }),
    );
    let item = &parent["subscription_item_details"];
    m.insert("plan".into(), crate::objects::plan_from_price(&price));
    m.insert("price".into(), crate::events::public(&price));
    m.insert("subscription_item".into(), item["subscription_item"].clone());
    m.insert("proration".into(), item["proration"].clone().as_bool().map_or(json!(false), Value::Bool));
    m.insert("type".into(), json!(if item.is_object() { "subscription" } else { "invoiceitem" }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_before_basil_are_legacy() {
        assert!(is_legacy("2024-06-20"));
        assert!(is_legacy("2025-02-24.acacia"));
        assert!(!is_legacy("2025-03-31.basil"));
        assert!(!is_legacy(crate::API_VERSION));
    }

    #[test]
    fn legacy_shapes_move_periods_and_subscription_ids() {
        let sub = json!({"object": "subscription", "items": {"object": "list", "data": [
            {"object": "subscription_item", "current_period_start": 10, "current_period_end": 20}]}});
        let old = render(&sub, "2024-06-20", None);
        assert_eq!((old["current_period_start"].as_i64(), old["current_period_end"].as_i64()), (Some(10), Some(20)));
        assert!(old["items"]["data"][0].get("current_period_end").is_none());
        assert_eq!(render(&sub, crate::API_VERSION, None), sub);

        let inv = json!({"object": "invoice", "parent": {"subscription_details": {"subscription": "sub_1",
            "metadata": {"k": "v"}}}, "lines": {"data": [{"object": "line_item", "pricing": {"price_details":
            {"price": "price_1", "product": "prod_1"}}, "parent": {"subscription_item_details": {"subscription_item": "si_1"}}}]}});
        let old = render(&json!({"object": "event", "data": {"object": inv}}), "2024-06-20", None);
        let old = &old["data"]["object"];
        assert_eq!(old["subscription"], "sub_1");
        assert_eq!(old["subscription_details"]["metadata"]["k"], "v");
        assert!(old.get("parent").is_none());
        let line = &old["lines"]["data"][0];
        assert_eq!(
            (line["price"]["product"].as_str(), line["subscription_item"].as_str()),
            (Some("prod_1"), Some("si_1"))
        );
        assert!(line.get("pricing").is_none());
    }
}
