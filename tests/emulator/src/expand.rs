//! `expand[]`: replaces id strings with the objects they name (`subscription`, `data.customer`,
//! `subscription.latest_invoice`), plus checkout sessions' `line_items`, which only exist when expanded.

use crate::error::{ApiError, ApiResult};
use crate::events::public;
use crate::store::{Account, Kind};
use serde_json::{Value, json};

/// Expands every path in `paths` inside `v` (an object or a list), using `account`'s objects.
pub fn expand(account: &Account, v: &mut Value, paths: &[String]) -> ApiResult<()> {
    for path in paths {
        let segs: Vec<&str> = path.split('.').collect();
        if segs.len() > 4 {
            return Err(ApiError::bad(
                format!("You cannot expand more than 4 levels of a property. Property: {path}"),
                Some("expand"),
            ));
        }
        expand_path(account, v, &segs, path)?;
    }
    Ok(())
}

fn expand_path(account: &Account, v: &mut Value, segs: &[&str], full: &str) -> ApiResult<()> {
    let Some((first, rest)) = segs.split_first() else {
        return Ok(());
    };
    if v["object"] == "list" && *first == "data" {
        if let Some(items) = v["data"].as_array_mut() {
            for item in items {
                expand_path(account, item, rest, full)?;
            }
        }
        return Ok(());
    }
    let Some(obj) = v.as_object_mut() else {
        return Ok(());
    };
    if *first == "line_items" && obj.get("object") == Some(&json!("checkout.session")) {
        let id = obj.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        let mut items = line_items_list(account, &id);
        expand_path(account, &mut items, rest, full)?;
        obj.insert("line_items".into(), items);
        return Ok(());
    }
    let Some(field) = obj.get_mut(*first) else {
        return Err(ApiError::bad(format!("This property cannot be expanded ({full})."), Some("expand")));
    };
    if let Some(id) = field.as_str() {
        if let Some(found) = Kind::of_id(id).and_then(|k| account.col(k).get(id)) {
            *field = public(found);
        } else if Kind::of_id(id).is_none() {
            return Err(ApiError::bad(format!("This property cannot be expanded ({full})."), Some("expand")));
        }
    }
    if !rest.is_empty() && !field.is_null() {
        expand_path(account, field, rest, full)?;
    }
    Ok(())
}

/// The `line_items` list of a checkout session (`item` objects with their full prices).
pub fn line_items_list(account: &Account, session_id: &str) -> Value {
    let items = account
        .col(Kind::CheckoutSession)
        .get(session_id)
        .and_then(|s| s["_line_items"].as_array().cloned())
        .unwrap_or_default();
    let data: Vec<Value> = items
        .into_iter()
        .map(|mut it| {
            if let Some(pid) = it["price"].as_str().map(str::to_string)
                && let Some(p) = account.col(Kind::Price).get(&pid)
            {
                it["price"] = public(p);
            }
            it
        })
        .collect();
    crate::objects::list(&format!("/v1/checkout/sessions/{session_id}/line_items"), data, false)
}
