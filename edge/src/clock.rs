//! The edge's clock: Unix seconds from the Worker's `Date.now()`.
//!
//! Built with the `dev` feature (the local stack of `cargo xtask dev` and `cargo xtask test`; the deployable
//! build of `cargo xtask build` leaves it out), the offset kept in D1's `dev_clock` is added, and `POST /dev/clock`
//! moves it, so the end-to-end suite sees access end by time (N-day purchases, canceled periods, grace) through the
//! real API and widget.

use crate::store::Store;

/// The real clock.
pub(crate) fn real_now() -> i64 {
    #[allow(clippy::cast_possible_truncation)] // milliseconds since 1970 fit i64 for a very long time
    let now = (worker::Date::now().as_millis() / 1000) as i64;
    now
}

/// The clock every decision uses: the real one (plus the dev offset in a `dev` build).
#[cfg(not(feature = "dev"))]
pub(crate) async fn now(_db: &Store) -> i64 {
    real_now()
}

/// The clock every decision uses: the real one plus the dev offset (`dev` build).
#[cfg(feature = "dev")]
pub(crate) async fn now(db: &Store) -> i64 {
    real_now() + dev::offset(db).await.unwrap_or(0)
}

#[cfg(feature = "dev")]
pub(crate) use dev::post;

#[cfg(feature = "dev")]
mod dev {
    use serde::Deserialize;
    use worker::{Request, Response};

    use crate::context::Ctx;
    use crate::error::{ApiError, ApiResult};
    use crate::http;
    use crate::store::{self, Store};

    /// The stored offset (0 when never moved).
    pub(super) async fn offset(db: &Store) -> worker::Result<i64> {
        Ok(store::dev_clock_offset(db).await?.unwrap_or(0))
    }

    #[derive(Deserialize)]
    struct Move {
        /// Seconds to move the clock forward (negative: back).
        advance_secs: Option<i64>,
        /// Or: the offset to set outright (0: the real clock again).
        offset_secs: Option<i64>,
    }

    /// `POST /dev/clock {advance_secs | offset_secs}` (operator bearer token): moves the local stack's clock;
    /// answers `{now, offset_secs}`.
    pub(crate) async fn post(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
        crate::auth::require_operator(ctx, req)?;
        let body: Move = http::json_body(req).await?;
        let current = offset(&ctx.db).await?;
        let offset = match (body.advance_secs, body.offset_secs) {
            (Some(advance), None) => current.saturating_add(advance),
            (None, Some(offset)) => offset,
            _ => return Err(ApiError::bad_request("give advance_secs or offset_secs")),
        };
        store::set_dev_clock_offset(&ctx.db, offset).await?;
        let now = super::real_now() + offset;
        http::json(200, &serde_json::json!({ "now": now, "offset_secs": offset }))
    }
}
