//! `POST /v1/claim {site, checkout_session_id, claim}`: the buyer's return trip from Checkout. The edge fetches the
//! session from Stripe itself (never trusting the redirect), and `latch_core::claim` decides: only the browser
//! holding the claim secret that `POST /v1/checkout` handed out, within the claim window, after payment. The
//! session is fed to the engine (the webhook converges on the same grant row and the same member link), and the
//! answer is a token for the member the purchase belongs to (`latch_core::member`: never the member of an email
//! typed on Stripe's page).

use latch_core::claim::{self, ClaimError};
use latch_core::engine::{FetchObject, FetchRequest, Input};
use latch_core::event::StripeObject;
use latch_core::plan::Origin;
use latch_core::validate;
use serde::Deserialize;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::grants;
use crate::ratelimit::{self, Limit};
use crate::routes::access;
use crate::{fetches, http, store, stripe};

#[derive(Deserialize)]
struct ClaimBody {
    site: String,
    checkout_session_id: String,
    /// The claim secret `POST /v1/checkout` answered to this browser.
    #[serde(default)]
    claim: Option<String>,
}

/// Claims one network may make per window (before any work: a flood costs no Stripe call).
const PER_IP: Limit = Limit { scope: "claim-ip", max: 120, window_secs: 10 * 60 };

fn refused(e: ClaimError) -> ApiError {
    match e {
        ClaimError::NotFound => ApiError::not_found("checkout session"),
        ClaimError::WrongBrowser => ApiError::new(403, "claim_forbidden", e.to_string()),
        ClaimError::Expired => ApiError::new(410, "claim_expired", e.to_string()),
        ClaimError::Pending => ApiError::new(409, "claim_pending", e.to_string()),
        ClaimError::Joined => ApiError::new(403, "signin_required", e.to_string()),
    }
}

/// Handles the request.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    ratelimit::hit(ctx, PER_IP, &ratelimit::client_network(req)).await?;
    let body: ClaimBody = http::json_body(req).await?;
    let id = validate::stripe_id("cs_", body.checkout_session_id.trim())
        .map_err(|_| ApiError::bad_request("checkout_session_id must be a Checkout Session id (cs_...)"))?;
    let site = ctx.site(&body.site).await?;
    // Without a secret there is nothing to check: no Stripe call for a stranger holding only an id.
    let secret = body.claim.as_deref().filter(|s| !s.is_empty()).ok_or_else(|| refused(ClaimError::NotFound))?;
    let request = FetchRequest { object: FetchObject::CheckoutSession, id: id.to_owned() }
        .to_stripe_request()
        .on_account(site.stripe()?);
    let raw = stripe::send_raw(&ctx.config, &request).await.map_err(|e| match e {
        latch_core::stripe_request::StripeError::Refused { status: 404, .. } => ApiError::not_found("checkout session"),
        other => other.into(),
    })?;
    let object = StripeObject::parse(raw.as_bytes()).map_err(|e| ApiError::internal(format!("session: {e}")))?;
    let StripeObject::CheckoutSession(session) = &object else {
        return Err(ApiError::internal("Stripe answered something other than a checkout session"));
    };
    claim::check(session, &site.id, secret, ctx.now).map_err(refused)?;
    let customer = session.customer.clone().ok_or_else(|| {
        ApiError::new(409, "claim_pending", "Stripe has not recorded the buyer yet; try again shortly")
    })?;

    let cause = format!("claim:{}", session.id);
    let origin = Origin { event_id: None, cause: &cause, round: 0, notify: true };
    grants::apply(ctx, &site, Input::Fetched { object: &object }, origin, Vec::new()).await?;
    fetches::settle(ctx, &cause).await?;

    let member = store::member_of_customer(&ctx.db, &site.id, &customer)
        .await?
        .ok_or_else(|| ApiError::new(409, "claim_pending", "Stripe has not recorded the buyer's email yet"))?;
    let session_member = session.metadata.get(latch_core::member::META_MEMBER).map(String::as_str);
    claim::answer(&site.id, &customer, session_member, &member.id).map_err(refused)?;
    access::token_answer(ctx, &site, &member).await
}
