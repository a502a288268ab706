//! In-memory state, keyed by account: the platform account and each connected account (`Stripe-Account`)
//! have their own products, customers, sessions, subscriptions, events and webhook endpoints.

use crate::clock::Clock;
use crate::error::{ApiError, ApiResult};
use crate::webhooks::Dispatcher;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The kinds of objects the emulator stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `prod_`
    Product,
    /// `price_`
    Price,
    /// `cus_`
    Customer,
    /// `cs_`
    CheckoutSession,
    /// `sub_`
    Subscription,
    /// `in_`
    Invoice,
    /// `ch_`
    Charge,
    /// `pi_`
    PaymentIntent,
    /// `re_`
    Refund,
    /// `bps_`
    PortalSession,
    /// `evt_`
    Event,
    /// `we_`
    WebhookEndpoint,
    /// `seti_`
    SetupIntent,
    /// `pm_`
    PaymentMethod,
    /// `dp_`
    Dispute,
    /// `bpc_`
    PortalConfiguration,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Self; 16] = [
        Self::Product,
        Self::Price,
        Self::Customer,
        Self::CheckoutSession,
        Self::Subscription,
        Self::Invoice,
        Self::Charge,
        Self::PaymentIntent,
        Self::Refund,
        Self::PortalSession,
        Self::Event,
        Self::WebhookEndpoint,
        Self::SetupIntent,
        Self::PaymentMethod,
        Self::Dispute,
        Self::PortalConfiguration,
    ];

    /// The kind an id belongs to, from its prefix.
    pub fn of_id(id: &str) -> Option<Self> {
        let prefix = id.split('_').next()?;
        Some(match prefix {
            "prod" => Self::Product,
            "price" => Self::Price,
            "cus" => Self::Customer,
            "cs" => Self::CheckoutSession,
            "sub" => Self::Subscription,
            "in" => Self::Invoice,
            "ch" => Self::Charge,
            "pi" => Self::PaymentIntent,
            "re" => Self::Refund,
            "bps" => Self::PortalSession,
            "evt" => Self::Event,
            "we" => Self::WebhookEndpoint,
            "seti" => Self::SetupIntent,
            "pm" => Self::PaymentMethod,
            "dp" => Self::Dispute,
            "bpc" => Self::PortalConfiguration,
            _ => return None,
        })
    }

    /// The name Stripe uses in "No such …" messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Product => "product",
            Self::Price => "price",
            Self::Customer => "customer",
            Self::CheckoutSession => "checkout.session",
            Self::Subscription => "subscription",
            Self::Invoice => "invoice",
            Self::Charge => "charge",
            Self::PaymentIntent => "payment_intent",
            Self::Refund => "refund",
            Self::PortalSession => "billing_portal.session",
            Self::Event => "event",
            Self::WebhookEndpoint => "webhook_endpoint",
            Self::SetupIntent => "setup_intent",
            Self::PaymentMethod => "payment_method",
            Self::Dispute => "dispute",
            Self::PortalConfiguration => "configuration",
        }
    }
}

/// Objects of one kind in creation order, with an id index.
#[derive(Debug, Default, Clone)]
pub struct Collection {
    items: Vec<Value>,
    index: HashMap<String, usize>,
}

impl Collection {
    /// Adds an object (its `id` field is the key).
    pub fn insert(&mut self, v: Value) {
        let id = v["id"].as_str().unwrap_or_default().to_string();
        if let Some(&i) = self.index.get(&id) {
            self.items[i] = v;
        } else {
            self.index.insert(id, self.items.len());
            self.items.push(v);
        }
    }

    /// The object with this id.
    pub fn get(&self, id: &str) -> Option<&Value> {
        self.index.get(id).map(|&i| &self.items[i])
    }

