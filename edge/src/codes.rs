//! Emailed sign-in codes, shared by member sign-in (`routes/signin.rs`) and owner sign-in (`owners.rs`).
//!
//! latch-core's `signin` decides (drawing, hashing, checking); this module stores the hash, writes the email to the
//! outbox in the same D1 batch, rate-limits, takes attempts atomically and marks codes used. A code is bound to a
//! [`Scope`]: a site and an audience, so a member's code never signs an owner in, nor the other way round.

use latch_core::signin::{self, Attempt, StoredCode};
use serde::Deserialize;
use worker::Request;

use crate::context::{Ctx, random_bytes, random_id};
use crate::db::{self, Arg};
use crate::error::{ApiError, ApiResult};
use crate::outbox::{self, Email};
use crate::ratelimit::{self, Limit};

/// Codes asked for one email in one scope.
const PER_EMAIL: Limit = Limit { scope: "signin-email", max: 5, window_secs: 15 * 60 };
/// Codes asked for from one client address.
const PER_IP: Limit = Limit { scope: "signin-ip", max: 30, window_secs: 15 * 60 };
/// Codes tried from one client address.
const VERIFY_PER_IP: Limit = Limit { scope: "signin-verify-ip", max: 60, window_secs: 15 * 60 };

/// What a code signs in to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// Site id for members; `latch_core::owner::CODE_SCOPE` for owners.
    pub(crate) site: &'a str,
    /// `widget` (members) or `owner`.
    pub(crate) audience: &'a str,
    /// Site the email concerns (outbox), if any.
    pub(crate) email_site: Option<&'a str>,
}

/// Counts a request for a code against the per-IP and per-email limits (429 `rate_limited`).
pub(crate) async fn limit_request(ctx: &Ctx, req: &Request, scope: Scope<'_>, email: &str) -> ApiResult<()> {
    ratelimit::hit(ctx, PER_IP, &ratelimit::client_ip(req)).await?;
    // Owner codes' scope site (`latch-owners`) never equals a site id, so members and owners count apart.
    ratelimit::hit(ctx, PER_EMAIL, &format!("{}:{email}", scope.site)).await
}

/// Issues a code for `email` in `scope`, supersedes older ones and queues the email, all in one D1 batch. `place`
/// is what the email says the code is for (the site's name, or the dashboard).
pub(crate) async fn send(ctx: &Ctx, scope: Scope<'_>, email: &str, place: &str) -> ApiResult<()> {
    let secret = ctx.config.token_secret.as_bytes();
    let draw = || -> ApiResult<Option<signin::Issued>> {
        let random = random_bytes::<{ signin::RANDOM_BYTES }>()?;
        Ok(signin::issue(secret, scope.site, scope.audience, email, &random, ctx.now))
    };
    let issued = match draw()? {
        Some(issued) => issued,
        None => draw()?.ok_or_else(|| ApiError::internal("no usable random draw twice in a row"))?,
    };
    let subject = format!("{} is your sign-in code for {place}", issued.code);
    let text = format!(
        "Your sign-in code for {} is:\n\n    {}\n\nType it where you asked for it. It works once, for 10 minutes.\n\
         If you did not ask to sign in, ignore this email: nobody can sign in without the code.\n",
        place, issued.code
    );
    let statements = vec![
        // A new code supersedes older unused ones.
        db::statement(
            &ctx.db,
            "UPDATE signin_codes SET used_at = ?4 \
             WHERE site_id = ?1 AND audience = ?2 AND email = ?3 AND used_at IS NULL",
            &[Arg::Text(scope.site), Arg::Text(scope.audience), Arg::Text(email), Arg::Int(ctx.now)],
        )?,
        db::statement(
            &ctx.db,
            "INSERT INTO signin_codes (id, site_id, audience, email, code_hash, expires_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                Arg::Text(&random_id("sic")?),
                Arg::Text(scope.site),
                Arg::Text(scope.audience),
                Arg::Text(email),
                Arg::Text(&issued.code_hash),
                Arg::Int(issued.expires_at),
                Arg::Int(ctx.now),
            ],
        )?,
        outbox::enqueue(
            &ctx.db,
            &random_id("msg")?,
            &Email { site: scope.email_site, to: email, subject: &subject, text: &text },
            ctx.now,
        )?,
    ];
    db::batch(&ctx.db, statements).await?;
    ctx.mail_pending.set(true);
    Ok(())
}

/// 401 `invalid_code`: the one answer for wrong, used, burned, expired and unknown codes.
pub(crate) fn invalid_code() -> ApiError {
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

#[derive(Deserialize)]
struct Used {
    #[allow(dead_code)] // only the row's existence matters
    id: String,
}

/// Checks `typed` against the newest live code of `email` in `scope` and uses it up; 401 `invalid_code` otherwise.
/// Rate-limited per client address.
pub(crate) async fn consume(ctx: &Ctx, req: &Request, scope: Scope<'_>, email: &str, typed: &str) -> ApiResult<()> {
    ratelimit::hit(ctx, VERIFY_PER_IP, &ratelimit::client_ip(req)).await?;
    let row: Option<CodeRow> = db::row(
        &ctx.db,
        "SELECT id, code_hash, expires_at FROM signin_codes \
         WHERE site_id = ?1 AND audience = ?2 AND email = ?3 AND used_at IS NULL ORDER BY created_at DESC LIMIT 1",
        &[Arg::Text(scope.site), Arg::Text(scope.audience), Arg::Text(email)],
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
    match signin::check(&stored, secret, scope.site, scope.audience, email, typed, ctx.now) {
        Attempt::Accept => {}
        Attempt::Reject { .. } | Attempt::Burned | Attempt::Expired => return Err(invalid_code()),
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
    Ok(())
}
