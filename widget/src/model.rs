//! Pure data and text: the catalog, a member's access, price labels and URL handling.
//!
//! Nothing here touches the browser, so it is unit-tested natively. Formatting is done by hand (no `format!`)
//! because `core::fmt` is a large share of a small wasm file.

/// One price of a product, as the edge's catalog lists it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Price {
    /// Stripe price id (`price_...`).
    pub id: String,
    /// The price's lookup key (`pro-monthly`), if it has one.
    pub lookup_key: Option<String>,
    /// Amount in the currency's smallest unit (cents).
    pub unit_amount: i64,
    /// Lower-case ISO currency code (`usd`).
    pub currency: String,
    /// Billing interval (`month`, `year`, ...) for recurring prices, `None` for one-time prices.
    pub interval: Option<String>,
    /// Free trial length in days (0 when there is none).
    pub trial_days: u32,
}

/// A product that can be bought on a site.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Product {
    /// Site-chosen slug (`pro`), the value of `data-latch-locked` / `data-latch-content`.
    pub slug: String,
    /// Human name (`Pro`).
    pub name: String,
    /// Prices, in the edge's order; the first one is the one a locked card offers.
    pub prices: Vec<Price>,
    /// The catalog's `checkout: false`: the site sells this product elsewhere (or not now), so the widget
    /// never creates a Checkout Session for it.
    pub checkout_off: bool,
    /// Where the product is bought instead when checkout is off (the catalog's `purchase_url`, http(s) or a
    /// path); without one, CTAs for the product are shown disabled with [`unavailable_label`].
    pub purchase_url: Option<String>,
    /// The catalog's `locked_card: false`: `data-latch-locked` elements of this product get no overlay and are
    /// hidden from non-members like `data-latch-content`.
    pub locked_card_off: bool,
}

/// The products of one site (`GET /v1/sites/{site}/catalog`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Catalog {
    /// All products of the site.
    pub products: Vec<Product>,
}

impl Catalog {
    /// The product with this slug.
    pub fn product(&self, slug: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.slug == slug)
    }

    /// The product that owns the price with this id or lookup key.
    pub fn product_for_price(&self, key: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.prices.iter().any(|pr| pr.matches(key)))
    }
}

impl Price {
    /// Whether `key` names this price (its id or its lookup key).
    pub fn matches(&self, key: &str) -> bool {
        self.id == key || self.lookup_key.as_deref() == Some(key)
    }
}

impl Product {
    /// The price a locked card offers: the first one.
    pub fn first_price(&self) -> Option<&Price> {
        self.prices.first()
    }
}

/// One active grant: the member may see `product` until `ends_at_ms` (milliseconds since the epoch), or forever.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// Product slug.
    pub product: String,
    /// End of access in milliseconds since the epoch; `None` means no end (lifetime purchase).
    pub ends_at_ms: Option<f64>,
}

/// What the current visitor may see.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Access {
    /// Whether the visitor holds a member token (signed in), even with no active grants.
    pub signed_in: bool,
    /// The member's email, when known.
    pub email: Option<String>,
    /// Active grants.
    pub grants: Vec<Grant>,
}

impl Access {
    /// Whether the visitor has access to `slug` at `now_ms`.
    pub fn has(&self, slug: &str, now_ms: f64) -> bool {
        self.grants.iter().any(|g| g.product == slug && g.ends_at_ms.is_none_or(|end| end > now_ms))
    }

    /// Slugs the visitor has access to at `now_ms`, in grant order, without duplicates.
    pub fn slugs(&self, now_ms: f64) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in &self.grants {
            if self.has(&g.product, now_ms) && !out.contains(&g.product) {
                out.push(g.product.clone());
            }
        }
        out
    }
}

/// Appends `n` in decimal. No indexing, so no bounds-check panic (and its `core::fmt` message) in the wasm.
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut len = 0;
    for slot in buf.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    for digit in buf.iter().rev().take(len).rev() {
        out.push(*digit as char);
    }
}

/// The language of the widget's own texts, from the page's `lang` (English unless it names a language the widget
/// speaks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// English (default).
    #[default]
    En,
    /// German.
    De,
}

