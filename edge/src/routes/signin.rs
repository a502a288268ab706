//! Member sign-in by emailed code, token refresh and sign-out.
//!
//! `POST /v1/signin {site, email}` always answers 202 `{"sent": true}`, the same bytes for unknown emails; only
//! known members of the site get an email with a 6-digit code (latch-core's `signin`). `POST /v1/signin/verify`
//! trades the code for a member token plus access (the claim's shape). No GET ever signs in, so link scanners cannot
//! burn or use a code. `POST /v1/token/refresh` and `POST /v1/signout {everywhere}` take the bearer member token.

use latch_core::signin::{self, Attempt, StoredCode};
use latch_core::token::WIDGET_AUDIENCE;
use latch_core::validate;
use serde::Deserialize;
use worker::{Request, Response};

use crate::context::{Ctx, random_bytes, random_id};
use crate::db::{self, Arg, Site};
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::outbox::{self, Email};
use crate::ratelimit::{self, Limit};
use crate::routes::access;

/// Codes asked for one email of one site.
const PER_EMAIL: Limit = Limit { scope: "signin-email", max: 5, window_secs: 15 * 60 };
/// Codes asked for from one client address.
const PER_IP: Limit = Limit { scope: "signin-ip", max: 30, window_secs: 15 * 60 };
/// Codes tried from one client address.
const VERIFY_PER_IP: Limit = Limit { scope: "signin-verify-ip", max: 60, window_secs: 15 * 60 };

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
}

#[derive(Deserialize, Default)]
struct SignoutBody {
    #[serde(default)]
    everywhere: bool,
}

#[derive(Deserialize)]
struct SiteName {
    name: String,
}

/// `POST /v1/signin {site, email}`.
pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let body: SigninBody = http::json_body(req).await?;
    let email = validate::email(&body.email)?;
    let site = ctx.site(&body.site).await?;
    ratelimit::hit(ctx, PER_IP, &ratelimit::client_ip(req)).await?;
    ratelimit::hit(ctx, PER_EMAIL, &format!("{}:{email}", site.id)).await?;
    if db::member_by_email(&ctx.db, &site.id, &email).await?.is_some() {
        send_code(ctx, &site, &email).await?;
    }
    http::json(202, &serde_json::json!({ "sent": true }))
}

async fn send_code(ctx: &Ctx, site: &Site, email: &str) -> ApiResult<()> {
    let secret = ctx.config.token_secret.as_bytes();
    let issued = match signin::issue(
        secret,
        &site.id,
        WIDGET_AUDIENCE,
        email,
        &random_bytes::<{ signin::RANDOM_BYTES }>()?,
        ctx.now,
    ) {
        Some(issued) => issued,
        None => signin::issue(
            secret,
            &site.id,
            WIDGET_AUDIENCE,
            email,
            &random_bytes::<{ signin::RANDOM_BYTES }>()?,
            ctx.now,
        )
        .ok_or_else(|| ApiError::internal("no usable random draw twice in a row"))?,
    };
    let name: Option<SiteName> =
        db::row(&ctx.db, "SELECT name FROM sites WHERE id = ?1", &[Arg::Text(&site.id)]).await?;
    let name = name.map_or_else(|| site.id.clone(), |n| n.name);
    let subject = format!("{} is your sign-in code for {name}", issued.code);
    let text = format!(
        "Your sign-in code for {name} is:\n\n    {}\n\nType it where you asked for it. It works once, for 10 minutes.\n\
         If you did not ask to sign in, ignore this email: nobody can sign in without the code.\n",
        issued.code
    );
    let statements = vec![
        // A new code supersedes older unused ones.
        db::statement(
            &ctx.db,
            "UPDATE signin_codes SET used_at = ?4 \
             WHERE site_id = ?1 AND audience = ?2 AND email = ?3 AND used_at IS NULL",
            &[Arg::Text(&site.id), Arg::Text(WIDGET_AUDIENCE), Arg::Text(email), Arg::Int(ctx.now)],
        )?,
        db::statement(
            &ctx.db,
            "INSERT INTO signin_codes (id, site_id, audience, email, code_hash, expires_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                Arg::Text(&random_id("sic")?),
                Arg::Text(&site.id),
                Arg::Text(WIDGET_AUDIENCE),
                Arg::Text(email),
                Arg::Text(&issued.code_hash),
                Arg::Int(issued.expires_at),
                Arg::Int(ctx.now),
            ],
        )?,
        outbox::enqueue(
            &ctx.db,
            &random_id("msg")?,
            &Email { site: Some(&site.id), to: email, subject: &subject, text: &text },
            ctx.now,
        )?,
    ];
    db::batch(&ctx.db, statements).await?;
    ctx.mail_pending.set(true);
    Ok(())
}

