//! Emailed sign-in codes, shared by member sign-in (`routes/signin.rs`) and owner sign-in (`owners.rs`).
//!
//! latch-core's `signin` decides (drawing, hashing, the code's shape, checking); this module stores the hash, writes
//! the email to the outbox in the same D1 batch, rate-limits, takes attempts atomically and marks codes used. A code
//! is bound to a [`Scope`] (a site and an audience, so a member's code never signs an owner in, nor the other way
//! round), to an email, and to the challenge of the browser that asked for it.

use latch_core::signin::{self, Attempt, Binding, CodeKind, StoredCode};
use worker::Request;

use crate::context::{Ctx, random_bytes, random_id};
use crate::error::{ApiError, ApiResult};
use crate::ratelimit::{self, Limit};
use crate::store::{self, Email, NewSigninCode};

/// Codes asked for one email from one network, in one scope.
const PER_EMAIL_NETWORK: Limit = Limit { scope: "signin-email", max: 5, window_secs: 15 * 60 };
/// Codes asked for from one network.
const PER_NETWORK: Limit = Limit { scope: "signin-ip", max: 30, window_secs: 15 * 60 };
/// Codes tried from one network.
const VERIFY_PER_NETWORK: Limit = Limit { scope: "signin-verify-ip", max: 60, window_secs: 15 * 60 };
/// Codes issued to one address in one scope per day (UTC): the first `signin::SHORT_CODES_PER_DAY` are six digits.
const CODES_PER_DAY: Limit = Limit { scope: "signin-codes-day", max: signin::SHORT_CODES_PER_DAY, window_secs: 86_400 };

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

/// Counts a request for a code against the per-network and per-(email, network) limits (429 `rate_limited`).
/// There is deliberately no limit per email alone: a stranger's requests must never stop its owner from getting a
/// code (docs/security.md, "Sign-in codes").
pub(crate) async fn limit_request(ctx: &Ctx, req: &Request, scope: Scope<'_>, email: &str) -> ApiResult<()> {
    let network = ratelimit::client_network(req);
    ratelimit::hit(ctx, PER_NETWORK, &network).await?;
    // Owner codes' scope site (`latch-owners`) never equals a site id, so members and owners count apart.
    ratelimit::hit(ctx, PER_EMAIL_NETWORK, &format!("{}:{email}:{network}", scope.site)).await
}

/// A fresh challenge for the asking browser (answered even when no code is sent, so the answer is the same for
/// addresses Latch does not know).
pub(crate) fn challenge() -> ApiResult<String> {
    Ok(signin::challenge(&random_bytes::<{ signin::CHALLENGE_BYTES }>()?))
}

/// Issues a code for `email` in `scope`, bound to `challenge`, and queues the email, in one D1 batch. Other
/// browsers' codes stay valid. `place` is what the email says the code is for (the site's name, or the dashboard).
pub(crate) async fn send(ctx: &Ctx, scope: Scope<'_>, email: &str, challenge: &str, place: &str) -> ApiResult<()> {
    let secret = ctx.config.token_secret.as_bytes();
    let challenge_hash = signin::challenge_hash(challenge);
    let binding = Binding { site: scope.site, audience: scope.audience, email, challenge_hash: &challenge_hash };
    // Taken atomically, so codes asked for at the same moment from many networks cannot all be six digits.
    let (nth, _) = ratelimit::count(ctx, CODES_PER_DAY, &format!("{}:{}:{email}", scope.site, scope.audience)).await?;
    let kind = signin::kind_for(nth - 1);
    let draw = || -> ApiResult<Option<signin::Issued>> {
        let random = random_bytes::<{ signin::RANDOM_BYTES }>()?;
        Ok(signin::issue(secret, &binding, kind, &random, ctx.now))
    };
    let issued = match draw()? {
        Some(issued) => issued,
        None => draw()?.ok_or_else(|| ApiError::internal("no usable random draw twice in a row"))?,
    };
    let message = signin::email(place, &issued);
    let code = NewSigninCode {
        id: &random_id("sic")?,
        site: scope.site,
        audience: scope.audience,
        email,
        challenge_hash: &challenge_hash,
        kind: kind.as_str(),
        code_hash: &issued.code_hash,
        expires_at: issued.expires_at,
    };
    let statements = vec![
        store::insert_signin_code(&ctx.db, &code, ctx.now)?,
        store::enqueue(
            &ctx.db,
            &random_id("msg")?,
            &Email { site: scope.email_site, to: email, subject: &message.subject, text: &message.text },
            ctx.now,
        )?,
    ];
    store::batch(&ctx.db, statements).await?;
    ctx.mail_pending.set(true);
    Ok(())
}

/// 401 `invalid_code`: the one answer for wrong, used, burned, expired, unknown and other browsers' codes.
pub(crate) fn invalid_code() -> ApiError {
    ApiError::new(401, "invalid_code", "That code is not valid. Check the latest email, or ask for a new code.")
}

/// Checks `typed` against the live code this browser (`challenge`) got for `email` in `scope`, and uses it up;
/// 401 `invalid_code` otherwise. Rate-limited per network.
pub(crate) async fn consume(
    ctx: &Ctx,
    req: &Request,
    scope: Scope<'_>,
    email: &str,
    challenge: &str,
    typed: &str,
) -> ApiResult<()> {
    ratelimit::hit(ctx, VERIFY_PER_NETWORK, &ratelimit::client_network(req)).await?;
    let challenge_hash = signin::challenge_hash(challenge);
    let row = store::live_signin_code(&ctx.db, scope.site, scope.audience, email, &challenge_hash).await?;
    let row = row.ok_or_else(invalid_code)?;
    // Take one attempt atomically before checking: parallel guesses cannot exceed the allowance.
    let taken = store::take_signin_attempt(&ctx.db, &row.id, signin::MAX_ATTEMPTS).await?;
    let stored = StoredCode {
        code_hash: row.code_hash,
        kind: CodeKind::parse(&row.kind),
        expires_at: row.expires_at,
        attempts: taken.map_or(signin::MAX_ATTEMPTS, |attempts| attempts - 1),
        used: false,
    };
    let binding = Binding { site: scope.site, audience: scope.audience, email, challenge_hash: &challenge_hash };
    match signin::check(&stored, ctx.config.token_secret.as_bytes(), &binding, typed, ctx.now) {
        Attempt::Accept => {}
        Attempt::Reject { .. } | Attempt::Burned | Attempt::Expired => return Err(invalid_code()),
    }
    if !store::use_signin_code(&ctx.db, &row.id, ctx.now).await? {
        return Err(invalid_code()); // used by a parallel request
    }
    Ok(())
}
