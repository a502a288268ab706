//! Events, webhook endpoints and the account object.

use super::list_where;
use crate::error::{ApiError, ApiResult};
use crate::events::public;
use crate::objects;
use crate::params::Params;
use crate::store::{Kind, Store};
use serde_json::{Value, json};

fn account_object(acct: &crate::store::Account) -> Value {
    let mut a = objects::template("account");
    a["id"] = json!(acct.id);
    a["created"] = json!(acct.created);
    a["email"] = json!(acct.email);
    a["external_accounts"]["url"] = json!(format!("/v1/accounts/{}/external_accounts", acct.id));
    a
}

/// `GET /v1/account`.
pub(super) fn account(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    Ok(account_object(store.account_mut(account)))
}

/// `GET /v1/accounts/{id}`: the platform reads a connected account.
pub(super) fn connected_account(store: &mut Store, account: &str, id: &str) -> ApiResult<Value> {
    let visible = account == store.platform || account == id;
    match store.account(id).filter(|a| visible && (a.id == account || !a.deauthorized)) {
        Some(a) => Ok(account_object(a)),
        None => Err(ApiError {
            status: 404,
            ..ApiError::invalid("account_invalid", format!("No such account: '{id}'"), Some("account"))
        }),
    }
}

/// `GET /v1/events` with `type`, `types[]`, `created`.
pub(super) fn list_events(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&["type", "types", "delivery_success"])?;
    let kind = p.nonempty("type")?;
    let kinds = p.str_list("types")?;
    let matches =
        |pattern: &str, t: &str| pattern == t || pattern.strip_suffix('*').is_some_and(|prefix| t.starts_with(prefix));
    list_where(store, account, Kind::Event, "/v1/events", p, |v| {
        let t = v["type"].as_str().unwrap_or_default();
        Ok(kind.as_ref().is_none_or(|k| matches(k, t)) && (kinds.is_empty() || kinds.iter().any(|k| matches(k, t))))
    })
}

fn enabled_events(p: &Params) -> ApiResult<Vec<String>> {
    let events = p.str_list("enabled_events")?;
    for (i, e) in events.iter().enumerate() {
        let ok = e == "*" || (e.contains('.') && e.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'));
        if !ok {
            return Err(ApiError::bad(
                format!("Invalid enabled_events[{i}]: '{e}' is not a valid event type."),
                Some(&format!("enabled_events[{i}]")),
            ));
        }
    }
    Ok(events)
}

fn check_url(u: &str) -> ApiResult<()> {
    if u.starts_with("http://") || u.starts_with("https://") {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "url_invalid",
            "Invalid URL: URL must be publicly accessible and use http(s).",
            Some("url"),
        ))
    }
}

/// `POST /v1/webhook_endpoints` (answers the `secret`, only this once).
pub(super) fn create_endpoint(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["url", "enabled_events", "description", "metadata", "api_version", "connect"])?;
    let url = p.req_str("url")?;
    check_url(&url)?;
    let events = enabled_events(p)?;
    if events.is_empty() {
        return Err(ApiError::param_missing("enabled_events"));
    }
    let now = store.now();
    let mut we = objects::webhook_endpoint(&url, events, now);
    we["description"] = json!(p.nonempty("description")?);
    we["api_version"] = json!(p.nonempty("api_version")?);
    let connect = p.bool("connect")?.unwrap_or(false);
    we["application"] = Value::Null;
    we["_connect"] = json!(connect);
    p.apply_metadata(&mut we)?;
    let secret = crate::ids::webhook_secret();
    we["_secret"] = json!(secret);
    store.account_mut(account).put(Kind::WebhookEndpoint, we.clone());
    let mut out = public(&we);
    out["secret"] = json!(secret);
    Ok(out)
}

/// `GET /v1/webhook_endpoints/{id}`.
pub(super) fn retrieve_endpoint(store: &mut Store, account: &str, id: &str) -> ApiResult<Value> {
    let acct = store.account_mut(account);
    let we = acct.get(Kind::WebhookEndpoint, id, "id")?;
    if we.get("deleted").is_some() {
        return Err(ApiError::missing("webhook_endpoint", id, "id"));
    }
    Ok(public(we))
}

/// `POST /v1/webhook_endpoints/{id}`.
pub(super) fn update_endpoint(store: &mut Store, account: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["url", "enabled_events", "description", "metadata", "disabled"])?;
    let events = if p.has("enabled_events") { Some(enabled_events(p)?) } else { None };
    let url = p.nonempty("url")?;
    if let Some(u) = &url {
        check_url(u)?;
    }
    let acct = store.account_mut(account);
    let we = acct.get_mut(Kind::WebhookEndpoint, id, "id")?;
    if we.get("deleted").is_some() {
        return Err(ApiError::missing("webhook_endpoint", id, "id"));
    }
    if let Some(u) = url {
        we["url"] = json!(u);
    }
    if let Some(e) = events {
        we["enabled_events"] = json!(e);
    }
    if let Some(d) = p.str("description")? {
        we["description"] = if d.is_empty() { Value::Null } else { json!(d) };
    }
    if let Some(disabled) = p.bool("disabled")? {
        we["status"] = json!(if disabled { "disabled" } else { "enabled" });
    }
    p.apply_metadata(we)?;
    Ok(public(we))
}

/// `DELETE /v1/webhook_endpoints/{id}`.
pub(super) fn delete_endpoint(store: &mut Store, account: &str, id: &str) -> ApiResult<Value> {
    retrieve_endpoint(store, account, id)?;
    let mut stub = objects::template("deleted_webhook_endpoint");
    stub["id"] = json!(id);
    store.account_mut(account).put(Kind::WebhookEndpoint, stub.clone());
    Ok(stub)
}

/// `GET /v1/webhook_endpoints`.
pub(super) fn list_endpoints(store: &mut Store, account: &str, p: &Params) -> ApiResult<Value> {
    p.allow_list(&[])?;
    list_where(store, account, Kind::WebhookEndpoint, "/v1/webhook_endpoints", p, |_| Ok(true))
}
