//! Latch's copy of a site's catalog, decided here: what Stripe's `product.*` and `price.*` events change in it,
//! how a product is sold, which intervals a new price may have, which subscriptions an import takes, and each
//! product's access policy as stored (the owner's overrides over the engine's defaults).

use serde::{Deserialize, Serialize};

use crate::api::{Catalog as PublicCatalog, CatalogPrice, CatalogProduct};
use crate::engine::{Catalog, ProductPolicy};
pub use crate::event::Recurring;
use crate::event::{Event, StripeObject, SubscriptionStatus};

/// A product row as stored, with what the engine and the emails need of it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoredProduct {
    /// Latch slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Linked Stripe product id.
    pub stripe_product: String,
    /// The owner's policy overrides as stored (a JSON object; anything else reads as none).
    pub policy: String,
}

/// A product's stored policy overrides (`products.policy`, a JSON object; anything else reads as none).
pub fn policy_overrides(stored: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(stored) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// Where the engine's catalog comes from: the site's facts and its stored products.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteFacts {
    /// Public key.
    pub id: String,
    /// Whether the site runs in live mode ([`crate::account::site_livemode`]).
    pub livemode: bool,
    /// The account whose events are the site's ([`crate::account::event_account`]).
    pub account: Option<String>,
}

/// The engine's catalog of a site: each stored product's policy over the defaults. A stored policy the engine
/// cannot read (written by an older release, say) falls back to the defaults and is reported in the second value.
pub fn engine_catalog(site: &SiteFacts, products: &[StoredProduct]) -> (Catalog, Vec<String>) {
    let mut warnings = Vec::new();
    let products = products
        .iter()
        .map(|p| {
            ProductPolicy::with_overrides(&p.slug, &p.stripe_product, &policy_overrides(&p.policy)).unwrap_or_else(
                |e| {
                    warnings.push(format!("product {} has an unreadable policy ({e}); using the defaults", p.slug));
                    ProductPolicy::new(&p.slug, &p.stripe_product)
                },
            )
        })
        .collect();
    let catalog =
        Catalog { products, livemode: site.livemode, site: Some(site.id.clone()), account: site.account.clone() };
    (catalog, warnings)
}

/// Whether a linked product's existing subscription is imported (its subscriber gets access): active and
/// trialing ones. Past-due, canceled and the rest are left to webhooks.
pub fn importable(status: &SubscriptionStatus) -> bool {
    matches!(status, SubscriptionStatus::Active | SubscriptionStatus::Trialing)
}

/// A change to Latch's copy of the catalog or connection, read from a Stripe event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogUpdate {
    /// `product.updated` (or created/deleted): name and active flag.
    Product {
        /// `prod_...`
        id: String,
        /// Current name.
        name: String,
        /// Whether it is still sold.
        active: bool,
    },
    /// `price.updated` (or created/deleted): the price as it now is (`active` false once deleted).
    Price {
        /// `prod_...`
        product: String,
        /// The price.
        price: StripePrice,
    },
    /// `account.application.deauthorized`: the account disconnected Latch.
    Deauthorized {
        /// `acct_...`
        account: String,
    },
}

/// Reads a catalog or Connect event (`None` for any other type): the event's own parsed object says everything,
/// so no body is read twice.
pub fn catalog_update(event: &Event) -> Option<CatalogUpdate> {
    if event.kind == "account.application.deauthorized" {
        return Some(CatalogUpdate::Deauthorized { account: event.account.clone()? });
    }
    let (family, action) = event.kind.split_once('.')?;
    if !matches!(action, "created" | "updated" | "deleted") {
        return None;
    }
    let deleted = action == "deleted";
    match (family, &event.object) {
        ("product", StripeObject::Product(p)) => Some(CatalogUpdate::Product {
            id: p.id.clone(),
            name: p.name.clone().unwrap_or_default(),
            active: p.active && !p.deleted && !deleted,
        }),
        ("price", StripeObject::Price(p)) => Some(CatalogUpdate::Price {
            product: p.product.clone()?,
            price: StripePrice {
                id: p.id.clone(),
                active: p.active && !p.deleted && !deleted,
                unit_amount: p.unit_amount,
                currency: p.currency.clone().unwrap_or_default(),
                lookup_key: p.lookup_key.clone(),
                recurring: p.recurring.clone(),
            },
        }),
        _ => None,
    }
}

