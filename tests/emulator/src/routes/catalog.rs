//! Products and prices.

use super::{list_where, retrieve};
use crate::error::{ApiError, ApiResult};
use crate::events::public;
use crate::objects;
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::{Value, json};

const PRODUCT_FIELDS: &[&str] = &[
    "id",
    "name",
    "active",
    "description",
    "metadata",
    "images",
    "url",
    "unit_label",
    "tax_code",
    "statement_descriptor",
    "shippable",
    "package_dimensions",
    "default_price_data",
    "marketing_features",
    "type",
    "default_price",
];

fn set_product_fields(prod: &mut Value, p: &Params) -> ApiResult<Value> {
    let mut previous = json!({});
    for key in ["name", "description", "url", "unit_label", "tax_code", "statement_descriptor"] {
        if p.has(key) {
            let v = match p.str(key)? {
                Some(s) if s.is_empty() => Value::Null,
                Some(s) => json!(s),
                None => Value::Null,
            };
            if key == "name" && v.is_null() {
                return Err(ApiError::bad("You must provide a non-empty name.", Some("name")));
            }
            if prod[key] != v {
                previous[key] = prod[key].clone();
                prod[key] = v;
            }
        }
    }
    for key in ["active", "shippable"] {
        if let Some(b) = p.bool(key)?
            && prod[key] != json!(b)
        {
            previous[key] = prod[key].clone();
            prod[key] = json!(b);
        }
    }
    if p.has("images") {
        previous["images"] = prod["images"].clone();
        prod["images"] = json!(p.str_list("images")?);
    }
    if let Some(old) = p.apply_metadata(prod)? {
        previous["metadata"] = old;
    }
    Ok(previous)
}

/// `POST /v1/products`.
pub(super) fn create_product(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(PRODUCT_FIELDS)?;
    let name = p.req_str("name")?;
    let id = p.nonempty("id")?;
    let now = store.now();
    if let Some(i) = &id
        && store.account_mut(account).col(Kind::Product).get(i).is_some()
    {
        return Err(ApiError::invalid("resource_already_exists", "Product already exists.", Some("id")));
    }
    let mut prod = objects::product(id, &name, now);
    set_product_fields(&mut prod, p)?;
    let pid = prod["id"].as_str().unwrap_or_default().to_string();
    if let Some(dp) = p.sub("default_price_data")? {
        dp.allow(&["currency", "unit_amount", "unit_amount_decimal", "recurring", "tax_behavior", "metadata"])?;
        let currency = crate::currency::check(&dp.req_str("currency")?, &dp.name("currency"))?;
        let amount =
            dp.amount("unit_amount")?.ok_or_else(|| ApiError::param_missing("default_price_data[unit_amount]"))?;
        let recurring = recurring_of(&dp)?;
        let price = objects::price(&pid, &currency, amount, recurring, now);
        prod["default_price"] = price["id"].clone();
        store.account_mut(account).put(Kind::Price, price.clone());
        store.account_mut(account).put(Kind::Product, prod.clone());
        store.emit(account, "product.created", &prod, None);
        store.emit(account, "price.created", &price, None);
    } else {
        store.account_mut(account).put(Kind::Product, prod.clone());
        store.emit(account, "product.created", &prod, None);
    }
    Ok(public(&prod))
}

/// `POST /v1/products/{id}`.
pub(super) fn update_product(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(PRODUCT_FIELDS)?;
    let now = store.now();
    let acct = store.account_mut(account);
    if let Some(dp) = p.nonempty("default_price")? {
        let price = acct.get(Kind::Price, &dp, "default_price")?;
        if price["product"] != id {
            return Err(ApiError::bad("The default price must belong to this product.", Some("default_price")));
        }
    }
    let prod = acct.get_mut(Kind::Product, id, "id")?;
    let mut previous = set_product_fields(prod, p)?;
    if let Some(dp) = p.str("default_price")? {
        let v = if dp.is_empty() { Value::Null } else { json!(dp) };
        if prod["default_price"] != v {
            previous["default_price"] = prod["default_price"].clone();
            prod["default_price"] = v;
        }
    }
    prod["updated"] = json!(now);
    let prod = prod.clone();
    if previous.as_object().is_some_and(|m| !m.is_empty()) {
        store.emit(account, "product.updated", &prod, Some(previous));
    }
    retrieve(store, account, Kind::Product, id, p)
}

/// `DELETE /v1/products/{id}`.
pub(super) fn delete_product(store: &mut Store, account: &str, id: &str) -> ApiResult<Value> {
    let acct = store.account_mut(account);
    let prod = acct.get(Kind::Product, id, "id")?.clone();
    if acct.col(Kind::Price).oldest_first().any(|pr| pr["product"] == id) {
        return Err(ApiError::bad(
            "This product cannot be deleted because it has one or more user-created prices.",
            None,
        ));
    }
    let mut deleted = objects::template("deleted_product");
    deleted["id"] = json!(id);
    acct.put(Kind::Product, deleted.clone());
    store.emit(account, "product.deleted", &prod, None);
    Ok(deleted)
}