fn invalid_code() -> ApiError {
    ApiError::new(401, "invalid_code", "That code is not valid. Check the latest email, or ask for a new code.")
}

#[derive(Deserialize)]
struct CodeRow {
    id: String,
    code_hash: String,
    expires_at: i64,
}

#[derive(Deserialize)]
struct Attempts {
    attempts: i64,
}

/// `POST /v1/signin/verify {site, email, code}` -> `{token, member, access}`.
pub(crate) async fn verify(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let body: VerifyBody = http::json_body(req).await?;
    let email = validate::email(&body.email)?;
    let site = ctx.site(&body.site).await?;
    ratelimit::hit(ctx, VERIFY_PER_IP, &ratelimit::client_ip(req)).await?;
    let row: Option<CodeRow> = db::row(
        &ctx.db,
        "SELECT id, code_hash, expires_at FROM signin_codes \
         WHERE site_id = ?1 AND audience = ?2 AND email = ?3 AND used_at IS NULL ORDER BY created_at DESC LIMIT 1",
        &[Arg::Text(&site.id), Arg::Text(WIDGET_AUDIENCE), Arg::Text(&email)],
    )
    .await?;
    let row = row.ok_or_else(invalid_code)?;
    // Take one attempt atomically before checking: parallel guesses cannot exceed the allowance.
    let taken: Option<Attempts> = db::row(
        &ctx.db,
        "UPDATE signin_codes SET attempts = attempts + 1 WHERE id = ?1 AND used_at IS NULL AND attempts < ?2 \
         RETURNING attempts",
        &[Arg::Text(&row.id), Arg::Int(signin::MAX_ATTEMPTS)],
    )
    .await?;
    let stored = StoredCode {
        code_hash: row.code_hash,
        expires_at: row.expires_at,
        attempts: taken.as_ref().map_or(signin::MAX_ATTEMPTS, |t| t.attempts - 1),
        used: false,
    };
    let secret = ctx.config.token_secret.as_bytes();
    match signin::check(&stored, secret, &site.id, WIDGET_AUDIENCE, &email, &body.code, ctx.now) {
        Attempt::Accept => {}
        Attempt::Reject { .. } | Attempt::Burned | Attempt::Expired => return Err(invalid_code()),
    }
    #[derive(Deserialize)]
    struct Used {
        #[allow(dead_code)] // only the row's existence matters
        id: String,
    }
    let used: Option<Used> = db::row(
        &ctx.db,
        "UPDATE signin_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL RETURNING id",
        &[Arg::Text(&row.id), Arg::Int(ctx.now)],
    )
    .await?;
    if used.is_none() {
        return Err(invalid_code()); // used by a parallel request
    }
    let member = db::member_by_email(&ctx.db, &site.id, &email).await?.ok_or_else(invalid_code)?;
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
    let bytes = req.bytes().await.unwrap_or_default();
    let body: SignoutBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        SignoutBody::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad_request(format!("the body is not the JSON expected: {e}")))?
    };
    if body.everywhere {
        db::statement(
            &ctx.db,
            "UPDATE members SET token_generation = token_generation + 1 WHERE site_id = ?1 AND id = ?2",
            &[Arg::Text(&site.id), Arg::Text(&member.id)],
        )?
        .run()
        .await?;
    }
    http::json(200, &serde_json::json!({ "signed_out": true, "everywhere": body.everywhere }))
}
