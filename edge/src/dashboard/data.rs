//! What the dashboard reads from D1 to show (read models, from the store); writes go through the same functions as
//! the JSON API.

use crate::context::Ctx;
use crate::error::ApiResult;
use crate::store;

/// A site as the dashboard shows it.
pub(crate) use crate::store::DashboardSite as SiteRow;

/// The sites an owner manages, by name.
pub(crate) async fn owner_sites(ctx: &Ctx, owner_id: &str) -> ApiResult<Vec<SiteRow>> {
    Ok(store::dashboard_sites_of_owner(&ctx.db, owner_id).await?)
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

/// Webhook health of a site from `processed_events` and the activity it caused.
pub(crate) async fn webhook_health(ctx: &Ctx, site: &str) -> ApiResult<WebhookHealth> {
    let last = store::last_processed_event(&ctx.db, site).await?;
    let last_day = store::processed_events_since(&ctx.db, site, ctx.now - 86_400).await?;
    let failed_payments_week = store::failed_payments_since(&ctx.db, site, ctx.now - 7 * 86_400).await?;
    Ok(WebhookHealth { last, last_day, failed_payments_week })
}