impl Lang {
    /// From a BCP 47 tag (`de`, `de-AT`, `en-GB`, ...).
    pub fn from_tag(tag: &str) -> Self {
        let primary = cut(tag, b'-').map_or(tag, |(p, _)| p);
        if primary.eq_ignore_ascii_case("de") { Self::De } else { Self::En }
    }

    /// The locale the browser's `Intl` formats money in.
    pub fn locale(self) -> &'static str {
        match self {
            Self::En => "en-US",
            Self::De => "de-DE",
        }
    }

    fn texts(self) -> &'static Texts {
        match self {
            Self::En => &EN,
            Self::De => &DE,
        }
    }
}

/// One language's texts.
struct Texts {
    unlock: &'static str,
    for_: &'static str,
    trial: &'static str,
    thanks: &'static str,
    complete: &'static str,
    is_unlocked: &'static str,
    are_unlocked: &'static str,
    unavailable: &'static str,
    /// month, year, week, day.
    intervals: [&'static str; 4],
}

const EN: Texts = Texts {
    unlock: "Unlock",
    for_: " for ",
    trial: "-day free trial",
    thanks: "Thanks! ",
    complete: "Your purchase is complete.",
    is_unlocked: " is unlocked.",
    are_unlocked: " are unlocked.",
    unavailable: "Not available for purchase right now.",
    intervals: ["month", "year", "week", "day"],
};

const DE: Texts = Texts {
    unlock: "Freischalten",
    for_: " für ",
    trial: " Tage kostenlos testen",
    thanks: "Danke! ",
    complete: "Ihr Kauf ist abgeschlossen.",
    is_unlocked: " ist freigeschaltet.",
    are_unlocked: " sind freigeschaltet.",
    unavailable: "Derzeit nicht erhältlich.",
    intervals: ["Monat", "Jahr", "Woche", "Tag"],
};

/// Formats an amount in a currency's minor unit (`(900, "usd")` -> `$9.00`): the browser's `Intl.NumberFormat` in
/// the widget (`crate::js::format_money`), a stand-in in native tests.
pub type FormatMoney<'a> = &'a dyn Fn(i64, &str) -> String;

/// A price as people read it: `$9.00/month` for recurring prices, `€5.00` for one-time ones.
pub fn price_label(price: &Price, lang: Lang, money: FormatMoney<'_>) -> String {
    let mut out = money(price.unit_amount, &price.currency);
    if let Some(interval) = price.interval.as_deref().filter(|i| !i.is_empty()) {
        let [month, year, week, day] = lang.texts().intervals;
        out.push('/');
        out.push_str(match interval {
            "month" => month,
            "year" => year,
            "week" => week,
            "day" => day,
            other => other,
        });
    }
    out
}

/// The locked card's call to action: `Unlock for $9.00/month`, or `Unlock` when the price is unknown.
pub fn cta_label(price: Option<&Price>, lang: Lang, money: FormatMoney<'_>) -> String {
    let t = lang.texts();
    let mut out = String::from(t.unlock);
    if let Some(price) = price {
        out.push_str(t.for_);
        out.push_str(&price_label(price, lang, money));
    }
    out
}

/// The CTA's accessible name: the visible label, then the product: `Unlock for $9.00/month – Pro`.
pub fn cta_aria_label(product: Option<&Product>, lang: Lang, money: FormatMoney<'_>) -> String {
    // The visible text comes first, whole: WCAG 2.5.3 "label in name".
    let mut out = cta_label(product.and_then(Product::first_price), lang, money);
    if let Some(product) = product.filter(|p| !p.name.is_empty()) {
        out.push_str(" – ");
        out.push_str(&product.name);
    }
    out
}

/// The short message on a locked card whose product has checkout off and no purchase URL.
pub fn unavailable_label(lang: Lang) -> &'static str {
    lang.texts().unavailable
}

