//! D1 access: every SQL statement the edge runs lives here. D1 is the source of truth.
//!
//! Functions take plain values and return plain rows; they make no decisions (core does).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use wasm_bindgen::JsValue;

use latch_core::catalog::StoredProduct;
use latch_core::delivery;
use latch_core::engine::{Grant, Scope};
use worker::{D1Database, D1PreparedStatement, D1Result};

use crate::error::{ApiError, ApiResult};

/// A bound SQL argument.
#[derive(Clone, Copy)]
pub(crate) enum Arg<'a> {
    /// TEXT.
    Text(&'a str),
    /// INTEGER (D1 carries numbers as JS doubles: exact up to 2^53).
    Int(i64),
    /// TEXT or NULL.
    OptText(Option<&'a str>),
    /// INTEGER or NULL.
    OptInt(Option<i64>),
}

impl From<&Arg<'_>> for JsValue {
    fn from(arg: &Arg<'_>) -> Self {
        match *arg {
            Arg::Text(s) | Arg::OptText(Some(s)) => Self::from_str(s),
            // D1 numbers are doubles; Latch's integers (timestamps, amounts) stay far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            Arg::Int(i) | Arg::OptInt(Some(i)) => Self::from_f64(i as f64),
            Arg::OptText(None) | Arg::OptInt(None) => Self::NULL,
        }
    }
}

/// The D1 database as one request (or one background run) uses it. Every query goes through here, so the round trips
/// a request costs are counted (`X-Latch-D1-Round-Trips` on development builds).
pub(crate) struct Store {
    d1: D1Database,
    round_trips: Cell<u32>,
}

impl Store {
    /// Wraps the `DB` binding.
    pub(crate) fn new(d1: D1Database) -> Self {
        Self { d1, round_trips: Cell::new(0) }
    }

    /// How many times this store went to D1 so far.
    #[cfg(feature = "dev")]
    pub(crate) fn round_trips(&self) -> u32 {
        self.round_trips.get()
    }

    fn trip(&self) {
        self.round_trips.set(self.round_trips.get() + 1);
    }

    /// Runs one statement that returns no rows.
    pub(crate) async fn run(&self, statement: D1PreparedStatement) -> worker::Result<D1Result> {
        self.trip();
        statement.run().await
    }

    /// Runs statements in one round trip, as one all-or-nothing transaction, and answers each one's result.
    pub(crate) async fn batch_results(&self, statements: Vec<D1PreparedStatement>) -> worker::Result<Vec<D1Result>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        self.trip();
        let results = self.d1.batch(statements).await?;
        for result in &results {
            if let Some(err) = result.error() {
                return Err(worker::Error::RustError(err));
            }
        }
        Ok(results)
    }
}

