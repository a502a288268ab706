//! D1 access: every SQL statement the edge runs lives here. D1 is the source of truth.
//!
//! Functions take plain values and return plain rows; they make no decisions (core does).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

/// A bound SQL argument.
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

/// Prepares `sql` with `args` bound in order.
pub(crate) fn statement(db: &D1Database, sql: &str, args: &[Arg<'_>]) -> worker::Result<D1PreparedStatement> {
    let values: Vec<JsValue> = args.iter().map(JsValue::from).collect();
    db.prepare(sql).bind(&values)
}

/// Runs a query and deserializes every row.
pub(crate) async fn rows<T: DeserializeOwned>(db: &D1Database, sql: &str, args: &[Arg<'_>]) -> worker::Result<Vec<T>> {
    statement(db, sql, args)?.all().await?.results()
}

/// Runs a query and deserializes the first row, if any.
pub(crate) async fn row<T: DeserializeOwned>(
    db: &D1Database,
    sql: &str,
    args: &[Arg<'_>],
) -> worker::Result<Option<T>> {
    statement(db, sql, args)?.first(None).await
}

/// Runs statements as one all-or-nothing batch.
pub(crate) async fn batch(db: &D1Database, statements: Vec<D1PreparedStatement>) -> worker::Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    for result in db.batch(statements).await? {
        if let Some(err) = result.error() {
            return Err(worker::Error::RustError(err));
        }
    }
    Ok(())
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
    /// 1 for live mode, 0 for test mode.
    pub(crate) livemode: i64,
    /// `connected`, `disconnected`, or `None` (never connected).
    #[serde(default)]
    pub(crate) stripe_status: Option<String>,
}

impl Site {
    /// Refuses Stripe work for a site whose owner disconnected its Stripe account.
    pub(crate) fn require_stripe(&self) -> crate::error::ApiResult<()> {
        if self.stripe_status.as_deref() == Some("disconnected") {
            return Err(crate::error::ApiError::new(
                409,
                "stripe_disconnected",
                "this site's Stripe account is disconnected; the owner must connect Stripe again",
            ));
        }
        Ok(())
    }

    /// The origins this site allows for CORS and redirects.
    pub(crate) fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }
}

/// Loads a site by public key.
pub(crate) async fn site(db: &D1Database, id: &str) -> worker::Result<Option<Site>> {
    row(
        db,
        "SELECT id, allowed_origins, stripe_account, livemode, stripe_status FROM sites WHERE id = ?1",
        &[Arg::Text(id)],
    )
    .await
}

/// The site a connected account belongs to.
pub(crate) async fn site_by_account(db: &D1Database, account: &str) -> worker::Result<Option<Site>> {
    row(
        db,
        "SELECT id, allowed_origins, stripe_account, livemode, stripe_status FROM sites WHERE stripe_account = ?1",
        &[Arg::Text(account)],
    )
    .await
}

/// The site that already knows a Stripe customer or source object (single-account mode, events without
/// Latch metadata such as invoices and charges).
pub(crate) async fn site_by_customer_or_source(
    db: &D1Database,
    customer: Option<&str>,
    sources: &[String],
) -> worker::Result<Option<Site>> {
    let sources_json = serde_json::to_string(sources).unwrap_or_else(|_| "[]".into());
    row(
        db,
        "SELECT id, allowed_origins, stripe_account, livemode, stripe_status FROM sites WHERE stripe_account IS NULL AND id IN ( \
           SELECT site_id FROM member_customers WHERE customer = ?1 \
           UNION SELECT site_id FROM grants WHERE customer = ?1 OR source IN (SELECT value FROM json_each(?2))) \
         LIMIT 1",
        &[Arg::OptText(customer), Arg::Text(&sources_json)],
    )
    .await
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
pub(crate) async fn products(db: &D1Database, site: &str) -> worker::Result<Vec<Product>> {
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
pub(crate) async fn all_prices(db: &D1Database, site: &str) -> worker::Result<Vec<Price>> {
    rows(
        db,
        &format!("SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 ORDER BY active DESC, unit_amount"),
        &[Arg::Text(site)],
    )
    .await
}

/// Every active price of a site.
pub(crate) async fn prices(db: &D1Database, site: &str) -> worker::Result<Vec<Price>> {
    rows(
        db,
        &format!("SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 AND active = 1 ORDER BY unit_amount"),
        &[Arg::Text(site)],
    )
    .await
}

/// An active price of a site by Stripe id or lookup key.
pub(crate) async fn price(db: &D1Database, site: &str, id_or_key: &str) -> worker::Result<Option<Price>> {
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
pub(crate) async fn default_price(db: &D1Database, site: &str, product: &str) -> worker::Result<Option<Price>> {
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
    /// Email address.
    pub(crate) email: String,
    /// Current token generation.
    pub(crate) token_generation: i64,
}

/// Loads a member of a site.
pub(crate) async fn member(db: &D1Database, site: &str, id: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        "SELECT id, email, token_generation FROM members WHERE site_id = ?1 AND id = ?2",
        &[Arg::Text(site), Arg::Text(id)],
    )
    .await
}

/// Statements that make sure a member with `email` exists (with `new_id` if new) and owns `customer`, unless
/// `customer` already belongs to a member: then that member keeps it (`latch_core::member::owner_of_purchase`: a
/// known customer keeps its member, and an email typed on Stripe's page creates no second one). Notification
/// emails held for that customer are addressed to its member. Idempotent: run twice, the same member and link.
pub(crate) fn upsert_member(
    db: &D1Database,
    site: &str,
    email: &str,
    customer: &str,
    new_id: &str,
    now: i64,
) -> worker::Result<Vec<D1PreparedStatement>> {
    Ok(vec![
        statement(
            db,
            "INSERT INTO members (id, site_id, email, created_at) SELECT ?1, ?2, ?3, ?4 \
             WHERE NOT EXISTS (SELECT 1 FROM member_customers WHERE site_id = ?2 AND customer = ?5) \
             ON CONFLICT (site_id, email) DO NOTHING",
            &[Arg::Text(new_id), Arg::Text(site), Arg::Text(email), Arg::Int(now), Arg::Text(customer)],
        )?,
        statement(
            db,
            "INSERT INTO member_customers (site_id, customer, member_id) \
             SELECT ?1, ?2, id FROM members WHERE site_id = ?1 AND email = ?3 \
             ON CONFLICT (site_id, customer) DO NOTHING",
            &[Arg::Text(site), Arg::Text(customer), Arg::Text(email)],
        )?,
        statement(
            db,
            "UPDATE outbox SET to_email = m.email, status = 'pending' \
             FROM (SELECT mm.email FROM member_customers mc JOIN members mm ON mm.id = mc.member_id \
                   WHERE mc.site_id = ?1 AND mc.customer = ?2) AS m \
             WHERE outbox.status = 'held' AND outbox.site_id = ?1 AND outbox.customer = ?2",
            &[Arg::Text(site), Arg::Text(customer)],
        )?,
    ])
}

/// A member by email.
pub(crate) async fn member_by_email(db: &D1Database, site: &str, email: &str) -> worker::Result<Option<Member>> {
    row(
        db,
        "SELECT id, email, token_generation FROM members WHERE site_id = ?1 AND email = ?2",
        &[Arg::Text(site), Arg::Text(email)],
    )
    .await
}

/// The email of the member owning `customer` on a site, if any.
pub(crate) async fn member_email_of_customer(
    db: &D1Database,
    site: &str,
    customer: &str,
) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        email: String,
    }
    let row: Option<Row> = row(
        db,
        "SELECT m.email FROM member_customers mc JOIN members m ON m.id = mc.member_id \
         WHERE mc.site_id = ?1 AND mc.customer = ?2",
        &[Arg::Text(site), Arg::Text(customer)],
    )
    .await?;
    Ok(row.map(|r| r.email))
}

/// A Stripe customer of a member (the most recently linked one), for the portal.
pub(crate) async fn customer_of(db: &D1Database, site: &str, member: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        customer: String,
    }
    let row: Option<Row> = row(
        db,
        "SELECT customer FROM member_customers WHERE site_id = ?1 AND member_id = ?2 ORDER BY rowid DESC LIMIT 1",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await?;
    Ok(row.map(|r| r.customer))
}

/// A site's display name.
pub(crate) async fn site_name(db: &D1Database, site: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    let row: Option<Row> = row(db, "SELECT name FROM sites WHERE id = ?1", &[Arg::Text(site)]).await?;
    Ok(row.map(|r| r.name))
}

/// A stored grant: the engine's grant as JSON.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GrantRow {
    /// The engine's grant, serialized.
    pub(crate) data: String,
}