/// The trial line under a CTA: `7-day free trial`, or `None` without a trial.
pub fn trial_label(price: Option<&Price>, lang: Lang) -> Option<String> {
    let days = price?.trial_days;
    if days == 0 {
        return None;
    }
    let mut out = String::new();
    push_u64(&mut out, u64::from(days));
    out.push_str(lang.texts().trial);
    Some(out)
}

/// The success announcement after a purchase: `Thanks! Pro is unlocked.`, `Thanks! Pro, Course are
/// unlocked.`, or `Thanks! Your purchase is complete.` without product names (empty names are skipped).
pub fn success_message(names: &[&str], lang: Lang) -> String {
    let t = lang.texts();
    let mut out = String::from(t.thanks);
    let mut count = 0;
    for name in names {
        if name.is_empty() {
            continue;
        }
        if count > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        count += 1;
    }
    out.push_str(match count {
        0 => t.complete,
        1 => t.is_unlocked,
        _ => t.are_unlocked,
    });
    out
}

/// A positive quantity from an attribute (`"3"`, `" 2 "`); `None` for anything else. Hand-rolled: `str::parse`
/// brings its error machinery into the wasm.
pub fn parse_quantity(text: &str) -> Option<u32> {
    let text = text.trim_ascii();
    if text.is_empty() || text.len() > 6 {
        return None;
    }
    let mut n: u32 = 0;
    for b in text.bytes() {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    (n > 0).then_some(n)
}

/// Splits `url` into (before the query, the query without `?`, the fragment with `#`). Never panics (no
/// slicing by index: that would pull `core::fmt`'s char-boundary messages into the wasm).
fn split_url(url: &str) -> (&str, Option<&str>, &str) {
    let (rest, fragment) = match cut(url, b'#') {
        Some((rest, _)) => (rest, url.get(rest.len()..).unwrap_or("")),
        None => (url, ""),
    };
    match cut(rest, b'?') {
        Some((base, query)) => (base, Some(query), fragment),
        None => (rest, None, fragment),
    }
}

/// Splits `s` at the first `byte` (ASCII), without it. Byte-wise: `str::split_once(char)` costs a searcher.
pub fn cut(s: &str, byte: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|b| b == byte)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// Calls `f` with each `&`-separated `key=value` pair of `query` (a missing `=` gives an empty value).
fn for_each_pair<'a>(query: &'a str, mut f: impl FnMut(&'a str, &'a str, &'a str)) {
    let mut rest = Some(query);
    while let Some(current) = rest {
        let (pair, next) = match cut(current, b'&') {
            Some((pair, next)) => (pair, Some(next)),
            None => (current, None),
        };
        let (key, value) = cut(pair, b'=').unwrap_or((pair, ""));
        f(pair, key, value);
        rest = next;
    }
}

/// The value of query parameter `name` in `url` (not percent-decoded; Stripe ids need none).
pub fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let mut found = None;
    for_each_pair(split_url(url).1?, |_, key, value| {
        if found.is_none() && key == name {
            found = Some(value);
        }
    });
    found
}

/// `url` without every occurrence of query parameter `name`; drops the `?` when nothing is left.
pub fn strip_param(url: &str, name: &str) -> String {
    let (base, query, fragment) = split_url(url);
    let mut out = String::from(base);
    if let Some(query) = query {
        let mut first = true;
        for_each_pair(query, |pair, key, _| {
            if key != name && !pair.is_empty() {
                out.push(if first { '?' } else { '&' });
                out.push_str(pair);
                first = false;
            }
        });
    }
    out.push_str(fragment);
    out
}

pub use latch_core::api::SESSION_PARAM;

/// The Checkout Session id to claim in `url`, if it carries one (`latch_core::api::is_checkout_session_id`).
pub fn session_to_claim(url: &str) -> Option<&str> {
    query_param(url, SESSION_PARAM).filter(|id| latch_core::api::is_checkout_session_id(id))
}

/// Waits between claim attempts while the edge answers `409 claim_pending`, in milliseconds (about 10 s total).
pub const CLAIM_RETRY_DELAYS_MS: &[i32] = &[300, 600, 900, 1200, 1500, 2000, 2500];

/// How long cached access may be shown without waiting for the network: one day, in milliseconds.
pub const ACCESS_CACHE_FRESH_MS: f64 = 24.0 * 3600.0 * 1000.0;

