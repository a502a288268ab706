//! The owner API's Customer Portal settings: JSON over [`crate::manage::portal`]'s `load` and `save`.

use latch_core::portal::PortalSettings;
use worker::{Request, Response};

use crate::auth::require_site_admin;
use crate::context::Ctx;
use crate::error::ApiResult;
use crate::http;
use crate::manage::portal::{load, save};

/// `GET /owner/v1/sites/{site}/portal`.
pub(crate) async fn get(ctx: &Ctx, req: &Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    http::json(200, &load(ctx, &site).await?)
}

/// `PUT /owner/v1/sites/{site}/portal` `{enabled, privacy_policy_url?, terms_of_service_url?, allow_cancel}`.
pub(crate) async fn put(ctx: &Ctx, req: &mut Request, site_id: &str) -> ApiResult<Response> {
    let site = require_site_admin(ctx, req, site_id).await?;
    let settings: PortalSettings = http::json_body(req).await?;
    http::json(200, &save(ctx, &site, &settings).await?)
}
