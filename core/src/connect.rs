//! Stripe Connect OAuth and catalog sync, decided here: the authorize URL, the rules for the single-use `state`,
//! the token answer, which subscriptions an import takes, and the catalog changes Stripe tells about.
//!
//! The edge stores and sends; it never decides whether a state is good or what a product event changes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::{Event, SubscriptionStatus};

/// How long a Connect `state` stays usable after the owner asked for the authorize URL.
pub const STATE_TTL_SECS: i64 = 15 * 60;

/// The cookie that binds a Connect `state` to the browser that asked for it (base name: `__Host-latch_oauth` over
/// https, `latch_oauth` on loopback http).
pub const OAUTH_COOKIE: &str = "latch_oauth";

/// What Latch needs to build Stripe's OAuth authorize URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeParams<'a> {
    /// `https://connect.stripe.com` in production, the emulator offline.
    pub connect_base: &'a str,
    /// The platform's Connect client id (`ca_...`).
    pub client_id: &'a str,
    /// The single-use random state (sent in clear; stored hashed).
    pub state: &'a str,
    /// `{EDGE}/connect/callback`.
    pub redirect_uri: &'a str,
}

/// `GET {connect_base}/oauth/authorize?response_type=code&client_id&scope=read_write&state&redirect_uri`.
pub fn authorize_url(p: &AuthorizeParams<'_>) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", p.client_id)
        .append_pair("scope", "read_write")
        .append_pair("state", p.state)
        .append_pair("redirect_uri", p.redirect_uri)
        .finish();
    format!("{}/oauth/authorize?{query}", p.connect_base.trim_end_matches('/'))
}

/// SHA-256 hex of a secret (states and cookie nonces are stored only hashed).
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The Stripe account a site's Stripe calls go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiteAccount<'a> {
    /// The account the site's owner connected (`Stripe-Account` header).
    Connected(&'a str),
    /// The platform's own account (single-account mode): only for the one site the operator marked so.
    Platform,
}

impl<'a> SiteAccount<'a> {
    /// The `Stripe-Account` header value, if any.
    pub fn header(self) -> Option<&'a str> {
        match self {
            Self::Connected(account) => Some(account),
            Self::Platform => None,
        }
    }
}

/// Why a site does no Stripe work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoStripe {
    /// The owner never connected Stripe (and the operator did not put the site on the platform's account).
    #[error("this site has not connected Stripe yet; its owner connects it in Settings > Payments")]
    NotConnected,
    /// The owner (or Stripe) disconnected it.
    #[error("this site's Stripe account is disconnected; the owner must connect Stripe again")]
    Disconnected,
}

/// The account a site works with: its connected account; the platform's only when the operator said so
/// (`platform`); nothing otherwise. A site that never connected never falls back to the platform's account.
pub fn site_account<'a>(
    account: Option<&'a str>,
    status: Option<&str>,
    platform: bool,
) -> Result<SiteAccount<'a>, NoStripe> {
    match (platform, status, account) {
        (true, _, _) => Ok(SiteAccount::Platform),
        (false, Some("connected"), Some(account)) => Ok(SiteAccount::Connected(account)),
        (false, Some("disconnected"), _) => Err(NoStripe::Disconnected),
        _ => Err(NoStripe::NotConnected),
    }
}

/// Whether a Stripe secret (or restricted) key is a live-mode key: a site on the platform's account takes the
/// key's mode, so a live key's events are not all ignored as the other mode's.
pub fn key_livemode(key: &str) -> bool {
    key.starts_with("sk_live_") || key.starts_with("rk_live_")
}

/// A stored `state`, as the edge loaded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoredState {
    /// The site being connected.
    pub site_id: String,
    /// What the state is bound to: [`binding`] of the owner session or of the cookie nonce that started it.
    pub binding: String,
    /// Unix seconds after which the state is dead.
    pub expires_at: i64,
    /// Set once the state was used (success or not).
    pub used_at: Option<i64>,
}

