//! Products and prices of a site: create them in the site's Stripe account, set how a product is sold (and its
//! access policy), link an existing Stripe product (copying its prices and importing its subscribers). Shared by the
//! owner API (`routes::products`) and the dashboard (`dashboard::products`).

use latch_core::catalog::{self, StoredProduct, StripePrice};
use latch_core::engine::{Grant, ProductPolicy};
use latch_core::stripe_request::{self, NewPrice};
use latch_core::validate;
use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, ProductSale, Site};
use crate::{imports, stripe};

/// A product to create, with its first prices.
#[derive(Deserialize)]
pub(crate) struct NewProduct {
    /// Slug used in `data-latch-*` attributes.
    pub(crate) slug: String,
    /// Display name.
    pub(crate) name: String,
    /// Prices to create with it.
    #[serde(default)]
    pub(crate) prices: Vec<NewProductPrice>,
}

/// A price to create.
#[derive(Deserialize)]
pub(crate) struct NewProductPrice {
    /// Amount in the currency's smallest unit.
    pub(crate) unit_amount: u64,
    /// Three-letter currency code.
    pub(crate) currency: String,
    /// `month`, `year`, or `None` for a one-time price.
    pub(crate) interval: Option<String>,
    /// Optional lookup key.
    pub(crate) lookup_key: Option<String>,
    /// Trial days (recurring prices only).
    #[serde(default)]
    pub(crate) trial_days: u32,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// The product row of a site, or 404.
pub(crate) async fn product(ctx: &Ctx, site: &Site, slug: &str) -> ApiResult<store::Product> {
    store::products(&ctx.db, &site.id)
        .await?
        .into_iter()
        .find(|p| p.slug == slug)
        .ok_or_else(|| ApiError::not_found("product"))
}

/// Creates a product and its prices in the site's Stripe account, then records them; answers the Stripe product
/// id and the prices.
pub(crate) async fn create_product(ctx: &Ctx, site: &Site, body: &NewProduct) -> ApiResult<(String, Vec<StripePrice>)> {
    let account = site.stripe()?;
    validate::slug(&body.slug)?;
    let scope = format!("admin:{}:{}", site.id, body.slug);
    let created: Created = stripe::send(
        &ctx.config,
        &stripe_request::create_product(&body.name, &body.slug).on_account(account).idempotent(&scope),
    )
    .await
    .map_err(ApiError::stripe_for_owner)?;
    let mut statements = vec![store::upsert_product(&ctx.db, &site.id, &body.slug, &body.name, &created.id, ctx.now)?];
    let mut prices = Vec::new();
    for p in &body.prices {
        let (price, statement) = create_price(ctx, site, &body.slug, &created.id, p, &scope).await?;
        statements.push(statement);
        prices.push(price);
    }
    store::batch(&ctx.db, statements).await?;
    Ok((created.id, prices))
}

/// Creates one price at Stripe and answers it with the statement recording it.
async fn create_price(
    ctx: &Ctx,
    site: &Site,
    slug: &str,
    stripe_product: &str,
    p: &NewProductPrice,
    scope: &str,
) -> ApiResult<(StripePrice, D1PreparedStatement)> {
    let checked =
        catalog::new_price(p.unit_amount, &p.currency, p.interval.as_deref(), p.trial_days, p.lookup_key.as_deref())?;
    let request = stripe_request::create_price(&NewPrice {
        product: stripe_product,
        unit_amount: checked.unit_amount,
        currency: &checked.currency,
        interval: checked.interval,
        lookup_key: checked.lookup_key.as_deref(),
        trial_days: Some(checked.trial_days),
    });
    let price: StripePrice = stripe::send(&ctx.config, &request.on_account(site.stripe()?).idempotent(scope))
        .await
        .map_err(ApiError::stripe_for_owner)?;
    let statement = store::upsert_price(&ctx.db, &site.id, slug, &price)?;
    Ok((price, statement))
}

/// Adds a price to a product of the site (one-time, or recurring monthly/yearly with an optional trial).
pub(crate) async fn add_price_to(ctx: &Ctx, site: &Site, slug: &str, body: &NewProductPrice) -> ApiResult<StripePrice> {
    site.stripe()?;
    let product = product(ctx, site, slug).await?;
    let scope = format!("admin:{}:{}:price", site.id, product.slug);
    let (price, statement) = create_price(ctx, site, &product.slug, &product.stripe_product, body, &scope).await?;
    store::batch(&ctx.db, vec![statement]).await?;
    Ok(price)
}

/// How a product is sold; absent fields keep their value.
#[derive(Deserialize, Default)]
pub(crate) struct ProductSettings {
    /// Whether checkout is open.
    pub(crate) checkout_enabled: Option<bool>,
    /// `stripe_checkout`, `sales_page` or `external`.
    pub(crate) purchase_method: Option<String>,
    /// The sales page or external URL.
    pub(crate) purchase_url: Option<String>,
    /// Whether Stripe Checkout collects the full billing address.
    #[serde(default)]
    pub(crate) billing_address_required: Option<bool>,
    /// Whether the widget draws its locked card over the product's `data-latch-locked` elements.
    #[serde(default)]
    pub(crate) show_locked_card: Option<bool>,
    /// Access policy changes (`latch_core::engine::ProductPolicy` fields, e.g. `{"one_time": {"days": 30},
    /// "past_due_grace_days": 3}`); a field set to `null` goes back to the default.
    #[serde(default)]
    pub(crate) policy: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Sets how a product of the site is sold; answers `(checkout_enabled, purchase_method, purchase_url)`.
pub(crate) async fn update_settings(
    ctx: &Ctx,
    site: &Site,
    slug: &str,
    body: &ProductSettings,
) -> ApiResult<(bool, &'static str, Option<String>)> {
    let product = product(ctx, site, slug).await?;
    let method = body.purchase_method.as_deref().unwrap_or(&product.purchase_method);
    let url = body.purchase_url.as_deref().or(product.purchase_url.as_deref());
    let (method, url) = catalog::purchase_method(method, url).map_err(ApiError::bad_request)?;
    let checkout = body.checkout_enabled.map_or(product.checkout_enabled, i64::from);
    let billing_address = body.billing_address_required.map_or(product.billing_address_required, i64::from);
    let locked_card = body.show_locked_card.map_or(product.show_locked_card, i64::from);
    let mut policy = catalog::policy_overrides(&product.policy);
    for (field, value) in body.policy.iter().flatten() {
        if value.is_null() {
            policy.remove(field);
        } else {
            policy.insert(field.clone(), value.clone());
        }
    }
    ProductPolicy::with_overrides(&product.slug, &product.stripe_product, &policy)
        .map_err(|e| ApiError::new(400, "invalid_policy", format!("policy: {e}")))?;
    let policy = serde_json::Value::Object(policy).to_string();
    let sale = ProductSale {
        checkout_enabled: checkout,
        purchase_method: method.as_str(),
        purchase_url: url.as_deref(),
        billing_address_required: billing_address,
        show_locked_card: locked_card,
        policy: &policy,
    };
    store::update_product_sale(&ctx.db, &site.id, &product.slug, &sale).await?;
    Ok((checkout != 0, method.as_str(), url))
}

/// An existing Stripe product to link under a slug.
#[derive(Deserialize)]
pub(crate) struct LinkBody {
    /// `prod_...`
    pub(crate) stripe_product: String,
    /// The Latch slug.
    pub(crate) slug: String,
    /// Display name (default: Stripe's).
    pub(crate) name: Option<String>,
}

/// A Stripe product, as listed or retrieved.
#[derive(Deserialize)]
pub(crate) struct StripeProduct {
    /// `prod_...`
    pub(crate) id: String,
    /// Its name.
    pub(crate) name: String,
    /// False once archived.
    #[serde(default)]
    pub(crate) active: bool,
}

#[derive(Deserialize)]
struct ProductList {
    data: Vec<StripeProduct>,
}

/// The active products of the site's Stripe account (one page of 100), to pick one to link.
pub(crate) async fn stripe_products(ctx: &Ctx, site: &Site) -> ApiResult<Vec<StripeProduct>> {
    let request = stripe_request::list_products().on_account(site.stripe()?);
    let list: ProductList = stripe::send(&ctx.config, &request).await.map_err(ApiError::stripe_for_owner)?;
    Ok(list.data)
}

#[derive(Deserialize)]
struct PriceList {
    data: Vec<StripePrice>,
}

/// What linking did.
#[derive(Serialize)]
pub(crate) struct LinkAnswer {
    /// The Latch slug.
    pub(crate) slug: String,
    /// The linked Stripe product.
    pub(crate) stripe_product: String,
    /// Display name.
    pub(crate) name: String,
    /// The active prices copied.
    pub(crate) prices: Vec<StripePrice>,
    /// The import of existing subscribers.
    pub(crate) import: imports::Job,
}

/// The grants of a product (what its current link still gives).
async fn product_grants(ctx: &Ctx, site: &str, slug: &str) -> ApiResult<Vec<Grant>> {
    let rows = store::product_grants(&ctx.db, site, slug).await?;
    // An unreadable row is an error, not "no access": the link rule must not fail open.
    rows.iter()
        .map(|r| serde_json::from_str::<Grant>(&r.data))
        .collect::<Result<_, _>>()
        .map_err(|e| ApiError::internal(format!("stored grant unreadable: {e}")))
}

/// Links an existing Stripe product under a slug of the site,
/// copies its prices (archived ones stay inactive) and starts importing its active and trialing subscribers. Linking a Latch product
/// to another Stripe product is refused (409) while members still have access through it.
pub(crate) async fn link_product(ctx: &Ctx, site: &Site, body: LinkBody, edge: &str) -> ApiResult<LinkAnswer> {
    let account = site.stripe()?;
    validate::slug(&body.slug)?;
    validate::stripe_id("prod_", &body.stripe_product)?;
    let existing: Vec<StoredProduct> = store::products(&ctx.db, &site.id)
        .await?
        .into_iter()
        .map(|p| StoredProduct { slug: p.slug, name: p.name, stripe_product: p.stripe_product, policy: p.policy })
        .collect();
    let slug_grants = product_grants(ctx, &site.id, &body.slug).await?;
    catalog::check_link(&body.slug, &body.stripe_product, &existing, &slug_grants, ctx.now)?;
    let stripe_product: StripeProduct =
        stripe::send(&ctx.config, &stripe_request::retrieve_product(&body.stripe_product).on_account(account))
            .await
            .map_err(ApiError::stripe_for_owner)?;
    catalog::check_linkable(stripe_product.active)?;
    let prices: PriceList =
        stripe::send(&ctx.config, &stripe_request::list_prices(&stripe_product.id).on_account(account))
            .await
            .map_err(ApiError::stripe_for_owner)?;
    let name = body.name.clone().unwrap_or_else(|| stripe_product.name.clone());
    let mut statements = vec![
        store::upsert_product(&ctx.db, &site.id, &body.slug, &name, &stripe_product.id, ctx.now)?,
        // Prices of a previously linked Stripe product stop being sold.
        store::deactivate_prices(&ctx.db, &site.id, &body.slug)?,
    ];
    for price in &prices.data {
        statements.push(store::upsert_price(&ctx.db, &site.id, &body.slug, price)?);
    }
    store::batch(&ctx.db, statements).await?;
    let job = imports::create(ctx, site, &body.slug, edge).await?;
    Ok(LinkAnswer {
        slug: body.slug,
        stripe_product: stripe_product.id,
        name,
        prices: prices.data.into_iter().filter(|p| p.active).collect(),
        import: job,
    })
}