/// Concatenates string pieces (a `format!` without `core::fmt`).
pub fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price(amount: i64, currency: &str, interval: Option<&str>) -> Price {
        Price {
            id: "price_1".into(),
            lookup_key: Some("pro-monthly".into()),
            unit_amount: amount,
            currency: currency.into(),
            interval: interval.map(Into::into),
            trial_days: 0,
        }
    }

    /// A stand-in for `Intl.NumberFormat` (en-US for two-decimal currencies only).
    fn money(amount: i64, currency: &str) -> String {
        let symbol = if currency == "usd" { "$" } else { "€" };
        concat(&[symbol, &(amount / 100).to_string(), ".", &format!("{:02}", amount % 100)])
    }

    #[test]
    fn price_labels() {
        assert_eq!(price_label(&price(900, "usd", Some("month")), Lang::En, &money), "$9.00/month");
        assert_eq!(price_label(&price(500, "eur", None), Lang::En, &money), "€5.00");
        assert_eq!(price_label(&price(9900, "usd", Some("year")), Lang::En, &money), "$99.00/year");
        assert_eq!(price_label(&price(500, "eur", Some("")), Lang::En, &money), "€5.00");
    }

    #[test]
    fn cta_labels() {
        let p = price(900, "usd", Some("month"));
        assert_eq!(cta_label(Some(&p), Lang::En, &money), "Unlock for $9.00/month");
        assert_eq!(cta_label(None, Lang::En, &money), "Unlock");
        let product = Product { slug: "pro".into(), name: "Pro".into(), prices: vec![p.clone()], ..Product::default() };
        assert_eq!(cta_aria_label(Some(&product), Lang::En, &money), "Unlock for $9.00/month – Pro");
        assert_eq!(cta_aria_label(None, Lang::En, &money), "Unlock");
        assert_eq!(trial_label(Some(&p), Lang::En), None);
        assert_eq!(unavailable_label(Lang::De), "Derzeit nicht erhältlich.");
        let trial = Price { trial_days: 7, ..p };
        assert_eq!(trial_label(Some(&trial), Lang::En).as_deref(), Some("7-day free trial"));
        assert_eq!(trial_label(None, Lang::En), None);
    }

    #[test]
    fn success_messages() {
        assert_eq!(success_message(&[], Lang::En), "Thanks! Your purchase is complete.");
        assert_eq!(success_message(&[""], Lang::En), "Thanks! Your purchase is complete.");
        assert_eq!(success_message(&["Pro"], Lang::En), "Thanks! Pro is unlocked.");
        assert_eq!(success_message(&["Pro", "", "Course"], Lang::En), "Thanks! Pro, Course are unlocked.");
    }

    #[test]
    fn german() {
        let de = Lang::from_tag("de-AT");
        assert_eq!(de, Lang::De);
        assert_eq!(Lang::from_tag("DE"), Lang::De);
        assert_eq!(Lang::from_tag("en-GB"), Lang::En);
        assert_eq!(Lang::from_tag(""), Lang::En);
        assert_eq!(Lang::from_tag("fr"), Lang::En);
        assert_eq!(de.locale(), "de-DE");
        let p = price(900, "eur", Some("month"));
        assert_eq!(cta_label(Some(&p), de, &money), "Freischalten für €9.00/Monat");
        assert_eq!(price_label(&price(900, "eur", Some("quarter")), de, &money), "€9.00/quarter");
        let trial = Price { trial_days: 14, ..p };
        assert_eq!(trial_label(Some(&trial), de).as_deref(), Some("14 Tage kostenlos testen"));
        assert_eq!(success_message(&["Pro"], de), "Danke! Pro ist freigeschaltet.");
        assert_eq!(success_message(&[], de), "Danke! Ihr Kauf ist abgeschlossen.");
    }

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity("3"), Some(3));
        assert_eq!(parse_quantity(" 12 "), Some(12));
        assert_eq!(parse_quantity("0"), None);
        assert_eq!(parse_quantity(""), None);
        assert_eq!(parse_quantity("-1"), None);
        assert_eq!(parse_quantity("1.5"), None);
        assert_eq!(parse_quantity("9999999"), None);
        assert_eq!(parse_quantity("999999"), Some(999_999));
    }

    #[test]
    fn numbers() {
        let mut s = String::new();
        push_u64(&mut s, 0);
        s.push(' ');
        push_u64(&mut s, 1_234_567);
        assert_eq!(s, "0 1234567");
        assert_eq!(concat(&["a", "", "bc"]), "abc");
    }

    #[test]
    fn strip_session_param() {
        let p = SESSION_PARAM;
        assert_eq!(strip_param("https://x.test/a?latch_session=cs_1", p), "https://x.test/a");
        assert_eq!(strip_param("https://x.test/a?b=1&latch_session=cs_1", p), "https://x.test/a?b=1");
        assert_eq!(strip_param("https://x.test/a?latch_session=cs_1&b=1", p), "https://x.test/a?b=1");
        assert_eq!(strip_param("https://x.test/a?b=1&latch_session=cs_1&c=2#top", p), "https://x.test/a?b=1&c=2#top");
        assert_eq!(strip_param("https://x.test/a#x?latch_session=1", p), "https://x.test/a#x?latch_session=1");
        assert_eq!(strip_param("https://x.test/a", p), "https://x.test/a");
        assert_eq!(strip_param("https://x.test/a?", p), "https://x.test/a");
        assert_eq!(strip_param("https://x.test/a?latch_sessionx=1", p), "https://x.test/a?latch_sessionx=1");
        assert_eq!(strip_param("https://x.test/?latch_session", p), "https://x.test/");
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param("https://x.test/?a=1&b=2", "b"), Some("2"));
        assert_eq!(query_param("https://x.test/?a=1&b", "b"), Some(""));
        assert_eq!(query_param("https://x.test/?a=1#b=2", "b"), None);
        assert_eq!(query_param("https://x.test/", "a"), None);
        assert_eq!(session_to_claim("https://x.test/?latch_session=cs_test_a1B2"), Some("cs_test_a1B2"));
        assert_eq!(session_to_claim("https://x.test/?latch_session=pi_1"), None);
        assert_eq!(session_to_claim("https://x.test/?latch_session=cs_%3Cscript"), None);
        assert_eq!(session_to_claim("https://x.test/?latch_session={CHECKOUT_SESSION_ID}"), None);
    }

    #[test]
    fn access_and_catalog() {
        let access = Access {
            signed_in: true,
            email: Some("a@b.test".into()),
            grants: vec![
                Grant { product: "pro".into(), ends_at_ms: Some(2000.0) },
                Grant { product: "course".into(), ends_at_ms: None },
                Grant { product: "course".into(), ends_at_ms: None },
                Grant { product: "old".into(), ends_at_ms: Some(500.0) },
            ],
        };
        assert!(access.has("pro", 1000.0));
        assert!(!access.has("pro", 2000.0));
        assert!(access.has("course", 1e15));
        assert!(!access.has("old", 1000.0));
        assert!(!access.has("nope", 0.0));
        assert_eq!(access.slugs(1000.0), vec!["pro".to_string(), "course".to_string()]);

        let catalog = Catalog {
            products: vec![Product {
                slug: "pro".into(),
                name: "Pro".into(),
                prices: vec![price(900, "usd", Some("month"))],
                ..Product::default()
            }],
        };
        assert_eq!(catalog.product("pro").map(|p| p.name.as_str()), Some("Pro"));
        assert!(catalog.product("x").is_none());
        assert_eq!(catalog.product_for_price("pro-monthly").map(|p| p.slug.as_str()), Some("pro"));
        assert_eq!(catalog.product_for_price("price_1").map(|p| p.slug.as_str()), Some("pro"));
        assert!(catalog.product_for_price("nope").is_none());
    }

    #[test]
    fn claim_retries_last_about_ten_seconds() {
        let total: i32 = CLAIM_RETRY_DELAYS_MS.iter().sum();
        assert!((8000..=12000).contains(&total));
    }
}