/// Why a callback is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// No such state (forged, or from another deployment).
    #[error("this Connect link is unknown; start again from Settings > Payments")]
    Unknown,
    /// The state was already used.
    #[error("this Connect link was already used; start again from Settings > Payments")]
    Replayed,
    /// Too old.
    #[error("this Connect link expired; start again from Settings > Payments")]
    Expired,
    /// The browser finishing the flow is not the one that started it.
    #[error("this Connect link was started in another browser; start again from Settings > Payments")]
    WrongBrowser,
}

/// Prefix of a binding to an owner session (a nonce binding is the bare hash).
const SESSION_BINDING: &str = "owner:";

/// Who started a Connect flow, and so who must finish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Starter<'a> {
    /// An owner session (its raw token): the callback must carry the same owner's session cookie.
    OwnerSession(&'a str),
    /// The operator token: the callback must carry the random nonce set in [`OAUTH_COOKIE`].
    Nonce(&'a str),
}

/// The value stored with a state for `starter` (only hashes, never the secret itself).
pub fn binding(starter: Starter<'_>) -> String {
    match starter {
        Starter::OwnerSession(token) => format!("{SESSION_BINDING}{}", hash_secret(token)),
        Starter::Nonce(nonce) => hash_secret(nonce),
    }
}

/// Checks a callback's state: known, unused, fresh, and finished by whoever started it. `session` is the raw
/// owner session token of the browser's live session cookie (if any), `cookie_nonce` the raw value of
/// [`OAUTH_COOKIE`] (if sent). A state bound to a session accepts only that session; a nonce-bound state only that
/// nonce.
pub fn check_state(
    stored: Option<&StoredState>,
    session: Option<&str>,
    cookie_nonce: Option<&str>,
    now: i64,
) -> Result<(), StateError> {
    let stored = stored.ok_or(StateError::Unknown)?;
    if stored.used_at.is_some() {
        return Err(StateError::Replayed);
    }
    if now >= stored.expires_at {
        return Err(StateError::Expired);
    }
    let presented = if stored.binding.starts_with(SESSION_BINDING) {
        session.map(|t| binding(Starter::OwnerSession(t)))
    } else {
        cookie_nonce.map(|n| binding(Starter::Nonce(n)))
    }
    .unwrap_or_default();
    let same: bool = subtle::ConstantTimeEq::ct_eq(presented.as_bytes(), stored.binding.as_bytes()).into();
    if same { Ok(()) } else { Err(StateError::WrongBrowser) }
}

/// Whether a stored state was started by an owner session (else by the operator token's nonce).
pub fn started_by_owner(stored: &StoredState) -> bool {
    stored.binding.starts_with(SESSION_BINDING)
}

/// The `Set-Cookie` value binding a Connect flow to a browser (see [`crate::cookie`]).
pub fn oauth_cookie(nonce: &str, secure: bool) -> String {
    crate::cookie::set(OAUTH_COOKIE, nonce, STATE_TTL_SECS, secure)
}

/// Stripe's answer to `POST /oauth/token`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OAuthToken {
    /// The connected account (`acct_...`).
    pub stripe_user_id: String,
    /// Live or test account.
    #[serde(default)]
    pub livemode: bool,
    /// Granted scope.
    #[serde(default)]
    pub scope: Option<String>,
}

/// Why the token exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// Stripe refused the code (`invalid_grant`, ...).
    #[error("Stripe refused the connection: {0}")]
    Refused(String),
    /// Stripe is failing or rate limiting: try again.
    #[error("Stripe is not answering right now ({0})")]
    Unavailable(u16),
    /// Not the JSON expected.
    #[error("unexpected answer from Stripe's OAuth endpoint: {0}")]
    Malformed(String),
}

