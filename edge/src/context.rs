//! Per-request context: bindings, configuration, the time, and the site the request concerns (for CORS).

use std::cell::{Cell, RefCell};

use wasm_bindgen::JsCast;
use worker::Env;

use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Site, Store};

/// What every handler gets.
pub(crate) struct Ctx {
    /// Settings and secrets.
    pub(crate) config: Config,
    /// D1, the source of truth.
    pub(crate) db: Store,
    /// Unix seconds at the start of the request.
    pub(crate) now: i64,
    /// The request's `Origin` header, if any.
    pub(crate) origin: Option<String>,
    /// Allowed origins of the site this request turned out to concern; drives the CORS headers.
    pub(crate) cors_origins: RefCell<Vec<String>>,
    /// The Worker's execution context (for `wait_until`), when the request came through `fetch`.
    pub(crate) worker: Option<worker::Context>,
    /// The Worker's bindings, for work that outlives the request (outbox delivery).
    pub(crate) env: Env,
    /// Set by handlers that queued emails: the shell then delivers the outbox after answering.
    pub(crate) mail_pending: Cell<bool>,
    /// Set when re-fetches were queued: the shell then performs them after answering.
    pub(crate) fetch_pending: Cell<bool>,
}

impl Ctx {
    /// Builds the context for one request.
    pub(crate) async fn new(env: Env, origin: Option<String>) -> ApiResult<Self> {
        let config = Config::from_env(&env)?;
        // The dev clock reads through a store of its own: the request's counts what a deployed Worker pays.
        let now = crate::clock::now(&Store::new(env.d1("DB")?)).await;
        let db = Store::new(env.d1("DB")?);
        Ok(Self {
            config,
            db,
            now,
            origin,
            cors_origins: RefCell::new(Vec::new()),
            worker: None,
            env,
            mail_pending: Cell::new(false),
            fetch_pending: Cell::new(false),
        })
    }

    /// Keeps the Worker's execution context, so handlers can schedule work after the answer (`wait_until`).
    pub(crate) fn with_worker(mut self, worker: worker::Context) -> Self {
        self.worker = Some(worker);
        self
    }

    /// Loads the site a public API call names. Refuses calls from browsers on origins the site has not allowed
    /// (403), and remembers the site's origins for the response's CORS headers.
    pub(crate) async fn site(&self, id: &str) -> ApiResult<Site> {
        let site = store::site(&self.db, id).await?.ok_or_else(|| ApiError::not_found("site"))?;
        let allowed = site.allowed_origins();
        if let Some(origin) = &self.origin {
            let ok = allowed.iter().any(|a| latch_core::validate::origin_of(a).is_ok_and(|a| &a == origin));
            if !ok {
                return Err(ApiError::new(
                    403,
                    "origin_not_allowed",
                    format!("{origin} is not an allowed origin of this site; add it in the dashboard"),
                ));
            }
        }
        *self.cors_origins.borrow_mut() = allowed;
        Ok(site)
    }
}

/// `N` random bytes from the platform's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> ApiResult<[u8; N]> {
    let mut bytes = [0u8; N];
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    scope
        .crypto()
        .and_then(|c| c.get_random_values_with_u8_array(&mut bytes))
        .map_err(|_| ApiError::internal("crypto.getRandomValues failed"))?;
    Ok(bytes)
}

/// A random identifier `prefix_` + 24 hex digits from the platform's CSPRNG.
pub(crate) fn random_id(prefix: &str) -> ApiResult<String> {
    let bytes: [u8; 12] = random_bytes()?;
    Ok(format!("{prefix}_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}
