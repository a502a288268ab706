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
use maud::html;
use worker::{Request, Response};

use crate::auth::{self, require_site_admin};
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::manage::connection::{SUBSCRIPTIONS_NOT_CANCELLED, authorize, disconnect_site};
use crate::store;
use crate::{dashboard, http, owners, stripe};

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

/// The site a flow is for, as the way back names it: (id, name).
async fn named(ctx: &Ctx, site: &str) -> ApiResult<Option<(String, String)>> {
    Ok(store::site_name(&ctx.db, site).await?.map(|name| (site.to_owned(), name)))
}

/// A refusal page (400) with the reason, leading back to `site`'s Payments page when the flow's site is known.
fn refused(ctx: &Ctx, message: &str, site: Option<&(String, String)>) -> ApiResult<Response> {
    let body = html! { p #status data-status="refused" { (message) } };
    dashboard::connect_outcome(ctx, 400, "Stripe was not connected", &body, site_ref(site))
}

/// `GET /connect/callback?code&state` (or `?error&state` when the owner denied): checks the state, exchanges
/// the code, stores the connected account and its mode, and shows the status.
pub(crate) async fn callback(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    let url = req.url()?;
    let query = |k: &str| url.query_pairs().find(|(key, _)| key == k).map(|(_, v)| v.into_owned());
    let Some(state) = query("state") else {
        return refused(ctx, "The link has no state; start again from Payments.", None);
    };
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
        // Not (or no longer) this browser's flow: the page names no site.
        return refused(ctx, &e.to_string(), None);
    }
    let Some(stored) = stored else { return refused(ctx, &StateError::Unknown.to_string(), None) };
    let back = named(ctx, &stored.site_id).await?;
    let back = back.as_ref();
    // Single use, even under a race: only the request that flips used_at goes on.
    if !store::use_oauth_state(&ctx.db, &state_hash, ctx.now).await? {
        return refused(ctx, &StateError::Replayed.to_string(), back);
    }
    if let Some(error) = query("error") {
        let message = if error == "access_denied" {
            "You chose not to connect on Stripe's page; nothing changed. Connect again when you are ready.".to_owned()
        } else {
            format!("Stripe said: {}", query("error_description").unwrap_or(error))
        };
        return refused(ctx, &message, back);
    }
    // The site may have changed since the flow started (connected meanwhile, or put on the platform's account):
    // what the change needs is decided again now.
    let site = store::site(&ctx.db, &stored.site_id).await?.ok_or_else(|| ApiError::not_found("site"))?;
    let change = match site.connection().may_connect() {
        Ok(change) => change,
        Err(e) => return refused(ctx, &e.to_string(), back),
    };
    if connect::started_by_owner(&stored)
        && let Err(e) = owners::require_confirmed(ctx, session, change).await
    {
        return refused(ctx, &format!("{} Then connect again from Payments.", e.message), back);
    }
    let Some(code) = query("code") else { return refused(ctx, "Stripe sent no authorization code.", back) };
    let (status, body) = stripe::send_connect(&ctx.config, &stripe_request::oauth_token(&code)).await;
    let token: OAuthToken = match connect::parse_oauth(status, &body) {
        Ok(t) => t,
        Err(OAuthError::Unavailable(_)) => {
            let body = html! { p #status data-status="retry" { "Connect again from Payments in a moment." } };
            return dashboard::connect_outcome(ctx, 503, "Stripe is not answering", &body, site_ref(back));
        }
        Err(e) => return refused(ctx, &e.to_string(), back),
    };
    let holder = store::site_by_account(&ctx.db, &token.stripe_user_id).await?;
    if account::may_take(&stored.site_id, holder.as_ref().map(|s| s.id.as_str())).is_err() {
        let body = html! { p #status data-status="conflict" { "This Stripe account is connected to another site." } };
        return dashboard::connect_outcome(ctx, 409, "Stripe account already in use", &body, site_ref(back));
    }
    let mut statements =
        vec![store::mark_connected(&ctx.db, &stored.site_id, &token.stripe_user_id, token.livemode, ctx.now)?];
    statements.extend(owners::connection_changed(ctx, &stored.site_id, &token.stripe_user_id, true).await?);
    store::batch(&ctx.db, statements).await?;
    let mode = if token.livemode { "live" } else { "test" };
    let name = back.map_or(stored.site_id.as_str(), |(_, name)| name.as_str());
    let body = html! {
        p #status data-status="connected" {
            (name) " is connected to Stripe account " code #account { (token.stripe_user_id) }
            " in " b #mode { (mode) } " mode."
        }
    };
    let mut response = dashboard::connect_outcome(ctx, 200, "Stripe connected", &body, site_ref(back))?;
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

/// The way back as [`dashboard::connect_outcome`] takes it.
fn site_ref(site: Option<&(String, String)>) -> Option<(&str, &str)> {
    site.map(|(id, name)| (id.as_str(), name.as_str()))
}