/// Parses an `/oauth/token` or `/oauth/deauthorize` answer (OAuth errors are `{"error": "...",
/// "error_description"}`, not the API's error object).
pub fn parse_oauth<T: serde::de::DeserializeOwned>(status: u16, body: &str) -> Result<T, OAuthError> {
    #[derive(Deserialize)]
    struct OAuthErrorBody {
        error: serde_json::Value,
        #[serde(default)]
        error_description: Option<String>,
    }
    match status {
        200..=299 => serde_json::from_str(body).map_err(|e| OAuthError::Malformed(e.to_string())),
        429 | 500..=599 => Err(OAuthError::Unavailable(status)),
        _ => match serde_json::from_str::<OAuthErrorBody>(body) {
            Ok(e) => Err(OAuthError::Refused(e.error_description.unwrap_or_else(|| match e.error {
                serde_json::Value::String(s) => s,
                serde_json::Value::Object(o) => o.get("message").and_then(|m| m.as_str()).unwrap_or("").to_owned(),
                other => other.to_string(),
            }))),
            Err(e) => Err(OAuthError::Malformed(format!("status {status}: {e}"))),
        },
    }
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

/// Reads a catalog or Connect event (`None` for any other type). `event` is the parsed, verified event and `body`
/// its JSON: only product and price events read the body again (for the fields [`Event`] does not keep), so the
/// subscription and invoice events that make most of a webhook's traffic are parsed once.
pub fn catalog_update(event: &Event, body: &[u8]) -> Option<CatalogUpdate> {
    #[derive(Deserialize)]
    struct Ev {
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        object: Obj,
    }
    #[derive(Deserialize)]
    struct Obj {
        #[serde(default)]
        id: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        active: Option<bool>,
        #[serde(default)]
        deleted: Option<bool>,
        #[serde(default)]
        product: Option<serde_json::Value>,
        #[serde(default)]
        unit_amount: Option<i64>,
        #[serde(default)]
        lookup_key: Option<String>,
        #[serde(default)]
        currency: Option<String>,
        #[serde(default)]
        recurring: Option<serde_json::Value>,
    }
    let kind = event.kind.as_str();
    if kind == "account.application.deauthorized" {
        return Some(CatalogUpdate::Deauthorized { account: event.account.clone()? });
    }
    if !matches!(kind.split_once('.'), Some(("product" | "price", "created" | "updated" | "deleted"))) {
        return None;
    }
    let o = serde_json::from_slice::<Ev>(body).ok()?.data.object;
    let active = o.active.unwrap_or(false) && o.deleted != Some(true) && !kind.ends_with(".deleted");
    if kind.starts_with("product.") {
        return Some(CatalogUpdate::Product { id: o.id?, name: o.name.unwrap_or_default(), active });
    }
    let product = match o.product? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Object(m) => m.get("id")?.as_str()?.to_owned(),
        _ => return None,
    };
    let recurring = o.recurring.and_then(|r| serde_json::from_value::<Recurring>(r).ok());
    let price = StripePrice {
        id: o.id?,
        active,
        unit_amount: o.unit_amount,
        currency: o.currency.unwrap_or_default(),
        lookup_key: o.lookup_key,
        recurring,
    };
    Some(CatalogUpdate::Price { product, price })
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

/// A price's `recurring` hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurring {
    /// `day`, `week`, `month` or `year`.
    pub interval: String,
    /// Default trial length.
    #[serde(default)]
    pub trial_period_days: Option<i64>,
}

