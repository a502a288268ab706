//! `sites`: a site as the edge uses it, owners' and the dashboard's views of sites, creating and updating them, the
//! site secret's generation, where the widget was seen, the Stripe connection, and the batched reads of an engine
//! input and a webhook delivery (a site's products, grants in scope and owners' addresses).

use latch_core::catalog::StoredProduct;
use latch_core::delivery::{self, SiteOf};
use latch_core::engine::{Grant, Scope};
use serde::Deserialize;
use worker::{D1PreparedStatement, D1Result};

use super::{Arg, GrantRow, Store, row, rows, run, statement};
use crate::error::{ApiError, ApiResult};

/// A site, as stored.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Site {
    /// Public key.
    pub(crate) id: String,
    /// JSON array of allowed origins.
    allowed_origins: String,
    /// Connected Stripe account, if any.
    pub(crate) stripe_account: Option<String>,
    /// 1 for live mode, 0 for test mode (of the connected account).
    livemode: i64,
    /// `connected`, `disconnected`, or `None` (never connected).
    #[serde(default)]
    pub(crate) stripe_status: Option<String>,
    /// 1 when the operator put the site on the platform's own Stripe account (single-account mode).
    #[serde(default)]
    pub(crate) platform_account: i64,
}

impl Site {
    /// The Stripe account this site works with, as the `Stripe-Account` header to send (`None`: the platform's own,
    /// for the one site the operator put there). A site that never connected, or disconnected, does no Stripe
    /// work at all: 409 (`latch_core::account::site_account` decides).
    pub(crate) fn stripe(&self) -> ApiResult<Option<&str>> {
        latch_core::account::site_account(
            self.stripe_account.as_deref(),
            self.stripe_status.as_deref(),
            self.platform_account != 0,
        )
        .map(latch_core::account::SiteAccount::header)
        .map_err(|e| {
            let code = match e {
                latch_core::account::NoStripe::NotConnected => "stripe_not_connected",
                latch_core::account::NoStripe::Disconnected => "stripe_disconnected",
            };
            ApiError::new(409, code, e.to_string())
        })
    }

    /// The account whose webhook events are this site's (`latch_core::engine::Catalog::account`): `None` for the
    /// site on the platform's own account.
    pub(crate) fn event_account(&self) -> Option<String> {
        latch_core::account::event_account(self.stripe_account.as_deref(), self.platform_account != 0)
            .map(str::to_owned)
    }

    /// Whether the site works in live mode: a site on the platform's account follows the platform key's mode.
    pub(crate) fn livemode(&self, stripe_key: &str) -> bool {
        latch_core::account::site_livemode(self.livemode != 0, self.platform_account != 0, stripe_key)
    }

    /// The site's Stripe connection, for latch-core's rules on changing it (`latch_core::account::Connection`).
    pub(crate) fn connection(&self) -> latch_core::account::Connection<'_> {
        latch_core::account::Connection {
            account: self.stripe_account.as_deref(),
            status: self.stripe_status.as_deref(),
            platform: self.platform_account != 0,
        }
    }

    /// The origins this site allows for CORS and redirects.
    pub(crate) fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }
}

const SITE_COLUMNS: &str = "id, allowed_origins, stripe_account, livemode, stripe_status, platform_account";

/// Loads a site by public key.
pub(crate) async fn site(db: &Store, id: &str) -> worker::Result<Option<Site>> {
    row(db, &format!("SELECT {SITE_COLUMNS} FROM sites WHERE id = ?1"), &[Arg::Text(id)]).await
}

/// The site a connected account belongs to (at most one: `sites_by_account`).
pub(crate) async fn site_by_account(db: &Store, account: &str) -> worker::Result<Option<Site>> {
    row(db, &format!("SELECT {SITE_COLUMNS} FROM sites WHERE stripe_account = ?1"), &[Arg::Text(account)]).await
}

/// The one site the operator put on the platform's own Stripe account, if any (`sites_one_platform_account`).
pub(crate) async fn platform_site(db: &Store) -> worker::Result<Option<Site>> {
    row(db, &format!("SELECT {SITE_COLUMNS} FROM sites WHERE platform_account = 1"), &[]).await
}

