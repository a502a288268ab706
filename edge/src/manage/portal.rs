//! A site's Customer Portal settings (enabled, privacy and terms links, whether members may cancel), checked by
//! latch-core and carried by a Stripe billing portal configuration on the site's account. [`load`] and [`save`] take
//! typed settings; the owner API (`routes::portal_settings`) and the dashboard (`dashboard::portal`) wrap them.

use latch_core::portal::PortalSettings;
use latch_core::stripe_request::StripeError;
use serde::{Deserialize, Serialize};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, PortalRow, Site};
use crate::stripe;

/// A site's stored portal settings and the configuration carrying them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct StoredPortal {
    /// What the owner chose.
    #[serde(flatten)]
    pub(crate) settings: PortalSettings,
    /// The Stripe billing portal configuration (`bpc_…`) on the site's account, once saved.
    pub(crate) stripe_configuration: Option<String>,
}

async fn row(ctx: &Ctx, site: &str) -> ApiResult<Option<PortalRow>> {
    Ok(store::portal_settings(&ctx.db, site).await?)
}

/// The site's portal settings; a site that never saved any gets [`PortalSettings::default`] (Stripe's default
/// portal, no configuration of its own).
pub(crate) async fn load(ctx: &Ctx, site: &Site) -> ApiResult<StoredPortal> {
    Ok(match row(ctx, &site.id).await? {
        Some(r) => StoredPortal {
            settings: PortalSettings {
                enabled: r.enabled != 0,
                privacy_policy_url: r.privacy_policy_url,
                terms_of_service_url: r.terms_of_service_url,
                allow_cancel: r.allow_cancel != 0,
            },
            stripe_configuration: r.stripe_configuration,
        },
        None => StoredPortal { settings: PortalSettings::default(), stripe_configuration: None },
    })
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

/// Checks `settings`, creates the site's billing portal configuration at Stripe the first time (updates it
/// after), and stores both. Each save is one revision: retrying the same save reuses its idempotency key, and a
/// later save with earlier values is still applied. 400 `invalid_portal_settings` names the field at fault.
pub(crate) async fn save(ctx: &Ctx, site: &Site, settings: &PortalSettings) -> ApiResult<StoredPortal> {
    let settings = settings.validated().map_err(|e| ApiError::new(400, "invalid_portal_settings", e.to_string()))?;
    let account = site.stripe()?;
    let previous = row(ctx, &site.id).await?;
    let revision = previous.as_ref().map_or(0, |r| r.revision) + 1;
    let scope = format!("portal:{}:{revision}", site.id);
    let create = || settings.create_configuration(&site.id).on_account(account).idempotent(&scope);
    let configuration = match previous.and_then(|r| r.stripe_configuration) {
        Some(id) => {
            let update = settings.update_configuration(&id).on_account(account).idempotent(&scope);
            match stripe::send::<Created>(&ctx.config, &update).await {
                Ok(c) => c.id,
                // Gone at Stripe (deleted account data, another account after a reconnect): start a new one.
                Err(StripeError::Refused { status: 404, .. }) => {
                    stripe::send::<Created>(&ctx.config, &create()).await.map_err(ApiError::stripe_for_owner)?.id
                }
                Err(e) => return Err(ApiError::stripe_for_owner(e)),
            }
        }
        None => stripe::send::<Created>(&ctx.config, &create()).await.map_err(ApiError::stripe_for_owner)?.id,
    };
    store::batch(
        &ctx.db,
        vec![store::upsert_portal_settings(&ctx.db, &site.id, &settings, &configuration, revision, ctx.now)?],
    )
    .await?;
    Ok(StoredPortal { settings, stripe_configuration: Some(configuration) })
}
