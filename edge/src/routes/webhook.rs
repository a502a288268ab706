//! `POST /v1/webhooks/stripe`: Stripe's endpoint (platform and Connect events alike). latch-core verifies the
//! signature against every configured secret and parses the event; the event is routed to its site by its Stripe
//! account, deduplicated by id, and applied by the engine with everything written in one D1 batch. A signed event
//! Latch cannot read is kept and acknowledged, never refused for Stripe to retry.

use latch_core::connect::CatalogUpdate;
use latch_core::engine::Input;
use latch_core::event::Event;
use latch_core::webhook;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::db::{self, Site};
use crate::error::{ApiError, ApiResult};
use crate::grants::{self, Origin};
use crate::http;
use crate::routes::{catalog_sync, connect};

/// Largest webhook body accepted (Stripe's events are far smaller); refused before it is buffered.
const MAX_EVENT_BYTES: usize = 512 * 1024;

/// Handles a delivery.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let header = req
        .headers()
        .get("Stripe-Signature")
        .ok()
        .flatten()
        .ok_or_else(|| ApiError::new(400, "invalid_signature", "the Stripe-Signature header is missing"))?;
    let body = http::read_body(req, MAX_EVENT_BYTES).await?;
    let secrets: Vec<&str> = ctx.config.webhook_secrets.iter().map(String::as_str).collect();
    webhook::verify(&body, &header, &secrets, ctx.now, webhook::DEFAULT_TOLERANCE_SECS)
        .map_err(|e| ApiError::new(400, "invalid_signature", e.to_string()))?;
    let event = match Event::parse(&body) {
        Ok(event) => event,
        // Signed by Stripe but unreadable here: a retry would fail the same way for days and get the endpoint
        // disabled, so it is kept for the operator and acknowledged.
        Err(e) => return unreadable(ctx, &body, &e.to_string()).await,
    };

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
    let Some(site) = site_for(ctx, event.account.as_deref()).await? else {
        // Not ours to act on (no site has this account): remember it so retries are no-ops.
        db::batch(&ctx.db, vec![db::mark_event_processed(&ctx.db, &event.id, None, &event.kind, ctx.now)?]).await?;
        return http::json(200, &serde_json::json!({ "received": true, "ignored": "no site for this event" }));
    };
    let catalog = grants::catalog(ctx, &site).await?;
    let origin = Origin { event_id: Some(&event.id), kind: &event.kind, cause: &event.id, round: 0, notify: true };
    grants::apply(ctx, &site, &catalog, Input::Event(&event), &origin, extra).await?;
    http::json(200, &serde_json::json!({ "received": true }))
}

/// The site an event belongs to, by its Stripe account and nothing else: a Connect event (`account`) goes to the
/// site connected to that account; a platform event to the one site the operator put on the platform's account.
/// (Within the site, the engine still ignores objects whose `latch_site` metadata names another site.)
async fn site_for(ctx: &Ctx, account: Option<&str>) -> ApiResult<Option<Site>> {
    Ok(match account {
        Some(account) => db::site_by_account(&ctx.db, account).await?,
        None => db::platform_site(&ctx.db).await?,
    })
}

/// Keeps a validly signed event Latch could not read (`unreadable_events`, for the operator) and acknowledges it.
async fn unreadable(ctx: &Ctx, body: &[u8], error: &str) -> ApiResult<Response> {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| value.as_ref().and_then(|v| v[name].as_str()).map(str::to_owned);
    let (event_id, account) = (field("id"), field("account"));
    let site = match account.as_deref() {
        Some(account) => db::site_by_account(&ctx.db, account).await?.map(|s| s.id),
        None => None,
    };
    worker::console_error!("unreadable Stripe event {event_id:?}: {error}");
    db::unreadable_event(
        &ctx.db,
        event_id.as_deref(),
        site.as_deref(),
        error,
        &String::from_utf8_lossy(body),
        ctx.now,
    )?
    .run()
    .await?;
    http::json(200, &serde_json::json!({ "received": true, "stored": "unreadable" }))
}
