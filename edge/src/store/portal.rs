//! `portal_settings`: each site's Customer Portal settings and the Stripe configuration carrying them.

use latch_core::portal::PortalSettings;
use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{Arg, Store, row, statement};

/// A site's portal settings, as stored.
#[derive(Deserialize)]
pub(crate) struct PortalRow {
    /// 1 when members may open the portal.
    pub(crate) enabled: i64,
    /// Privacy policy link.
    pub(crate) privacy_policy_url: Option<String>,
    /// Terms of service link.
    pub(crate) terms_of_service_url: Option<String>,
    /// 1 when members may cancel in the portal.
    pub(crate) allow_cancel: i64,
    /// The Stripe billing portal configuration (`bpc_…`).
    pub(crate) stripe_configuration: Option<String>,
    /// Saves so far.
    pub(crate) revision: i64,
}

/// A site's portal settings, if it ever saved any.
pub(crate) async fn portal_settings(db: &Store, site: &str) -> worker::Result<Option<PortalRow>> {
    row(
        db,
        "SELECT enabled, privacy_policy_url, terms_of_service_url, allow_cancel, stripe_configuration, revision \
         FROM portal_settings WHERE site_id = ?1",
        &[Arg::Text(site)],
    )
    .await
}

/// Statement storing a site's portal settings, the configuration carrying them and the save's `revision`, at `now`.
pub(crate) fn upsert_portal_settings(
    db: &Store,
    site: &str,
    settings: &PortalSettings,
    configuration: &str,
    revision: i64,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO portal_settings (site_id, enabled, privacy_policy_url, terms_of_service_url, allow_cancel, \
           stripe_configuration, revision, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (site_id) DO UPDATE SET enabled = excluded.enabled, \
           privacy_policy_url = excluded.privacy_policy_url, terms_of_service_url = excluded.terms_of_service_url, \
           allow_cancel = excluded.allow_cancel, stripe_configuration = excluded.stripe_configuration, \
           revision = excluded.revision, updated_at = excluded.updated_at",
        &[
            Arg::Text(site),
            Arg::Int(i64::from(settings.enabled)),
            Arg::OptText(settings.privacy_policy_url.as_deref()),
            Arg::OptText(settings.terms_of_service_url.as_deref()),
            Arg::Int(i64::from(settings.allow_cancel)),
            Arg::Text(configuration),
            Arg::Int(revision),
            Arg::Int(now),
        ],
    )
}
