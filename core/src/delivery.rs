//! A webhook delivery, planned whole. After [`crate::webhook::verify`] and [`crate::event::Event::parse`], the edge
//! reads what [`reads`] names in one D1 batch, calls [`plan`] once, and writes [`Plan`] in one batch: two round
//! trips for any event, and the edge decides nothing in between.
//!
//! An event belongs to the site of its Stripe account and nothing else: a Connect event (`account`) to the site
//! connected to that account, a platform event to the one site the operator put on the platform's account. Within
//! the site, the engine still ignores objects whose `latch_site` metadata names another site.

use serde::Deserialize;

use crate::account;
use crate::catalog::{self, CatalogUpdate, SiteFacts, StoredProduct, StripePrice};
use crate::engine::{self, Grant, Input, Scope};
use crate::event::Event;
use crate::plan::{self, Origin, Writes};

/// Which site an event is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteOf<'a> {
    /// A Connect event (`account`): the site connected to that account, if any.
    Connected(&'a str),
    /// A platform event (no `account`): the one site the operator put on the platform's account, if any.
    Platform,
}

/// What the edge must read for an event, all in one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reads<'a> {
    /// Whether this id was processed already (`processed_events`).
    pub event_id: &'a str,
    /// The site to read, with its products, grants and owners.
    pub site: SiteOf<'a>,
    /// That site's grant rows the event touches.
    pub scope: Scope,
}

/// Names what an event needs read: its site by its account and nothing else (never a customer or metadata).
pub fn reads(event: &Event) -> Reads<'_> {
    let site = event.account.as_deref().map_or(SiteOf::Platform, SiteOf::Connected);
    Reads { event_id: &event.id, site, scope: engine::scope(&Input::Event(event)) }
}

/// A site's row, as the plan reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoredSite {
    /// Public key.
    pub id: String,
    /// Display name (for the emails).
    pub name: String,
    /// Connected Stripe account, if any.
    #[serde(default)]
    pub stripe_account: Option<String>,
    /// 1 when the connected account is in live mode.
    #[serde(default)]
    pub livemode: i64,
    /// 1 for the site on the platform's own account.
    #[serde(default)]
    pub platform_account: i64,
}

impl StoredSite {
    /// The facts the engine's catalog needs; `platform_key` is the platform's Stripe key (its mode).
    pub fn facts(&self, platform_key: &str) -> SiteFacts {
        let platform = self.platform_account != 0;
        SiteFacts {
            id: self.id.clone(),
            livemode: account::site_livemode(self.livemode != 0, platform, platform_key),
            account: account::event_account(self.stripe_account.as_deref(), platform).map(str::to_owned),
        }
    }
}

/// What the edge read for [`Reads`].
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// Whether the event id was processed already.
    pub processed: bool,
    /// The site of the event's account, if any.
    pub site: Option<StoredSite>,
    /// That site's products.
    pub products: Vec<StoredProduct>,
    /// That site's rows in the event's scope.
    pub grants: Vec<Grant>,
    /// That site's owners' addresses.
    pub owners: Vec<String>,
}

/// A change to Latch's copy of a site's catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogWrite {
    /// The product linked to `stripe_product` was renamed (an empty name keeps the stored one) or (de)activated.
    Product {
        /// `prod_...`
        stripe_product: String,
        /// The new name, empty to keep the stored one.
        name: String,
        /// Whether it is still sold.
        active: bool,
    },
    /// A price of the product `slug`, as it now is.
    Price {
        /// The Latch product it belongs to.
        slug: String,
        /// The price.
        price: StripePrice,
    },
}

/// What the webhook answers Stripe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Applied.
    Received,
    /// Processed before: nothing written.
    Duplicate,
    /// No site has the event's account: recorded as processed so retries are no-ops.
    NoSite,
}