/// Prepares `sql` with `args` bound in order.
pub(crate) fn statement(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<D1PreparedStatement> {
    let values: Vec<JsValue> = args.iter().map(JsValue::from).collect();
    db.d1.prepare(sql).bind(&values)
}

/// Runs one statement that returns no rows.
pub(crate) async fn run(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<D1Result> {
    db.run(statement(db, sql, args)?).await
}

/// Runs a query and deserializes every row.
pub(crate) async fn rows<T: DeserializeOwned>(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<Vec<T>> {
    let statement = statement(db, sql, args)?;
    db.trip();
    statement.all().await?.results()
}

/// Runs a query and deserializes the first row, if any.
pub(crate) async fn row<T: DeserializeOwned>(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<Option<T>> {
    let statement = statement(db, sql, args)?;
    db.trip();
    statement.first(None).await
}

/// Runs statements as one all-or-nothing batch.
pub(crate) async fn batch(db: &Store, statements: Vec<D1PreparedStatement>) -> worker::Result<()> {
    db.batch_results(statements).await.map(|_| ())
}

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
    /// work at all: 409 (`latch_core::connect::site_account` decides).
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

/// A product row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Product {
    /// Slug used in `data-latch-*` attributes.
    pub(crate) slug: String,
    /// Display name.
    pub(crate) name: String,
    /// Linked Stripe product id.
    pub(crate) stripe_product: String,
    /// Whether checkout is open.
    pub(crate) checkout_enabled: i64,
    /// Per-product access policy (JSON for latch-core).
    pub(crate) policy: String,
    /// `stripe_checkout`, `sales_page` or `external`.
    #[serde(default = "default_purchase_method")]
    pub(crate) purchase_method: String,
    /// The sales page or external URL, if any.
    #[serde(default)]
    pub(crate) purchase_url: Option<String>,
    /// 0 once the Stripe product was archived or deleted.
    #[serde(default = "one")]
    pub(crate) active: i64,
    /// 1 when Checkout must collect the full billing address.
    #[serde(default)]
    pub(crate) billing_address_required: i64,
    /// 0 when the widget leaves `data-latch-locked` elements as the site's own markup (no locked card).
    #[serde(default = "one")]
    pub(crate) show_locked_card: i64,
}

fn one() -> i64 {
    1
}

fn default_purchase_method() -> String {
    "stripe_checkout".into()
}

/// Every product of a site.
pub(crate) async fn products(db: &Store, site: &str) -> worker::Result<Vec<Product>> {
    rows(
        db,
        "SELECT slug, name, stripe_product, checkout_enabled, policy, purchase_method, purchase_url, active, \
         billing_address_required, show_locked_card FROM products \
         WHERE site_id = ?1 ORDER BY created_at, slug",
        &[Arg::Text(site)],
    )
    .await
}

/// A price row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Price {
    /// Stripe price id.
    pub(crate) id: String,
    /// The product it belongs to.
    pub(crate) product_slug: String,
    /// Lookup key, if any.
    pub(crate) lookup_key: Option<String>,
    /// Amount in the smallest currency unit.
    pub(crate) unit_amount: i64,
    /// Currency code.
    pub(crate) currency: String,
    /// Recurring interval; `None` for one-time prices.
    pub(crate) interval: Option<String>,
    /// Trial days for subscriptions.
    pub(crate) trial_days: i64,
    /// 0 once archived in Stripe. Not serialized: the public catalog lists active prices only.
    #[serde(skip_serializing)]
    pub(crate) active: i64,
}

const PRICE_COLUMNS: &str = "id, product_slug, lookup_key, unit_amount, currency, interval, trial_days, active";

/// Every price of a site, archived ones included (active first), for the dashboard.
pub(crate) async fn all_prices(db: &Store, site: &str) -> worker::Result<Vec<Price>> {
    rows(
        db,
        &format!("SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 ORDER BY active DESC, unit_amount"),
        &[Arg::Text(site)],
    )
    .await
}

/// Every active price of a site.
pub(crate) async fn prices(db: &Store, site: &str) -> worker::Result<Vec<Price>> {
    rows(
        db,
        &format!("SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 AND active = 1 ORDER BY unit_amount"),
        &[Arg::Text(site)],
    )
    .await
}

/// An active price of a site by Stripe id or lookup key.
pub(crate) async fn price(db: &Store, site: &str, id_or_key: &str) -> worker::Result<Option<Price>> {
    row(
        db,
        &format!(
            "SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 AND active = 1 AND (id = ?2 OR lookup_key = ?2)"
        ),
        &[Arg::Text(site), Arg::Text(id_or_key)],
    )
    .await
}

/// The price a product sells at by default (its cheapest active price).
pub(crate) async fn default_price(db: &Store, site: &str, product: &str) -> worker::Result<Option<Price>> {
    row(
        db,
        &format!(
            "SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 AND product_slug = ?2 AND active = 1 \
             ORDER BY unit_amount LIMIT 1"
        ),
        &[Arg::Text(site), Arg::Text(product)],
    )
    .await
}

/// A member, as stored.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Member {
    /// Member id.
    pub(crate) id: String,
    /// Email address (verified, or as typed on Stripe's page: `latch_core::member`).
    pub(crate) email: String,
    /// Current token generation.
    pub(crate) token_generation: i64,
    /// 1 once someone proved the email.
    pub(crate) verified: i64,
}

impl Member {
    /// What core needs of it to decide a merge.
    pub(crate) fn known(&self) -> latch_core::member::Known {
        latch_core::member::Known { id: self.id.clone(), email: self.email.clone(), verified: self.verified != 0 }
    }
}

const MEMBER_COLUMNS: &str = "id, email, token_generation, verified";

/// Loads a member of a site.
pub(crate) async fn member(db: &Store, site: &str, id: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE site_id = ?1 AND id = ?2"),
        &[Arg::Text(site), Arg::Text(id)],
    )
    .await
}