/// A site's display name.
pub(crate) async fn site_name(db: &Store, site: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    let row: Option<Row> = row(db, "SELECT name FROM sites WHERE id = ?1", &[Arg::Text(site)]).await?;
    Ok(row.map(|r| r.name))
}

/// A site as its owners' API shows it (`owners::SiteSummary` is made of it).
#[derive(Deserialize)]
pub(crate) struct SiteSummaryRow {
    /// Public key.
    pub(crate) id: String,
    /// Display name.
    pub(crate) name: String,
    /// JSON array of allowed origins.
    pub(crate) allowed_origins: String,
    /// `connected`, `disconnected`, or `None` (never connected).
    pub(crate) stripe_status: Option<String>,
    /// Connected Stripe account, if any.
    pub(crate) stripe_account: Option<String>,
    /// 1 for live mode (of the connected account).
    pub(crate) livemode: i64,
    /// 1 when the site is on the platform's own Stripe account.
    pub(crate) platform_account: i64,
    /// Unix seconds.
    pub(crate) created_at: i64,
}

const SUMMARY_COLUMNS: &str =
    "s.id, s.name, s.allowed_origins, s.stripe_status, s.stripe_account, s.livemode, s.platform_account, s.created_at";

/// The sites `owner_id` manages, oldest first.
pub(crate) async fn site_summaries_of_owner(db: &Store, owner_id: &str) -> worker::Result<Vec<SiteSummaryRow>> {
    rows(
        db,
        &format!(
            "SELECT {SUMMARY_COLUMNS} FROM sites s JOIN site_owners so ON so.site_id = s.id \
             WHERE so.owner_id = ?1 ORDER BY s.created_at, s.id"
        ),
        &[Arg::Text(owner_id)],
    )
    .await
}

/// One site's summary row.
pub(crate) async fn site_summary_row(db: &Store, site: &str) -> worker::Result<Option<SiteSummaryRow>> {
    row(db, &format!("SELECT {SUMMARY_COLUMNS} FROM sites s WHERE s.id = ?1"), &[Arg::Text(site)]).await
}

/// A site as the dashboard shows it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DashboardSite {
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

const DASHBOARD_COLUMNS: &str =
    "s.id, s.name, s.stripe_account, s.stripe_status, s.livemode, s.connected_at, s.seen_origin, s.seen_at";

/// The sites an owner manages, by name, as the dashboard shows them.
pub(crate) async fn dashboard_sites_of_owner(db: &Store, owner_id: &str) -> worker::Result<Vec<DashboardSite>> {
    rows(
        db,
        &format!(
            "SELECT {DASHBOARD_COLUMNS} FROM sites s JOIN site_owners o ON o.site_id = s.id WHERE o.owner_id = ?1 \
             ORDER BY s.name, s.id"
        ),
        &[Arg::Text(owner_id)],
    )
    .await
}

/// Statement creating a site (an owner's: no Stripe account yet); `origins` is the JSON array of allowed origins.
pub(crate) fn insert_site(
    db: &Store,
    id: &str,
    name: &str,
    origins: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO sites (id, name, allowed_origins, created_at) VALUES (?1, ?2, ?3, ?4)",
        &[Arg::Text(id), Arg::Text(name), Arg::Text(origins), Arg::Int(now)],
    )
}

/// Creates or updates a site for the operator: name and origins (a JSON array) replaced; with `platform_account`
/// given, whether it is on the platform's own Stripe account (a new site without it is not), else kept.
pub(crate) async fn upsert_operator_site(
    db: &Store,
    id: &str,
    name: &str,
    origins: &str,
    platform_account: Option<bool>,
    now: i64,
) -> worker::Result<()> {
    run(
        db,
        "INSERT INTO sites (id, name, allowed_origins, platform_account, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, allowed_origins = excluded.allowed_origins, \
           platform_account = COALESCE(?6, sites.platform_account)",
        &[
            Arg::Text(id),
            Arg::Text(name),
            Arg::Text(origins),
            Arg::Int(i64::from(platform_account == Some(true))),
            Arg::Int(now),
            Arg::OptInt(platform_account.map(i64::from)),
        ],
    )
    .await?;
    Ok(())
}

