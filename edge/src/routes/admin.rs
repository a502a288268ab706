//! `/admin/v1`: the operator's API (bearer `ADMIN_TOKEN`) to create sites and products. Used by `cargo xtask dev`
//! to seed the demo site; the dashboard will build on the same operations.

use latch_core::stripe_request::{self, NewPrice};
use latch_core::validate;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::db::{self, Arg};
use crate::error::{ApiError, ApiResult};
use crate::{http, stripe};

fn authorize(ctx: &Ctx, req: &Request) -> ApiResult<()> {
    let token = http::bearer(req).unwrap_or_default();
    if bool::from(token.as_bytes().ct_eq(ctx.config.admin_token.as_bytes())) {
        Ok(())
    } else {
        Err(ApiError::unauthorized("the operator token is missing or wrong"))
    }
}

#[derive(Deserialize, Serialize)]
struct NewSite {
    id: String,
    name: String,
    allowed_origins: Vec<String>,
}

/// `POST /admin/v1/sites` `{id, name, allowed_origins}`.
pub(crate) async fn create_site(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    authorize(ctx, req)?;
    let site: NewSite = http::json_body(req).await?;
    let key = site.id.strip_prefix("site_").ok_or_else(|| ApiError::bad_request("site ids start with site_"))?;
    validate::slug(key)?;
    let origins = site.allowed_origins.iter().map(|o| validate::origin_of(o)).collect::<Result<Vec<_>, _>>()?;
    let origins_json = serde_json::to_string(&origins).map_err(ApiError::internal)?;
    db::statement(
        &ctx.db,
        "INSERT INTO sites (id, name, allowed_origins, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, allowed_origins = excluded.allowed_origins",
        &[Arg::Text(&site.id), Arg::Text(&site.name), Arg::Text(&origins_json), Arg::Int(ctx.now)],
    )?
    .run()
    .await?;
    http::json(200, &NewSite { allowed_origins: origins, ..site })
}

#[derive(Deserialize)]
struct NewProduct {
    slug: String,
    name: String,
    prices: Vec<NewProductPrice>,
}

#[derive(Deserialize)]
struct NewProductPrice {
    unit_amount: u64,
    currency: String,
    interval: Option<String>,
    lookup_key: Option<String>,
    #[serde(default)]
    trial_days: u32,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// `POST /admin/v1/sites/{site}/products` `{slug, name, prices: [...]}`: creates the product and its prices in
/// the site's Stripe account, then records them.
pub(crate) async fn create_product(ctx: &Ctx, req: &mut Request, site_id: &str) -> ApiResult<Response> {
    authorize(ctx, req)?;
    let body: NewProduct = http::json_body(req).await?;
    validate::slug(&body.slug)?;
    let site = db::site(&ctx.db, site_id).await?.ok_or_else(|| ApiError::not_found("site"))?;
    let account = site.stripe_account.as_deref();
    let scope = format!("admin:{}:{}", site.id, body.slug);
    let product: Created = stripe::send(
        &ctx.config,
        &stripe_request::create_product(&body.name, &body.slug).on_account(account).idempotent(&scope),
    )
    .await?;
    let mut statements = vec![db::statement(
        &ctx.db,
        "INSERT INTO products (site_id, slug, name, stripe_product, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (site_id, slug) DO UPDATE SET name = excluded.name, stripe_product = excluded.stripe_product",
        &[Arg::Text(&site.id), Arg::Text(&body.slug), Arg::Text(&body.name), Arg::Text(&product.id), Arg::Int(ctx.now)],
    )?];
    for p in &body.prices {
        if let Some(key) = &p.lookup_key {
            validate::slug(key)?;
        }
        let request = stripe_request::create_price(&NewPrice {
            product: &product.id,
            unit_amount: p.unit_amount,
            currency: &p.currency.to_ascii_lowercase(),
            interval: p.interval.as_deref(),
            lookup_key: p.lookup_key.as_deref(),
        });
        let price: Created = stripe::send(&ctx.config, &request.on_account(account).idempotent(&scope)).await?;
        statements.push(db::statement(
            &ctx.db,
            "INSERT INTO prices (site_id, id, product_slug, lookup_key, unit_amount, currency, interval, trial_days) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (site_id, id) DO NOTHING",
            &[
                Arg::Text(&site.id),
                Arg::Text(&price.id),
                Arg::Text(&body.slug),
                Arg::OptText(p.lookup_key.as_deref()),
                Arg::Int(i64::try_from(p.unit_amount).map_err(|_| ApiError::bad_request("unit_amount is too large"))?),
                Arg::Text(&p.currency.to_ascii_lowercase()),
                Arg::OptText(p.interval.as_deref()),
                Arg::Int(i64::from(p.trial_days)),
            ],
        )?);
    }
    db::batch(&ctx.db, statements).await?;
    http::json(200, &serde_json::json!({ "slug": body.slug, "stripe_product": product.id }))
}
