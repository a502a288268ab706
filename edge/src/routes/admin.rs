//! `/admin/v1/sites`: the operator's API (bearer `ADMIN_TOKEN`) to create sites. Used by `cargo xtask dev` to seed
//! the demo site. A site's products live in `routes/products.rs`, its Stripe connection in `routes/connect.rs`.

use latch_core::validate;
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::auth::require_operator;
use crate::context::Ctx;
use crate::db::{self, Arg};
use crate::error::{ApiError, ApiResult};
use crate::http;

#[derive(Deserialize, Serialize)]
struct NewSite {
    id: String,
    name: String,
    allowed_origins: Vec<String>,
}

/// `POST /admin/v1/sites` `{id, name, allowed_origins}`.
pub(crate) async fn create_site(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    require_operator(ctx, req)?;
    let site: NewSite = http::json_body(req).await?;
    let key = site.id.strip_prefix("site_").ok_or_else(|| ApiError::bad_request("site ids start with site_"))?;
    validate::slug(key)?;
    let origins = site.allowed_origins.iter().map(|o| validate::origin_of(o)).collect::<Result<Vec<_>, _>>()?;
    let origins_json = serde_json::to_string(&origins).map_err(ApiError::internal)?;
    db::statement(
        &ctx.db,
        "INSERT INTO sites (id, name, allowed_origins, created_at) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, allowed_origins = excluded.allowed_origins",
        &[Arg::Text(&site.id), Arg::Text(&site.name), Arg::Text(&origins_json), Arg::Int(ctx.now)],
    )?
    .run()
    .await?;
    http::json(200, &NewSite { allowed_origins: origins, ..site })
}
