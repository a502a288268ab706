//! Stripe Connect (Settings > Payments): the authorize URL, the OAuth callback, and disconnecting.
//!
//! The `state` is single-use, expires after [`connect::STATE_TTL_SECS`], is stored only hashed, and is bound to
//! whoever asked for it (`latch_core::connect::Starter`): a flow started by an owner session (dashboard cookie or
//! bearer session) is bound to that session's hash, and the callback must come with the same owner's live session
//! cookie; a flow started with the operator token is bound to a random nonce the edge sets as an HttpOnly cookie
//! (`__Host-latch_oauth`, `Secure`, `SameSite=Lax` so it rides along on Stripe's top-level redirect back; plain
//! `latch_oauth` without `Secure` on loopback http, where browsers would drop a `Secure` cookie). A state carried
//! to another browser or owner, forged, replayed or expired is refused with 400 and nothing is stored.

use latch_core::account;
use latch_core::connect::{self, OAuthError, OAuthToken, StateError, StoredState};
use latch_core::{cookie, stripe_request};
use worker::{Request, Response};

use crate::auth::{self, require_site_admin};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::manage::connection::{SUBSCRIPTIONS_NOT_CANCELLED, authorize, disconnect_site};
use crate::store;
use crate::{http, owners, stripe};

/// `POST /owner/v1/sites/{site}/connect` -> `{url}`: Stripe's authorize URL with a fresh state bound to the
/// caller's owner session (bearer), or, for the operator token, to a nonce in the cookie this answer sets.
pub(crate) async fn start(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    let session = auth::owner_session(ctx, req);
    let (url, cookie) = authorize(ctx, req, &site, session.as_deref()).await?;
    let mut response = http::json(200, &serde_json::json!({ "url": url, "expires_in": connect::STATE_TTL_SECS }))?;
    if let Some(cookie) = cookie {
        response.headers_mut().set("Set-Cookie", &cookie)?;
    }
    response.headers_mut().set("Cache-Control", "no-store")?;
    Ok(response)
}

fn page(status: u16, title: &str, body: &str) -> ApiResult<Response> {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem\">\
         <h1 id=\"title\">{title}</h1>{body}</body></html>"
    );
    let mut response = Response::from_html(html)?.with_status(status);
    response.headers_mut().set("Cache-Control", "no-store")?;
    response
        .headers_mut()
        .set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'")?;
    Ok(response)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn refused(message: &str) -> ApiResult<Response> {
    page(400, "Stripe was not connected", &format!("<p id=\"status\" data-status=\"refused\">{}</p>", esc(message)))
}

/// `GET /connect/callback?code&state` (or `?error&state` when the owner denied): checks the state, exchanges
/// the code, stores the connected account and its mode, and shows the status.
pub(crate) async fn callback(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    let url = req.url()?;
    let query = |k: &str| url.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned());
    let Some(state) = query("state") else { return refused("The link has no state; start again from Settings.") };
    let state_hash = connect::hash_secret(&state);
    let stored: Option<StoredState> = store::oauth_state(&ctx.db, &state_hash).await?;
    let cookies = req.headers().get("Cookie")?.unwrap_or_default();
    let secure = http::secure_cookies(req)?;
    let nonce = cookie::value(&cookies, &cookie::name(connect::OAUTH_COOKIE, secure));
    // Only a live session counts: a signed-out or expired one cannot finish a flow it started.
    let session = match latch_core::owner::session_from_cookies(&cookies, secure) {
        Some(token) if owners::owner_of_session(ctx, token).await?.is_some() => Some(token),
        _ => None,
    };
    if let Err(e) = connect::check_state(stored.as_ref(), session, nonce, ctx.now) {
        return refused(&e.to_string());
    }
    let Some(stored) = stored else { return refused(&StateError::Unknown.to_string()) };
    // Single use, even under a race: only the request that flips used_at goes on.
    if !store::use_oauth_state(&ctx.db, &state_hash, ctx.now).await? {
        return refused(&StateError::Replayed.to_string());
    }
    if let Some(error) = query("error") {
        let why = query("error_description").unwrap_or(error);
        return refused(&format!("Stripe said: {why}"));
    }
    // The site may have changed since the flow started (connected meanwhile, or put on the platform's account):
    // what the change needs is decided again now.
    let site = store::site(&ctx.db, &stored.site_id).await?.ok_or_else(|| ApiError::not_found("site"))?;
    let change = match site.connection().may_connect() {
        Ok(change) => change,
        Err(e) => return refused(&e.to_string()),
    };
    if connect::started_by_owner(&stored)
        && let Err(e) = owners::require_confirmed(ctx, session, change).await
    {
        return refused(&format!("{} Then connect again from Settings > Payments.", e.message));
    }
    let Some(code) = query("code") else { return refused("Stripe sent no authorization code.") };
    let (status, body) = stripe::send_connect(&ctx.config, &stripe_request::oauth_token(&code)).await;
    let token: OAuthToken = match connect::parse_oauth(status, &body) {
        Ok(t) => t,
        Err(OAuthError::Unavailable(_)) => {
            return page(
                503,
                "Stripe is not answering",
                "<p id=\"status\" data-status=\"retry\">Try again shortly.</p>",
            );
        }
        Err(e) => return refused(&e.to_string()),
    };
    let holder = store::site_by_account(&ctx.db, &token.stripe_user_id).await?;
    if account::may_take(&stored.site_id, holder.as_ref().map(|s| s.id.as_str())).is_err() {
        return page(
            409,
            "Stripe account already in use",
            "<p id=\"status\" data-status=\"conflict\">This Stripe account is connected to another site.</p>",
        );
    }
    let mut statements =
        vec![store::mark_connected(&ctx.db, &stored.site_id, &token.stripe_user_id, token.livemode, ctx.now)?];
    statements.extend(owners::connection_changed(ctx, &stored.site_id, &token.stripe_user_id, true).await?);
    store::batch(&ctx.db, statements).await?;
    let mode = if token.livemode { "live" } else { "test" };
    let mut response = page(
        200,
        "Stripe connected",
        &format!(
            "<p id=\"status\" data-status=\"connected\">Site <b>{}</b> is connected to Stripe account \
             <code id=\"account\">{}</code> in <b id=\"mode\">{mode}</b> mode.</p>\
             <p><a id=\"back\" href=\"/dashboard/sites/{}/payments\">Back to the dashboard</a></p>",
            esc(&stored.site_id),
            esc(&token.stripe_user_id),
            esc(&stored.site_id),
        ),
    )?;
    response.headers_mut().set("Set-Cookie", &cookie::clear(connect::OAUTH_COOKIE, http::secure_cookies(req)?))?;
    Ok(response)
}

/// `POST /owner/v1/sites/{site}/disconnect`: deauthorizes the account at Stripe and marks the site
/// disconnected. Subscriptions on the account are not cancelled (the answer says so).
pub(crate) async fn disconnect(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    let session = auth::owner_session(ctx, req);
    let account = disconnect_site(ctx, &site, session.as_deref()).await?;
    http::json(
        200,
        &serde_json::json!({
            "site": site.id,
            "stripe_account": account,
            "status": "disconnected",
            "subscriptions": SUBSCRIPTIONS_NOT_CANCELLED,
        }),
    )
}
