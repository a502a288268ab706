//! The edge's clock: Unix seconds from the Worker's `Date.now()`.
//!
//! Built with the `dev-clock` feature (the local stack of `cargo xtask dev` and `cargo xtask test`; the deployable
//! build of `cargo xtask build` leaves it out), the offset kept in D1's `dev_clock` is added, and `POST /dev/clock`
//! moves it, so the end-to-end suite sees access end by time (N-day purchases, canceled periods, grace) through the
//! real API and widget.

use worker::D1Database;

/// The real clock.
pub(crate) fn real_now() -> i64 {
    #[allow(clippy::cast_possible_truncation)] // milliseconds since 1970 fit i64 for a very long time
    let now = (worker::Date::now().as_millis() / 1000) as i64;
    now
}

/// The clock every decision uses: the real one (plus the dev offset in a `dev-clock` build).
#[cfg(not(feature = "dev-clock"))]
pub(crate) async fn now(_db: &D1Database) -> i64 {
    real_now()
}

/// The clock every decision uses: the real one plus the dev offset (`dev-clock` build).
#[cfg(feature = "dev-clock")]
pub(crate) async fn now(db: &D1Database) -> i64 {
    real_now() + dev::offset(db).await.unwrap_or(0)
}

#[cfg(feature = "dev-clock")]
pub(crate) use dev::post;

#[cfg(feature = "dev-clock")]
mod dev {
    use serde::Deserialize;
    use worker::{D1Database, Request, Response};

    use crate::context::Ctx;
    use crate::db::{self, Arg};
    use crate::error::{ApiError, ApiResult};
    use crate::http;

    /// The stored offset (0 when never moved).
    pub(super) async fn offset(db: &D1Database) -> worker::Result<i64> {
        #[derive(Deserialize)]
        struct Row {
            offset_secs: i64,
        }
        let row: Option<Row> = db::row(db, "SELECT offset_secs FROM dev_clock WHERE id = 1", &[]).await?;
        Ok(row.map_or(0, |r| r.offset_secs))
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
        db::statement(
            &ctx.db,
            "INSERT INTO dev_clock (id, offset_secs) VALUES (1, ?1) \
             ON CONFLICT (id) DO UPDATE SET offset_secs = excluded.offset_secs",
            &[Arg::Int(offset)],
        )?
        .run()
        .await?;
        let now = super::real_now() + offset;
        http::json(200, &serde_json::json!({ "now": now, "offset_secs": offset }))
    }
}
