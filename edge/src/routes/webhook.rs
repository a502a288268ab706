//! `POST /v1/webhooks/stripe`: Stripe's endpoint (platform and Connect events alike). latch-core verifies the
//! signature against every configured secret and parses the event; the event is routed to its site, deduplicated
//! by id, and applied by the engine with everything written in one D1 batch.

use latch_core::connect::CatalogUpdate;
use latch_core::engine::META_SITE;
use latch_core::engine::{self, Input};
use latch_core::event::{Event, StripeObject};
use latch_core::webhook;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::db::{self, Site};
use crate::error::{ApiError, ApiResult};
use crate::grants::{self, Origin};
use crate::http;
use crate::routes::{catalog_sync, connect};

/// Largest webhook body accepted (Stripe's events are far smaller).
const MAX_EVENT_BYTES: usize = 512 * 1024;

/// Handles a delivery.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let header = req
        .headers()
        .get("Stripe-Signature")
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::new(400, "invalid_signature", "the Stripe-Signature header is missing"))?;
    let body = req.bytes().await.map_err(|_| ApiError::bad_request("the body could not be read"))?;
    if body.len() > MAX_EVENT_BYTES {
        return Err(ApiError::new(413, "body_too_large", "the event is too large"));
    }
    let secrets: Vec<&str> = ctx.config.webhook_secrets.iter().map(String::as_str).collect();
    webhook::verify(&body, &header, &secrets, ctx.now, webhook::DEFAULT_TOLERANCE_SECS)
        .map_err(|e| ApiError::new(400, "invalid_signature", e.to_string()))?;
    let event = Event::parse(&body).map_err(|e| ApiError::new(400, "invalid_event", e.to_string()))?;

    if db::event_processed(&ctx.db, &event.id).await? {
        return http::json(200, &serde_json::json!({ "received": true, "duplicate": true }));
    }
    let mut extra = Vec::new();
    match latch_core::connect::catalog_update(&event, &body) {
        // Disconnection: the site is marked in the same batch as the engine's activity and the owners' email.
        Some(CatalogUpdate::Deauthorized { account }) => extra.push(connect::disconnected_statement(ctx, &account)?),
        Some(update) => return catalog_sync::apply(ctx, &event, update).await,
        None => {}
    }
    let input = Input::Event(&event);
    let Some(site) = site_for(ctx, &event, &input).await? else {
        // Not ours to act on (no site knows this account, metadata or customer): remember it so retries are no-ops.
        db::batch(&ctx.db, vec![db::mark_event_processed(&ctx.db, &event.id, None, &event.kind, ctx.now)?]).await?;
        return http::json(200, &serde_json::json!({ "received": true, "ignored": "no site for this event" }));
    };
    let catalog = grants::catalog(ctx, &site).await?;
    let origin = Origin { event_id: Some(&event.id), kind: &event.kind, cause: &event.id, round: 0, notify: true };
    grants::apply(ctx, &site, &catalog, input, &origin, extra).await?;
    http::json(200, &serde_json::json!({ "received": true }))
}

/// The site an event belongs to: by connected account; else by the `latch_site` metadata Latch puts on the
/// objects it creates; else by a customer or object some site already knows.
async fn site_for(ctx: &Ctx, event: &Event, input: &Input<'_>) -> ApiResult<Option<Site>> {
    if let Some(account) = &event.account {
        return Ok(db::site_by_account(&ctx.db, account).await?);
    }
    if let Some(site) = site_metadata(&event.object) {
        return Ok(db::site(&ctx.db, site).await?.filter(|s| s.stripe_account.is_none()));
    }
    let scope = engine::scope(input);
    Ok(db::site_by_customer_or_source(&ctx.db, scope.customer.as_deref(), &scope.sources).await?)
}

/// The `latch_site` metadata of objects Latch created (sessions, subscriptions and their invoices).
fn site_metadata(object: &StripeObject) -> Option<&str> {
    let metadata = match object {
        StripeObject::CheckoutSession(cs) => Some(&cs.metadata),
        StripeObject::Subscription(sub) => Some(&sub.metadata),
        StripeObject::Invoice(inv) => inv.subscription_metadata(),
        _ => None,
    };
    metadata.and_then(|m| m.get(META_SITE)).map(String::as_str)
}
