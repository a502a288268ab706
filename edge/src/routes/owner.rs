//! `/owner/v1`: site owners' own API. Sign-in by emailed code (sign-up = sign-in), sign-out, their sites (list,
//! create, rename, allowed origins), and each site's secret for host-site identity (`latch_core::identity`).
//!
//! Every route but sign-in takes the owner session as `Authorization: Bearer`; cookies are ignored here.

use latch_core::owner::Sensitive;
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::auth::{self, require_owner, require_site_admin};
use crate::codes;
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::owners::{self, Owner, SiteSummary};

#[derive(Deserialize)]
struct SigninBody {
    email: String,
}

#[derive(Deserialize)]
struct VerifyBody {
    email: String,
    code: String,
    /// The challenge `POST /owner/v1/signin` answered to this caller.
    #[serde(default)]
    challenge: String,
}

#[derive(Deserialize)]
struct ConfirmBody {
    code: String,
    /// The challenge `POST /owner/v1/confirm` answered to this caller.
    #[serde(default)]
    challenge: String,
}

#[derive(Serialize)]
struct SignedIn {
    session: String,
    owner: Owner,
    sites: Vec<SiteSummary>,
}

#[derive(Deserialize)]
struct NewSite {
    name: String,
    #[serde(default)]
    allowed_origins: Vec<String>,
}

#[derive(Deserialize)]
struct SitePatch {
    name: Option<String>,
    allowed_origins: Option<Vec<String>>,
}

fn no_store(mut response: Response) -> ApiResult<Response> {
    response.headers_mut().set("Cache-Control", "no-store")?;
    Ok(response)
}

/// `POST /owner/v1/signin {email}` -> 202 `{sent: true, challenge}`, always; the code goes to that email.
pub(crate) async fn signin(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let body: SigninBody = http::json_body(req).await?;
    let challenge = codes::challenge()?;
    owners::send_owner_code(ctx, req, &body.email, &challenge).await?;
    http::json(202, &serde_json::json!({ "sent": true, "challenge": challenge }))
}

/// `POST /owner/v1/signin/verify {email, code, challenge}` -> `{session, owner, sites}`. The dashboard's session
/// cookie comes along only for a caller on the edge's own origin (or no browser at all): a JSON API never sets a
/// cookie for a cross-site caller (login CSRF).
pub(crate) async fn verify(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let body: VerifyBody = http::json_body(req).await?;
    let (owner, session) = owners::verify_owner_code(ctx, req, &body.email, &body.challenge, &body.code).await?;
    let sites = auth::owner_sites(ctx, &owner).await?;
    let mut response = http::json(200, &SignedIn { session: session.clone(), owner, sites })?;
    if http::same_origin(req)? {
        response.headers_mut().set("Set-Cookie", &owners::session_cookie(req, &session)?)?;
    }
    no_store(response)
}

/// `POST /owner/v1/confirm` (bearer session) -> 202 `{sent: true, challenge}`: a code to the owner's email that,
/// typed within 10 minutes, lets this session change a site's Stripe connection for 10 minutes.
pub(crate) async fn confirm(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    let owner = require_owner(ctx, req).await?;
    let challenge = codes::challenge()?;
    owners::send_confirm_code(ctx, req, &owner, &challenge).await?;
    http::json(202, &serde_json::json!({ "sent": true, "challenge": challenge }))
}

/// `POST /owner/v1/confirm/verify {code, challenge}` (bearer session) -> `{confirmed_until}`.
pub(crate) async fn confirm_verify(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let owner = require_owner(ctx, req).await?;
    let token = http::bearer(req).ok_or_else(|| ApiError::unauthorized("an owner session is required"))?;
    let body: ConfirmBody = http::json_body(req).await?;
    owners::confirm_session(ctx, req, &owner, &token, &body.challenge, &body.code).await?;
    let until = ctx.now + latch_core::owner::CONFIRM_TTL_SECS;
    http::json(200, &serde_json::json!({ "confirmed_until": until }))
}

/// `POST /owner/v1/signout` (bearer session) -> `{signed_out: true}`; the session stops working at once.
pub(crate) async fn signout(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    require_owner(ctx, req).await?;
    let token = http::bearer(req).ok_or_else(|| ApiError::unauthorized("an owner session is required"))?;
    owners::revoke_session(ctx, &token).await?;
    let mut response = http::json(200, &serde_json::json!({ "signed_out": true }))?;
    if http::same_origin(req)? {
        response.headers_mut().set("Set-Cookie", &owners::clear_session_cookie(req)?)?;
    }
    Ok(response)
}

/// `GET /owner/v1/sites` -> `{owner, sites}`.
pub(crate) async fn list_sites(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    let owner = require_owner(ctx, req).await?;
    let sites = auth::owner_sites(ctx, &owner).await?;
    no_store(http::json(200, &serde_json::json!({ "owner": owner, "sites": sites }))?)
}

/// `POST /owner/v1/sites {name, allowed_origins}` -> 201 with the site; the caller becomes its owner.
pub(crate) async fn create_site(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let owner = require_owner(ctx, req).await?;
    let body: NewSite = http::json_body(req).await?;
    http::json(201, &owners::create_site(ctx, &owner, &body.name, &body.allowed_origins).await?)
}

/// `GET /owner/v1/sites/{site}` -> the site.
pub(crate) async fn get_site(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    no_store(http::json(200, &owners::site_summary(ctx, &site.id).await?)?)
}

/// `PATCH /owner/v1/sites/{site} {name?, allowed_origins?}` -> the site.
pub(crate) async fn patch_site(ctx: &Ctx, req: &mut Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    let body: SitePatch = http::json_body(req).await?;
    let updated = owners::update_site(ctx, &site.id, body.name.as_deref(), body.allowed_origins.as_deref()).await?;
    http::json(200, &updated)
}

fn secret_answer(site_id: &str, (secret, generation): (String, i64)) -> ApiResult<Response> {
    no_store(http::json(200, &serde_json::json!({ "site": site_id, "secret": secret, "generation": generation }))?)
}

/// `GET /owner/v1/sites/{site}/secret` -> `{site, secret, generation}`: the key the site's server signs
/// member identities with. It signs in any member, so an owner session needs a fresh confirmation first.
pub(crate) async fn get_secret(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    owners::require_confirmed(ctx, auth::owner_session(ctx, req).as_deref(), Sensitive::SiteSecret).await?;
    secret_answer(&site.id, owners::site_secret(ctx, &site.id).await?)
}

/// `POST /owner/v1/sites/{site}/secret/rotate` -> the new secret; the old one stops working at once.
pub(crate) async fn rotate_secret(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    owners::require_confirmed(ctx, auth::owner_session(ctx, req).as_deref(), Sensitive::SiteSecret).await?;
    secret_answer(&site.id, owners::rotate_site_secret(ctx, &site.id).await?)
}
