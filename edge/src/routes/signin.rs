//! Member sign-in by emailed code, token refresh and sign-out.
//!
//! `POST /v1/signin {site, email}` always answers 202 `{"sent": true}`, the same bytes for unknown emails; only
//! known members of the site get an email with a 6-digit code (latch-core's `signin`). `POST /v1/signin/verify`
//! trades the code for a member token plus access (the claim's shape). No GET ever signs in, so link scanners cannot
//! burn or use a code. `POST /v1/token/refresh` and `POST /v1/signout {everywhere}` take the bearer member token.

use latch_core::token::WIDGET_AUDIENCE;
use latch_core::validate;
use serde::Deserialize;
use worker::{Request, Response};

use crate::codes::{self, Scope};
use crate::context::Ctx;
use crate::error::ApiResult;
use crate::http;
use crate::routes::access;
use crate::store::{self, Site};

#[derive(Deserialize)]
struct SigninBody {
    site: String,
    email: String,
}

#[derive(Deserialize)]
struct VerifyBody {
    site: String,
    email: String,
    code: String,
    /// The challenge `POST /v1/signin` answered to this browser.
    #[serde(default)]
    challenge: String,
}

#[derive(Deserialize, Default)]
struct SignoutBody {
    #[serde(default)]
    everywhere: bool,
}

/// The code scope of a site's members.
fn member_scope(site: &Site) -> Scope<'_> {
    Scope { site: &site.id, audience: WIDGET_AUDIENCE, email_site: Some(&site.id) }
}

async fn site_name(ctx: &Ctx, site: &Site) -> ApiResult<String> {
    let name = store::site_name(&ctx.db, &site.id).await?;
    Ok(name.unwrap_or_else(|| site.id.clone()))
}

/// `POST /v1/signin {site, email}` -> 202 `{sent: true, challenge}`, the same for every address; members of the site
/// (verified or not) get a code by email, bound to this browser's challenge.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let body: SigninBody = http::json_body(req).await?;
    let email = validate::email(&body.email)?;
    let site = ctx.site(&body.site).await?;
    codes::limit_request(ctx, req, member_scope(&site), &email).await?;
    let challenge = codes::challenge()?;
    if !store::members_by_email(&ctx.db, &site.id, &email).await?.is_empty() {
        codes::send(ctx, member_scope(&site), &email, &challenge, &site_name(ctx, &site).await?).await?;
    }
    http::json(202, &serde_json::json!({ "sent": true, "challenge": challenge }))
}

/// `POST /v1/signin/verify {site, email, code, challenge}` -> `{token, member, access}`. The code proves the email:
/// the member of that email is verified, and what was bought under that email without proof joins it, as does the
/// unverified member whose token this browser sends along (`Authorization: Bearer`, optional).
pub(crate) async fn verify(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let body: VerifyBody = http::json_body(req).await?;
    let email = validate::email(&body.email)?;
    let site = ctx.site(&body.site).await?;
    codes::consume(ctx, req, member_scope(&site), &email, &body.challenge, &body.code).await?;
    let presented = match http::bearer(req) {
        Some(_) => access::authenticate(ctx, req).await.ok().filter(|(s, _)| s.id == site.id).map(|(_, m)| m),
        None => None,
    };
    let member = access::prove(ctx, &site, &email, presented.as_ref()).await?;
    access::token_answer(ctx, &site, &member).await
}

/// `POST /v1/token/refresh` (bearer) -> `{token, member, access}` with a fresh expiry.
pub(crate) async fn refresh(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    let (site, member) = access::authenticate(ctx, req).await?;
    access::token_answer(ctx, &site, &member).await
}

/// `POST /v1/signout {everywhere}` (bearer). With `everywhere`, every token issued so far is revoked; without, the
/// caller just forgets its token (tokens are stateless).
pub(crate) async fn signout(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let (site, member) = access::authenticate(ctx, req).await?;
    let body: SignoutBody = http::optional_json_body(req).await?;
    if body.everywhere {
        store::revoke_member_tokens(&ctx.db, &site.id, &member.id).await?;
    }
    http::json(200, &serde_json::json!({ "signed_out": true, "everywhere": body.everywhere }))
}
