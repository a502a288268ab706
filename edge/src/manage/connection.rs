//! A site's Stripe connection: the authorize URL of a Connect flow bound to whoever asked, and disconnecting.
//! Shared by the owner API (`routes::connect`) and the dashboard (`dashboard::payments`).

use latch_core::connect::{self, AuthorizeParams, OAuthError, Starter};
use latch_core::owner::Sensitive;
use latch_core::stripe_request;
use serde::Deserialize;
use worker::Request;

use crate::context::{Ctx, random_id};
use crate::error::{ApiError, ApiResult};
use crate::http::edge_origin;
use crate::store::{self, Site};
use crate::{http, owners, stripe};

fn client_id(ctx: &Ctx) -> ApiResult<&str> {
    ctx.config.connect_client_id.as_deref().ok_or_else(|| {
        ApiError::new(
            409,
            "connect_not_configured",
            "Stripe Connect is not configured on this Latch (STRIPE_CONNECT_CLIENT_ID); it runs in single-account mode",
        )
    })
}

/// Stripe's authorize URL for `site` with a fresh single-use state. With `session` (the raw token of the owner
/// session that asked) the state is bound to that session and no cookie is needed; without (the operator token),
/// it is bound to a fresh nonce and the answer carries the `Set-Cookie` value holding it (the JSON API and the
/// dashboard both start Connect here).
pub(crate) async fn authorize(
    ctx: &Ctx,
    req: &Request,
    site: &Site,
    session: Option<&str>,
) -> ApiResult<(String, Option<String>)> {
    let client_id = client_id(ctx)?;
    let change = site.connection().may_connect()?;
    owners::require_confirmed(ctx, session, change).await?;
    let state = format!("{}{}", random_id("st")?, random_id("")?);
    let (binding, nonce) = match session {
        Some(token) => (connect::binding(Starter::OwnerSession(token)), None),
        None => {
            let nonce = format!("{}{}", random_id("n")?, random_id("")?);
            (connect::binding(Starter::Nonce(&nonce)), Some(nonce))
        }
    };
    let redirect_uri = format!("{}/connect/callback", edge_origin(req)?);
    store::insert_oauth_state(
        &ctx.db,
        &connect::hash_secret(&state),
        &site.id,
        &binding,
        ctx.now + connect::STATE_TTL_SECS,
        ctx.now,
    )
    .await?;
    let url = connect::authorize_url(&AuthorizeParams {
        connect_base: &ctx.config.connect_base,
        client_id,
        state: &state,
        redirect_uri: &redirect_uri,
    });
    let secure = http::secure_cookies(req)?;
    Ok((url, nonce.map(|n| connect::oauth_cookie(&n, secure))))
}

#[derive(Deserialize)]
struct Deauthorized {
    #[allow(dead_code)] // Stripe's confirmation; only success matters
    stripe_user_id: String,
}

/// What the owner is told about subscriptions when disconnecting.
pub(crate) const SUBSCRIPTIONS_NOT_CANCELLED: &str = "Active subscriptions on the Stripe account are not cancelled: \
     Stripe keeps billing them until they are cancelled in Stripe. Members keep the access they have.";

/// Deauthorizes the site's account at Stripe, marks the site disconnected and tells its owners; answers the account
/// id. `session` is the owner session asking (`None`: the operator), which must have confirmed with a fresh code.
/// Subscriptions on the account are not cancelled.
pub(crate) async fn disconnect_site(ctx: &Ctx, site: &Site, session: Option<&str>) -> ApiResult<String> {
    let client_id = client_id(ctx)?;
    owners::require_confirmed(ctx, session, Sensitive::Disconnect).await?;
    let account = site.connection().may_disconnect()?.to_owned();
    let (status, body) =
        stripe::send_connect(&ctx.config, &stripe_request::oauth_deauthorize(client_id, &account)).await;
    match connect::parse_oauth::<Deauthorized>(status, &body) {
        // Refused: Stripe no longer knows the connection (already deauthorized from Stripe's side).
        Ok(_) | Err(OAuthError::Refused(_)) => {}
        Err(e) => return Err(ApiError::new(503, "stripe_unavailable", e.to_string())),
    }
    let mut statements = vec![store::mark_disconnected(&ctx.db, &account)?];
    statements.extend(owners::connection_changed(ctx, &site.id, &account, false).await?);
    store::batch(&ctx.db, statements).await?;
    Ok(account)
}
