//! Site owners: sign-in by emailed code (sign-up = sign-in), sessions, and the sites an owner manages.
//!
//! Owner codes use the members' mechanism (`codes.rs`, latch-core `signin`) with audience `owner` and the scope
//! `latch_core::owner::CODE_SCOPE`, so a member's code never signs an owner in. The first successful verify creates
//! the owner account. A session is 32 random bytes (base64url); D1 keeps only its SHA-256 in `owner_sessions`.
//! The JSON APIs take the session as a bearer token (`auth.rs`); the dashboard reads it from the cookie made by
//! [`session_cookie`].

use latch_core::identity;
use latch_core::owner::{self, Sensitive, StoredSession};
use latch_core::validate;
use serde::{Deserialize, Serialize};
use worker::{D1PreparedStatement, Request};

use crate::codes::{self, Scope};
use crate::context::{Ctx, random_bytes, random_id};
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::ratelimit::{self, Limit};
use crate::store::{self, SiteSummaryRow};

/// Sites one owner may create per day.
const SITES_PER_OWNER: Limit = Limit { scope: "owner-site-create", max: 20, window_secs: 24 * 3600 };

/// A signed-in site owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Owner {
    /// `own_...`.
    pub(crate) id: String,
    /// Normalized email address.
    pub(crate) email: String,
}

/// A site as its owner sees it (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SiteSummary {
    /// Public key, for the script tag's `data-site`.
    pub(crate) id: String,
    /// Display name.
    pub(crate) name: String,
    /// Origins allowed for CORS and redirects.
    pub(crate) allowed_origins: Vec<String>,
    /// `connected`, `disconnected`, `not_connected`, or `platform_account` (the operator put the site on the
    /// platform's own Stripe account).
    pub(crate) stripe_status: String,
    /// Connected Stripe account, if any.
    pub(crate) stripe_account: Option<String>,
    /// Whether the site works in live mode.
    pub(crate) livemode: bool,
    /// Unix seconds.
    pub(crate) created_at: i64,
}

/// What the owners' API shows of a stored site.
fn summary(row: SiteSummaryRow, stripe_key: &str) -> SiteSummary {
    let platform = row.platform_account != 0;
    SiteSummary {
        id: row.id,
        name: row.name,
        allowed_origins: serde_json::from_str(&row.allowed_origins).unwrap_or_default(),
        stripe_status: latch_core::account::status_label(row.stripe_status.as_deref(), platform).to_owned(),
        stripe_account: row.stripe_account,
        livemode: latch_core::account::site_livemode(row.livemode != 0, platform, stripe_key),
        created_at: row.created_at,
    }
}

/// The code scope of owners: one for all of Latch.
const SCOPE: Scope<'static> = Scope { site: owner::CODE_SCOPE, audience: owner::AUDIENCE, email_site: None };

/// Emails a sign-in code to `email`, bound to the asking browser's `challenge` (anyone may ask: signing in the first
/// time creates the account). Rate-limited per network and per (email, network) like members' codes.
pub(crate) async fn send_owner_code(ctx: &Ctx, req: &Request, email: &str, challenge: &str) -> ApiResult<()> {
    let email = validate::email(email)?;
    codes::limit_request(ctx, req, SCOPE, &email).await?;
    codes::send(ctx, SCOPE, &email, challenge, "your Latch dashboard").await
}

/// Trades an emailed code (with the browser's `challenge`) for a new session: the owner (created on first sign-in)
/// and the session token. 401 `invalid_code` for a wrong, used, burned or expired code, another browser's code, or a
/// member's code.
pub(crate) async fn verify_owner_code(
    ctx: &Ctx,
    req: &Request,
    email: &str,
    challenge: &str,
    code: &str,
) -> ApiResult<(Owner, String)> {
    let email = validate::email(email)?;
    codes::consume(ctx, req, SCOPE, &email, challenge, code).await?;
    let owner = store::upsert_owner(&ctx.db, &random_id("own")?, &email, ctx.now).await?;
    let owner = owner.ok_or_else(|| ApiError::internal("the owner upsert returned no row"))?;
    let owner = Owner { id: owner.id, email: owner.email };
    let token = owner::session_token(&random_bytes::<{ owner::SESSION_BYTES }>()?);
    store::insert_session(&ctx.db, &owner::session_hash(&token), &owner.id, ctx.now, ctx.now + owner::SESSION_TTL_SECS)
        .await?;
    Ok((owner, token))
}

