//! Events: created for every state change, stored per account, and handed to webhook delivery.

use crate::ids::new_id;
use crate::objects::template;
use crate::store::{Kind, Store};
use crate::webhooks::Target;
use serde_json::{Value, json};
use std::sync::Arc;

/// Endpoint configuration given on the command line (`--webhook URL=whsec_…`); receives every event of
/// every account.
#[derive(Debug, Clone)]
pub struct CliEndpoint {
    /// Endpoint URL.
    pub url: String,
    /// Signing secret.
    pub secret: String,
}

impl Store {
    /// Records an event of `kind` about `object` in `account` (with `previous_attributes` for `*.updated`)
    /// and queues it for every matching webhook endpoint. Returns the event id.
    pub fn emit(&mut self, account: &str, kind: &str, object: &Value, previous: Option<Value>) -> String {
        let now = self.now();
        let targets = self.targets(account, kind);
        let mut ev = template("event");
        let id = new_id("evt");
        ev["id"] = json!(id);
        ev["type"] = json!(kind);
        ev["created"] = json!(now);
        ev["livemode"] = json!(self.livemode);
        ev["api_version"] = json!(self.api_version);
        ev["data"] = json!({ "object": public(object) });
        if let Some(p) = previous {
            ev["data"]["previous_attributes"] = p;
        }
        ev["pending_webhooks"] = json!(targets.len());
        ev["request"] = match &self.request {
            Some(r) => json!({ "id": r.id, "idempotency_key": r.idempotency_key }),
            None => json!({ "id": null, "idempotency_key": null }),
        };
        if account != self.platform {
            ev["account"] = json!(account);
        }
        self.account_mut(account).put(Kind::Event, ev.clone());
        self.deliver(account, &ev, &targets);
        id
    }

    /// Queues `ev` for each target, rendered in the target's API version (one body per version).
    fn deliver(&self, account: &str, ev: &Value, targets: &[Target]) {
        let id = ev["id"].as_str().unwrap_or_default();
        let kind = ev["type"].as_str().unwrap_or_default();
        let mut versions: Vec<&str> = targets.iter().map(|t| t.api_version.as_str()).collect();
        versions.sort_unstable();
        versions.dedup();
        for version in versions {
            let mut body = crate::versions::render(ev, version, self.account(account));
            body["api_version"] = json!(version);
            let same: Vec<Target> = targets.iter().filter(|t| t.api_version == version).cloned().collect();
            let ahead = self.now() - crate::clock::real_now();
            self.dispatcher.enqueue(id, kind, Arc::new(event_body(&body)), &same, ahead);
        }
    }

    /// Re-sends a stored event (same id, same body) to every endpoint that matches it now.
    /// Returns how many endpoints it went to, or `None` if no such event.
    pub fn redeliver(&self, event_id: &str) -> Option<usize> {
        let account = self.account_of(event_id)?;
        let ev = self.account(&account)?.col(Kind::Event).get(event_id)?.clone();
        let targets = self.targets(&account, ev["type"].as_str().unwrap_or_default());
        self.deliver(&account, &ev, &targets);
        Some(targets.len())
    }

    /// Endpoints that receive an event of `kind` from `account`: the `--webhook` ones always; endpoints
    /// created on that account; and platform endpoints created with `connect=true` for connected accounts.
    pub fn targets(&self, account: &str, kind: &str) -> Vec<Target> {
        let mut out: Vec<Target> = self
            .cli_endpoints
            .iter()
            .enumerate()
            .map(|(i, e)| Target {
                id: format!("cli_{i}"),
                url: e.url.clone(),
                secret: e.secret.clone(),
                api_version: self.api_version.clone(),
            })
            .collect();
        let is_connected = account != self.platform;
        for acct in self.accounts.values() {
            let own = acct.id == account;
            let via_connect = is_connected && acct.is_platform;
            if !own && !via_connect {
                continue;
            }
            for we in acct.col(Kind::WebhookEndpoint).oldest_first() {
                if we["status"] != "enabled" || we.get("deleted").is_some() {
                    continue;
                }
                let connect = we["_connect"].as_bool().unwrap_or(false);
                if (own && connect && acct.is_platform) || (via_connect && !connect) {
                    continue;
                }
                let wants = we["enabled_events"].as_array().is_some_and(|a| a.iter().any(|e| e == "*" || e == kind));
                if wants {
                    out.push(Target {
                        id: we["id"].as_str().unwrap_or_default().to_string(),
                        url: we["url"].as_str().unwrap_or_default().to_string(),
                        secret: we["_secret"].as_str().unwrap_or_default().to_string(),
                        api_version: we["api_version"].as_str().unwrap_or(&self.api_version).to_string(),
                    });
                }
            }
        }
        out
    }
}

/// The body Stripe posts: the event, pretty-printed (verifiers must use the raw bytes, not re-serialize).
pub fn event_body(ev: &Value) -> String {
    serde_json::to_string_pretty(ev).unwrap_or_default()
}

/// Removes the emulator's private fields (`_secret`, `_connect`, ...) before an object leaves the emulator.
pub fn public(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), public(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(public).collect()),
        other => other.clone(),
    }
}