impl Store {
    /// Deletes a price as the Dashboard does (the API cannot): only a price nothing ever used; emits
    /// `price.deleted` with the price, which is gone afterwards.
    pub fn dashboard_delete_price(&mut self, account: &str, id: &str) -> ApiResult<Value> {
        let acct = self.account_mut(account);
        let price = acct.get(Kind::Price, id, "id")?.clone();
        let in_subscription = acct
            .col(Kind::Subscription)
            .oldest_first()
            .any(|s| s["items"]["data"].as_array().is_some_and(|items| items.iter().any(|it| it["price"]["id"] == id)));
        let in_checkout = acct
            .col(Kind::CheckoutSession)
            .oldest_first()
            .any(|cs| cs["_line_items"].as_array().is_some_and(|items| items.iter().any(|it| it["price"] == id)));
        if in_subscription || in_checkout {
            return Err(ApiError::bad("This price has been used and cannot be deleted; archive it instead.", None));
        }
        acct.put(Kind::Price, json!({ "id": id, "object": "price", "deleted": true }));
        self.emit(account, "price.deleted", &price, None);
        Ok(json!({ "id": id, "object": "price", "deleted": true }))
    }
}

/// `GET /v1/products`.
pub(super) fn list_products(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["active", "ids", "shippable", "url"])?;
    let active = p.bool("active")?;
    let ids = p.str_list("ids")?;
    let shippable = p.bool("shippable")?;
    list_where(store, account, Kind::Product, "/v1/products", p, |v| {
        Ok(active.is_none_or(|a| v["active"] == a)
            && shippable.is_none_or(|s| v["shippable"] == s)
            && (ids.is_empty() || ids.iter().any(|i| v["id"] == i.as_str())))
    })
}

fn recurring_of(p: &Params) -> ApiResult<Option<(String, i64, Option<i64>)>> {
    let Some(r) = p.sub("recurring")? else {
        return Ok(None);
    };
    r.allow(&["interval", "interval_count", "trial_period_days", "usage_type", "meter", "aggregate_usage"])?;
    let interval = r
        .one_of("interval", &["day", "week", "month", "year"])?
        .ok_or_else(|| ApiError::param_missing(&r.name("interval")))?;
    let count = r.int("interval_count")?.unwrap_or(1);
    let max = match interval.as_str() {
        "day" => 1095,
        "week" => 156,
        "month" => 36,
        _ => 3,
    };
    if !(1..=max).contains(&count) {
        return Err(ApiError::bad(
            format!(
                "The maximum billing interval is three years; `interval_count` for `{interval}` must be between 1 and {max}."
            ),
            Some(&r.name("interval_count")),
        ));
    }
    Ok(Some((interval, count, r.uint("trial_period_days")?)))
}

/// Moves or claims a lookup key for `price_id`, per Stripe's `transfer_lookup_key` rule.
fn claim_lookup_key(store: &mut Store, account: &str, price_id: &str, key: &str, transfer: bool) -> ApiResult<()> {
    let acct = store.account_mut(account);
    let holder = acct
        .col(Kind::Price)
        .oldest_first()
        .find(|pr| pr["lookup_key"] == key && pr["id"] != price_id)
        .map(|pr| pr["id"].as_str().unwrap_or_default().to_string());
    if let Some(other) = holder {
        if !transfer {
            return Err(ApiError::bad(
                format!("A price (`{other}`) already uses that lookup key."),
                Some("lookup_key"),
            ));
        }
        if let Some(o) = acct.col_mut(Kind::Price).get_mut(&other) {
            o["lookup_key"] = Value::Null;
            let o = o.clone();
            store.emit(account, "price.updated", &o, Some(json!({"lookup_key": key})));
        }
    }
    Ok(())
}

const PRICE_FIELDS: &[&str] = &[
    "currency",
    "unit_amount",
    "unit_amount_decimal",
    "product",
    "product_data",
    "recurring",
    "lookup_key",
    "transfer_lookup_key",
    "nickname",
    "metadata",
    "active",
    "tax_behavior",
    "billing_scheme",
    "tiers",
    "tiers_mode",
    "transform_quantity",
    "custom_unit_amount",
    "currency_options",
];