/// Every member of a site with `email`: the verified one, if any, and unverified ones named by that email.
pub(crate) async fn members_by_email(db: &Store, site: &str, email: &str) -> worker::Result<Vec<Member>> {
    rows(
        db,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE site_id = ?1 AND email = ?2 ORDER BY verified DESC, id"),
        &[Arg::Text(site), Arg::Text(email)],
    )
    .await
}

/// The verified member of a site with `email`.
pub(crate) async fn verified_member(db: &Store, site: &str, email: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        &format!("SELECT {MEMBER_COLUMNS} FROM members WHERE site_id = ?1 AND email = ?2 AND verified = 1"),
        &[Arg::Text(site), Arg::Text(email)],
    )
    .await
}

/// The member a Stripe customer is linked to on a site.
pub(crate) async fn member_of_customer(db: &Store, site: &str, customer: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        "SELECT m.id, m.email, m.token_generation, m.verified FROM member_customers mc \
         JOIN members m ON m.id = mc.member_id WHERE mc.site_id = ?1 AND mc.customer = ?2",
        &[Arg::Text(site), Arg::Text(customer)],
    )
    .await
}

/// Statements carrying out core's link plan (`latch_core::member::link_purchase`): each candidate is tried in
/// order, and each statement does nothing once the customer is linked, so the plan holds under a concurrent claim
/// and webhook (the first link wins, and is never re-pointed). Notification emails held for the customer are then
/// addressed to its member.
pub(crate) fn link_purchase(
    db: &Store,
    site: &str,
    plan: &latch_core::member::LinkPlan,
    now: i64,
) -> worker::Result<Vec<D1PreparedStatement>> {
    use latch_core::member::Candidate;
    let customer = plan.customer.as_str();
    let link = |member: &str| {
        statement(
            db,
            "INSERT INTO member_customers (site_id, customer, member_id) \
             SELECT ?1, ?2, id FROM members WHERE site_id = ?1 AND id = ?3 \
             ON CONFLICT (site_id, customer) DO NOTHING",
            &[Arg::Text(site), Arg::Text(customer), Arg::Text(member)],
        )
    };
    let mut statements = Vec::new();
    for candidate in &plan.candidates {
        match candidate {
            Candidate::Member(id) => statements.push(link(id)?),
            Candidate::Unverified { id, email } => {
                statements.push(statement(
                    db,
                    "INSERT INTO members (id, site_id, email, verified, created_at) SELECT ?1, ?2, ?3, 0, ?4 \
                     WHERE NOT EXISTS (SELECT 1 FROM member_customers WHERE site_id = ?2 AND customer = ?5) \
                     ON CONFLICT (id) DO NOTHING",
                    &[Arg::Text(id), Arg::Text(site), Arg::Text(email), Arg::Int(now), Arg::Text(customer)],
                )?);
                statements.push(link(id)?);
            }
        }
    }
    statements.push(statement(
        db,
        "UPDATE outbox SET to_email = m.email, status = 'pending' \
         FROM (SELECT mm.email FROM member_customers mc JOIN members mm ON mm.id = mc.member_id \
               WHERE mc.site_id = ?1 AND mc.customer = ?2) AS m \
         WHERE outbox.status = 'held' AND outbox.site_id = ?1 AND outbox.customer = ?2",
        &[Arg::Text(site), Arg::Text(customer)],
    )?);
    Ok(statements)
}

