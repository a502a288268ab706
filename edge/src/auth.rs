//! Who may manage a site. Owner-facing routes (`/owner/v1/sites/{site}...`) all go
//! through [`require_site_admin`]: the operator's bearer token (`ADMIN_TOKEN`) passes for every site, an owner
//! session only for the sites it owns (`site_owners`); any other site answers 404, as if it did not exist.
//!
//! The JSON APIs authenticate by `Authorization: Bearer` only and ignore cookies, so a cross-site form cannot act
//! for a signed-in owner (no CSRF to defend there). The session cookie is read only by the server-rendered
//! dashboard, through [`owner_from_cookie`].

use subtle::ConstantTimeEq;
use worker::Request;

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::owners::{self, Owner, SiteSummary};
use crate::store::{self, Site};

/// Whether the request carries the operator token.
pub(crate) fn is_operator(ctx: &Ctx, req: &Request) -> bool {
    let token = http::bearer(req).unwrap_or_default();
    !ctx.config.admin_token.is_empty() && bool::from(token.as_bytes().ct_eq(ctx.config.admin_token.as_bytes()))
}

/// The owner session the request carries as its bearer token, unless it is the operator's token (the operator needs
/// no confirmation for sensitive actions).
pub(crate) fn owner_session(ctx: &Ctx, req: &Request) -> Option<String> {
    if is_operator(ctx, req) { None } else { http::bearer(req) }
}

/// Refuses anyone but the operator (401).
pub(crate) fn require_operator(ctx: &Ctx, req: &Request) -> ApiResult<()> {
    if is_operator(ctx, req) { Ok(()) } else { Err(ApiError::unauthorized("the operator token is missing or wrong")) }
}

/// The owner whose live session is the request's bearer token, if any.
pub(crate) async fn owner_from_bearer(ctx: &Ctx, req: &Request) -> ApiResult<Option<Owner>> {
    match http::bearer(req) {
        Some(token) => owners::owner_of_session(ctx, &token).await,
        None => Ok(None),
    }
}

/// The owner whose live session is in the dashboard's session cookie, if any (only for the dashboard's pages).
pub(crate) async fn owner_from_cookie(ctx: &Ctx, req: &Request) -> ApiResult<Option<Owner>> {
    let header = req.headers().get("Cookie")?.unwrap_or_default();
    match latch_core::owner::session_from_cookies(&header, http::secure_cookies(req)?) {
        Some(token) => owners::owner_of_session(ctx, token).await,
        None => Ok(None),
    }
}

/// Refuses anyone without a live owner session as bearer token (401).
pub(crate) async fn require_owner(ctx: &Ctx, req: &Request) -> ApiResult<Owner> {
    owner_from_bearer(ctx, req)
        .await?
        .ok_or_else(|| ApiError::unauthorized("an owner session is required; sign in again"))
}

/// The sites `owner` manages.
pub(crate) async fn owner_sites(ctx: &Ctx, owner: &Owner) -> ApiResult<Vec<SiteSummary>> {
    owners::sites_of(ctx, owner).await
}

/// Loads `site_id` for someone allowed to manage it: the operator, or an owner of that site. 401 without valid
/// credentials; 404 for an unknown site and for a site the owner does not own (other sites are not revealed).
pub(crate) async fn require_site_admin(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Site> {
    if !is_operator(ctx, req) {
        let owner = owner_from_bearer(ctx, req)
            .await?
            .ok_or_else(|| ApiError::unauthorized("the operator token or an owner session is required"))?;
        if !owners::owns(ctx, &owner, site_id).await? {
            return Err(ApiError::not_found("site"));
        }
    }
    store::site(&ctx.db, site_id).await?.ok_or_else(|| ApiError::not_found("site"))
}
