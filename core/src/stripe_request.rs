//! Stripe requests as values, and Stripe's answers as typed results.
//!
//! Core *builds* every request Latch sends to Stripe (method, path, form body, `Stripe-Account`, a deterministic
//! `Idempotency-Key`) and *parses* `(status, body)` back; exactly one edge file performs the HTTP call. Nothing here
//! knows about HTTP clients or the network.

use serde::Deserialize;
use sha2::{Digest, Sha256};

/// HTTP method of a Stripe API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Read: parameters go in the query string.
    Get,
    /// Create or update: parameters go in a form-encoded body.
    Post,
    /// Delete or cancel.
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// One call to Stripe's API, ready for the edge to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeRequest {
    /// HTTP method.
    pub method: Method,
    /// Path below the API base, starting with `/v1/`.
    pub path: String,
    /// Parameters in Stripe's bracket notation (`metadata[k]`, `line_items[0][price]`, `expand[]`).
    pub params: Vec<(String, String)>,
    /// `Stripe-Account` header: the connected account the call acts on, if any.
    pub account: Option<String>,
    /// `Idempotency-Key` header: set on every POST, derived from the request itself and a caller scope.
    pub idempotency_key: Option<String>,
}

impl StripeRequest {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Self { method, path: path.into(), params: Vec::new(), account: None, idempotency_key: None }
    }

    pub(crate) fn param(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((key.into(), value.into()));
        self
    }

    fn param_opt(self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.param(key, v),
            None => self,
        }
    }

    /// Acts on a connected account (`Stripe-Account` header).
    pub fn on_account(mut self, account: Option<&str>) -> Self {
        self.account = account.map(str::to_owned);
        self
    }

    /// Sets a deterministic idempotency key: the same request in the same `scope` always gets the same key, so a
    /// retried POST never creates a second object. The scope and the parameters say what counts as "the same
    /// attempt" (a checkout's claim secret hash, an event id for work caused by a webhook), never a time window: two
    /// callers must never share one.
    pub fn idempotent(mut self, scope: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [self.method.as_str(), &self.path, self.account.as_deref().unwrap_or(""), scope] {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        for (k, v) in &self.params {
            hash.update(k.as_bytes());
            hash.update([b'=']);
            hash.update(v.as_bytes());
            hash.update([0]);
        }
        self.idempotency_key = Some(format!("latch_{}", hex::encode(&hash.finalize()[..16])));
        self
    }

    /// Whether the request may be sent: every POST must carry an idempotency key (the edge refuses to send one
    /// without, so a forgotten key fails loudly in tests instead of risking a double charge in production).
    pub fn is_sendable(&self) -> bool {
        self.method != Method::Post || self.idempotency_key.is_some()
    }

    /// The parameters form-encoded (`application/x-www-form-urlencoded`), for a POST body or a GET query string.
    pub fn encoded_params(&self) -> String {
        form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.params).finish()
    }

    /// Path with the query string for GET and DELETE, the bare path for POST.
    pub fn path_and_query(&self) -> String {
        if self.method == Method::Post || self.params.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.encoded_params())
        }
    }
}

/// Checkout Session mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutMode {
    /// One-time payment.
    Payment,
    /// Recurring subscription.
    Subscription,
    /// Save a payment method for later, no charge.
    Setup,
}

impl CheckoutMode {
    /// Stripe's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Subscription => "subscription",
            Self::Setup => "setup",
        }
    }
}

/// What Latch asks of a new Checkout Session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutParams<'a> {
    /// Payment, subscription or setup.
    pub mode: CheckoutMode,
    /// Stripe price id (unused in setup mode).
    pub price: &'a str,
    /// Quantity of the price.
    pub quantity: u32,
    /// Where Stripe sends the member after paying; must contain `{CHECKOUT_SESSION_ID}`.
    pub success_url: &'a str,
    /// Where Stripe sends the member on cancel.
    pub cancel_url: &'a str,
    /// The site's public key; goes to `client_reference_id` and metadata.
    pub site: &'a str,
    /// The Latch product slug; goes to metadata (session and subscription).
    pub product: &'a str,
    /// An existing Stripe customer to reuse.
    pub customer: Option<&'a str>,
    /// Prefilled email when there is no customer yet.
    pub customer_email: Option<&'a str>,
    /// Free trial length for subscriptions.
    pub trial_days: Option<u32>,
    /// Let the member enter promotion codes.
    pub allow_promotion_codes: bool,
    /// Require a billing address.
    pub require_billing_address: bool,
    /// [`crate::claim::secret_hash`] of this attempt's claim secret: in the metadata, and what makes the request (and
    /// so its idempotency key) one attempt of one browser.
    pub claim_hash: &'a str,
    /// The member who started the checkout with a member token ([`crate::member::META_MEMBER`]).
    pub member: Option<&'a str>,
    /// When the session stops taking payment (Unix seconds).
    pub expires_at: i64,
}

