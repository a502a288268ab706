//! HTTP plumbing shared by the routes: JSON bodies in and out, CORS per site, bearer tokens, and outgoing calls
//! with a deadline.

use serde::Serialize;
use serde::de::DeserializeOwned;
use worker::{Fetch, Headers, Request, RequestInit, Response};

use crate::error::{ApiError, ApiResult};

/// Sends a request to another service (Stripe, the email provider), aborting it when no full answer came within
/// `timeout_ms`: a hanging service then costs one failed try, never a stuck request or job.
pub(crate) async fn fetch_within(url: &str, init: &RequestInit, timeout_ms: u32) -> worker::Result<Response> {
    let signal = worker::AbortSignal::from(web_sys::AbortSignal::timeout_with_u32(timeout_ms));
    Fetch::Request(Request::new_with_init(url, init)?).send_with_signal(&signal).await
}

/// Largest JSON body the public API accepts.
const MAX_BODY: usize = 16 * 1024;

/// Reads and parses a JSON body, with a clear 400 on anything else.
pub(crate) async fn json_body<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
    if bytes.len() > MAX_BODY {
        return Err(ApiError::new(413, "body_too_large", format!("the body is over {MAX_BODY} bytes")));
    }
    serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("the body is not the JSON expected: {e}")))
}

/// A JSON response with `status`.
pub(crate) fn json<T: Serialize>(status: u16, value: &T) -> ApiResult<Response> {
    Ok(Response::from_json(value)?.with_status(status))
}

/// The JSON error response for `err`.
pub(crate) fn error_response(err: &ApiError) -> worker::Result<Response> {
    Ok(Response::from_json(&err.body())?.with_status(err.status))
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(req: &Request) -> Option<String> {
    let value = req.headers().get("Authorization").ok().flatten()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// Whether cookies set in answer to this request must be `Secure` (anything but loopback http), which also picks
/// their name (`latch_core::cookie`).
pub(crate) fn secure_cookies(req: &Request) -> ApiResult<bool> {
    let url = req.url()?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    Ok(!(url.scheme() == "http" && loopback))
}

/// CORS headers for a site's public API: the caller's origin is echoed only if the site allows it.
/// No credentials (the widget API uses bearer tokens, never cookies).
pub(crate) fn cors_headers(headers: &Headers, origin: Option<&str>, allowed: &[String]) -> worker::Result<()> {
    let origin = origin.filter(|o| allowed.iter().any(|a| latch_core::validate::origin_of(a).is_ok_and(|a| a == *o)));
    allow_origin(headers, origin)
}

/// Answers a CORS preflight. It grants nothing by itself: every real answer carries CORS headers only for the
/// origins its site allows, and state-changing calls from other origins are refused with 403.
pub(crate) fn preflight(origin: Option<&str>) -> worker::Result<Response> {
    let mut response = Response::empty()?.with_status(204);
    allow_origin(response.headers_mut(), origin)?;
    Ok(response)
}

fn allow_origin(headers: &Headers, origin: Option<&str>) -> worker::Result<()> {
    headers.append("Vary", "Origin")?;
    if let Some(origin) = origin {
        headers.set("Access-Control-Allow-Origin", origin)?;
        headers.set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")?;
        headers.set("Access-Control-Allow-Headers", "Authorization, Content-Type")?;
        headers.set("Access-Control-Max-Age", "600")?;
    }
    Ok(())
}
