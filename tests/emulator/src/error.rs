//! Stripe's error format: `{"error": {"type", "code", "message", "param", "doc_url", ...}}` with its statuses.

use serde_json::{Map, Value, json};

/// An error answered to an API client exactly as Stripe shapes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status (400, 401, 402, 404, ...).
    pub status: u16,
    /// Stripe's error `type` (`invalid_request_error`, `card_error`, `idempotency_error`, `api_error`).
    pub kind: &'static str,
    /// Stripe's error `code`, if any (`resource_missing`, `parameter_missing`, ...).
    pub code: Option<&'static str>,
    /// The message shown to developers.
    pub message: String,
    /// The parameter at fault, if any.
    pub param: Option<String>,
    /// For card errors: the decline code.
    pub decline_code: Option<&'static str>,
}

/// Result type of every API operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 400 `invalid_request_error` with a code, message and parameter.
    pub fn invalid(code: &'static str, message: impl Into<String>, param: Option<&str>) -> Self {
        Self {
            status: 400,
            kind: "invalid_request_error",
            code: if code.is_empty() { None } else { Some(code) },
            message: message.into(),
            param: param.map(str::to_string),
            decline_code: None,
        }
    }

    /// A 400 `invalid_request_error` without a code.
    pub fn bad(message: impl Into<String>, param: Option<&str>) -> Self {
        Self::invalid("", message, param)
    }

    /// `resource_missing`: "No such price: 'price_x'". A 404 when the id is the URL's (`param` `id`), a 400
    /// naming the parameter when a request's parameter names a missing object (`line_items[0][price]`).
    pub fn missing(what: &str, id: &str, param: &str) -> Self {
        let status = if param == "id" { 404 } else { 400 };
        Self { status, ..Self::invalid("resource_missing", format!("No such {what}: '{id}'"), Some(param)) }
    }

    /// 400 `parameter_missing`.
    pub fn param_missing(param: &str) -> Self {
        Self::invalid("parameter_missing", format!("Missing required param: {param}."), Some(param))
    }

    /// 400 `parameter_unknown`.
    pub fn param_unknown(param: &str) -> Self {
        Self::invalid("parameter_unknown", format!("Received unknown parameter: {param}"), Some(param))
    }

    /// 401 for a missing or wrong API key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: 401,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            param: None,
            decline_code: None,
        }
    }

    /// 402 `card_error` (declines).
    pub fn card(code: &'static str, decline_code: Option<&'static str>, message: impl Into<String>) -> Self {
        Self { status: 402, kind: "card_error", code: Some(code), message: message.into(), param: None, decline_code }
    }

    /// 400 `idempotency_error`.
    pub fn idempotency(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            kind: "idempotency_error",
            code: None,
            message: message.into(),
            param: None,
            decline_code: None,
        }
    }

    /// An injected outage (`/_emulator/faults`): 429 `rate_limit_error` or a 5xx `api_error`, worded as Stripe does.
    pub fn outage(status: u16) -> Self {
        let (kind, code, message) = if status == 429 {
            (
                "rate_limit_error",
                Some("rate_limit"),
                "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
            )
        } else {
            ("api_error", None, "An unknown error occurred")
        };
        Self { status, kind, code, message: message.into(), param: None, decline_code: None }
    }

    /// 404 for an unknown URL.
    pub fn unrecognized(method: &str, path: &str) -> Self {
        Self {
            status: 404,
            ..Self::bad(
                format!(
                    "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
                ),
                None,
            )
        }
    }

    /// The JSON body Stripe sends for this error.
    pub fn body(&self, request_id: Option<&str>) -> Value {
        let mut e = Map::new();
        e.insert("type".into(), json!(self.kind));
        e.insert("message".into(), json!(self.message));
        if let Some(code) = self.code {
            e.insert("code".into(), json!(code));
            e.insert(
                "doc_url".into(),
                json!(format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))),
            );
        }
        if let Some(p) = &self.param {
            e.insert("param".into(), json!(p));
        }
        if let Some(d) = self.decline_code {
            e.insert("decline_code".into(), json!(d));
        }
        if let Some(r) = request_id {
            e.insert("request_log_url".into(), json!(format!("https://dashboard.stripe.com/test/logs/{r}")));
        }
        json!({ "error": e })
    }
}
