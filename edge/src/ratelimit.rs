//! A small D1-backed fixed-window rate limiter, reusable by any route.
//!
//! Each (scope, subject) pair has one row holding the start of its current window and a count. One atomic upsert
//! both counts the call and answers the new count, so concurrent calls cannot slip past the limit.

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Store};

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
    let window_start = ctx.now - ctx.now.rem_euclid(limit.window_secs);
    let key = format!("{}:{subject}", limit.scope);
    let count = store::count_rate_limit(&ctx.db, &key, window_start).await?;
    Ok((count.unwrap_or(1), window_start))
}

/// The client's network as Cloudflare reports its address (`CF-Connecting-IP`): the IPv4 address or the IPv6 /64
/// (`latch_core::network::bucket`), `unknown` without one.
pub(crate) fn client_network(req: &worker::Request) -> String {
    latch_core::network::bucket(&req.headers().get("CF-Connecting-IP").ok().flatten().unwrap_or_default())
}

/// Deletes rate-limit windows and sign-in codes that ended over a day ago, and used identities past their expiry
/// (which refuses them anyway), run by the cron trigger.
pub(crate) async fn prune(db: &Store, now: i64) -> worker::Result<()> {
    store::prune_codes_and_limits(db, now - 86_400, now).await
}