/// `POST /v1/checkout/sessions`.
pub fn create_checkout_session(p: &CheckoutParams<'_>) -> StripeRequest {
    let mut req = StripeRequest::new(Method::Post, "/v1/checkout/sessions")
        .param("mode", p.mode.as_str())
        .param("success_url", p.success_url)
        .param("cancel_url", p.cancel_url)
        .param("client_reference_id", p.site)
        .param("metadata[latch_site]", p.site)
        .param("metadata[latch_product]", p.product)
        .param(format!("metadata[{}]", crate::claim::META_CLAIM), p.claim_hash)
        .param_opt(&format!("metadata[{}]", crate::member::META_MEMBER), p.member)
        .param("expires_at", p.expires_at.to_string())
        .param_opt("customer", p.customer);
    if p.customer.is_none() {
        req = req.param_opt("customer_email", p.customer_email);
    }
    match p.mode {
        CheckoutMode::Setup => {
            req = req.param("currency", "usd").param("setup_intent_data[metadata][latch_site]", p.site);
        }
        CheckoutMode::Payment | CheckoutMode::Subscription => {
            req = req.param("line_items[0][price]", p.price).param("line_items[0][quantity]", p.quantity.to_string());
        }
    }
    if p.mode == CheckoutMode::Subscription {
        req = req
            .param("subscription_data[metadata][latch_site]", p.site)
            .param("subscription_data[metadata][latch_product]", p.product);
        if let Some(days) = p.trial_days.filter(|d| *d > 0) {
            req = req.param("subscription_data[trial_period_days]", days.to_string());
        }
    }
    if p.mode == CheckoutMode::Payment {
        if p.customer.is_none() {
            // A Customer even for one-time purchases: the member's portal and later purchases hang on it.
            req = req.param("customer_creation", "always");
        }
        req = req
            .param("payment_intent_data[metadata][latch_site]", p.site)
            .param("payment_intent_data[metadata][latch_product]", p.product);
    }
    if p.allow_promotion_codes && p.mode != CheckoutMode::Setup {
        req = req.param("allow_promotion_codes", "true");
    }
    if p.require_billing_address {
        req = req.param("billing_address_collection", "required");
    }
    req
}

/// `POST /v1/billing_portal/sessions` for one customer, with the site's portal configuration when it has one.
pub fn create_portal_session(customer: &str, return_url: &str, configuration: Option<&str>) -> StripeRequest {
    StripeRequest::new(Method::Post, "/v1/billing_portal/sessions")
        .param("customer", customer)
        .param("return_url", return_url)
        .param_opt("configuration", configuration)
}

/// `POST /v1/products`.
pub fn create_product(name: &str, latch_slug: &str) -> StripeRequest {
    StripeRequest::new(Method::Post, "/v1/products").param("name", name).param("metadata[latch_product]", latch_slug)
}

/// A price Latch creates for a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPrice<'a> {
    /// Stripe product id.
    pub product: &'a str,
    /// Amount in the currency's smallest unit.
    pub unit_amount: u64,
    /// Three-letter ISO code, lowercase.
    pub currency: &'a str,
    /// `day`, `week`, `month` or `year` for recurring prices; `None` for one-time.
    pub interval: Option<&'a str>,
    /// Lookup key the script tag can name (`data-latch-buy="pro-monthly"`).
    pub lookup_key: Option<&'a str>,
    /// Free trial days for recurring prices (`recurring[trial_period_days]`); ignored for one-time prices.
    pub trial_days: Option<u32>,
}

