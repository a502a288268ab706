//! `POST /v1/portal`: a Billing Portal session for the calling member's own Stripe customer, with the site's
//! portal configuration (Settings > Customer Portal); 409 `portal_disabled` when the owner turned the portal off.

use latch_core::{stripe_request, validate};
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::context::Ctx;
use crate::error::ApiResult;
use crate::manage;
use crate::routes::access::authenticate;
use crate::store;
use crate::{http, stripe};

#[derive(Deserialize)]
struct PortalBody {
    return_url: String,
}

#[derive(Deserialize, Serialize)]
struct PortalSession {
    url: String,
}

/// Handles the request.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let (site, member) = authenticate(ctx, req).await?;
    let account = site.stripe()?;
    let portal = manage::portal::load(ctx, &site).await?;
    let body: PortalBody = http::json_body(req).await?;
    validate::redirect_allowed(&body.return_url, &site.allowed_origins())?;
    let customer = store::customer_of(&ctx.db, &site.id, &member.id).await?;
    let customer = latch_core::portal::portal_customer(&portal.settings, customer.as_deref())?;
    let return_page = validate::return_page(&body.return_url);
    let request = stripe_request::create_portal_session(customer, &return_page, portal.stripe_configuration.as_deref())
        .on_account(account)
        .idempotent(&format!("portal:{}", ctx.now));
    let session: PortalSession = stripe::send(&ctx.config, &request).await?;
    http::json(200, &session)
}
