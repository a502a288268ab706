//! `GET /v1/sites/{site}/catalog`: what a site sells, for the widget's buttons and locked cards.

use latch_core::api::{CatalogPrice, CatalogProduct};
use latch_core::catalog;
use worker::Response;

use crate::context::Ctx;
use crate::error::ApiResult;
use crate::http;
use crate::store::{self, Price, Store};

/// How often the live check's "seen" time is refreshed per site.
const SEEN_EVERY_SECS: i64 = 300;

/// Remembers, after the answer, that the widget ran on an allowed origin of the site (the dashboard's Install page
/// shows it). At most one write per site every [`SEEN_EVERY_SECS`], or when the origin changes.
fn record_seen(ctx: &Ctx, site: &str) -> ApiResult<()> {
    let (Some(origin), Some(worker)) = (&ctx.origin, &ctx.worker) else { return Ok(()) };
    let statement = store::record_seen_origin(&ctx.db, site, origin, ctx.now, ctx.now - SEEN_EVERY_SECS)?;
    // After the answer, on a store of its own (the request's is gone by then).
    let store = Store::new(ctx.env.d1("DB")?);
    worker.wait_until(async move {
        if let Err(e) = store.run(statement).await {
            worker::console_warn!("recording where the widget ran failed: {e}");
        }
    });
    Ok(())
}

/// A stored price as the catalog shows it.
fn catalog_price(p: Price) -> CatalogPrice {
    CatalogPrice {
        id: p.id,
        lookup_key: p.lookup_key,
        unit_amount: p.unit_amount,
        currency: p.currency,
        interval: p.interval,
        trial_days: p.trial_days,
    }
}

/// Answers the site's products and active prices (`latch_core::api::Catalog`).
pub(crate) async fn get(ctx: &Ctx, site_id: &str) -> ApiResult<Response> {
    let site = ctx.site(site_id).await?;
    record_seen(ctx, &site.id)?;
    let prices = store::prices(&ctx.db, &site.id).await?;
    let prices = prices.into_iter().map(|p| (p.product_slug.clone(), catalog_price(p))).collect();
    let products = store::products(&ctx.db, &site.id)
        .await?
        .into_iter()
        .map(|p| {
            let sold = p.active != 0;
            let product = CatalogProduct {
                slug: p.slug,
                name: p.name,
                checkout: p.checkout_enabled != 0,
                purchase_method: p.purchase_method,
                purchase_url: p.purchase_url,
                locked_card: p.show_locked_card != 0,
                prices: Vec::new(),
            };
            (product, sold)
        })
        .collect();
    http::json(200, &catalog::public_catalog(&site.id, products, prices))
}
