//! `POST /v1/claim`: the member's return trip from Checkout. The edge fetches the session from Stripe itself
//! (never trusting the redirect), feeds it to the engine (the webhook converges on the same grant row), links the
//! member, and answers a member token with the member's access.

use latch_core::engine::{FetchObject, FetchRequest, Input};
use latch_core::event::StripeObject;
use latch_core::{member, validate};
use serde::Deserialize;
use worker::{Request, Response};

use crate::context::{Ctx, random_id};
use crate::error::{ApiError, ApiResult};
use crate::grants::{self, Origin};
use crate::ratelimit::{self, Limit};
use crate::routes::access;
use crate::{db, fetches, http, stripe};

#[derive(Deserialize)]
struct ClaimBody {
    site: String,
    checkout_session_id: String,
}

/// Claims one address may ask for per window (before any work: a flood costs no Stripe call).
const PER_IP: Limit = Limit { scope: "claim-ip", max: 120, window_secs: 10 * 60 };

/// Handles the request.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    ratelimit::hit(ctx, PER_IP, &ratelimit::client_ip(req)).await?;
    let body: ClaimBody = http::json_body(req).await?;
    let id = body.checkout_session_id.trim();
    if !id.starts_with("cs_") || id.len() > 255 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::bad_request("checkout_session_id must be a Checkout Session id (cs_...)"));
    }
    let site = ctx.site(&body.site).await?;
    let request = FetchRequest { object: FetchObject::CheckoutSession, id: id.to_owned() }
        .to_stripe_request()
        .on_account(site.stripe_account.as_deref());
    let raw = stripe::send_raw(&ctx.config, &request).await.map_err(|e| match e {
        latch_core::stripe_request::StripeError::Refused { status: 404, .. } => ApiError::not_found("checkout session"),
        other => other.into(),
    })?;
    let object = StripeObject::parse(raw.as_bytes()).map_err(|e| ApiError::internal(format!("session: {e}")))?;
    let StripeObject::CheckoutSession(session) = &object else {
        return Err(ApiError::internal("Stripe answered something other than a checkout session"));
    };
    // A session of another site is not this site's business: answer as if it did not exist.
    let ours = session.metadata.get("latch_site").map(String::as_str) == Some(site.id.as_str())
        || session.client_reference_id.as_deref() == Some(site.id.as_str());
    if !ours {
        return Err(ApiError::not_found("checkout session"));
    }
    let paid = matches!(session.payment_status.as_deref(), Some("paid" | "no_payment_required"));
    if session.status.as_deref() != Some("complete") || !paid {
        return Err(ApiError::new(409, "claim_pending", "the payment is not complete yet; try again in a moment"));
    }
    let email = session
        .email()
        .map(validate::email)
        .transpose()?
        .ok_or_else(|| ApiError::new(409, "claim_pending", "Stripe has not recorded the buyer's email yet"))?;
    let customer = session.customer.clone().unwrap_or_else(|| format!("email:{email}"));
    // A customer already linked to a member stays that member's, whatever email was typed on Stripe's page.
    let linked = db::member_email_of_customer(&ctx.db, &site.id, &customer).await?;
    let email = member::owner_of_purchase(linked.as_deref(), &email).email().to_owned();

    let catalog = grants::catalog(ctx, &site).await?;
    let cause = format!("claim:{}", session.id);
    let link = db::upsert_member(&ctx.db, &site.id, &email, &customer, &random_id("mem")?, ctx.now)?;
    grants::apply(
        ctx,
        &site,
        &catalog,
        Input::Fetched { object: &object, fetched_at: ctx.now },
        &Origin { event_id: None, kind: "claim", cause: &cause, round: 0, notify: true },
        link,
    )
    .await?;

    fetches::settle(ctx, &cause).await?;

    let member = db::member_by_email(&ctx.db, &site.id, &email)
        .await?
        .ok_or_else(|| ApiError::internal("member missing right after upsert"))?;
    access::token_answer(ctx, &site, &member).await
}
