//! `POST /v1/checkout`: creates a Stripe Checkout Session for a price (or a product's default price) and answers
//! its URL. Redirects only ever go back to the site's allowed origins.

use latch_core::stripe_request::{self, CheckoutMode, CheckoutParams};
use latch_core::{member, validate};
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::context::Ctx;
use crate::db::{self, Site};
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::{self, Limit};
use crate::routes::access::authenticate;
use crate::{http, stripe};

#[derive(Deserialize)]
struct CheckoutBody {
    site: String,
    /// A price id or lookup key.
    price: Option<String>,
    /// A product slug (its default price is used).
    product: Option<String>,
    return_url: String,
    email: Option<String>,
    /// `"setup"` saves a card to the signed-in member's customer; otherwise the price decides (payment or
    /// subscription).
    mode: Option<String>,
}

#[derive(Deserialize)]
struct SessionCreated {
    id: String,
    url: String,
}

#[derive(Serialize)]
struct CheckoutAnswer {
    id: String,
    url: String,
}

/// Seconds during which the same checkout request reuses the same session (double clicks, retries).
const IDEMPOTENCY_WINDOW_SECS: i64 = 60;

/// Checkout sessions one address may ask for per window (before any work: a flood costs no Stripe call).
const PER_IP: Limit = Limit { scope: "checkout-ip", max: 60, window_secs: 10 * 60 };

/// Handles the request.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    ratelimit::hit(ctx, PER_IP, &ratelimit::client_ip(req)).await?;
    let body: CheckoutBody = http::json_body(req).await?;
    let site = ctx.site(&body.site).await?;
    site.require_stripe()?;
    // A signed-in member (Bearer member token for this site) buys with their known Stripe customer, or their own
    // email when they have none yet (latch_core::member::checkout_identity), so the purchase stays theirs.
    let (member_email, customer) = match http::bearer(req) {
        Some(_) => {
            let (member_site, member) = authenticate(ctx, req).await?;
            if member_site.id != site.id {
                return Err(ApiError::new(401, "invalid_token", "the member token is for another site"));
            }
            let customer = db::customer_of(&ctx.db, &site.id, &member.id).await?;
            (Some(member.email), customer)
        }
        None => (None, None),
    };
    match body.mode.as_deref() {
        None | Some("payment" | "subscription") => {}
        Some("setup") => return setup(ctx, &site, customer.as_deref(), &body).await,
        Some(other) => return Err(ApiError::bad_request(format!("mode must be `setup` or absent, not `{other}`"))),
    }
    let price = match (&body.price, &body.product) {
        (Some(price), _) => db::price(&ctx.db, &site.id, price).await?.ok_or_else(|| ApiError::not_found("price"))?,
        (None, Some(product)) => db::default_price(&ctx.db, &site.id, validate::slug(product)?)
            .await?
            .ok_or_else(|| ApiError::not_found("a price for this product"))?,
        (None, None) => return Err(ApiError::bad_request("give either `price` or `product`")),
    };
    let product = db::products(&ctx.db, &site.id)
        .await?
        .into_iter()
        .find(|p| p.slug == price.product_slug)
        .ok_or_else(|| ApiError::not_found("product"))?;
    if product.checkout_enabled == 0 {
        return Err(ApiError::new(409, "checkout_disabled", format!("checkout is turned off for {}", product.name)));
    }
    validate::redirect_allowed(&body.return_url, &site.allowed_origins())?;
    let typed = body.email.as_deref().map(validate::email).transpose()?;
    let identity = member::checkout_identity(member_email.as_deref(), customer.as_deref(), typed.as_deref());
    let success_url = validate::checkout_success_url(&body.return_url);
    let cancel_url = validate::return_page(&body.return_url);
    let params = CheckoutParams {
        mode: if price.interval.is_some() { CheckoutMode::Subscription } else { CheckoutMode::Payment },
        price: &price.id,
        quantity: 1,
        success_url: &success_url,
        cancel_url: &cancel_url,
        site: &site.id,
        product: &product.slug,
        customer: identity.customer,
        customer_email: identity.customer_email,
        trial_days: u32::try_from(price.trial_days).ok(),
        allow_promotion_codes: true,
        require_billing_address: product.billing_address_required != 0,
    };
    let request = stripe_request::create_checkout_session(&params)
        .on_account(site.stripe_account.as_deref())
        .idempotent(&format!("checkout:{}", ctx.now / IDEMPOTENCY_WINDOW_SECS));
    let session: SessionCreated = stripe::send(&ctx.config, &request).await?;
    http::json(200, &CheckoutAnswer { id: session.id, url: session.url })
}

/// Setup mode: a session that saves a payment method to the signed-in member's customer (no charge).
async fn setup(ctx: &Ctx, site: &Site, customer: Option<&str>, body: &CheckoutBody) -> ApiResult<Response> {
    let customer = customer.ok_or_else(|| {
        ApiError::new(401, "member_required", "saving a card needs a signed-in member with a billing account")
    })?;
    validate::redirect_allowed(&body.return_url, &site.allowed_origins())?;
    let success_url = validate::checkout_success_url(&body.return_url);
    let cancel_url = validate::return_page(&body.return_url);
    let params = CheckoutParams {
        mode: CheckoutMode::Setup,
        price: "",
        quantity: 1,
        success_url: &success_url,
        cancel_url: &cancel_url,
        site: &site.id,
        product: "",
        customer: Some(customer),
        customer_email: None,
        trial_days: None,
        allow_promotion_codes: false,
        require_billing_address: false,
    };
    let request = stripe_request::create_checkout_session(&params)
        .on_account(site.stripe_account.as_deref())
        .idempotent(&format!("checkout-setup:{}", ctx.now / IDEMPOTENCY_WINDOW_SECS));
    let session: SessionCreated = stripe::send(&ctx.config, &request).await?;
    http::json(200, &CheckoutAnswer { id: session.id, url: session.url })
}
