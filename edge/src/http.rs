//! HTTP plumbing shared by the routes: JSON bodies in and out, CORS per site, bearer tokens, and outgoing calls
//! with a deadline.

use futures_util::StreamExt;
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

/// The edge's own origin (`https://edge.example`), from the request.
pub(crate) fn edge_origin(req: &Request) -> ApiResult<String> {
    Ok(req.url()?.origin().ascii_serialization())
}

/// Largest JSON body the APIs accept.
const MAX_JSON: usize = 16 * 1024;

/// Reads a request body of at most `cap` bytes (413 `body_too_large` past it) without ever holding more: a
/// `Content-Length` over the cap is refused before reading, and a streamed body is cut off as soon as it passes it.
pub(crate) async fn read_body(req: &mut Request, cap: usize) -> ApiResult<Vec<u8>> {
    let too_large = || ApiError::new(413, "body_too_large", format!("the body is over {cap} bytes"));
    if let Some(length) = req.headers().get("Content-Length")? {
        let length: u64 =
            length.trim().parse().map_err(|_| ApiError::bad_request("the Content-Length header is not a number"))?;
        if length > cap as u64 {
            return Err(too_large());
        }
    }
    // No body at all (a bodiless POST) reads as empty.
    let Ok(mut stream) = req.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ApiError::bad_request("the request body could not be read"))?;
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and parses a JSON body: `Content-Type: application/json` only (415 otherwise, so no cross-site form or
/// `text/plain` request reaches a JSON handler without a CORS preflight), at most 16 KB (413), the expected shape
/// (400).
pub(crate) async fn json_body<T: DeserializeOwned>(req: &mut Request) -> ApiResult<T> {
    require_json(req)?;
    parse_json(&read_body(req, MAX_JSON).await?)
}

/// Like [`json_body`], but an empty body reads as the default (and needs no `Content-Type`).
pub(crate) async fn optional_json_body<T: DeserializeOwned + Default>(req: &mut Request) -> ApiResult<T> {
    let bytes = read_body(req, MAX_JSON).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    require_json(req)?;
    parse_json(&bytes)
}

fn require_json(req: &Request) -> ApiResult<()> {
    let content_type = req.headers().get("Content-Type")?.unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(415, "unsupported_media_type", "send the body as JSON with `Content-Type: application/json`"))
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("the body is not the JSON expected: {e}")))
}

/// Whether a request comes from the edge's own pages or from no browser at all (`latch_core::csrf::same_origin`):
/// the only callers a JSON API may set a cookie for.
pub(crate) fn same_origin(req: &Request) -> ApiResult<bool> {
    let own = req.url()?.origin().ascii_serialization();
    let headers = req.headers();
    let (origin, fetch_site) = (headers.get("Origin")?, headers.get("Sec-Fetch-Site")?);
    Ok(latch_core::csrf::same_origin(&own, origin.as_deref(), fetch_site.as_deref()))
}

/// A JSON response with `status`.
pub(crate) fn json<T: Serialize>(status: u16, value: &T) -> ApiResult<Response> {
    Ok(Response::from_json(value)?.with_status(status))
}

/// A 308 to `path` with the request's query: a route that moved keeps its method and body.
pub(crate) fn moved_permanently(path: &str, req: &Request) -> ApiResult<Response> {
    let mut location = path.to_owned();
    if let Some(query) = req.url()?.query() {
        location = format!("{location}?{query}");
    }
    let mut response = json(308, &serde_json::json!({ "moved_to": location }))?;
    response.headers_mut().set("Location", &location)?;
    Ok(response)
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
