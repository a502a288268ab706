//! A small D1-backed fixed-window rate limiter, reusable by any route.
//!
//! Each (scope, subject) pair has one row holding the start of its current window and a count. One atomic upsert
//! both counts the call and answers the new count, so concurrent calls cannot slip past the limit.

use serde::Deserialize;

use crate::context::Ctx;
use crate::db::{self, Arg};
use crate::error::{ApiError, ApiResult};

/// A limit: at most `max` calls per `window_secs` seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    /// Name of what is limited, e.g. `signin-email`; part of the key.
    pub(crate) scope: &'static str,
    /// Calls allowed per window.
    pub(crate) max: i64,
    /// Window length in seconds.
    pub(crate) window_secs: i64,
}

/// Counts one call of `subject` under `limit`; 429 `rate_limited` once the window's allowance is spent.
pub(crate) async fn hit(ctx: &Ctx, limit: Limit, subject: &str) -> ApiResult<()> {
    let (count, window_start) = count(ctx, limit, subject).await?;
    if count > limit.max {
        let retry = window_start + limit.window_secs - ctx.now;
        return Err(ApiError::new(
            429,
            "rate_limited",
            format!("too many requests; try again in {} minute(s)", (retry + 59) / 60),
        ));
    }
    Ok(())
}

/// Counts one call of `subject` in `limit`'s current window and answers how many there were, this one included,
/// with the window's start. Atomic: concurrent calls each get their own number.
pub(crate) async fn count(ctx: &Ctx, limit: Limit, subject: &str) -> ApiResult<(i64, i64)> {
    #[derive(Deserialize)]
    struct Row {
        count: i64,
    }
    let window_start = ctx.now - ctx.now.rem_euclid(limit.window_secs);
    let key = format!("{}:{subject}", limit.scope);
    let row: Option<Row> = db::row(
        &ctx.db,
        "INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END, \
           window_start = excluded.window_start \
         RETURNING count",
        &[Arg::Text(&key), Arg::Int(window_start)],
    )
    .await?;
    Ok((row.map_or(1, |r| r.count), window_start))
}

/// The client's network as Cloudflare reports its address (`CF-Connecting-IP`): the IPv4 address or the IPv6 /64
/// (`latch_core::network::bucket`), `unknown` without one.
pub(crate) fn client_network(req: &worker::Request) -> String {
    latch_core::network::bucket(&req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_default())
}

/// Deletes rate-limit windows and sign-in codes that ended over a day ago, and used identities past their expiry
/// (which refuses them anyway), run by the cron trigger.
pub(crate) async fn prune(database: &db::Store, now: i64) -> worker::Result<()> {
    let day_ago = [Arg::Int(now - 86_400)];
    db::batch(
        database,
        vec![
            db::statement(database, "DELETE FROM rate_limits WHERE window_start < ?1", &day_ago)?,
            db::statement(database, "DELETE FROM signin_codes WHERE expires_at < ?1", &day_ago)?,
            db::statement(database, "DELETE FROM identity_uses WHERE expires_at < ?1", &[Arg::Int(now)])?,
        ],
    )
    .await
}