    /// The object with this id, mutably.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.index.get(id).map(|&i| &mut self.items[i])
    }

    /// Newest first, as Stripe lists.
    pub fn newest_first(&self) -> impl Iterator<Item = &Value> {
        self.items.iter().rev()
    }

    /// Oldest first.
    pub fn oldest_first(&self) -> impl Iterator<Item = &Value> {
        self.items.iter()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no objects.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// One Stripe account's data.
#[derive(Debug, Clone)]
pub struct Account {
    /// `acct_…`
    pub id: String,
    /// Whether this is the platform (the API key's own account).
    pub is_platform: bool,
    /// Unix time the account was first seen.
    pub created: i64,
    collections: HashMap<Kind, Collection>,
    /// Customers whose future payments fail (control API).
    pub failing_customers: HashSet<String>,
    /// The default billing portal configuration id.
    pub portal_configuration: String,
    /// Connected through OAuth.
    pub connected: bool,
    /// The platform's access was revoked (`/oauth/deauthorize`).
    pub deauthorized: bool,
    /// The account's email, when known.
    pub email: Option<String>,
    /// Live mode (a live key): stamped on every object stored.
    pub livemode: bool,
}

impl Account {
    /// A new, empty account.
    pub fn new(id: &str, is_platform: bool, created: i64) -> Self {
        Self {
            id: id.to_string(),
            is_platform,
            created,
            collections: Kind::ALL.iter().map(|k| (*k, Collection::default())).collect(),
            failing_customers: HashSet::new(),
            portal_configuration: crate::ids::new_id("bpc"),
            connected: false,
            deauthorized: false,
            email: None,
            livemode: false,
        }
    }

    /// The collection for a kind.
    pub fn col(&self, kind: Kind) -> &Collection {
        static EMPTY: std::sync::OnceLock<Collection> = std::sync::OnceLock::new();
        self.collections.get(&kind).unwrap_or_else(|| EMPTY.get_or_init(Collection::default))
    }

    /// The collection for a kind, mutably.
    pub fn col_mut(&mut self, kind: Kind) -> &mut Collection {
        self.collections.entry(kind).or_default()
    }

    /// Looks an object up by id (kind from its prefix).
    pub fn find(&self, id: &str) -> Option<&Value> {
        Kind::of_id(id).and_then(|k| self.col(k).get(id))
    }

    /// An object of `kind` or Stripe's 404 naming `param`.
    pub fn get(&self, kind: Kind, id: &str, param: &str) -> ApiResult<&Value> {
        self.col(kind).get(id).ok_or_else(|| ApiError::missing(kind.label(), id, param))
    }

    /// Mutable variant of [`Account::get`].
    pub fn get_mut(&mut self, kind: Kind, id: &str, param: &str) -> ApiResult<&mut Value> {
        self.col_mut(kind).get_mut(id).ok_or_else(|| ApiError::missing(kind.label(), id, param))
    }

    /// Stores (or replaces) an object, in the account's mode.
    pub fn put(&mut self, kind: Kind, mut v: Value) {
        if let Some(mode) = v.get_mut("livemode") {
            *mode = Value::Bool(self.livemode);
        }
        self.col_mut(kind).insert(v);
    }
}

/// A cached answer to an idempotent POST.
#[derive(Debug, Clone)]
pub struct IdempotentResponse {
    /// Method, path and parameters of the first request.
    pub fingerprint: String,
    /// Status of the first answer.
    pub status: u16,
    /// Body of the first answer.
    pub body: String,
}

/// The API request currently being served (recorded in events' `request`).
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// `req_…`
    pub id: String,
    /// The `Idempotency-Key` header, if any.
    pub idempotency_key: Option<String>,
}

/// What happens to a subscription whose payment retries are exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRetries {
    /// Cancel it (Stripe's default setting).
    Cancel,
    /// Mark it unpaid.
    Unpaid,
}

/// The whole emulator state.
#[derive(Debug)]
pub struct Store {
    /// Accounts by id.
    pub accounts: BTreeMap<String, Account>,
    /// The platform account's id.
    pub platform: String,
    /// The emulated clock.
    pub clock: Clock,
    /// `http://127.0.0.1:PORT`, for hosted page URLs.
    pub base_url: String,
    /// Cached idempotent responses by (account, key).
    pub idempotency: HashMap<(String, String), IdempotentResponse>,
    /// The API request being served, if any.
    pub request: Option<RequestInfo>,
    /// Webhook delivery.
    pub dispatcher: Dispatcher,
    /// API version stamped on events.
    pub api_version: String,
    /// Dunning policy.
    pub after_retries: AfterRetries,
    /// `--webhook` endpoints (all events of all accounts).
    pub cli_endpoints: Vec<crate::events::CliEndpoint>,
    /// Connect OAuth settings.
    pub oauth: crate::oauth::OAuthConfig,
    /// Authorization codes by code.
    pub oauth_codes: HashMap<String, crate::oauth::AuthCode>,
    /// OAuth access tokens (secret keys of connected accounts) -> account.
    pub access_tokens: HashMap<String, String>,
    /// OAuth refresh tokens -> account.
    pub refresh_tokens: HashMap<String, String>,
    /// Live mode (the emulator was started with a live key).
    pub livemode: bool,
}

impl Store {
    /// A fresh store with one platform account.
    pub fn new(base_url: &str, dispatcher: Dispatcher) -> Self {
        let clock = Clock::default();
        let platform = crate::ids::new_id("acct");
        let mut accounts = BTreeMap::new();
        accounts.insert(platform.clone(), Account::new(&platform, true, clock.now()));
        Self {
            accounts,
            platform,
            clock,
            base_url: base_url.to_string(),
            idempotency: HashMap::new(),
            request: None,
            dispatcher,
            api_version: crate::API_VERSION.to_string(),
            after_retries: AfterRetries::Cancel,
            cli_endpoints: Vec::new(),
            oauth: crate::oauth::OAuthConfig::default(),
            oauth_codes: HashMap::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            livemode: false,
        }
    }

    /// Puts every account, and those made later, in live (`true`) or test mode.
    pub fn set_livemode(&mut self, live: bool) {
        self.livemode = live;
        for account in self.accounts.values_mut() {
            account.livemode = live;
        }
    }

    /// Emulated now.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The account with this id, created on first use (callers reach it only for the platform, an account
    /// the request was allowed to act on, or one being connected).
    pub fn account_mut(&mut self, id: &str) -> &mut Account {
        let now = self.now();
        let livemode = self.livemode;
        self.accounts.entry(id.to_string()).or_insert_with(|| {
            let mut account = Account::new(id, false, now);
            account.livemode = livemode;
            account
        })
    }

    /// The account with this id, if known.
    pub fn account(&self, id: &str) -> Option<&Account> {
        self.accounts.get(id)
    }

    /// Finds which account holds an object id (control API, redelivery).
    pub fn account_of(&self, id: &str) -> Option<String> {
        self.accounts.values().find(|a| a.find(id).is_some()).map(|a| a.id.clone())
    }
}
