//! Catalog and connection events from Stripe, handled beside the access engine: `product.*` and `price.*` keep
//! Latch's copy of names, active flags and amounts in sync. Each is recorded as processed with its changes in one
//! D1 batch. (`account.application.deauthorized` goes through the access engine: see routes/webhook.rs.)

use latch_core::connect::CatalogUpdate;
use latch_core::event::Event;
use worker::Response;

use crate::context::Ctx;
use crate::db::{self, Arg};
use crate::error::ApiResult;
use crate::http;
use crate::routes::products::upsert_price;

/// Sites an event may concern: the connected account's, or the site on the platform's account when the event has
/// none (never a site that did not connect).
const SITES_OF_ACCOUNT: &str =
    "SELECT id FROM sites WHERE (?1 IS NOT NULL AND stripe_account = ?1) OR (?1 IS NULL AND platform_account = 1)";

/// Applies a catalog or Connect event.
pub(crate) async fn apply(ctx: &Ctx, event: &Event, update: CatalogUpdate) -> ApiResult<Response> {
    let account = event.account.as_deref();
    let mut statements = Vec::new();
    let mut site: Option<String> = None;
    match &update {
        // The webhook route batches the disconnection with the access engine's activity and owner email.
        CatalogUpdate::Deauthorized { .. } => {}
        CatalogUpdate::Product { id, name, active } => {
            statements.push(db::statement(
                &ctx.db,
                &format!(
                    "UPDATE products SET name = CASE WHEN ?3 = '' THEN name ELSE ?3 END, active = ?4 \
                     WHERE stripe_product = ?2 AND site_id IN ({SITES_OF_ACCOUNT})"
                ),
                &[Arg::OptText(account), Arg::Text(id), Arg::Text(name), Arg::Int(i64::from(*active))],
            )?);
        }
        CatalogUpdate::Price { product, price } => {
            #[derive(serde::Deserialize)]
            struct Owner {
                site_id: String,
                slug: String,
            }
            let owners: Vec<Owner> = db::rows(
                &ctx.db,
                &format!(
                    "SELECT site_id, slug FROM products WHERE stripe_product = ?2 AND site_id IN ({SITES_OF_ACCOUNT})"
                ),
                &[Arg::OptText(account), Arg::Text(product)],
            )
            .await?;
            for owner in &owners {
                statements.push(upsert_price(ctx, &owner.site_id, &owner.slug, price)?);
                site = Some(owner.site_id.clone());
            }
        }
    }
    statements.push(db::mark_event_processed(&ctx.db, &event.id, site.as_deref(), &event.kind, ctx.now)?);
    db::batch(&ctx.db, statements).await?;
    http::json(200, &serde_json::json!({ "received": true }))
}