impl Answer {
    /// The JSON body (always with a 2xx).
    pub fn body(self) -> serde_json::Value {
        match self {
            Self::Received => serde_json::json!({ "received": true }),
            Self::Duplicate => serde_json::json!({ "received": true, "duplicate": true }),
            Self::NoSite => serde_json::json!({ "received": true, "ignored": "no site for this event" }),
        }
    }
}

/// Everything one delivery writes, in one batch, and the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The site the event was for, if any (recorded with the processed id).
    pub site: Option<String>,
    /// Whether to record the event id as processed (every event but a duplicate), in the same batch as its effects:
    /// a retry after a failed write applies it again, one after a good write is a no-op.
    pub processed: bool,
    /// The account to mark disconnected (`account.application.deauthorized`).
    pub disconnect: Option<String>,
    /// Catalog changes (`product.*`, `price.*`).
    pub catalog: Vec<CatalogWrite>,
    /// The engine's writes (every event but catalog ones, for a known site).
    pub engine: Option<Writes>,
    /// The answer.
    pub answer: Answer,
}

/// Plans a delivery from what was read. `platform_key` is the platform's Stripe key (a platform site takes its mode).
pub fn plan(event: &Event, read: &Read, platform_key: &str, now: i64) -> Plan {
    let mut plan = Plan {
        site: None,
        processed: true,
        disconnect: None,
        catalog: Vec::new(),
        engine: None,
        answer: Answer::Received,
    };
    if read.processed {
        return Plan { processed: false, answer: Answer::Duplicate, ..plan };
    }
    let Some(site) = &read.site else {
        return Plan { answer: Answer::NoSite, ..plan };
    };
    plan.site = Some(site.id.clone());
    match catalog::catalog_update(event) {
        Some(CatalogUpdate::Product { id, name, active }) => {
            plan.catalog.push(CatalogWrite::Product { stripe_product: id, name, active });
            return plan;
        }
        Some(CatalogUpdate::Price { product, price }) => {
            plan.catalog.extend(
                read.products
                    .iter()
                    .filter(|p| p.stripe_product == product)
                    .map(|p| CatalogWrite::Price { slug: p.slug.clone(), price: price.clone() }),
            );
            return plan;
        }
        // Disconnection: marked in the same batch as the engine's activity and the owners' email.
        Some(CatalogUpdate::Deauthorized { account }) => plan.disconnect = Some(account),
        None => {}
    }
    let (catalog, warnings) = catalog::engine_catalog(&site.facts(platform_key), &read.products);
    let loaded = plan::Loaded {
        site: &site.id,
        site_name: &site.name,
        catalog: &catalog,
        products: &read.products,
        grants: &read.grants,
        owners: &read.owners,
    };
    let origin = Origin { event_id: Some(&event.id), cause: &event.id, round: 0, notify: true };
    let mut writes = plan::apply(&Input::Event(event), loaded, origin, now);
    writes.log.extend(warnings);
    plan.engine = Some(writes);
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Recipient;

    fn event(kind: &str, account: Option<&str>, object: &str) -> Event {
        let account = account.map_or(String::new(), |a| format!(r#""account":"{a}","#));
        let body = format!(
            r#"{{"id":"evt_1","object":"event","created":100,"type":"{kind}",{account}"data":{{"object":{object}}}}}"#
        );
        Event::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn site() -> StoredSite {
        StoredSite {
            id: "site_a".into(),
            name: "Site A".into(),
            stripe_account: Some("acct_1".into()),
            livemode: 0,
            platform_account: 0,
        }
    }

    fn read(site: Option<StoredSite>) -> Read {
        Read {
            processed: false,
            site,
            products: vec![StoredProduct {
                slug: "pro".into(),
                name: "Pro".into(),
                stripe_product: "prod_1".into(),
                policy: "{}".into(),
            }],
            grants: Vec::new(),
            owners: vec!["owner@example.com".into()],
        }
    }

    const SESSION: &str = r#"{"id":"cs_1","object":"checkout.session","mode":"payment","status":"complete","payment_status":"paid","customer":"cus_1","customer_details":{"email":"Buyer@Example.com"},"payment_intent":"pi_1","livemode":false,"metadata":{"latch_site":"site_a","latch_product":"pro"}}"#;

    #[test]
    fn a_paid_checkout_plans_the_grant_the_link_the_activity_and_the_email_at_once() {
        let e = event("checkout.session.completed", Some("acct_1"), SESSION);
        assert_eq!(reads(&e).scope.customer.as_deref(), Some("cus_1"));
        assert_eq!(reads(&e).site, SiteOf::Connected("acct_1"));
        let platform = event("checkout.session.completed", None, SESSION);
        assert_eq!(reads(&platform).site, SiteOf::Platform, "no account: the platform site, never a guess");
        let p = plan(&e, &read(Some(site())), "sk_test_x", 200);
        assert_eq!((p.site.as_deref(), p.processed, p.answer), (Some("site_a"), true, Answer::Received));
        let w = p.engine.expect("the engine's writes");
        assert_eq!(w.grants.len(), 1, "{w:?}");
        assert_eq!(w.grants[0].product, "pro");
        assert_eq!(w.link.as_ref().map(|l| l.customer.as_str()), Some("cus_1"));
        assert!(!w.activities.is_empty());
        assert!(w.emails.iter().all(|m| m.to == Recipient::Address("buyer@example.com".into())), "{:?}", w.emails);
    }

    #[test]
    fn duplicates_and_strangers_write_nothing_but_the_processed_id() {
        let e = event("checkout.session.completed", Some("acct_1"), SESSION);
        let dup = plan(&e, &Read { processed: true, ..read(Some(site())) }, "sk_test_x", 200);
        assert_eq!((dup.processed, dup.answer, dup.engine.is_none()), (false, Answer::Duplicate, true));
        let stranger = plan(&e, &read(None), "sk_test_x", 200);
        assert_eq!((stranger.processed, stranger.answer, stranger.site), (true, Answer::NoSite, None));
        assert!(stranger.engine.is_none() && stranger.catalog.is_empty());
    }

    #[test]
    fn catalog_events_change_the_copy_only() {
        let price =
            r#"{"id":"price_9","object":"price","product":"prod_1","active":true,"unit_amount":500,"currency":"usd"}"#;
        let p = plan(&event("price.created", Some("acct_1"), price), &read(Some(site())), "sk_test_x", 200);
        assert!(p.engine.is_none());
        assert!(
            matches!(&p.catalog[..], [CatalogWrite::Price { slug, price }] if slug == "pro" && price.id == "price_9")
        );
        let product = r#"{"id":"prod_1","object":"product","name":"Gold","active":false}"#;
        let p = plan(&event("product.updated", Some("acct_1"), product), &read(Some(site())), "sk_test_x", 200);
        assert_eq!(
            p.catalog,
            vec![CatalogWrite::Product { stripe_product: "prod_1".into(), name: "Gold".into(), active: false }]
        );
    }

    #[test]
    fn a_deauthorization_disconnects_and_tells_the_owners() {
        let app = r#"{"id":"ca_1","object":"application"}"#;
        let p = plan(&event("account.application.deauthorized", Some("acct_1"), app), &read(Some(site())), "sk", 200);
        assert_eq!(p.disconnect.as_deref(), Some("acct_1"));
        let w = p.engine.expect("the engine records it");
        assert!(w.emails.iter().any(|m| m.to == Recipient::Address("owner@example.com".into())), "{:?}", w.emails);
    }

    #[test]
    fn a_platform_site_takes_the_keys_mode() {
        let platform = StoredSite { stripe_account: None, platform_account: 1, ..site() };
        assert!(platform.facts("sk_live_1").livemode);
        assert_eq!(platform.facts("sk_live_1").account, None);
        assert_eq!(site().facts("sk_live_1").account.as_deref(), Some("acct_1"));
    }
}
