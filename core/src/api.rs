//! The public API's contract, shared by the Worker, which serializes these types, and the widget, which reads the
//! same names through the browser's own JSON (never serde_json): the answers' field names, the return from
//! Checkout, which session ids and purchase URLs are followed, and the units of time and money.
//!
//! The widget compiles this module: nothing here may use `format!` or serde_json (both would land in its wasm).

use serde::Serialize;

use crate::engine::Access;

/// The query parameter Stripe's success URL carries back: `return_url?latch_session={CHECKOUT_SESSION_ID}`.
pub const SESSION_PARAM: &str = "latch_session";

/// Whether `id` is a Checkout Session id the widget may send to `POST /v1/claim` (the edge checks the same rule).
pub fn is_checkout_session_id(id: &str) -> bool {
    crate::validate::is_stripe_id("cs_", id)
}

/// Whether `url` may be followed as a product's purchase URL: `https://`, `http://` or a path on the site (never
/// `javascript:`, never a protocol-relative `//host`).
pub fn is_purchase_url(url: &str) -> bool {
    // `/\host` is `//host` to a browser.
    url.starts_with("https://")
        || url.starts_with("http://")
        || (url.starts_with('/') && !url.starts_with("//") && !url.starts_with("/\\"))
}

/// `ends_at` in every answer is Unix seconds; JavaScript's `Date` counts milliseconds.
pub fn ends_at_ms(ends_at: f64) -> f64 {
    ends_at * 1000.0
}

/// The answers' field names, as the widget reads them (the serde names of the types below; a test holds them
/// equal).
pub mod field {
    /// [`super::Catalog::products`], [`super::CatalogPrice`]...
    pub const PRODUCTS: &str = "products";
    /// A product's slug.
    pub const SLUG: &str = "slug";
    /// A product's name.
    pub const NAME: &str = "name";
    /// Whether Latch opens Checkout for the product.
    pub const CHECKOUT: &str = "checkout";
    /// Where the product is bought instead.
    pub const PURCHASE_URL: &str = "purchase_url";
    /// Whether the widget draws a locked card.
    pub const LOCKED_CARD: &str = "locked_card";
    /// A product's prices.
    pub const PRICES: &str = "prices";
    /// A price's Stripe id.
    pub const ID: &str = "id";
    /// A price's lookup key.
    pub const LOOKUP_KEY: &str = "lookup_key";
    /// A price's amount in minor units.
    pub const UNIT_AMOUNT: &str = "unit_amount";
    /// A price's currency (lowercase ISO code).
    pub const CURRENCY: &str = "currency";
    /// A recurring price's interval.
    pub const INTERVAL: &str = "interval";
    /// A price's free trial, in days.
    pub const TRIAL_DAYS: &str = "trial_days";
    /// Who the member is.
    pub const MEMBER: &str = "member";
    /// The member's email.
    pub const EMAIL: &str = "email";
    /// What the member may see.
    pub const ACCESS: &str = "access";
    /// A product the member may see.
    pub const PRODUCT: &str = "product";
    /// When that access ends (Unix seconds; `null`: never).
    pub const ENDS_AT: &str = "ends_at";
    /// The member token.
    pub const TOKEN: &str = "token";
}

/// `GET /v1/sites/{site}/catalog`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// The site's public key.
    pub site: String,
    /// What it sells now (active products).
    pub products: Vec<CatalogProduct>,
}

/// One product of [`Catalog`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogProduct {
    /// The value of `data-latch-*` attributes.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Whether Latch opens Stripe Checkout for it.
    pub checkout: bool,
    /// `stripe_checkout`, `sales_page` or `external`.
    pub purchase_method: String,
    /// Where buttons go when the purchase method is not Stripe Checkout.
    pub purchase_url: Option<String>,
    /// Whether the widget draws its locked card over `data-latch-locked` elements.
    pub locked_card: bool,
    /// Active prices, the one a locked card offers first.
    pub prices: Vec<CatalogPrice>,
}

