//! Who may manage a site. Owner-facing routes (`/admin/v1/sites/{site}/...`) all go through
//! [`require_site_admin`]: today the operator's bearer token (`ADMIN_TOKEN`) passes for every site; owner sessions
//! plug in here, in this one function, so every route gets them at once.

use subtle::ConstantTimeEq;
use worker::Request;

use crate::context::Ctx;
use crate::db::{self, Site};
use crate::error::{ApiError, ApiResult};
use crate::http;

/// Whether the request carries the operator token.
pub(crate) fn is_operator(ctx: &Ctx, req: &Request) -> bool {
    let token = http::bearer(req).unwrap_or_default();
    !ctx.config.admin_token.is_empty() && bool::from(token.as_bytes().ct_eq(ctx.config.admin_token.as_bytes()))
}

/// Refuses anyone but the operator (401).
pub(crate) fn require_operator(ctx: &Ctx, req: &Request) -> ApiResult<()> {
    if is_operator(ctx, req) { Ok(()) } else { Err(ApiError::unauthorized("the operator token is missing or wrong")) }
}

/// Loads `site_id` for someone allowed to manage it: 401 without credentials, 404 for an unknown site.
pub(crate) async fn require_site_admin(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Site> {
    require_operator(ctx, req)?;
    db::site(&ctx.db, site_id).await?.ok_or_else(|| ApiError::not_found("site"))
}