/// A Stripe `price` as Latch copies it (linking a product, `price.*` events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripePrice {
    /// `price_...`
    pub id: String,
    /// Whether it is still sold.
    #[serde(default)]
    pub active: bool,
    /// Amount in the smallest unit (`None` for tiered prices, which Latch does not sell).
    #[serde(default)]
    pub unit_amount: Option<i64>,
    /// Currency code.
    #[serde(default)]
    pub currency: String,
    /// Lookup key.
    #[serde(default)]
    pub lookup_key: Option<String>,
    /// Recurrence; `None` for one-time prices.
    #[serde(default)]
    pub recurring: Option<Recurring>,
}

/// Why a Stripe product cannot be linked under a slug.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Another slug of the site already sells this Stripe product.
    #[error("this Stripe product is already linked to the product `{0}`")]
    AlreadyLinked(String),
    /// The slug sells another Stripe product through which members still have access.
    #[error(
        "`{slug}` is linked to {stripe_product} and members still have access through it; it cannot be linked to \
         another Stripe product until their subscriptions have ended. Create a new product instead."
    )]
    HasSubscribers {
        /// The Latch product.
        slug: String,
        /// The Stripe product it sells now.
        stripe_product: String,
    },
    /// The Stripe product is archived.
    #[error("this Stripe product is archived; unarchive it first")]
    Inactive,
}

/// Whether `slug` may be linked to `stripe_product`, given the site's products and the grants of `slug`'s current
/// link: never a product another slug sells, never away from a product members still have access through.
pub fn check_link(
    slug: &str,
    stripe_product: &str,
    products: &[StoredProduct],
    slug_grants: &[crate::engine::Grant],
    now: i64,
) -> Result<(), LinkError> {
    if let Some(other) = products.iter().find(|p| p.stripe_product == stripe_product && p.slug != slug) {
        return Err(LinkError::AlreadyLinked(other.slug.clone()));
    }
    match products.iter().find(|p| p.slug == slug) {
        Some(current) if current.stripe_product != stripe_product && slug_grants.iter().any(|g| g.is_active(now)) => {
            Err(LinkError::HasSubscribers { slug: slug.to_owned(), stripe_product: current.stripe_product.clone() })
        }
        _ => Ok(()),
    }
}

/// Whether the Stripe product, as Stripe answered it, may be linked (an archived one may not).
pub fn check_linkable(active: bool) -> Result<(), LinkError> {
    if active { Ok(()) } else { Err(LinkError::Inactive) }
}

/// The public catalog (`GET /v1/sites/{site}/catalog`) from the stored products (each with whether Stripe still
/// sells it) and the site's active prices (each with its product's slug): products no longer sold are left out, and
/// each product's prices come cheapest first, so the first is what a locked card offers ([`default_price`]).
pub fn public_catalog(
    site: &str,
    products: Vec<(CatalogProduct, bool)>,
    prices: Vec<(String, CatalogPrice)>,
) -> PublicCatalog {
    let mut products: Vec<CatalogProduct> =
        products.into_iter().filter(|(_, active)| *active).map(|(product, _)| product).collect();
    for (slug, price) in prices {
        if let Some(product) = products.iter_mut().find(|p| p.slug == slug) {
            product.prices.push(price);
        }
    }
    for product in &mut products {
        product.prices.sort_by_key(|p| p.unit_amount);
    }
    PublicCatalog { site: site.to_owned(), products }
}

/// The price a product sells at when a buyer names the product and not a price: its cheapest active one (the one its
/// locked card offers). `amount` reads a price's amount.
pub fn default_price<T>(active_prices: &[T], amount: impl Fn(&T) -> i64) -> Option<&T> {
    active_prices.iter().min_by_key(|p| amount(p))
}

/// Longest free trial a new price may offer (Stripe's limit).
pub const MAX_TRIAL_DAYS: u32 = 730;