/// One price of a [`CatalogProduct`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CatalogPrice {
    /// `price_...`
    pub id: String,
    /// Its lookup key, if any.
    pub lookup_key: Option<String>,
    /// Amount in the currency's minor unit ([`crate::money::minor_digits`]).
    pub unit_amount: i64,
    /// Lowercase ISO code.
    pub currency: String,
    /// `month`, `year`, ... for recurring prices; `None` for one-time ones.
    pub interval: Option<String>,
    /// Free trial length (0: none).
    pub trial_days: i64,
}

/// What the widget may know of a member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberView {
    /// Email address (as typed on Stripe's page while `verified` is false).
    pub email: String,
    /// Whether the member proved the email (a sign-in code or the host site's identity).
    pub verified: bool,
}

/// `GET /v1/access`, and with a token the claim's, sign-in's and identify's answers ([`TokenAnswer`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessAnswer {
    /// Who the member is.
    pub member: MemberView,
    /// Products the member may see now ([`crate::engine::access_list`]).
    pub access: Vec<Access>,
}

/// An [`AccessAnswer`] with a fresh member token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenAnswer {
    /// The member token (`Authorization: Bearer`).
    pub token: String,
    /// The member and their access.
    #[serde(flatten)]
    pub access: AccessAnswer,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(value: &serde_json::Value) -> Vec<&str> {
        value.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default()
    }

    #[test]
    fn the_field_names_are_the_serialized_names() {
        let price = CatalogPrice {
            id: "price_1".into(),
            lookup_key: None,
            unit_amount: 900,
            currency: "usd".into(),
            interval: Some("month".into()),
            trial_days: 7,
        };
        let product = CatalogProduct {
            slug: "pro".into(),
            name: "Pro".into(),
            checkout: true,
            purchase_method: "stripe_checkout".into(),
            purchase_url: None,
            locked_card: true,
            prices: vec![price],
        };
        let catalog = serde_json::to_value(Catalog { site: "site_a".into(), products: vec![product] }).unwrap();
        let p = &catalog[field::PRODUCTS][0];
        for name in [field::SLUG, field::NAME, field::CHECKOUT, field::PURCHASE_URL, field::LOCKED_CARD] {
            assert!(keys(p).contains(&name), "{name} in {p}");
        }
        let pr = &p[field::PRICES][0];
        let price_fields =
            [field::ID, field::LOOKUP_KEY, field::UNIT_AMOUNT, field::CURRENCY, field::INTERVAL, field::TRIAL_DAYS];
        for name in price_fields {
            assert!(keys(pr).contains(&name), "{name} in {pr}");
        }
        let answer = TokenAnswer {
            token: "t".into(),
            access: AccessAnswer {
                member: MemberView { email: "a@example.com".into(), verified: true },
                access: vec![Access { product: "pro".into(), ends_at: Some(1) }],
            },
        };
        let answer = serde_json::to_value(answer).unwrap();
        assert!(keys(&answer).contains(&field::TOKEN) && keys(&answer).contains(&field::ACCESS));
        assert_eq!(answer[field::MEMBER][field::EMAIL], "a@example.com");
        assert_eq!(answer[field::ACCESS][0][field::PRODUCT], "pro");
        assert_eq!(answer[field::ACCESS][0][field::ENDS_AT], 1);
    }

    #[test]
    fn session_ids_and_purchase_urls() {
        assert!(is_checkout_session_id("cs_test_a1B2"));
        assert!(!is_checkout_session_id("cs_") && !is_checkout_session_id("pi_1") && !is_checkout_session_id("cs_a-b"));
        assert!(is_purchase_url("https://shop.example/pro") && is_purchase_url("/join"));
        assert!(!is_purchase_url("javascript:alert(1)") && !is_purchase_url("//evil.example") && !is_purchase_url(""));
        assert!(!is_purchase_url("/\\evil.example"), "a backslash is a slash to a browser");
        assert_eq!(ends_at_ms(1.5), 1500.0);
    }
}
