//! `products` and `prices`: what a site sells, as owners set it up and as Stripe's catalog events refresh it.

use serde::{Deserialize, Serialize};
use worker::D1PreparedStatement;

use super::{Arg, Store, row, rows, run, statement};

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

/// Statement creating the product `slug` of a site linked to `stripe_product`, or re-linking and renaming it.
pub(crate) fn upsert_product(
    db: &Store,
    site: &str,
    slug: &str,
    name: &str,
    stripe_product: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO products (site_id, slug, name, stripe_product, created_at) VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (site_id, slug) DO UPDATE SET name = excluded.name, stripe_product = excluded.stripe_product",
        &[Arg::Text(site), Arg::Text(slug), Arg::Text(name), Arg::Text(stripe_product), Arg::Int(now)],
    )
}

/// How a product is sold, as stored (see [`Product`]).
pub(crate) struct ProductSale<'a> {
    /// 1 when checkout is open.
    pub(crate) checkout_enabled: i64,
    /// `stripe_checkout`, `sales_page` or `external`.
    pub(crate) purchase_method: &'a str,
    /// The sales page or external URL, if any.
    pub(crate) purchase_url: Option<&'a str>,
    /// 1 when Checkout must collect the full billing address.
    pub(crate) billing_address_required: i64,
    /// 1 when the widget draws its locked card.
    pub(crate) show_locked_card: i64,
    /// The policy overrides (JSON).
    pub(crate) policy: &'a str,
}

/// Stores how the product `slug` of a site is sold.
pub(crate) async fn update_product_sale(
    db: &Store,
    site: &str,
    slug: &str,
    sale: &ProductSale<'_>,
) -> worker::Result<()> {
    run(
        db,
        "UPDATE products SET checkout_enabled = ?3, purchase_method = ?4, purchase_url = ?5, \
         billing_address_required = ?6, show_locked_card = ?7, policy = ?8 WHERE site_id = ?1 AND slug = ?2",
        &[
            Arg::Text(site),
            Arg::Text(slug),
            Arg::Int(sale.checkout_enabled),
            Arg::Text(sale.purchase_method),
            Arg::OptText(sale.purchase_url),
            Arg::Int(sale.billing_address_required),
            Arg::Int(sale.show_locked_card),
            Arg::Text(sale.policy),
        ],
    )
    .await?;
    Ok(())
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
    rows(db, &format!("SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 AND active = 1"), &[Arg::Text(site)]).await
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

/// The active prices of the product `product` (`latch_core::catalog::default_price` picks one).
pub(crate) async fn product_prices(db: &Store, site: &str, product: &str) -> worker::Result<Vec<Price>> {
    rows(
        db,
        &format!("SELECT {PRICE_COLUMNS} FROM prices WHERE site_id = ?1 AND product_slug = ?2 AND active = 1"),
        &[Arg::Text(site), Arg::Text(product)],
    )
    .await
}

/// The first price id of the product `slug` after `after`, by id, archived ones included (the order an import walks
/// them).
pub(crate) async fn price_after(db: &Store, site: &str, slug: &str, after: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
    }
    let row: Option<Row> = row(
        db,
        "SELECT id FROM prices WHERE site_id = ?1 AND product_slug = ?2 AND id > ?3 ORDER BY id LIMIT 1",
        &[Arg::Text(site), Arg::Text(slug), Arg::Text(after)],
    )
    .await?;
    Ok(row.map(|r| r.id))
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

/// Statement archiving every price of the product `slug` (they stop being sold).
pub(crate) fn deactivate_prices(db: &Store, site: &str, slug: &str) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "UPDATE prices SET active = 0 WHERE site_id = ?1 AND product_slug = ?2",
        &[Arg::Text(site), Arg::Text(slug)],
    )
}