/// Why a new price is refused; [`PriceError::field`] names the field to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// Not a three-letter code.
    #[error("Type a three-letter currency code such as usd or eur.")]
    Currency,
    /// Zero, or too large to store.
    #[error("The amount must be more than zero.")]
    Amount,
    /// Neither monthly, yearly nor one-time.
    #[error("Billing must be monthly or yearly (or one-time), not `{0}`.")]
    Interval(String),
    /// Over [`MAX_TRIAL_DAYS`].
    #[error("A trial can last at most 730 days.")]
    TrialTooLong,
    /// A trial on a one-time price (Stripe has none).
    #[error("Only monthly and yearly prices can have a trial.")]
    TrialOnOneTime,
    /// Not a slug.
    #[error("The lookup key may use lowercase letters, digits, - and _ only.")]
    LookupKey,
}

impl PriceError {
    /// The field the error is about (the API's and the dashboard form's names).
    pub fn field(&self) -> &'static str {
        match self {
            Self::Currency => "currency",
            Self::Amount => "unit_amount",
            Self::Interval(_) => "interval",
            Self::TrialTooLong | Self::TrialOnOneTime => "trial_days",
            Self::LookupKey => "lookup_key",
        }
    }
}

/// A new price an owner asked for, checked: currency lowercased, the interval Stripe's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPriceRequest {
    /// Minor units, more than zero.
    pub unit_amount: u64,
    /// Lowercase ISO code.
    pub currency: String,
    /// `month` or `year`; `None` for one-time.
    pub interval: Option<&'static str>,
    /// Free trial (0: none; recurring prices only).
    pub trial_days: u32,
    /// Lookup key, a slug.
    pub lookup_key: Option<String>,
}

/// A currency code as typed, lowercased, when it is three letters.
pub fn currency(typed: &str) -> Result<String, PriceError> {
    let code = typed.trim().to_ascii_lowercase();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_lowercase()) { Ok(code) } else { Err(PriceError::Currency) }
}

/// Checks a new price, the one rule for the owner API and the dashboard.
pub fn new_price(
    unit_amount: u64,
    currency_code: &str,
    interval: Option<&str>,
    trial_days: u32,
    lookup_key: Option<&str>,
) -> Result<NewPriceRequest, PriceError> {
    let currency = currency(currency_code)?;
    if unit_amount == 0 || i64::try_from(unit_amount).is_err() {
        return Err(PriceError::Amount);
    }
    let interval = match interval.filter(|i| !i.is_empty()) {
        None => None,
        Some("month") => Some("month"),
        Some("year") => Some("year"),
        Some(other) => return Err(PriceError::Interval(other.chars().take(32).collect())),
    };
    if trial_days > MAX_TRIAL_DAYS {
        return Err(PriceError::TrialTooLong);
    }
    if trial_days > 0 && interval.is_none() {
        return Err(PriceError::TrialOnOneTime);
    }
    if lookup_key.is_some_and(|k| crate::validate::slug(k).is_err()) {
        return Err(PriceError::LookupKey);
    }
    Ok(NewPriceRequest { unit_amount, currency, interval, trial_days, lookup_key: lookup_key.map(str::to_owned) })
}

/// How a product is sold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurchaseMethod {
    /// Latch opens Stripe Checkout.
    StripeCheckout,
    /// Buttons go to the owner's sales page.
    SalesPage,
    /// Buttons go to an external shop.
    External,
}

impl PurchaseMethod {
    /// The stored and public name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StripeCheckout => "stripe_checkout",
            Self::SalesPage => "sales_page",
            Self::External => "external",
        }
    }
}

