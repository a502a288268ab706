//! `/admin/v1/sites`: the operator's API (bearer `ADMIN_TOKEN`) to create sites, and the only way to put a site on
//! the platform's own Stripe account (single-account mode). Used by `cargo xtask dev` to seed the demo site. A
//! site's products live in `routes/products.rs`, its Stripe connection in `routes/connect.rs`.

use latch_core::validate;
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::auth::require_operator;
use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::store;

#[derive(Deserialize, Serialize)]
struct NewSite {
    id: String,
    name: String,
    allowed_origins: Vec<String>,
    /// Put the site on the platform's own Stripe account (`STRIPE_SECRET_KEY`): at most one site, never one that
    /// connected an account. A new site without it does no Stripe work until its owner connects Stripe; an existing
    /// site without it keeps what it had.
    #[serde(default)]
    platform_account: Option<bool>,
}

/// `POST /admin/v1/sites` `{id, name, allowed_origins, platform_account?}` (creates or updates).
pub(crate) async fn create_site(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    require_operator(ctx, req)?;
    let site: NewSite = http::json_body(req).await?;
    let key = site.id.strip_prefix("site_").ok_or_else(|| ApiError::bad_request("site ids start with site_"))?;
    validate::slug(key)?;
    let origins = site.allowed_origins.iter().map(|o| validate::origin_of(o)).collect::<Result<Vec<_>, _>>()?;
    let origins_json = serde_json::to_string(&origins).map_err(ApiError::internal)?;
    if site.platform_account == Some(true) {
        if let Some(other) = store::platform_site(&ctx.db).await?.filter(|s| s.id != site.id) {
            return Err(ApiError::new(
                409,
                "platform_account_in_use",
                format!("{} already runs on the platform's Stripe account; only one site may", other.id),
            ));
        }
        if store::site(&ctx.db, &site.id).await?.is_some_and(|s| s.stripe_account.is_some()) {
            return Err(ApiError::new(
                409,
                "stripe_connected",
                "this site has its own Stripe account; disconnect it before putting it on the platform's",
            ));
        }
    }
    store::upsert_operator_site(&ctx.db, &site.id, &site.name, &origins_json, site.platform_account, ctx.now).await?;
    http::json(200, &NewSite { allowed_origins: origins, ..site })
}
