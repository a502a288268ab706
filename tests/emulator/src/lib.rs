//! A local Stripe emulator: an in-memory Stripe for development, tests and offline demos.
//!
//! It speaks Stripe's wire format (form-encoded requests, Stripe's JSON objects and errors), serves a hosted
//! Checkout page and Customer Portal, keeps its own clock for billing, and delivers signed webhooks with
//! retries. It binds 127.0.0.1 only. See the README beside this crate for the CLI and control API.

pub mod billing;
pub mod chaos;
pub mod checkout;
pub mod clock;
pub mod currency;
pub mod disputes;
pub mod error;
pub mod events;
pub mod expand;
pub mod form;
pub mod ids;
pub mod list;
pub mod oauth;
pub mod objects;
pub mod pages;
pub mod params;
pub mod routes;
pub mod server;
pub mod store;
pub mod versions;
pub mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The Stripe API version the emulator speaks (the one npm `stripe` 23.1.0 pins).
pub const API_VERSION: &str = "2026-10-28.endive";

/// Emulator settings (from the command line).
#[derive(Debug, Clone)]
pub struct Config {
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The only accepted secret key; `None` accepts any `sk_test_…` / `rk_test_…` key.
    pub api_key: Option<String>,
    /// `--webhook URL=whsec_…` endpoints, which receive every event.
    pub webhooks: Vec<events::CliEndpoint>,
    /// First retry delay; later ones double.
    pub retry_base_ms: u64,
    /// Delivery attempts per event and endpoint.
    pub max_attempts: u32,
    /// What happens when a subscription's payment retries run out.
    pub after_retries: store::AfterRetries,
    /// Connect OAuth settings (`--client-id`, `--oauth-redirect-uri`).
    pub oauth: oauth::OAuthConfig,
    /// Seconds the clock starts away from real time (`--clock-offset`; negative: in the past).
    pub clock_offset: i64,
    /// Delivery chaos for every endpoint (`--chaos`), off when `None`.
    pub chaos: Option<chaos::Chaos>,
    /// The accounts' default API version (`--api-version`): the shape of webhooks to endpoints that name none
    /// and of answers to requests without `Stripe-Version`.
    pub api_version: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            port: 0,
            api_key: None,
            webhooks: Vec::new(),
            retry_base_ms: 500,
            max_attempts: 8,
            after_retries: store::AfterRetries::Cancel,
            oauth: oauth::OAuthConfig::default(),
            clock_offset: 0,
            api_version: API_VERSION.to_string(),
            chaos: None,
        }
    }
}

/// A running emulator.
#[derive(Debug)]
pub struct Running {
    /// The bound address (127.0.0.1:PORT).
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Shared state (tests may inspect it).
    pub state: Arc<server::AppState>,
    /// The server task.
    pub task: tokio::task::JoinHandle<()>,
}

/// Binds 127.0.0.1:`config.port` and serves in the background of the current tokio runtime.
pub async fn start(config: Config) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let base_url = format!("http://127.0.0.1:{}", addr.port());
    let dispatcher = webhooks::Dispatcher::new(config.retry_base_ms, config.max_attempts);
    dispatcher.set_chaos("*", config.chaos.clone());
    let mut store = store::Store::new(&base_url, dispatcher);
    store.cli_endpoints = config.webhooks.clone();
    store.after_retries = config.after_retries;
    store.oauth = config.oauth.clone();
    store.clock = clock::Clock::offset_by(config.clock_offset);
    store.api_version = config.api_version.clone();
    // A live key (`--api-key sk_live_…`) makes a live-mode Stripe: every object and event says so.
    store.set_livemode(
        config.api_key.as_deref().is_some_and(|k| k.starts_with("sk_live_") || k.starts_with("rk_live_")),
    );
    let state = Arc::new(server::AppState { store: Mutex::new(store), config, faults: Mutex::new(Vec::new()) });
    let app = server::router(state.clone());
    tokio::spawn(server::ticker(state.clone()));
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("stripe-emulator: server stopped: {e}");
        }
    });
    Ok(Running { addr, base_url, state, task })
}
