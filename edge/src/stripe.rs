//! The one place the edge talks to Stripe: sends a core-built [`StripeRequest`] and hands `(status, body)` back to
//! core to parse. Retries what Stripe says is safe to retry (429, 5xx, network errors, and calls that take longer
//! than [`TIMEOUT_MS`]) with the same idempotency key and a short backoff.

use std::time::Duration;

use latch_core::stripe_request::{Method, StripeError, StripeRequest, parse_response};
use serde::de::DeserializeOwned;
use worker::{Delay, Headers, RequestInit};

use crate::config::Config;

const ATTEMPTS: u32 = 3;
/// How long one call may take, answer and body included, before it is aborted and counted as a network failure.
const TIMEOUT_MS: u32 = 8_000;
const API_VERSION: &str = "2025-08-27.basil";

/// Sends `req` and parses the answer as `T`.
pub(crate) async fn send<T: DeserializeOwned>(config: &Config, req: &StripeRequest) -> Result<T, StripeError> {
    let body = send_raw(config, req).await?;
    serde_json::from_str(&body).map_err(|e| StripeError::Malformed(e.to_string()))
}

/// Sends `req` and answers the raw JSON body of a 2xx answer (for core's own object parsers).
pub(crate) async fn send_raw(config: &Config, req: &StripeRequest) -> Result<String, StripeError> {
    let mut last = StripeError::Unavailable(0);
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            Delay::from(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
        match send_once(config, &config.stripe_api_base, req).await {
            Ok((status, body)) => match parse_response::<serde::de::IgnoredAny>(status, &body) {
                Err(e) if e.is_retryable() => last = e,
                Err(e) => return Err(e),
                Ok(_) => return Ok(body),
            },
            Err(e) => {
                worker::console_warn!("Stripe call {} {} failed: {e}", req.method.as_str(), req.path);
                last = StripeError::Unavailable(0);
            }
        }
    }
    Err(last)
}

/// Sends an OAuth request (`/oauth/token`, `/oauth/deauthorize`) to the Connect base with the platform key and
/// answers `(status, body)` for `latch_core::connect::parse_oauth`. Retries network errors, 429 and 5xx.
pub(crate) async fn send_connect(config: &Config, req: &StripeRequest) -> (u16, String) {
    let mut last = (503, String::new());
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            Delay::from(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
        match send_once(config, &config.connect_base, req).await {
            Ok((status, body)) if status == 429 || status >= 500 => last = (status, body),
            Ok(answer) => return answer,
            Err(e) => worker::console_warn!("Stripe OAuth call {} failed: {e}", req.path),
        }
    }
    last
}

async fn send_once(config: &Config, base: &str, req: &StripeRequest) -> worker::Result<(u16, String)> {
    if !req.is_sendable() {
        return Err(worker::Error::RustError(format!("POST {} has no Idempotency-Key; not sent", req.path)));
    }
    let headers = Headers::new();
    headers.set("Authorization", &format!("Bearer {}", config.stripe_key))?;
    headers.set("Stripe-Version", API_VERSION)?;
    if let Some(account) = &req.account {
        headers.set("Stripe-Account", account)?;
    }
    if let Some(key) = &req.idempotency_key {
        headers.set("Idempotency-Key", key)?;
    }
    let mut init = RequestInit::new();
    let method = match req.method {
        Method::Get => worker::Method::Get,
        Method::Post => worker::Method::Post,
        Method::Delete => worker::Method::Delete,
    };
    init.with_method(method);
    if req.method == Method::Post {
        headers.set("Content-Type", "application/x-www-form-urlencoded")?;
        init.with_body(Some(req.encoded_params().into()));
    }
    init.with_headers(headers);
    let url = format!("{base}{}", req.path_and_query());
    let mut resp = crate::http::fetch_within(&url, &init, TIMEOUT_MS).await?;
    Ok((resp.status_code(), resp.text().await?))
}