/// Statements carrying out a proof of `email` (`latch_core::member::on_proof`): the verified member exists
/// afterwards (created with `new_id` when the proof has none), the merged unverified members' customers move to it,
/// and the merged members are deleted, so their tokens stop working.
pub(crate) fn prove_email(
    db: &Store,
    site: &str,
    email: &str,
    proof: &latch_core::member::Proof,
    new_id: &str,
    now: i64,
) -> worker::Result<Vec<D1PreparedStatement>> {
    let merged = serde_json::to_string(&proof.merge).unwrap_or_else(|_| "[]".into());
    let mut statements = Vec::new();
    if proof.verified.is_none() {
        statements.push(statement(
            db,
            "INSERT INTO members (id, site_id, email, verified, created_at) VALUES (?1, ?2, ?3, 1, ?4) \
             ON CONFLICT (site_id, email) WHERE verified = 1 DO NOTHING",
            &[Arg::Text(new_id), Arg::Text(site), Arg::Text(email), Arg::Int(now)],
        )?);
    }
    if !proof.merge.is_empty() {
        statements.push(statement(
            db,
            "UPDATE member_customers SET member_id = \
               (SELECT id FROM members WHERE site_id = ?1 AND email = ?2 AND verified = 1) \
             WHERE site_id = ?1 AND member_id IN (SELECT value FROM json_each(?3))",
            &[Arg::Text(site), Arg::Text(email), Arg::Text(&merged)],
        )?);
        statements.push(statement(
            db,
            "DELETE FROM members WHERE site_id = ?1 AND verified = 0 AND id IN (SELECT value FROM json_each(?2))",
            &[Arg::Text(site), Arg::Text(&merged)],
        )?);
    }
    Ok(statements)
}

/// A Stripe customer of a member (the most recently linked `cus_…`; a `member:` key of manual grants is no Stripe
/// customer), for the portal and checkout.
pub(crate) async fn customer_of(db: &Store, site: &str, member: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        customer: String,
    }
    let row: Option<Row> = row(
        db,
        "SELECT customer FROM member_customers WHERE site_id = ?1 AND member_id = ?2 AND customer LIKE 'cus\\_%' ESCAPE '\\' \
         ORDER BY rowid DESC LIMIT 1",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await?;
    Ok(row.map(|r| r.customer))
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

/// Records the first use of a host identity value (its [`latch_core::identity::replay_key`]) until it expires;
/// `false` when it was used before.
pub(crate) async fn first_identity_use(db: &Store, site: &str, key: &str, expires_at: i64) -> worker::Result<bool> {
    let inserted: Option<serde_json::Value> = row(
        db,
        "INSERT INTO identity_uses (site_id, value_hash, expires_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (site_id, value_hash) DO NOTHING RETURNING value_hash",
        &[Arg::Text(site), Arg::Text(key), Arg::Int(expires_at)],
    )
    .await?;
    Ok(inserted.is_some())
}

/// A stored grant: the engine's grant as JSON.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GrantRow {
    /// The engine's grant, serialized.
    pub(crate) data: String,
}

/// The grant upsert, which holds the engine's ordering in the database too, so two requests racing between load and
/// write cannot undo each other: a row in a final status (`GrantStatus::FINAL`: canceled, expired, dispute
/// lost, revoked) is never replaced; a final row replaces any other whatever its version; otherwise the newer Stripe
/// version wins, and at an equal version a re-fetched row outranks an event's. Arguments: site, customer, product,
/// source, status, ends_at, the grant as JSON, now.
pub(crate) fn upsert_grant_sql() -> String {
    let finals = latch_core::engine::GrantStatus::FINAL.map(|s| format!("'{}'", s.as_str())).join(", ");
    format!(
        "INSERT INTO grants (site_id, customer, product, source, status, ends_at, data, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (site_id, customer, product, source) DO UPDATE SET \
           status = excluded.status, ends_at = excluded.ends_at, data = excluded.data, updated_at = excluded.updated_at \
         WHERE grants.status NOT IN ({finals}) AND (excluded.status IN ({finals}) OR \
           (json_extract(excluded.data, '$.version'), coalesce(json_extract(excluded.data, '$.fetched'), 0)) \
           >= (json_extract(grants.data, '$.version'), coalesce(json_extract(grants.data, '$.fetched'), 0)))"
    )
}

/// Statement upserting `grant` (serialized as `data`) for `site` ([`upsert_grant_sql`]).
pub(crate) fn upsert_grant(
    db: &Store,
    site: &str,
    grant: &Grant,
    data: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        &upsert_grant_sql(),
        &[
            Arg::Text(site),
            Arg::Text(&grant.customer),
            Arg::Text(&grant.product),
            Arg::Text(&grant.source),
            Arg::Text(grant.status.as_str()),
            Arg::OptInt(grant.ends_at),
            Arg::Text(data),
            Arg::Int(now),
        ],
    )
}