/// Renames a site and/or replaces its allowed origins (a JSON array); `None` keeps the value.
pub(crate) async fn update_site(
    db: &Store,
    site: &str,
    name: Option<&str>,
    origins: Option<&str>,
) -> worker::Result<()> {
    run(
        db,
        "UPDATE sites SET name = COALESCE(?2, name), allowed_origins = COALESCE(?3, allowed_origins) WHERE id = ?1",
        &[Arg::Text(site), Arg::OptText(name), Arg::OptText(origins)],
    )
    .await?;
    Ok(())
}

#[derive(Deserialize)]
struct Generation {
    secret_generation: i64,
}

/// The generation of a site's secret (`None`: no such site).
pub(crate) async fn secret_generation(db: &Store, site: &str) -> worker::Result<Option<i64>> {
    let row: Option<Generation> =
        row(db, "SELECT secret_generation FROM sites WHERE id = ?1", &[Arg::Text(site)]).await?;
    Ok(row.map(|r| r.secret_generation))
}

/// Moves a site's secret to the next generation and answers it (`None`: no such site).
pub(crate) async fn next_secret_generation(db: &Store, site: &str) -> worker::Result<Option<i64>> {
    let row: Option<Generation> = row(
        db,
        "UPDATE sites SET secret_generation = secret_generation + 1 WHERE id = ?1 RETURNING secret_generation",
        &[Arg::Text(site)],
    )
    .await?;
    Ok(row.map(|r| r.secret_generation))
}

/// Statement recording that the widget ran on `origin` at `now`, written only when the last record is older than
/// `stale_before` or names another origin.
pub(crate) fn record_seen_origin(
    db: &Store,
    site: &str,
    origin: &str,
    now: i64,
    stale_before: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "UPDATE sites SET seen_origin = ?2, seen_at = ?3 \
         WHERE id = ?1 AND (seen_at IS NULL OR seen_at < ?4 OR seen_origin IS NOT ?2)",
        &[Arg::Text(site), Arg::Text(origin), Arg::Int(now), Arg::Int(stale_before)],
    )
}

/// Statement connecting a site to the Stripe account `account` (in live mode or not) at `now`.
pub(crate) fn mark_connected(
    db: &Store,
    site: &str,
    account: &str,
    livemode: bool,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "UPDATE sites SET stripe_account = ?2, livemode = ?3, stripe_status = 'connected', connected_at = ?4 \
         WHERE id = ?1",
        &[Arg::Text(site), Arg::Text(account), Arg::Int(i64::from(livemode)), Arg::Int(now)],
    )
}

/// The statement marking every site on `account` disconnected (also batched with `account.application.deauthorized`).
pub(crate) fn mark_disconnected(db: &Store, account: &str) -> worker::Result<D1PreparedStatement> {
    statement(db, "UPDATE sites SET stripe_status = 'disconnected' WHERE stripe_account = ?1", &[Arg::Text(account)])
}

/// The subquery selecting the site core named (`latch_core::delivery::SiteOf`), with its `?1`.
fn site_of_event(site: SiteOf<'_>) -> (&'static str, Arg<'_>) {
    match site {
        SiteOf::Connected(account) => ("SELECT id FROM sites WHERE stripe_account = ?1", Arg::Text(account)),
        // `?1` (NULL) keeps the statements' bindings the same for both kinds.
        SiteOf::Platform => ("SELECT id FROM sites WHERE platform_account = 1 AND ?1 IS NULL", Arg::OptText(None)),
    }
}

