//! `GET /v1/access`: the calling member's active grants. Also the member-token check every member route uses.

use latch_core::api::{AccessAnswer, MemberView, TokenAnswer};
use latch_core::token::{self, Claims, WIDGET_AUDIENCE};
use worker::{Request, Response};

use crate::context::{Ctx, random_id};
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Member, Site};
use crate::{grants, http};

/// Checks the bearer member token: signature, expiry, site, audience, and that it was not revoked.
pub(crate) async fn authenticate(ctx: &Ctx, req: &Request) -> ApiResult<(Site, Member)> {
    let raw = http::bearer(req).ok_or_else(|| ApiError::unauthorized("a member token is required"))?;
    let site_id = token::unverified_site(&raw).ok_or(token::TokenError::Malformed)?;
    let site = ctx.site(&site_id).await?;
    let claims = token::verify(&raw, ctx.config.token_secret.as_bytes(), &site.id, WIDGET_AUDIENCE, ctx.now)?;
    let member = store::member(&ctx.db, &site.id, &claims.sub)
        .await?
        .filter(|m| m.token_generation == claims.generation)
        .ok_or_else(|| ApiError::new(401, "invalid_token", "the token was revoked"))?;
    Ok((site, member))
}

/// Carries out a proof of `email` on `site` (a sign-in code or the host site's identity; `latch_core::member` decides
/// what it joins) and answers the verified member. `presented` is the member whose token the proving browser sent.
pub(crate) async fn prove(ctx: &Ctx, site: &Site, email: &str, presented: Option<&Member>) -> ApiResult<Member> {
    let known: Vec<_> = store::members_by_email(&ctx.db, &site.id, email).await?.iter().map(Member::known).collect();
    let proof = latch_core::member::on_proof(email, &known, presented.map(Member::known).as_ref());
    let statements = store::prove_email(&ctx.db, &site.id, email, &proof, &random_id("mem")?, ctx.now)?;
    store::batch(&ctx.db, statements).await?;
    store::verified_member(&ctx.db, &site.id, email)
        .await?
        .ok_or_else(|| ApiError::internal("the verified member just written is missing"))
}

/// The access answer for a member.
pub(crate) async fn answer(ctx: &Ctx, site: &Site, member: &Member) -> ApiResult<AccessAnswer> {
    let access = grants::member_access(ctx, &site.id, &member.id).await?;
    Ok(AccessAnswer { member: MemberView { email: member.email.clone(), verified: member.verified != 0 }, access })
}

/// Handles the request.
pub(crate) async fn get(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    let (site, member) = authenticate(ctx, req).await?;
    http::json(200, &answer(ctx, &site, &member).await?)
}

/// Issues a fresh member token (current generation, default lifetime) and answers it with the member's access.
pub(crate) async fn token_answer(ctx: &Ctx, site: &Site, member: &Member) -> ApiResult<Response> {
    let claims = Claims {
        site: site.id.clone(),
        sub: member.id.clone(),
        aud: WIDGET_AUDIENCE.into(),
        iat: ctx.now,
        exp: ctx.now + token::DEFAULT_TTL_SECS,
        generation: member.token_generation,
    };
    let token = token::sign(&claims, ctx.config.token_secret.as_bytes());
    let access = answer(ctx, site, member).await?;
    http::json(200, &TokenAnswer { token, access })
}
