//! What the dashboard reads from D1 to show (read models); writes go through the same functions as the JSON API.

use serde::Deserialize;

use crate::context::Ctx;
use crate::db::{self, Arg};
use crate::error::ApiResult;

/// A site as the dashboard shows it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SiteRow {
    /// Public key.
    pub(crate) id: String,
    /// Display name.
    pub(crate) name: String,
    /// Connected Stripe account, if any.
    pub(crate) stripe_account: Option<String>,
    /// `connected`, `disconnected`, or `None`.
    pub(crate) stripe_status: Option<String>,
    /// 1 for live mode.
    pub(crate) livemode: i64,
    /// When Stripe was connected.
    pub(crate) connected_at: Option<i64>,
    /// The allowed origin the widget last ran on.
    pub(crate) seen_origin: Option<String>,
    /// When (Unix seconds).
    pub(crate) seen_at: Option<i64>,
}

const SITE_COLUMNS: &str =
    "s.id, s.name, s.stripe_account, s.stripe_status, s.livemode, s.connected_at, s.seen_origin, s.seen_at";

/// The sites an owner manages, by name.
pub(crate) async fn owner_sites(ctx: &Ctx, owner_id: &str) -> ApiResult<Vec<SiteRow>> {
    Ok(db::rows(
        &ctx.db,
        &format!(
            "SELECT {SITE_COLUMNS} FROM sites s JOIN site_owners o ON o.site_id = s.id WHERE o.owner_id = ?1 \
             ORDER BY s.name, s.id"
        ),
        &[Arg::Text(owner_id)],
    )
    .await?)
}

/// The last Stripe event received for a site, and how many arrived in the last day.
pub(crate) struct WebhookHealth {
    /// Type and time of the newest processed event.
    pub(crate) last: Option<(String, i64)>,
    /// Events processed in the last 24 hours.
    pub(crate) last_day: i64,
    /// Payment failures recorded in the last 7 days.
    pub(crate) failed_payments_week: i64,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

async fn count(ctx: &Ctx, sql: &str, args: &[Arg<'_>]) -> ApiResult<i64> {
    Ok(db::row::<Count>(&ctx.db, sql, args).await?.map_or(0, |c| c.n))
}

/// Webhook health of a site from `processed_events` and the activity it caused.
pub(crate) async fn webhook_health(ctx: &Ctx, site: &str) -> ApiResult<WebhookHealth> {
    #[derive(Deserialize)]
    struct Last {
        #[serde(rename = "type")]
        kind: String,
        received_at: i64,
    }
    let last: Option<Last> = db::row(
        &ctx.db,
        "SELECT type, received_at FROM processed_events WHERE site_id = ?1 ORDER BY received_at DESC LIMIT 1",
        &[Arg::Text(site)],
    )
    .await?;
    let last_day = count(
        ctx,
        "SELECT COUNT(*) AS n FROM processed_events WHERE site_id = ?1 AND received_at > ?2",
        &[Arg::Text(site), Arg::Int(ctx.now - 86_400)],
    )
    .await?;
    let failed_payments_week = count(
        ctx,
        "SELECT COUNT(*) AS n FROM activity WHERE site_id = ?1 AND kind = 'payment_failed' AND created_at > ?2",
        &[Arg::Text(site), Arg::Int(ctx.now - 7 * 86_400)],
    )
    .await?;
    Ok(WebhookHealth { last: last.map(|l| (l.kind, l.received_at)), last_day, failed_payments_week })
}