/// The code scope of owners' confirmations of sensitive changes.
const CONFIRM_SCOPE: Scope<'static> =
    Scope { site: owner::CODE_SCOPE, audience: owner::CONFIRM_AUDIENCE, email_site: None };

/// Emails `owner` a code to confirm a sensitive change in this session, bound to `challenge`.
pub(crate) async fn send_confirm_code(ctx: &Ctx, req: &Request, owner: &Owner, challenge: &str) -> ApiResult<()> {
    codes::limit_request(ctx, req, CONFIRM_SCOPE, &owner.email).await?;
    codes::send(ctx, CONFIRM_SCOPE, &owner.email, challenge, "a change in your Latch dashboard").await
}

/// Checks a confirmation code and marks the session `token` confirmed now (`latch_core::owner::needs_confirmation`).
pub(crate) async fn confirm_session(
    ctx: &Ctx,
    req: &Request,
    owner: &Owner,
    token: &str,
    challenge: &str,
    code: &str,
) -> ApiResult<()> {
    codes::consume(ctx, req, CONFIRM_SCOPE, &owner.email, challenge, code).await?;
    store::mark_session_confirmed(&ctx.db, &owner::session_hash(token), ctx.now).await?;
    Ok(())
}

/// 403 `confirmation_required` unless the owner session (`None`: the operator token) may do `action` now
/// (`latch_core::owner::needs_confirmation`): a code typed in this session within 10 minutes.
pub(crate) async fn require_confirmed(ctx: &Ctx, session: Option<&str>, action: Sensitive) -> ApiResult<()> {
    let Some(token) = session else { return Ok(()) };
    if owner::needs_confirmation(action, confirmed_at(ctx, token).await?, ctx.now) {
        let what = match action {
            Sensitive::SiteSecret => "Reading or rotating the site's identity secret",
            _ => "Changing this site's Stripe connection",
        };
        return Err(ApiError::new(
            403,
            "confirmation_required",
            format!("{what} needs a fresh code from your email: confirm it is you first."),
        ));
    }
    Ok(())
}

/// When the session `token` last confirmed with a fresh code, if ever.
pub(crate) async fn confirmed_at(ctx: &Ctx, token: &str) -> ApiResult<Option<i64>> {
    Ok(store::session_confirmed_at(&ctx.db, &owner::session_hash(token)).await?)
}

/// Outbox statements telling every owner of `site_id` that its Stripe connection changed (an operator-made site
/// without owners: logged).
pub(crate) async fn connection_changed(
    ctx: &Ctx,
    site_id: &str,
    account: &str,
    connected: bool,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let name = store::site_name(&ctx.db, site_id).await?.unwrap_or_else(|| site_id.to_owned());
    let email = latch_core::notify::connection_changed(&name, account, connected);
    let owners = emails_of_site(ctx, site_id).await?;
    if owners.is_empty() {
        worker::console_log!("Stripe connection of {site_id} changed ({account}); the site has no owner to tell");
    }
    let mut statements = Vec::new();
    for to in owners {
        let row = store::Email { site: Some(site_id), to: &to, subject: &email.subject, text: &email.text };
        statements.push(store::enqueue(&ctx.db, &random_id("msg")?, &row, ctx.now)?);
        ctx.mail_pending.set(true);
    }
    Ok(statements)
}

/// The owner a session token signs in, if the session is known, unexpired and not revoked.
pub(crate) async fn owner_of_session(ctx: &Ctx, token: &str) -> ApiResult<Option<Owner>> {
    if !owner::is_session_token(token) {
        return Ok(None);
    }
    let row = store::owner_session(&ctx.db, &owner::session_hash(token)).await?;
    Ok(row.and_then(|r| {
        let stored = StoredSession { owner_id: r.owner_id, expires_at: r.expires_at, revoked_at: r.revoked_at };
        owner::session_live(&stored, ctx.now).then_some(Owner { id: stored.owner_id, email: r.email })
    }))
}

/// Revokes a session (sign-out): the token stops working at once.
pub(crate) async fn revoke_session(ctx: &Ctx, token: &str) -> ApiResult<()> {
    store::revoke_owner_session(&ctx.db, &owner::session_hash(token), ctx.now).await?;
    Ok(())
}

