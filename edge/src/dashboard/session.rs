//! The signed-in owner of a dashboard request (the owner session cookie) and what binds its forms' CSRF tokens.
//! Before sign-in, a random pre-session cookie binds the sign-in forms instead (login CSRF).

use latch_core::{cookie, csrf, owner};
use worker::Request;

use crate::auth;
use crate::context::{Ctx, random_id};
use crate::error::ApiResult;
use crate::http::secure_cookies as secure;
use crate::owners::Owner;

/// Base name of the pre-session cookie that binds the sign-in forms.
const PRE_COOKIE: &str = "latch_pre";
/// The pre-session cookie lives as long as a sign-in may take.
const PRE_TTL_SECS: i64 = 3600;

/// A signed-in owner.
pub(crate) struct Session {
    /// The owner.
    pub(crate) owner: Owner,
    /// The session token (to end the session).
    pub(crate) token: String,
    /// The hash of the session token (what the CSRF token is bound to).
    pub(crate) binding: String,
    /// The CSRF token of this session's forms.
    pub(crate) csrf: String,
}

fn cookie_header(req: &Request) -> ApiResult<String> {
    Ok(req.headers().get("Cookie")?.unwrap_or_default())
}

/// The owner signed in by the request's session cookie, if any (and still live).
pub(crate) async fn current(ctx: &Ctx, req: &Request) -> ApiResult<Option<Session>> {
    let Some(found) = auth::owner_from_cookie(ctx, req).await? else { return Ok(None) };
    let header = cookie_header(req)?;
    let Some(token) = owner::session_from_cookies(&header, secure(req)?) else { return Ok(None) };
    let binding = owner::session_hash(token);
    let csrf = csrf::token(ctx.config.token_secret.as_bytes(), &binding);
    Ok(Some(Session { owner: found, token: token.to_owned(), binding, csrf }))
}

/// The pre-session binding of the sign-in forms: the cookie's hash, and a `Set-Cookie` value when the browser has
/// no such cookie yet.
pub(crate) fn pre_session(req: &Request) -> ApiResult<(String, Option<String>)> {
    let secure = secure(req)?;
    let header = cookie_header(req)?;
    let name = cookie::name(PRE_COOKIE, secure);
    if let Some(nonce) = cookie::value(&header, &name).filter(|v| v.len() >= 32) {
        return Ok((owner::session_hash(nonce), None));
    }
    let nonce = format!("{}{}", random_id("pre")?, random_id("")?);
    Ok((owner::session_hash(&nonce), Some(cookie::set(PRE_COOKIE, &nonce, PRE_TTL_SECS, secure))))
}

/// The pre-session binding of a posted sign-in form (empty when the cookie is missing: the token check fails).
pub(crate) fn posted_pre_session(req: &Request) -> ApiResult<String> {
    let header = cookie_header(req)?;
    let name = cookie::name(PRE_COOKIE, secure(req)?);
    Ok(cookie::value(&header, &name).filter(|v| v.len() >= 32).map(owner::session_hash).unwrap_or_default())
}

/// `Set-Cookie` value removing the pre-session cookie once signed in.
pub(crate) fn clear_pre_session(req: &Request) -> ApiResult<String> {
    Ok(cookie::clear(PRE_COOKIE, secure(req)?))
}
