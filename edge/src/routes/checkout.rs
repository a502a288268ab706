//! `POST /v1/checkout`: creates a Stripe Checkout Session for a price (or a product's default price) and answers
//! its URL and the claim secret that only this browser gets (`latch_core::claim`). Redirects only ever go back to
//! the site's allowed origins. Each call is one attempt: its idempotency key comes from its own claim secret, so
//! two buyers never share a session.

use latch_core::checkout::{self, CheckoutError, Offer, Requested, Return};
use latch_core::stripe_request;
use latch_core::{claim, member, validate};
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::context::{Ctx, random_bytes};
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::{self, Limit};
use crate::routes::access::authenticate;
use crate::store::{self, Site};
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
    /// The claim secret: the widget keeps it and sends it with `POST /v1/claim` when the buyer comes back.
    claim: String,
}

/// Checkout sessions one network may ask for per window (before any work: a flood costs no Stripe call).
const PER_IP: Limit = Limit { scope: "checkout-ip", max: 60, window_secs: 10 * 60 };

/// Handles the request.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    ratelimit::hit(ctx, PER_IP, &ratelimit::client_network(req)).await?;
    let body: CheckoutBody = http::json_body(req).await?;
    let site = ctx.site(&body.site).await?;
    let account = site.stripe()?;
    // A signed-in member (Bearer member token for this site) buys as themselves (latch_core::member).
    let member = match http::bearer(req) {
        Some(_) => {
            let (member_site, member) = authenticate(ctx, req).await?;
            if member_site.id != site.id {
                return Err(ApiError::new(401, "invalid_token", "the member token is for another site"));
            }
            let customer = store::customer_of(&ctx.db, &site.id, &member.id).await?;
            Some((member, customer))
        }
        None => None,
    };
    validate::redirect_allowed(&body.return_url, &site.allowed_origins())?;
    let typed = body.email.as_deref().map(validate::email).transpose()?;
    let signed_in = member.as_ref().map(|(m, customer)| member::SignedIn {
        id: &m.id,
        email: &m.email,
        customer: customer.as_deref(),
    });
    let identity = member::checkout_identity(signed_in, typed.as_deref());
    let requested = checkout::requested(body.mode.as_deref())?;
    let sold = match requested {
        Requested::Buy => Some(sold(ctx, &site, &body).await?),
        Requested::Setup => None,
    };
    let offer = sold.as_ref().map(|(price, product)| Offer {
        price: &price.id,
        recurring: price.interval.is_some(),
        trial_days: price.trial_days,
        product: &product.slug,
        product_name: &product.name,
        active: product.active != 0,
        checkout_enabled: product.checkout_enabled != 0,
        billing_address_required: product.billing_address_required != 0,
    });
    let claim = claim::secret(&random_bytes::<{ claim::SECRET_BYTES }>()?);
    let claim_hash = claim::secret_hash(&claim);
    let success_url = validate::checkout_success_url(&body.return_url);
    let cancel_url = validate::return_page(&body.return_url);
    let back = Return { success_url: &success_url, cancel_url: &cancel_url };
    let params = checkout::session_params(requested, offer, identity, back, &site.id, &claim_hash, ctx.now)?;
    // The claim hash in the parameters makes the key one attempt's: a retry of this call reuses it, nobody else can.
    let request = stripe_request::create_checkout_session(&params).on_account(account).idempotent("checkout");
    let session: SessionCreated = stripe::send(&ctx.config, &request).await?;
    http::json(200, &CheckoutAnswer { id: session.id, url: session.url, claim })
}

/// The price bought (by id or lookup key, or a product's default price) and its product.
async fn sold(ctx: &Ctx, site: &Site, body: &CheckoutBody) -> ApiResult<(store::Price, store::Product)> {
    let price = match (&body.price, &body.product) {
        (Some(price), _) => {
            store::price(&ctx.db, &site.id, price).await?.ok_or_else(|| ApiError::not_found("price"))?
        }
        (None, Some(product)) => {
            let prices = store::product_prices(&ctx.db, &site.id, validate::slug(product)?).await?;
            latch_core::catalog::default_price(&prices, |p| p.unit_amount)
                .cloned()
                .ok_or_else(|| ApiError::not_found("a price for this product"))?
        }
        (None, None) => return Err(CheckoutError::NothingToBuy.into()),
    };
    let product = store::products(&ctx.db, &site.id)
        .await?
        .into_iter()
        .find(|p| p.slug == price.product_slug)
        .ok_or_else(|| ApiError::not_found("product"))?;
    Ok((price, product))
}
