//! `POST /v1/identify {site, identity}`: host-site identity. A site with its own accounts signs the member's email
//! with its site secret (`latch_core::identity` has the format); the widget trades that for a member token,
//! answered like claim and sign-in (`{token, member, access}`). The signature proves the email
//! (`latch_core::member::on_proof`): the verified member is created if new. Each value is accepted once and for at
//! most ten minutes (`latch_core::identity`, "Replay").

use latch_core::identity;
use serde::Deserialize;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::{self, Limit};
use crate::routes::access;
use crate::{http, owners, store};

/// Identities presented from one client address.
const PER_IP: Limit = Limit { scope: "identify-ip", max: 60, window_secs: 15 * 60 };

#[derive(Deserialize)]
struct IdentifyBody {
    site: String,
    identity: String,
}

/// Handles the request.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let body: IdentifyBody = http::json_body(req).await?;
    let site = ctx.site(&body.site).await?;
    ratelimit::hit(ctx, PER_IP, &ratelimit::client_network(req)).await?;
    let (secret, _) = owners::site_secret(ctx, &site.id).await?;
    let who = identity::verify(&body.identity, &secret, ctx.now)
        .map_err(|e| ApiError::new(401, "invalid_identity", e.to_string()))?;
    // Each value once: a copy of the page's HTML is worth nothing after the reader's own browser used it.
    if !store::first_identity_use(&ctx.db, &site.id, &identity::replay_key(&body.identity), who.exp).await? {
        return Err(ApiError::new(
            401,
            "invalid_identity",
            "the identity was already used (the host site signs a new one on every page render)",
        ));
    }
    // The site's signature proves the email: its verified member (created if new) gets what was bought under it.
    let member = access::prove(ctx, &site, &who.email, None).await?;
    access::token_answer(ctx, &site, &member).await
}