/// `POST /v1/prices`.
pub fn create_price(p: &NewPrice<'_>) -> StripeRequest {
    StripeRequest::new(Method::Post, "/v1/prices")
        .param("product", p.product)
        .param("unit_amount", p.unit_amount.to_string())
        .param("currency", p.currency)
        .param_opt("recurring[interval]", p.interval)
        .param_opt("lookup_key", p.lookup_key)
        .param_opt(
            "recurring[trial_period_days]",
            p.interval.and(p.trial_days).filter(|d| *d > 0).map(|d| d.to_string()).as_deref(),
        )
}

/// Items per page of the list calls Latch makes (Stripe's maximum `limit`).
pub const LIST_PAGE_SIZE: usize = 100;

/// `GET /v1/products/{id}`.
pub fn retrieve_product(id: &str) -> StripeRequest {
    StripeRequest::new(Method::Get, format!("/v1/products/{id}"))
}

/// `GET /v1/products?active=true&limit=100`: the account's active products, for an owner to pick one to link.
pub fn list_products() -> StripeRequest {
    StripeRequest::new(Method::Get, "/v1/products").param("active", "true").param("limit", LIST_PAGE_SIZE.to_string())
}

/// `GET /v1/prices?product=…&limit=100`: a product's prices (active and archived) to copy when linking it; the
/// archived ones are kept inactive so their subscribers are imported too.
pub fn list_prices(product: &str) -> StripeRequest {
    StripeRequest::new(Method::Get, "/v1/prices").param("product", product).param("limit", LIST_PAGE_SIZE.to_string())
}

/// `GET /v1/subscriptions?price=…&status=all&limit=100[&starting_after=…]` with customers and latest invoices
/// expanded (the invoice tells whether the current period is paid): one page of an import.
pub fn list_subscriptions_page(price: &str, starting_after: Option<&str>) -> StripeRequest {
    StripeRequest::new(Method::Get, "/v1/subscriptions")
        .param("price", price)
        .param("status", "all")
        .param("limit", LIST_PAGE_SIZE.to_string())
        .param("expand[]", "data.customer")
        .param("expand[]", "data.latest_invoice")
        .param_opt("starting_after", starting_after)
}

/// `GET /v1/subscriptions?price=…&status=active&limit=100[&starting_after=…]`: one page of the paying
/// subscriptions of a price (recurring revenue).
pub fn list_active_subscriptions(price: &str, starting_after: Option<&str>) -> StripeRequest {
    StripeRequest::new(Method::Get, "/v1/subscriptions")
        .param("price", price)
        .param("status", "active")
        .param("limit", LIST_PAGE_SIZE.to_string())
        .param_opt("starting_after", starting_after)
}

/// `POST /oauth/token` (on the Connect base): exchanges an authorization code for the connected account.
pub fn oauth_token(code: &str) -> StripeRequest {
    StripeRequest::new(Method::Post, "/oauth/token")
        .param("grant_type", "authorization_code")
        .param("code", code)
        .idempotent("oauth")
}

/// `POST /oauth/deauthorize` (on the Connect base): disconnects an account from the platform.
pub fn oauth_deauthorize(client_id: &str, account: &str) -> StripeRequest {
    StripeRequest::new(Method::Post, "/oauth/deauthorize")
        .param("client_id", client_id)
        .param("stripe_user_id", account)
        .idempotent("oauth")
}

/// The `error` object of a Stripe error answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StripeErrorBody {
    /// `invalid_request_error`, `card_error`, `api_error`, ...
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Machine-readable code such as `resource_missing`.
    #[serde(default)]
    pub code: Option<String>,
    /// Human-readable message.
    #[serde(default)]
    pub message: Option<String>,
    /// The parameter at fault, if any.
    #[serde(default)]
    pub param: Option<String>,
}

/// Why a Stripe call did not give the object Latch asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StripeError {
    /// Stripe refused the request (4xx other than 429).
    #[error("Stripe refused the request ({status}): {}", .body.message.as_deref().unwrap_or("no message"))]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stripe's error object.
        body: StripeErrorBody,
    },
    /// Too many requests (429): safe to retry later.
    #[error("Stripe is rate limiting requests")]
    RateLimited,
    /// Stripe failed (5xx): safe to retry with the same idempotency key.
    #[error("Stripe failed with status {0}")]
    Unavailable(u16),
    /// The answer was not the JSON Latch expected.
    #[error("unexpected answer from Stripe: {0}")]
    Malformed(String),
}