/// Grants of a member across all their customers.
pub(crate) async fn member_grants(db: &Store, site: &str, member: &str) -> worker::Result<Vec<GrantRow>> {
    rows(
        db,
        "SELECT g.data FROM grants g JOIN member_customers mc ON mc.site_id = g.site_id AND mc.customer = g.customer \
         WHERE g.site_id = ?1 AND mc.member_id = ?2",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await
}

/// The site an event belongs to, by its Stripe account and nothing else (`?1`: the event's account, NULL for a
/// platform event): the site connected to that account, or the one the operator put on the platform's account.
const SITE_OF_EVENT: &str =
    "SELECT id FROM sites WHERE (?1 IS NOT NULL AND stripe_account = ?1) OR (?1 IS NULL AND platform_account = 1)";

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
    #[derive(Deserialize)]
    struct Seen {
        #[allow(dead_code)] // only the row's existence matters
        event_id: String,
    }
    let account = Arg::OptText(reads.account);
    let mut statements = vec![
        statement(db, "SELECT event_id FROM processed_events WHERE event_id = ?1", &[Arg::Text(reads.event_id)])?,
        statement(
            db,
            &format!(
                "SELECT id, name, stripe_account, livemode, platform_account FROM sites \
                 WHERE id IN ({SITE_OF_EVENT})"
            ),
            std::slice::from_ref(&account),
        )?,
    ];
    statements.extend(engine_read_statements(db, SITE_OF_EVENT, account, &reads.scope)?);
    let results = db.batch_results(statements).await?;
    let processed = !results[0].results::<Seen>()?.is_empty();
    let site = results[1].results::<delivery::StoredSite>()?.into_iter().next();
    let (products, grants, owners) = engine_read(&results[2..])?;
    Ok(delivery::Read { processed, site, products, grants, owners })
}

/// Statement recording a Stripe price for a product (insert or refresh).
pub(crate) fn upsert_price(
    db: &Store,
    site: &str,
    slug: &str,
    price: &latch_core::catalog::StripePrice,
) -> worker::Result<D1PreparedStatement> {
    let recurring = price.recurring.as_ref();
    statement(
        db,
        "INSERT INTO prices (site_id, id, product_slug, lookup_key, unit_amount, currency, interval, trial_days, active) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (site_id, id) DO UPDATE SET \
           product_slug = excluded.product_slug, lookup_key = excluded.lookup_key, unit_amount = excluded.unit_amount, \
           interval = excluded.interval, trial_days = excluded.trial_days, active = excluded.active",
        &[
            Arg::Text(site),
            Arg::Text(&price.id),
            Arg::Text(slug),
            Arg::OptText(price.lookup_key.as_deref()),
            Arg::Int(price.unit_amount.unwrap_or(0)),
            Arg::Text(&price.currency),
            Arg::OptText(recurring.map(|r| r.interval.as_str())),
            Arg::Int(recurring.and_then(|r| r.trial_period_days).unwrap_or(0)),
            Arg::Int(i64::from(price.active && price.unit_amount.is_some())),
        ],
    )
}

/// Statement copying a `product.*` event to the site's product linked to `stripe_product`: its active flag, and
/// its name unless the event's is empty.
pub(crate) fn update_product_from_stripe(
    db: &Store,
    site: &str,
    stripe_product: &str,
    name: &str,
    active: bool,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "UPDATE products SET name = CASE WHEN ?3 = '' THEN name ELSE ?3 END, active = ?4 \
         WHERE site_id = ?1 AND stripe_product = ?2",
        &[Arg::Text(site), Arg::Text(stripe_product), Arg::Text(name), Arg::Int(i64::from(active))],
    )
}

/// Statement recording a processed event; `OR IGNORE` so a concurrent duplicate cannot fail the batch.
pub(crate) fn mark_event_processed(
    db: &Store,
    event_id: &str,
    site: Option<&str>,
    kind: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT OR IGNORE INTO processed_events (event_id, site_id, type, received_at) VALUES (?1, ?2, ?3, ?4)",
        &[Arg::Text(event_id), Arg::OptText(site), Arg::Text(kind), Arg::Int(now)],
    )
}