/// `POST /v1/prices`.
pub(super) fn create_price(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(PRICE_FIELDS)?;
    let currency = crate::currency::check(&p.req_str("currency")?, "currency")?;
    let amount = match (p.amount("unit_amount")?, p.nonempty("unit_amount_decimal")?) {
        (Some(a), _) => a,
        (None, Some(d)) => d
            .parse::<f64>()
            .ok()
            .filter(|f| (0.0..=99_999_999.0).contains(f))
            .map(|f| f.round() as i64)
            .ok_or_else(|| ApiError::bad(format!("Invalid decimal: {d}"), Some("unit_amount_decimal")))?,
        (None, None) => {
            if p.has("custom_unit_amount") {
                0
            } else {
                return Err(ApiError::param_missing("unit_amount"));
            }
        }
    };
    let recurring = recurring_of(p)?;
    let now = store.now();
    let product = match (p.nonempty("product")?, p.sub("product_data")?) {
        (Some(pid), _) => {
            let acct = store.account_mut(account);
            let prod = acct.get(Kind::Product, &pid, "product")?;
            if prod.get("deleted").is_some() {
                return Err(ApiError::missing("product", &pid, "product"));
            }
            pid
        }
        (None, Some(pd)) => {
            pd.allow(&["name", "active", "metadata", "id", "statement_descriptor", "tax_code", "unit_label"])?;
            let mut prod = objects::product(pd.nonempty("id")?, &pd.req_str("name")?, now);
            pd.apply_metadata(&mut prod)?;
            let id = prod["id"].as_str().unwrap_or_default().to_string();
            store.account_mut(account).put(Kind::Product, prod.clone());
            store.emit(account, "product.created", &prod, None);
            id
        }
        (None, None) => return Err(ApiError::param_missing("product")),
    };
    let mut price = objects::price(&product, &currency, amount, recurring, now);
    let price_id = price["id"].as_str().unwrap_or_default().to_string();
    if let Some(key) = p.nonempty("lookup_key")? {
        if key.len() > 200 {
            return Err(ApiError::bad("lookup_key must be at most 200 characters.", Some("lookup_key")));
        }
        claim_lookup_key(store, account, &price_id, &key, p.bool("transfer_lookup_key")?.unwrap_or(false))?;
        price["lookup_key"] = json!(key);
    }
    price["nickname"] = json!(p.nonempty("nickname")?);
    if let Some(a) = p.bool("active")? {
        price["active"] = json!(a);
    }
    if let Some(t) = p.one_of("tax_behavior", &["inclusive", "exclusive", "unspecified"])? {
        price["tax_behavior"] = json!(t);
    }
    p.apply_metadata(&mut price)?;
    store.account_mut(account).put(Kind::Price, price.clone());
    store.emit(account, "price.created", &price, None);
    retrieve(store, account, Kind::Price, &price_id, p)
}

/// `POST /v1/prices/{id}`.
pub(super) fn update_price(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "active",
        "metadata",
        "nickname",
        "lookup_key",
        "transfer_lookup_key",
        "tax_behavior",
        "currency_options",
    ])?;
    store.account_mut(account).get(Kind::Price, id, "id")?;
    if let Some(key) = p.nonempty("lookup_key")? {
        claim_lookup_key(store, account, id, &key, p.bool("transfer_lookup_key")?.unwrap_or(false))?;
    }
    let acct = store.account_mut(account);
    let price = acct.get_mut(Kind::Price, id, "id")?;
    let mut previous = json!({});
    if let Some(a) = p.bool("active")?
        && price["active"] != a
    {
        previous["active"] = price["active"].clone();
        price["active"] = json!(a);
    }
    for key in ["nickname", "lookup_key"] {
        if let Some(v) = p.str(key)? {
            let v = if v.is_empty() { Value::Null } else { json!(v) };
            if price[key] != v {
                previous[key] = price[key].clone();
                price[key] = v;
            }
        }
    }
    if let Some(old) = p.apply_metadata(price)? {
        previous["metadata"] = old;
    }
    let price = price.clone();
    if previous.as_object().is_some_and(|m| !m.is_empty()) {
        store.emit(account, "price.updated", &price, Some(previous));
    }
    retrieve(store, account, Kind::Price, id, p)
}

/// `GET /v1/prices` with `lookup_keys[]`, `product`, `active`, `type`, `currency`, `recurring[interval]`.
pub(super) fn list_prices(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["lookup_keys", "product", "active", "type", "currency", "recurring"])?;
    let keys = p.str_list("lookup_keys")?;
    let product = p.nonempty("product")?;
    let active = p.bool("active")?;
    let kind = p.one_of("type", &["one_time", "recurring"])?;
    let currency = p.nonempty("currency")?;
    let interval = match p.sub("recurring")? {
        Some(r) => r.nonempty("interval")?,
        None => None,
    };
    list_where(store, account, Kind::Price, "/v1/prices", p, |v| {
        Ok((keys.is_empty() || keys.iter().any(|k| v["lookup_key"] == k.as_str()))
            && product.as_ref().is_none_or(|pr| v["product"] == pr.as_str())
            && active.is_none_or(|a| v["active"] == a)
            && kind.as_ref().is_none_or(|t| v["type"] == t.as_str())
            && currency.as_ref().is_none_or(|c| v["currency"] == c.as_str())
            && interval.as_ref().is_none_or(|i| v["recurring"]["interval"] == i.as_str()))
    })
}
