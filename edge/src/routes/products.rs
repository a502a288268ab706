//! The owner API's product routes: JSON in, [`crate::manage::products`] does the work, JSON out; and imports.

use latch_core::catalog;
use worker::{Request, Response};

use crate::auth::require_site_admin;
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http::edge_origin;
use crate::manage::products::{
    LinkBody, NewProduct, NewProductPrice, ProductSettings, add_price_to, create_product, link_product, product,
    update_settings,
};
use crate::{http, imports};

/// `POST /owner/v1/sites/{site}/products` `{slug, name, prices: [...]}`: creates the product and its prices in
/// the site's Stripe account, then records them.
pub(crate) async fn create(ctx: &Ctx, req: &mut Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    site.stripe()?;
    let body: NewProduct = http::json_body(req).await?;
    let (stripe_product, prices) = create_product(ctx, &site, &body).await?;
    http::json(200, &serde_json::json!({ "slug": body.slug, "stripe_product": stripe_product, "prices": prices }))
}

/// `POST /owner/v1/sites/{site}/products/{slug}/prices` `{unit_amount, currency, interval?, trial_days?,
/// lookup_key?}`: adds a price (one-time, or recurring monthly/yearly with an optional trial).
pub(crate) async fn add_price(ctx: &Ctx, req: &mut Request, site_id: &str, slug: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    site.stripe()?;
    let body: NewProductPrice = http::json_body(req).await?;
    let price = add_price_to(ctx, &site, slug, &body).await?;
    http::json(
        200,
        &serde_json::json!({
            "id": price.id, "product": slug, "unit_amount": price.unit_amount, "currency": price.currency,
            "interval": price.recurring.as_ref().map(|r| r.interval.clone()),
            "trial_days": price.recurring.as_ref().and_then(|r| r.trial_period_days).unwrap_or(0),
            "lookup_key": price.lookup_key,
        }),
    )
}

/// `PATCH /owner/v1/sites/{site}/products/{slug}` `{checkout_enabled?, purchase_method?, purchase_url?,
/// billing_address_required?, show_locked_card?, policy?}`; answers the settings with the whole policy.
pub(crate) async fn patch(ctx: &Ctx, req: &mut Request, site_id: &str, slug: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    let body: ProductSettings = http::json_body(req).await?;
    let (checkout, method, url) = update_settings(ctx, &site, slug, &body).await?;
    let saved = product(ctx, &site, slug).await?;
    http::json(
        200,
        &serde_json::json!({
            "slug": slug, "checkout_enabled": checkout, "purchase_method": method, "purchase_url": url,
            "billing_address_required": saved.billing_address_required != 0,
            "show_locked_card": saved.show_locked_card != 0,
            "policy": catalog::policy_overrides(&saved.policy),
        }),
    )
}

/// `POST /owner/v1/sites/{site}/products/link` `{stripe_product, slug, name?}`: see [`link_product`].
pub(crate) async fn link(ctx: &Ctx, req: &mut Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    site.stripe()?;
    let body: LinkBody = http::json_body(req).await?;
    let answer = link_product(ctx, &site, body, &edge_origin(req)?).await?;
    http::json(200, &answer)
}

/// `GET /owner/v1/sites/{site}/imports`: every import of the site, newest first, with its progress.
pub(crate) async fn list_imports(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    http::json(200, &serde_json::json!({ "imports": imports::list(ctx, &site.id).await? }))
}

/// `POST /owner/v1/sites/{site}/imports/{id}/resume`: schedules the next step of an unfinished import again
/// (after an error, or if a continuation was lost).
pub(crate) async fn resume_import(ctx: &Ctx, req: &Request, site_id: &str, id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    let job = imports::get(ctx, &site.id, id).await?.ok_or_else(|| ApiError::not_found("import"))?;
    if job.done == 0 {
        imports::schedule(ctx, &edge_origin(req)?, &job.id)?;
    }
    http::json(200, &job)
}