/// What the engine needs of a site besides its grants, for the site `?1` names through `site_of` (a subquery).
fn engine_read_statements(
    db: &Store,
    site_of: &str,
    site_arg: Arg<'_>,
    scope: &Scope,
) -> worker::Result<Vec<D1PreparedStatement>> {
    let sources = serde_json::to_string(&scope.sources).unwrap_or_else(|_| "[]".into());
    let customer = Arg::OptText(scope.customer.as_deref());
    let one = |sql: String| statement(db, &sql, std::slice::from_ref(&site_arg));
    Ok(vec![
        one(format!(
            "SELECT slug, name, stripe_product, policy FROM products WHERE site_id IN ({site_of}) \
             ORDER BY created_at, slug"
        ))?,
        statement(
            db,
            &format!(
                "SELECT data FROM grants WHERE site_id IN ({site_of}) \
                 AND (customer = ?2 OR source IN (SELECT value FROM json_each(?3)))"
            ),
            &[site_arg, customer, Arg::Text(&sources)],
        )?,
        one(format!(
            "SELECT o.email FROM owners o JOIN site_owners so ON so.owner_id = o.id \
             WHERE so.site_id IN ({site_of}) ORDER BY so.created_at, o.id"
        ))?,
    ])
}

#[derive(Deserialize)]
struct Email {
    email: String,
}

/// Reads the engine's rows of one result set each: products, scoped grants, owners' addresses.
fn engine_read(results: &[D1Result]) -> worker::Result<(Vec<StoredProduct>, Vec<Grant>, Vec<String>)> {
    let [products, grants, owners] = results else {
        return Err(worker::Error::RustError(format!("expected 3 result sets, got {}", results.len())));
    };
    let grants = grants
        .results::<GrantRow>()?
        .into_iter()
        .map(|r| serde_json::from_str(&r.data))
        .collect::<Result<_, _>>()
        .map_err(|e| worker::Error::RustError(format!("stored grant unreadable: {e}")))?;
    let owners = owners.results::<Email>()?.into_iter().map(|r| r.email).collect();
    Ok((products.results()?, grants, owners))
}

/// Everything an engine input of `site` needs besides the site (`latch_core::plan::Loaded`), in one round trip:
/// the site's name, its products, the grants in `scope` and its owners' addresses.
pub(crate) async fn engine_reads(db: &Store, site: &str, scope: &Scope) -> worker::Result<EngineRead> {
    #[derive(Deserialize)]
    struct Name {
        name: String,
    }
    let mut statements = vec![statement(db, "SELECT name FROM sites WHERE id = ?1", &[Arg::Text(site)])?];
    statements.extend(engine_read_statements(db, "?1", Arg::Text(site), scope)?);
    let results = db.batch_results(statements).await?;
    let name = results[0].results::<Name>()?.into_iter().next().map_or_else(|| site.to_owned(), |n| n.name);
    let (products, grants, owners) = engine_read(&results[1..])?;
    Ok(EngineRead { name, products, grants, owners })
}

/// What [`engine_reads`] answers.
pub(crate) struct EngineRead {
    /// The site's name.
    pub(crate) name: String,
    /// Its products.
    pub(crate) products: Vec<StoredProduct>,
    /// Its grants in the scope.
    pub(crate) grants: Vec<Grant>,
    /// Its owners' addresses.
    pub(crate) owners: Vec<String>,
}

/// Everything a webhook delivery needs (`latch_core::delivery::reads`), in one round trip: whether the event was
/// processed, the site of its account, and that site's products, scoped grants and owners.
pub(crate) async fn delivery_reads(db: &Store, reads: &delivery::Reads<'_>) -> worker::Result<delivery::Read> {
    let (site_of, site_arg) = site_of_event(reads.site);
    let mut statements = vec![
        statement(db, "SELECT event_id FROM processed_events WHERE event_id = ?1", &[Arg::Text(reads.event_id)])?,
        statement(
            db,
            &format!("SELECT id, name, stripe_account, livemode, platform_account FROM sites WHERE id IN ({site_of})"),
            std::slice::from_ref(&site_arg),
        )?,
    ];
    statements.extend(engine_read_statements(db, site_of, site_arg, &reads.scope)?);
    let results = db.batch_results(statements).await?;
    let processed = !results[0].results::<serde_json::Value>()?.is_empty();
    let site = results[1].results::<delivery::StoredSite>()?.into_iter().next();
    let (products, grants, owners) = engine_read(&results[2..])?;
    Ok(delivery::Read { processed, site, products, grants, owners })
}
