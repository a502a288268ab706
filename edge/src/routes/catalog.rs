//! `GET /v1/sites/{site}/catalog`: what a site sells, for the widget's buttons and locked cards.

use serde::Serialize;
use worker::Response;

use crate::context::Ctx;
use crate::db::{self, Price};
use crate::error::ApiResult;
use crate::http;

#[derive(Serialize)]
struct Catalog {
    site: String,
    products: Vec<CatalogProduct>,
}

#[derive(Serialize)]
struct CatalogProduct {
    slug: String,
    name: String,
    checkout: bool,
    /// `stripe_checkout`, `sales_page` or `external`.
    purchase_method: String,
    /// Where buttons go when the purchase method is not Stripe Checkout.
    purchase_url: Option<String>,
    prices: Vec<Price>,
}

/// Answers the site's products and active prices.
pub(crate) async fn get(ctx: &Ctx, site_id: &str) -> ApiResult<Response> {
    let site = ctx.site(site_id).await?;
    let mut prices = db::prices(&ctx.db, &site.id).await?;
    let products = db::products(&ctx.db, &site.id)
        .await?
        .into_iter()
        .filter(|p| p.active != 0)
        .map(|p| {
            let (mine, rest): (Vec<_>, Vec<_>) = prices.drain(..).partition(|price| price.product_slug == p.slug);
            prices = rest;
            CatalogProduct {
                slug: p.slug,
                name: p.name,
                checkout: p.checkout_enabled != 0,
                purchase_method: p.purchase_method,
                purchase_url: p.purchase_url,
                prices: mine,
            }
        })
        .collect();
    http::json(200, &Catalog { site: site.id, products })
}