/// Grants of a member across all their customers.
pub(crate) async fn member_grants(db: &D1Database, site: &str, member: &str) -> worker::Result<Vec<GrantRow>> {
    rows(
        db,
        "SELECT g.data FROM grants g JOIN member_customers mc ON mc.site_id = g.site_id AND mc.customer = g.customer \
         WHERE g.site_id = ?1 AND mc.member_id = ?2",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await
}

/// Grants of a site touching a customer or any of the given source objects.
pub(crate) async fn scoped_grants(
    db: &D1Database,
    site: &str,
    customer: Option<&str>,
    sources: &[String],
) -> worker::Result<Vec<GrantRow>> {
    let sources_json = serde_json::to_string(sources).unwrap_or_else(|_| "[]".into());
    rows(
        db,
        "SELECT data FROM grants WHERE site_id = ?1 AND (customer = ?2 OR source IN (SELECT value FROM json_each(?3)))",
        &[Arg::Text(site), Arg::OptText(customer), Arg::Text(&sources_json)],
    )
    .await
}

/// Whether a Stripe event id was already applied.
pub(crate) async fn event_processed(db: &D1Database, event_id: &str) -> worker::Result<bool> {
    #[derive(Deserialize)]
    struct Row {
        #[allow(dead_code)] // only the row's existence matters
        event_id: String,
    }
    let seen: Option<Row> =
        row(db, "SELECT event_id FROM processed_events WHERE event_id = ?1", &[Arg::Text(event_id)]).await?;
    Ok(seen.is_some())
}

/// Statement recording a processed event; `OR IGNORE` so a concurrent duplicate cannot fail the batch.
pub(crate) fn mark_event_processed(
    db: &D1Database,
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