impl StripeError {
    /// Whether sending the same request again (same idempotency key) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited | Self::Unavailable(_))
    }
}

/// Parses Stripe's answer: the object on 2xx, a typed error otherwise.
pub fn parse_response<T: serde::de::DeserializeOwned>(status: u16, body: &str) -> Result<T, StripeError> {
    #[derive(Deserialize)]
    struct ErrorEnvelope {
        error: StripeErrorBody,
    }
    match status {
        200..=299 => serde_json::from_str(body).map_err(|e| StripeError::Malformed(e.to_string())),
        429 => Err(StripeError::RateLimited),
        500..=599 => Err(StripeError::Unavailable(status)),
        _ => match serde_json::from_str::<ErrorEnvelope>(body) {
            Ok(env) => Err(StripeError::Refused { status, body: env.error }),
            Err(e) => Err(StripeError::Malformed(format!("status {status}: {e}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> CheckoutParams<'static> {
        CheckoutParams {
            mode: CheckoutMode::Subscription,
            price: "price_123",
            quantity: 1,
            success_url: "https://example.com/?latch_session={CHECKOUT_SESSION_ID}",
            cancel_url: "https://example.com/",
            site: "site_demo",
            product: "pro",
            customer: None,
            customer_email: Some("a@example.com"),
            trial_days: Some(7),
            allow_promotion_codes: true,
            require_billing_address: false,
            claim_hash: "c1",
            member: None,
            expires_at: 5000,
        }
    }

    fn get<'a>(req: &'a StripeRequest, key: &str) -> Option<&'a str> {
        req.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn subscription_checkout_carries_metadata_and_trial() {
        let req = create_checkout_session(&params());
        assert_eq!(req.method, Method::Post);
        assert_eq!(get(&req, "mode"), Some("subscription"));
        assert_eq!(get(&req, "line_items[0][price]"), Some("price_123"));
        assert_eq!(get(&req, "subscription_data[trial_period_days]"), Some("7"));
        assert_eq!(get(&req, "subscription_data[metadata][latch_product]"), Some("pro"));
        assert_eq!(get(&req, "metadata[latch_site]"), Some("site_demo"));
        assert_eq!(get(&req, "customer_email"), Some("a@example.com"));
        assert_eq!(get(&req, "allow_promotion_codes"), Some("true"));
        assert_eq!(get(&req, "metadata[latch_claim]"), Some("c1"));
        assert_eq!(get(&req, "metadata[latch_member]"), None, "started signed out");
        assert_eq!(get(&req, "expires_at"), Some("5000"));
        let signed_in = create_checkout_session(&CheckoutParams { member: Some("mem_1"), ..params() });
        assert_eq!(get(&signed_in, "metadata[latch_member]"), Some("mem_1"));
    }

    #[test]
    fn known_customer_replaces_email_and_payment_mode_has_no_trial() {
        let p = CheckoutParams { mode: CheckoutMode::Payment, customer: Some("cus_1"), ..params() };
        let req = create_checkout_session(&p);
        assert_eq!(get(&req, "customer"), Some("cus_1"));
        assert_eq!(get(&req, "customer_email"), None);
        assert_eq!(get(&req, "subscription_data[trial_period_days]"), None);
        assert_eq!(get(&req, "payment_intent_data[metadata][latch_product]"), Some("pro"));
        assert_eq!(get(&req, "customer_creation"), None, "a known customer is reused, not created");
    }

    #[test]
    fn setup_mode_has_no_line_items() {
        let req = create_checkout_session(&CheckoutParams { mode: CheckoutMode::Setup, ..params() });
        assert_eq!(get(&req, "line_items[0][price]"), None);
        assert_eq!(get(&req, "allow_promotion_codes"), None);
    }

    #[test]
    fn idempotency_key_is_deterministic_and_scoped() {
        let a = create_checkout_session(&params()).idempotent("w1");
        let b = create_checkout_session(&params()).idempotent("w1");
        let c = create_checkout_session(&params()).idempotent("w2");
        let d = create_checkout_session(&CheckoutParams { price: "price_456", ..params() }).idempotent("w1");
        assert_eq!(a.idempotency_key, b.idempotency_key);
        assert_ne!(a.idempotency_key, c.idempotency_key);
        assert_ne!(a.idempotency_key, d.idempotency_key);
        // Two buyers of the same price from the same page at the same moment are two attempts: their claim
        // secrets differ, so their keys do, and Stripe makes two sessions.
        let other = create_checkout_session(&CheckoutParams { claim_hash: "c2", ..params() }).idempotent("w1");
        assert_ne!(a.idempotency_key, other.idempotency_key);
    }

    #[test]
    fn get_params_go_to_the_query_string_encoded() {
        let req = list_subscriptions_page("price_1", None);
        assert_eq!(
            req.path_and_query(),
            "/v1/subscriptions?price=price_1&status=all&limit=100&expand%5B%5D=data.customer&expand%5B%5D=data.latest_invoice"
        );
        let post = create_portal_session("cus_1", "https://e.com/a b", None);
        assert_eq!(post.path_and_query(), "/v1/billing_portal/sessions");
        assert_eq!(post.encoded_params(), "customer=cus_1&return_url=https%3A%2F%2Fe.com%2Fa+b");
        let configured = create_portal_session("cus_1", "https://e.com/", Some("bpc_1"));
        assert_eq!(get(&configured, "configuration"), Some("bpc_1"));
        assert_eq!(list_products().on_account(Some("acct_1")).path_and_query(), "/v1/products?active=true&limit=100");
        assert_eq!(
            list_active_subscriptions("price_1", None).path_and_query(),
            "/v1/subscriptions?price=price_1&status=active&limit=100"
        );
        assert_eq!(
            list_active_subscriptions("price_1", Some("sub_9")).path_and_query(),
            "/v1/subscriptions?price=price_1&status=active&limit=100&starting_after=sub_9"
        );
    }

    #[test]
    fn prices_carry_trials_only_when_recurring() {
        let base = NewPrice {
            product: "prod_1",
            unit_amount: 900,
            currency: "usd",
            interval: Some("month"),
            lookup_key: Some("pro"),
            trial_days: Some(7),
        };
        assert_eq!(get(&create_price(&base), "recurring[trial_period_days]"), Some("7"));
        let once = create_price(&NewPrice { interval: None, ..base });
        assert_eq!(get(&once, "recurring[trial_period_days]"), None);
        let page = list_subscriptions_page("price_1", Some("sub_9"));
        assert!(page.path_and_query().contains("status=all"));
        assert_eq!(get(&page, "starting_after"), Some("sub_9"));
        assert_eq!(get(&oauth_deauthorize("ca_1", "acct_1"), "stripe_user_id"), Some("acct_1"));
        assert!(oauth_token("ac_1").is_sendable() && oauth_deauthorize("ca_1", "acct_1").is_sendable());
        assert_ne!(oauth_token("ac_1").idempotency_key, oauth_token("ac_2").idempotency_key);
        assert!(!StripeRequest::new(Method::Post, "/v1/customers").is_sendable(), "a POST without a key");
        assert!(StripeRequest::new(Method::Get, "/v1/customers").is_sendable());
    }

    #[test]
    fn errors_are_typed() {
        let body = r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such price: 'x'","param":"price"}}"#;
        let err = parse_response::<serde_json::Value>(404, body).unwrap_err();
        assert!(
            matches!(&err, StripeError::Refused { status: 404, body } if body.code.as_deref() == Some("resource_missing"))
        );
        assert!(!err.is_retryable());
        assert_eq!(parse_response::<serde_json::Value>(429, ""), Err(StripeError::RateLimited));
        assert!(parse_response::<serde_json::Value>(503, "oops").unwrap_err().is_retryable());
        assert!(matches!(parse_response::<serde_json::Value>(400, "<html>"), Err(StripeError::Malformed(_))));
        assert!(matches!(parse_response::<serde_json::Value>(200, "{"), Err(StripeError::Malformed(_))));
    }
}
