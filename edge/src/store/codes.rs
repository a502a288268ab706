//! `signin_codes`, `rate_limits` and `identity_uses`: emailed sign-in codes (stored hashed, attempts taken
//! atomically, used once), fixed-window rate-limit counters, the host identities already used, and their pruning.

use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{Arg, Store, batch, returns_row, row, statement};

/// A sign-in code to store (latch-core's `signin::Issued`, with what it is bound to).
pub(crate) struct NewSigninCode<'a> {
    /// `sic_...`
    pub(crate) id: &'a str,
    /// The code scope's site.
    pub(crate) site: &'a str,
    /// `widget` or `owner` (or the owners' confirmation).
    pub(crate) audience: &'a str,
    /// The address it was sent to.
    pub(crate) email: &'a str,
    /// Hash of the asking browser's challenge.
    pub(crate) challenge_hash: &'a str,
    /// The code's kind (`signin::CodeKind::as_str`).
    pub(crate) kind: &'a str,
    /// The code's hash.
    pub(crate) code_hash: &'a str,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

/// Statement storing a sign-in code issued at `now`.
pub(crate) fn insert_signin_code(
    db: &Store,
    code: &NewSigninCode<'_>,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO signin_codes (id, site_id, audience, email, challenge_hash, kind, code_hash, expires_at, \
         created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &[
            Arg::Text(code.id),
            Arg::Text(code.site),
            Arg::Text(code.audience),
            Arg::Text(code.email),
            Arg::Text(code.challenge_hash),
            Arg::Text(code.kind),
            Arg::Text(code.code_hash),
            Arg::Int(code.expires_at),
            Arg::Int(now),
        ],
    )
}

/// The newest unused code of a scope, address and browser.
#[derive(Deserialize)]
pub(crate) struct CodeRow {
    /// `sic_...`
    pub(crate) id: String,
    /// The code's hash.
    pub(crate) code_hash: String,
    /// The code's kind.
    pub(crate) kind: String,
    /// Unix seconds.
    pub(crate) expires_at: i64,
}

/// The newest unused code sent to `email` in the scope `(site, audience)` for the browser of `challenge_hash`.
pub(crate) async fn live_signin_code(
    db: &Store,
    site: &str,
    audience: &str,
    email: &str,
    challenge_hash: &str,
) -> worker::Result<Option<CodeRow>> {
    row(
        db,
        "SELECT id, code_hash, kind, expires_at FROM signin_codes \
         WHERE site_id = ?1 AND audience = ?2 AND email = ?3 AND challenge_hash = ?4 AND used_at IS NULL \
         ORDER BY created_at DESC LIMIT 1",
        &[Arg::Text(site), Arg::Text(audience), Arg::Text(email), Arg::Text(challenge_hash)],
    )
    .await
}

/// Takes one attempt of the unused code `id` while it has fewer than `max_attempts`; answers its attempts count
/// after this one, `None` when none was left (or it was used).
pub(crate) async fn take_signin_attempt(db: &Store, id: &str, max_attempts: i64) -> worker::Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Attempts {
        attempts: i64,
    }
    let taken: Option<Attempts> = row(
        db,
        "UPDATE signin_codes SET attempts = attempts + 1 WHERE id = ?1 AND used_at IS NULL AND attempts < ?2 \
         RETURNING attempts",
        &[Arg::Text(id), Arg::Int(max_attempts)],
    )
    .await?;
    Ok(taken.map(|t| t.attempts))
}

/// Marks the code `id` used at `now`; `false` when it was used already.
pub(crate) async fn use_signin_code(db: &Store, id: &str, now: i64) -> worker::Result<bool> {
    returns_row(
        db,
        "UPDATE signin_codes SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL RETURNING id",
        &[Arg::Text(id), Arg::Int(now)],
    )
    .await
}

/// Counts one call of `key` in the window starting at `window_start` (a counter of an older window starts over);
/// answers the window's count, this call included. Atomic: concurrent calls each get their own number.
pub(crate) async fn count_rate_limit(db: &Store, key: &str, window_start: i64) -> worker::Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Row {
        count: i64,
    }
    let row: Option<Row> = row(
        db,
        "INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END, \
           window_start = excluded.window_start \
         RETURNING count",
        &[Arg::Text(key), Arg::Int(window_start)],
    )
    .await?;
    Ok(row.map(|r| r.count))
}

/// Deletes, in one batch, rate-limit windows that started and sign-in codes that expired before `ended_before`, and
/// used identities that expired before `now`.
pub(crate) async fn prune_codes_and_limits(db: &Store, ended_before: i64, now: i64) -> worker::Result<()> {
    let ended = [Arg::Int(ended_before)];
    batch(
        db,
        vec![
            statement(db, "DELETE FROM rate_limits WHERE window_start < ?1", &ended)?,
            statement(db, "DELETE FROM signin_codes WHERE expires_at < ?1", &ended)?,
            statement(db, "DELETE FROM identity_uses WHERE expires_at < ?1", &[Arg::Int(now)])?,
        ],
    )
    .await
}

/// Records the first use of a host identity value (its [`latch_core::identity::replay_key`]) until it expires;
/// `false` when it was used before.
pub(crate) async fn first_identity_use(db: &Store, site: &str, key: &str, expires_at: i64) -> worker::Result<bool> {
    let inserted: Option<serde_json::Value> = row(
        db,
        "INSERT INTO identity_uses (site_id, value_hash, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (site_id, value_hash) DO NOTHING RETURNING value_hash",
        &[Arg::Text(site), Arg::Text(key), Arg::Int(expires_at)],
    )
    .await?;
    Ok(inserted.is_some())
}
