//! The Worker's configuration, read once per request from its bindings.

use worker::Env;

use crate::error::{ApiError, ApiResult};

/// Secrets and settings the edge needs (see ARCHITECTURE.md, "Configuration of the Worker").
pub(crate) struct Config {
    /// Platform (or single-account) Stripe secret key.
    pub(crate) stripe_key: String,
    /// Base URL of Stripe's API (the emulator's address offline).
    pub(crate) stripe_api_base: String,
    /// Every webhook endpoint secret currently accepted.
    pub(crate) webhook_secrets: Vec<String>,
    /// Key for member tokens.
    pub(crate) token_secret: String,
    /// Operator bearer token for `/admin/v1`.
    pub(crate) admin_token: String,
    /// The platform's Stripe Connect client id (`ca_...`); `None` = single-account mode only.
    pub(crate) connect_client_id: Option<String>,
    /// Where Stripe's OAuth lives (`https://connect.stripe.com`, the emulator offline).
    pub(crate) connect_base: String,
}

fn read(env: &Env, name: &str) -> ApiResult<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .map_err(|_| ApiError::internal(format!("the Worker is missing its {name} setting")))
}

impl Config {
    /// Reads the configuration; a missing setting is an operator error (500 with a log line naming it).
    pub(crate) fn from_env(env: &Env) -> ApiResult<Self> {
        let token_secret = read(env, "TOKEN_SECRET")?;
        if token_secret.len() < 32 {
            return Err(ApiError::internal("TOKEN_SECRET must be at least 32 characters"));
        }
        Ok(Self {
            stripe_key: read(env, "STRIPE_SECRET_KEY")?,
            stripe_api_base: read(env, "STRIPE_API_BASE")?.trim_end_matches('/').to_owned(),
            webhook_secrets: read(env, "STRIPE_WEBHOOK_SECRETS")?
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            token_secret,
            admin_token: read(env, "ADMIN_TOKEN")?,
            connect_client_id: read(env, "STRIPE_CONNECT_CLIENT_ID").ok().filter(|s| !s.is_empty()),
            connect_base: read(env, "STRIPE_CONNECT_BASE")
                .unwrap_or_else(|_| "https://connect.stripe.com".into())
                .trim_end_matches('/')
                .to_owned(),
        })
    }
}