/// Intervals an owner may choose for a new recurring price.
pub fn price_interval(interval: Option<&str>) -> Result<Option<&str>, String> {
    match interval {
        None => Ok(None),
        Some(i @ ("month" | "year")) => Ok(Some(i)),
        Some(other) => {
            Err(format!("interval must be `month` or `year` (or absent for a one-time price), not `{other}`"))
        }
    }
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

    fn stored(nonce: &str) -> StoredState {
        StoredState { site_id: "site_a".into(), binding: hash_secret(nonce), expires_at: 1000, used_at: None }
    }

    #[test]
    fn a_site_uses_only_the_stripe_account_it_connected() {
        assert_eq!(site_account(Some("acct_1"), Some("connected"), false), Ok(SiteAccount::Connected("acct_1")));
        assert_eq!(site_account(None, None, false), Err(NoStripe::NotConnected), "never the platform's by default");
        assert_eq!(site_account(Some("acct_1"), Some("disconnected"), false), Err(NoStripe::Disconnected));
        assert_eq!(site_account(None, Some("connected"), false), Err(NoStripe::NotConnected));
        assert_eq!(site_account(None, None, true), Ok(SiteAccount::Platform));
        assert_eq!(SiteAccount::Platform.header(), None);
        assert_eq!(SiteAccount::Connected("acct_1").header(), Some("acct_1"));
        assert!(key_livemode("sk_live_123") && key_livemode("rk_live_1"));
        assert!(!key_livemode("sk_test_123") && !key_livemode("sk_livefoo"));
    }

    #[test]
    fn authorize_url_is_encoded() {
        let url = authorize_url(&AuthorizeParams {
            connect_base: "https://connect.stripe.com/",
            client_id: "ca_1",
            state: "s t",
            redirect_uri: "https://edge.example/connect/callback",
        });
        assert_eq!(
            url,
            "https://connect.stripe.com/oauth/authorize?response_type=code&client_id=ca_1&scope=read_write&state=s+t\
             &redirect_uri=https%3A%2F%2Fedge.example%2Fconnect%2Fcallback"
        );
    }

    #[test]
    fn state_rules() {
        let s = stored("n1");
        assert_eq!(check_state(Some(&s), None, Some("n1"), 999), Ok(()));
        assert_eq!(check_state(None, None, Some("n1"), 999), Err(StateError::Unknown));
        assert_eq!(check_state(Some(&s), None, Some("n1"), 1000), Err(StateError::Expired));
        assert_eq!(check_state(Some(&s), None, Some("n2"), 10), Err(StateError::WrongBrowser));
        assert_eq!(check_state(Some(&s), None, None, 10), Err(StateError::WrongBrowser));
        let used = StoredState { used_at: Some(5), ..s };
        assert_eq!(check_state(Some(&used), None, Some("n1"), 10), Err(StateError::Replayed));
    }

    #[test]
    fn a_session_bound_state_needs_the_same_session() {
        let s = StoredState {
            site_id: "site_a".into(),
            binding: binding(Starter::OwnerSession("sess_a")),
            expires_at: 1000,
            used_at: None,
        };
        assert!(!s.binding.contains("sess_a"), "only the hash is stored");
        assert_eq!(check_state(Some(&s), Some("sess_a"), None, 10), Ok(()));
        assert_eq!(check_state(Some(&s), Some("sess_b"), None, 10), Err(StateError::WrongBrowser));
        assert_eq!(check_state(Some(&s), None, None, 10), Err(StateError::WrongBrowser));
        // The session's hash is no nonce: a cookie nonce cannot stand in for the session, nor the reverse.
        assert_eq!(check_state(Some(&s), None, Some("sess_a"), 10), Err(StateError::WrongBrowser));
        let by_nonce = stored("n1");
        assert_eq!(check_state(Some(&by_nonce), Some("n1"), None, 10), Err(StateError::WrongBrowser));
    }

    #[test]
    fn cookies() {
        assert!(oauth_cookie("abc", true).starts_with("__Host-latch_oauth=abc; Path=/;"));
        assert!(oauth_cookie("abc", true).contains("Secure"));
        assert!(!oauth_cookie("abc", false).contains("Secure"));
    }

    #[test]
    fn oauth_answers() {
        let t: OAuthToken =
            parse_oauth(200, r#"{"stripe_user_id":"acct_1","livemode":false,"scope":"read_write"}"#).unwrap();
        assert_eq!(t.stripe_user_id, "acct_1");
        let e = parse_oauth::<OAuthToken>(400, r#"{"error":"invalid_grant","error_description":"used code"}"#);
        assert_eq!(e, Err(OAuthError::Refused("used code".into())));
        assert_eq!(parse_oauth::<OAuthToken>(503, ""), Err(OAuthError::Unavailable(503)));
    }

    /// `catalog_update` of a body, through the parsed event as the edge calls it.
    fn catalog_update_of(body: &[u8]) -> Option<CatalogUpdate> {
        let event = Event::parse(body).unwrap_or_else(|e| panic!("{e}"));
        catalog_update(&event, body)
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
        assert_eq!(price_interval(Some("year")), Ok(Some("year")));
        assert!(price_interval(Some("fortnight")).is_err());
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
}
