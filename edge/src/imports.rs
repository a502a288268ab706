//! Imports of a linked product's existing subscribers, in steps small enough for a Worker invocation.
//!
//! A job (`import_jobs`) walks every price of the product and, for each, Stripe's subscription list one page
//! (up to 100) at a time with `starting_after`. Each step applies one page through the access engine
//! (`grants::apply` with `Input::Fetched`, so grants and activity rows are written like for any fetched object),
//! creates members from the expanded customers' emails, stores the new cursor, and schedules the next step as a
//! fresh request: a `wait_until` self-call to `POST /internal/v1/imports/{id}/step` carrying the operator token.
//! Steps are idempotent (grants are keyed by customer, product and subscription; members by email) and the
//! cursor only moves forward from the value the step read, so a lost or repeated step is harmless and
//! `POST /owner/v1/sites/{site}/imports/{id}/resume` continues an interrupted job.

use latch_core::engine::Input;
use latch_core::event::StripeObject;
use latch_core::member;
use latch_core::plan::Origin;
use latch_core::stripe_request;
use latch_core::validate;
use worker::{Fetch, Headers, Request, RequestInit, Response};

use crate::auth::require_operator;
use crate::context::{Ctx, random_id};
use crate::error::{ApiError, ApiResult};
use crate::http::edge_origin;
use crate::store::{self, ImportProgress, Site};
use crate::{grants, http, stripe};

/// An import job, as stored and as shown.
pub(crate) use crate::store::ImportJob as Job;

/// Creates a job for a freshly linked product and schedules its first step.
pub(crate) async fn create(ctx: &Ctx, site: &Site, slug: &str, edge: &str) -> ApiResult<Job> {
    let id = random_id("imp")?;
    let first = store::price_after(&ctx.db, &site.id, slug, "").await?;
    store::insert_import_job(&ctx.db, &id, &site.id, slug, first.as_deref(), ctx.now).await?;
    if first.is_some() {
        schedule(ctx, edge, &id)?;
    }
    get(ctx, &site.id, &id).await?.ok_or_else(|| ApiError::internal("import job vanished"))
}

/// One job of a site.
pub(crate) async fn get(ctx: &Ctx, site: &str, id: &str) -> ApiResult<Option<Job>> {
    Ok(store::import_job(&ctx.db, site, id).await?)
}

/// A site's jobs, newest first.
pub(crate) async fn list(ctx: &Ctx, site: &str) -> ApiResult<Vec<Job>> {
    Ok(store::import_jobs(&ctx.db, site).await?)
}

/// Runs the job's next step in a fresh request after this one answers.
pub(crate) fn schedule(ctx: &Ctx, edge: &str, id: &str) -> ApiResult<()> {
    let worker = ctx.worker.as_ref().ok_or_else(|| ApiError::internal("no execution context to continue an import"))?;
    let url = format!("{edge}/internal/v1/imports/{id}/step");
    let token = ctx.config.admin_token.clone();
    worker.wait_until(async move {
        let send = async {
            let headers = Headers::new();
            headers.set("Authorization", &format!("Bearer {token}"))?;
            let mut init = RequestInit::new();
            init.with_method(worker::Method::Post).with_headers(headers);
            let resp = Fetch::Request(Request::new_with_init(&url, &init)?).send().await?;
            Ok::<u16, worker::Error>(resp.status_code())
        };
        match send.await {
            Ok(status) if status < 300 => {}
            Ok(status) => worker::console_warn!("import step {url} answered {status}; resume it from the dashboard"),
            Err(e) => worker::console_warn!("import step {url} failed: {e}; resume it from the dashboard"),
        }
    });
    Ok(())
}

/// `POST /internal/v1/imports/{id}/step` (operator token): one page of one job.
pub(crate) async fn step_route(ctx: &Ctx, req: &Request, id: &str) -> ApiResult<Response> {
    require_operator(ctx, req)?;
    let edge = edge_origin(req)?;
    let site_id = store::site_of_import_job(&ctx.db, id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    let site = store::site(&ctx.db, &site_id).await?.ok_or_else(|| ApiError::not_found("site"))?;
    let job = get(ctx, &site.id, id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    match step(ctx, &site, &job).await {
        Ok(Some(next)) => {
            if next.done == 0 {
                schedule(ctx, &edge, &next.id)?;
            }
            http::json(200, &next)
        }
        Ok(None) => http::json(200, &job),
        Err(e) => {
            store::record_import_error(&ctx.db, &job.id, &e.message, ctx.now).await?;
            Err(e)
        }
    }
}

/// Applies one page; answers the job as it now stands, or `None` if it was done or another step moved it first.
async fn step(ctx: &Ctx, site: &Site, job: &Job) -> ApiResult<Option<Job>> {
    let Some(price) = job.price.as_deref().filter(|_| job.done == 0) else { return Ok(None) };
    let request = stripe_request::list_subscriptions_page(price, job.cursor.as_deref()).on_account(site.stripe()?);
    let body = stripe::send_raw(&ctx.config, &request).await.map_err(ApiError::stripe_for_owner)?;
    let page: serde_json::Value = serde_json::from_str(&body).map_err(ApiError::internal)?;
    let items = page["data"].as_array().cloned().unwrap_or_default();
    let (mut imported, mut skipped) = (0i64, 0i64);
    for item in &items {
        let bytes = serde_json::to_vec(item).map_err(ApiError::internal)?;
        let object = StripeObject::parse(&bytes).map_err(|e| ApiError::internal(format!("subscription: {e}")))?;
        let StripeObject::Subscription(sub) = &object else { continue };
        if !latch_core::catalog::importable(&sub.status) {
            skipped += 1;
            continue;
        }
        let email = item["customer"]["email"].as_str().and_then(|e| validate::email(e).ok());
        // The customer's email in Stripe proves nothing: each imported customer gets its own unverified member,
        // which joins the verified one when that person signs in with a code (`latch_core::member`).
        let extra = match (email, sub.customer.as_deref()) {
            (Some(email), Some(customer)) => {
                let plan = member::link_purchase(&site.id, customer, &email, None);
                store::link_purchase(&ctx.db, &site.id, &plan, ctx.now)?
            }
            _ => Vec::new(),
        };
        let input = Input::Fetched { object: &object };
        let origin = Origin { event_id: None, cause: &sub.id, round: 0, notify: false };
        grants::apply(ctx, site, input, origin, extra).await?;
        imported += 1;
    }
    let last = items.last().and_then(|i| i["id"].as_str()).map(str::to_owned);
    let (next_price, cursor) = if page["has_more"].as_bool() == Some(true) && last.is_some() {
        (Some(price.to_owned()), last)
    } else {
        (store::price_after(&ctx.db, &site.id, &job.product, price).await?, None)
    };
    let progress = ImportProgress { price: next_price.as_deref(), cursor: cursor.as_deref(), imported, skipped };
    if !store::advance_import_job(&ctx.db, &job.id, price, job.cursor.as_deref(), &progress, ctx.now).await? {
        return Ok(None);
    }
    get(ctx, &site.id, &job.id).await
}