/// `Set-Cookie` value carrying `token` to the dashboard: HttpOnly, `SameSite=Lax`, `Path=/`, 30 days;
/// `__Host-latch_owner` + `Secure` over https, `latch_owner` on loopback http.
pub(crate) fn session_cookie(req: &Request, token: &str) -> ApiResult<String> {
    Ok(owner::session_cookie(token, http::secure_cookies(req)?))
}

/// `Set-Cookie` value deleting the session cookie.
pub(crate) fn clear_session_cookie(req: &Request) -> ApiResult<String> {
    Ok(owner::clear_session_cookie(http::secure_cookies(req)?))
}

/// The sites `owner` manages, oldest first.
pub(crate) async fn sites_of(ctx: &Ctx, owner: &Owner) -> ApiResult<Vec<SiteSummary>> {
    let rows = store::site_summaries_of_owner(&ctx.db, &owner.id).await?;
    Ok(rows.into_iter().map(|r| summary(r, &ctx.config.stripe_key)).collect())
}

/// One site's summary (the caller has checked who may see it).
pub(crate) async fn site_summary(ctx: &Ctx, site_id: &str) -> ApiResult<SiteSummary> {
    let row = store::site_summary_row(&ctx.db, site_id).await?;
    row.map(|r| summary(r, &ctx.config.stripe_key)).ok_or_else(|| ApiError::not_found("site"))
}

/// Whether `owner` manages `site_id`.
pub(crate) async fn owns(ctx: &Ctx, owner: &Owner, site_id: &str) -> ApiResult<bool> {
    Ok(store::is_site_owner(&ctx.db, site_id, &owner.id).await?)
}

/// The email addresses of everyone who manages `site_id` (for owner notifications), oldest owner first.
pub(crate) async fn emails_of_site(ctx: &Ctx, site_id: &str) -> ApiResult<Vec<String>> {
    Ok(store::owner_emails(&ctx.db, site_id).await?)
}

/// Creates a site with a fresh public key (`site_` + 24 hex digits) and makes `owner` its owner. Validates the
/// name and origins (400), at most 20 new sites per owner a day (429).
pub(crate) async fn create_site(ctx: &Ctx, owner: &Owner, name: &str, origins: &[String]) -> ApiResult<SiteSummary> {
    let name = validate::site_name(name)?;
    let origins = validate::allowed_origins(origins)?;
    ratelimit::hit(ctx, SITES_PER_OWNER, &owner.id).await?;
    let id = random_id("site")?;
    let origins_json = serde_json::to_string(&origins).map_err(ApiError::internal)?;
    store::batch(
        &ctx.db,
        vec![
            store::insert_site(&ctx.db, &id, name, &origins_json, ctx.now)?,
            store::insert_site_owner(&ctx.db, &id, &owner.id, ctx.now)?,
        ],
    )
    .await?;
    site_summary(ctx, &id).await
}

/// Renames a site and/or replaces its allowed origins (each validated; 400 otherwise). The caller has checked who
/// may. Sites' origins are read from D1 on every request (there is no KV copy), so a change applies at once.
pub(crate) async fn update_site(
    ctx: &Ctx,
    site_id: &str,
    name: Option<&str>,
    origins: Option<&[String]>,
) -> ApiResult<SiteSummary> {
    let name = name.map(validate::site_name).transpose()?;
    let origins = origins.map(validate::allowed_origins).transpose()?;
    let origins_json = origins.map(|o| serde_json::to_string(&o)).transpose().map_err(ApiError::internal)?;
    store::update_site(&ctx.db, site_id, name, origins_json.as_deref()).await?;
    site_summary(ctx, site_id).await
}

/// A site's current secret and its generation. Derived from `TOKEN_SECRET` (latch-core `identity::site_secret`);
/// D1 holds only the generation.
pub(crate) async fn site_secret(ctx: &Ctx, site_id: &str) -> ApiResult<(String, i64)> {
    let generation = store::secret_generation(&ctx.db, site_id).await?.ok_or_else(|| ApiError::not_found("site"))?;
    Ok((identity::site_secret(ctx.config.token_secret.as_bytes(), site_id, generation), generation))
}

/// Retires a site's secret at once and answers the new one with its generation.
pub(crate) async fn rotate_site_secret(ctx: &Ctx, site_id: &str) -> ApiResult<(String, i64)> {
    let generation =
        store::next_secret_generation(&ctx.db, site_id).await?.ok_or_else(|| ApiError::not_found("site"))?;
    Ok((identity::site_secret(ctx.config.token_secret.as_bytes(), site_id, generation), generation))
}