/// Checks a purchase method and its URL: `stripe_checkout` takes none, the others need an `https` URL (or `http`
/// on loopback, for local development).
pub fn purchase_method(method: &str, url: Option<&str>) -> Result<(PurchaseMethod, Option<String>), String> {
    let m = match method {
        "stripe_checkout" => return Ok((PurchaseMethod::StripeCheckout, None)),
        "sales_page" => PurchaseMethod::SalesPage,
        "external" => PurchaseMethod::External,
        other => return Err(format!("purchase_method must be stripe_checkout, sales_page or external, not `{other}`")),
    };
    let url = url.ok_or_else(|| format!("purchase_method {method} needs a purchase_url"))?;
    crate::validate::origin_of(url).map_err(|e| format!("purchase_url: {e}"))?;
    Ok((m, Some(url.to_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `catalog_update` of a body, through the parsed event as the edge calls it.
    fn catalog_update_of(body: &[u8]) -> Option<CatalogUpdate> {
        catalog_update(&Event::parse(body).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn catalog_events() {
        let p = br#"{"id":"evt_1","object":"event","created":1,"type":"product.updated","data":{"object":{"id":"prod_1","object":"product","name":"New","active":true}}}"#;
        assert_eq!(
            catalog_update_of(p),
            Some(CatalogUpdate::Product { id: "prod_1".into(), name: "New".into(), active: true })
        );
        let pr = br#"{"id":"evt_2","object":"event","created":1,"type":"price.updated","data":{"object":{"id":"price_1","object":"price","product":"prod_1","active":false,"unit_amount":500,"lookup_key":null}}}"#;
        let Some(CatalogUpdate::Price { product, price }) = catalog_update_of(pr) else { panic!("a price update") };
        assert_eq!(
            (product.as_str(), price.id.as_str(), price.active, price.unit_amount),
            ("prod_1", "price_1", false, Some(500))
        );
        let deleted = br#"{"id":"evt_3","object":"event","created":1,"type":"price.deleted","data":{"object":{"id":"price_1","object":"price","product":{"id":"prod_1","object":"product"},"active":true}}}"#;
        let Some(CatalogUpdate::Price { product, price }) = catalog_update_of(deleted) else { panic!("a price") };
        assert_eq!((product.as_str(), price.active), ("prod_1", false), "a deleted price is inactive");
        let d = br#"{"id":"evt_4","object":"event","created":1,"type":"account.application.deauthorized","account":"acct_9","data":{"object":{"id":"ca_1","object":"application"}}}"#;
        assert_eq!(catalog_update_of(d), Some(CatalogUpdate::Deauthorized { account: "acct_9".into() }));
        let other = br#"{"id":"evt_5","object":"event","created":1,"type":"invoice.paid","data":{"object":{"id":"in_1","object":"invoice"}}}"#;
        assert_eq!(catalog_update_of(other), None);
        let lookalike = br#"{"id":"evt_6","object":"event","created":1,"type":"product.feature.created","data":{"object":{"id":"pf_1","object":"product_feature"}}}"#;
        assert_eq!(catalog_update_of(lookalike), None, "only product.* and price.* lifecycle events");
    }

    #[test]
    fn purchase_methods_and_intervals() {
        assert_eq!(
            purchase_method("stripe_checkout", Some("https://x.com")),
            Ok((PurchaseMethod::StripeCheckout, None))
        );
        assert!(purchase_method("sales_page", None).is_err());
        assert!(purchase_method("sales_page", Some("javascript:alert(1)")).is_err());
        assert_eq!(
            purchase_method("external", Some("https://shop.example/p")).map(|(m, _)| m.as_str()),
            Ok("external")
        );
        assert!(purchase_method("gift", None).is_err());
        assert_eq!(new_price(900, "USD", Some("year"), 7, Some("pro-yearly")).map(|p| p.interval), Ok(Some("year")));
        assert_eq!(new_price(900, "usd", Some("fortnight"), 0, None).map_err(|e| e.field()), Err("interval"));
        assert_eq!(new_price(900, "us", None, 0, None), Err(PriceError::Currency));
        assert_eq!(new_price(0, "usd", None, 0, None), Err(PriceError::Amount));
        assert_eq!(new_price(900, "usd", None, 7, None), Err(PriceError::TrialOnOneTime), "no trial on one-time");
        assert_eq!(new_price(900, "usd", Some("month"), 731, None), Err(PriceError::TrialTooLong));
        assert_eq!(new_price(900, "usd", None, 0, Some("Bad Key")).map_err(|e| e.field()), Err("lookup_key"));
        assert_eq!(new_price(900, "eur", Some(""), 0, None).map(|p| p.interval), Ok(None), "empty is one-time");
        let p: StripePrice = serde_json::from_str(
            r#"{"id":"price_1","active":true,"unit_amount":900,"currency":"usd","recurring":{"interval":"month","trial_period_days":7}}"#,
        )
        .unwrap();
        assert_eq!(p.recurring.map(|r| r.interval), Some("month".into()));
    }

    #[test]
    fn import_takes_active_and_trialing() {
        assert!(importable(&SubscriptionStatus::Active));
        assert!(importable(&SubscriptionStatus::Trialing));
        assert!(!importable(&SubscriptionStatus::Canceled));
    }

    #[test]
    fn a_product_is_linked_once_and_never_away_from_its_members() {
        let row = |slug: &str, stripe: &str| StoredProduct {
            slug: slug.into(),
            name: slug.into(),
            stripe_product: stripe.into(),
            policy: String::new(),
        };
        let products = [row("pro", "prod_1"), row("course", "prod_2")];
        let grant = |ends_at: Option<i64>| crate::engine::Grant {
            customer: "cus_1".into(),
            product: "pro".into(),
            source: "sub_1".into(),
            livemode: false,
            status: crate::engine::GrantStatus::Active,
            starts_at: 0,
            ends_at,
            version: 1,
            email: None,
            dispute: None,
            fetched: false,
            paid_through: None,
            subscription_status: None,
            period_end: None,
        };
        assert_eq!(check_link("new", "prod_1", &products, &[], 10), Err(LinkError::AlreadyLinked("pro".into())));
        assert_eq!(check_link("pro", "prod_1", &products, &[grant(None)], 10), Ok(()), "the same link again");
        assert_eq!(
            check_link("pro", "prod_9", &products, &[grant(Some(100))], 10),
            Err(LinkError::HasSubscribers { slug: "pro".into(), stripe_product: "prod_1".into() })
        );
        assert_eq!(check_link("pro", "prod_9", &products, &[grant(Some(5))], 10), Ok(()), "their access ended");
        assert_eq!(check_link("new", "prod_9", &products, &[], 10), Ok(()));
        assert_eq!(check_linkable(false), Err(LinkError::Inactive));
    }

    #[test]
    fn a_stored_policy_overrides_the_defaults_and_an_unreadable_one_falls_back() {
        let site = SiteFacts { id: "site_a".into(), livemode: false, account: Some("acct_1".into()) };
        let row = |slug: &str, policy: &str| StoredProduct {
            slug: slug.into(),
            name: slug.into(),
            stripe_product: format!("prod_{slug}"),
            policy: policy.into(),
        };
        let (catalog, warnings) = engine_catalog(
            &site,
            &[row("a", r#"{"past_due_grace_days": 3}"#), row("b", r#"{"nope": 1}"#), row("c", "")],
        );
        assert_eq!(catalog.products[0].past_due_grace_days, 3);
        assert_eq!(catalog.products[1], ProductPolicy::new("b", "prod_b"));
        assert_eq!(catalog.products[2], ProductPolicy::new("c", "prod_c"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!((catalog.site.as_deref(), catalog.account.as_deref()), (Some("site_a"), Some("acct_1")));
    }

    #[test]
    fn the_public_catalog_lists_what_is_sold_cheapest_first() {
        let product = |slug: &str| CatalogProduct {
            slug: slug.into(),
            name: slug.into(),
            checkout: true,
            purchase_method: "stripe_checkout".into(),
            purchase_url: None,
            locked_card: true,
            prices: Vec::new(),
        };
        let price = |id: &str, amount: i64| CatalogPrice {
            id: id.into(),
            lookup_key: None,
            unit_amount: amount,
            currency: "usd".into(),
            interval: None,
            trial_days: 0,
        };
        let catalog = public_catalog(
            "site_a",
            vec![(product("pro"), true), (product("old"), false)],
            vec![
                ("pro".into(), price("p_big", 900)),
                ("pro".into(), price("p_small", 500)),
                ("old".into(), price("o", 1)),
            ],
        );
        assert_eq!(catalog.products.len(), 1, "an archived product is not listed");
        let ids: Vec<&str> = catalog.products[0].prices.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["p_small", "p_big"]);
        let prices = [price("a", 900), price("b", 500)];
        assert_eq!(default_price(&prices, |p| p.unit_amount).map(|p| p.id.as_str()), Some("b"));
        assert!(default_price::<CatalogPrice>(&[], |p| p.unit_amount).is_none());
    }
}
