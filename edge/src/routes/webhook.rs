//! `POST /v1/webhooks/stripe`: Stripe's endpoint (platform and Connect events alike). latch-core verifies the
//! signature against every configured secret and parses the event; one D1 batch reads what
//! `latch_core::delivery::reads` names (the processed id, the site of the event's account, its products, the grants
//! in scope, its owners), `latch_core::delivery::plan` decides everything, and one batch writes it: two round trips.
//! The write batch opens with the processed marker: of two deliveries of one event racing past the read, the second
//! fails on it and writes nothing. A signed event Latch cannot read is kept and acknowledged, never refused for
//! Stripe to retry.

use latch_core::delivery::{self, Answer, CatalogWrite};
use latch_core::event::Event;
use latch_core::webhook;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store;
use crate::{grants, http};

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

    // One crossing: read what core names (one batch), core plans, write the plan (one batch).
    let read = store::delivery_reads(&ctx.db, &delivery::reads(&event)).await?;
    let plan = delivery::plan(&event, &read, &ctx.config.stripe_key, ctx.now);
    let site = plan.site.as_deref();
    let mut statements = Vec::new();
    if plan.processed {
        statements.push(store::mark_event_processed(&ctx.db, &event.id, site, &event.kind, ctx.now)?);
    }
    if let Some(account) = &plan.disconnect {
        statements.push(store::mark_disconnected(&ctx.db, account)?);
    }
    if let Some(site) = site {
        for change in &plan.catalog {
            statements.push(match change {
                CatalogWrite::Product { stripe_product, name, active } => {
                    store::update_product_from_stripe(&ctx.db, site, stripe_product, name, *active)?
                }
                CatalogWrite::Price { slug, price } => store::upsert_price(&ctx.db, site, slug, price)?,
            });
        }
        if let Some(writes) = &plan.engine {
            statements.extend(grants::write(ctx, site, writes, Some(&event.id))?);
        }
    }
    match store::batch(&ctx.db, statements).await {
        Ok(()) => http::json(200, &plan.answer.body()),
        // A concurrent delivery of the same event wrote it first; this batch wrote nothing.
        Err(e) if store::lost_event_race(&e) => http::json(200, &Answer::Duplicate.body()),
        Err(e) => Err(e.into()),
    }
}

/// Keeps a validly signed event Latch could not read (`unreadable_events`, for the operator) and acknowledges it.
async fn unreadable(ctx: &Ctx, body: &[u8], error: &str) -> ApiResult<Response> {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| value.as_ref().and_then(|v| v[name].as_str()).map(str::to_owned);
    let (event_id, account) = (field("id"), field("account"));
    let site = match account.as_deref() {
        Some(account) => store::site_by_account(&ctx.db, account).await?.map(|s| s.id),
        None => None,
    };
    worker::console_error!("unreadable Stripe event {event_id:?}: {error}");
    store::unreadable_event(
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