/// Statement keeping a validly signed webhook delivery Latch could not read, for the operator.
pub(crate) fn unreadable_event(
    db: &Store,
    event_id: Option<&str>,
    site: Option<&str>,
    error: &str,
    body: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO unreadable_events (event_id, site_id, error, body, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        &[Arg::OptText(event_id), Arg::OptText(site), Arg::Text(error), Arg::Text(body), Arg::Int(now)],
    )
}

/// The store's SQL run natively against SQLite (what D1 is) with every migration applied: the statements whose
/// behaviour under concurrent writers cannot be provoked through the local stack, which serializes requests.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod sql_tests {
    use latch_core::engine::{Grant, GrantStatus};
    use rusqlite::{Connection, params};

    fn database() -> Connection {
        let db = Connection::open_in_memory().expect("sqlite");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<_> =
            std::fs::read_dir(&dir).expect("migrations").map(|e| e.expect("entry").path()).collect();
        files.sort();
        for file in files {
            db.execute_batch(&std::fs::read_to_string(&file).expect("migration")).expect("apply migration");
        }
        db.execute("INSERT INTO sites (id, name, created_at) VALUES ('site_a', 'A', 0)", []).expect("site");
        db
    }

    fn grant(status: GrantStatus, version: i64, fetched: bool) -> Grant {
        Grant {
            customer: "cus_1".into(),
            product: "pro".into(),
            source: "sub_1".into(),
            livemode: false,
            status,
            starts_at: 0,
            ends_at: Some(1000 + version),
            version,
            email: None,
            dispute: None,
            fetched,
            paid_through: None,
            subscription_status: None,
            period_end: None,
        }
    }

    /// Writes `g` through the real upsert, as a request that loaded an older state would.
    fn write(db: &Connection, g: &Grant) {
        let data = serde_json::to_string(g).expect("json");
        db.execute(
            &super::upsert_grant_sql(),
            params!["site_a", g.customer, g.product, g.source, g.status.as_str(), g.ends_at, data, 0],
        )
        .expect("upsert");
    }

    fn stored(db: &Connection) -> GrantStatus {
        let status: String =
            db.query_row("SELECT status FROM grants WHERE source = 'sub_1'", [], |r| r.get(0)).expect("row");
        GrantStatus::parse(&status).expect("status")
    }

    /// Each pair of writes, in both orders, as two requests that both loaded the state before either wrote.
    #[test]
    fn racing_writers_keep_the_engines_order() {
        use GrantStatus::{Active, Canceled, DisputeLost, PastDue, Refunded, Revoked};
        // (first written, then written, what must be stored whichever order the two land in)
        let cases = [
            (grant(Canceled, 100, false), grant(Active, 100, false), Canceled),
            (grant(Canceled, 100, false), grant(Active, 200, true), Canceled),
            (grant(DisputeLost, 50, false), grant(Active, 300, false), DisputeLost),
            // A refund is not final (it can fail): the newer news wins either way.
            (grant(Refunded, 200, false), grant(Active, 100, false), Refunded),
            (grant(Refunded, 200, false), grant(Active, 200, true), Active),
            (grant(Revoked, 100, false), grant(PastDue, 100, true), Revoked),
            (grant(Active, 200, false), grant(PastDue, 100, false), Active),
            (grant(PastDue, 100, true), grant(Active, 100, false), PastDue),
        ];
        for (a, b, want) in cases {
            for (first, second) in [(&a, &b), (&b, &a)] {
                let db = database();
                write(&db, first);
                write(&db, second);
                assert_eq!(
                    stored(&db),
                    want,
                    "{:?}@{} then {:?}@{}",
                    first.status,
                    first.version,
                    second.status,
                    second.version
                );
            }
        }
        // A newer event replaces an older one, and a write of the same row again changes nothing.
        let db = database();
        write(&db, &grant(Active, 100, false));
        write(&db, &grant(PastDue, 101, false));
        write(&db, &grant(PastDue, 101, false));
        assert_eq!(stored(&db), PastDue);
    }
}
