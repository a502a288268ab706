//! The edge's one error type and its JSON shape: `{"error": {"code", "message"}}` with a matching HTTP status.

use latch_core::account::ConnectionRefusal;
use latch_core::catalog::{LinkError, PriceError};
use latch_core::checkout::CheckoutError;
use latch_core::portal::PortalRefusal;
use latch_core::stripe_request::StripeError;
use latch_core::token::TokenError;
use latch_core::validate::ValidationError;

/// An error answered to a client. `code` is stable and machine-readable; `message` is for people.
#[derive(Debug)]
pub(crate) struct ApiError {
    /// HTTP status.
    pub(crate) status: u16,
    /// Stable error code, e.g. `invalid_request`.
    pub(crate) code: &'static str,
    /// Human-readable explanation. Never contains secrets.
    pub(crate) message: String,
}

impl ApiError {
    /// Any error with its status, code and message.
    pub(crate) fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    /// 400: the request is malformed or a field is invalid.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }

    /// 404: the thing asked for does not exist (or is not visible to the caller).
    pub(crate) fn not_found(what: &str) -> Self {
        Self::new(404, "not_found", format!("{what} was not found"))
    }

    /// 401: missing or invalid credentials.
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, "unauthorized", message)
    }

    /// 500: our fault. The detail goes to the log, not to the client.
    pub(crate) fn internal(detail: impl std::fmt::Display) -> Self {
        worker::console_error!("internal error: {detail}");
        Self::new(500, "internal_error", "Something went wrong on our side; please try again.")
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": { "code": self.code, "message": self.message } })
    }
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        Self::internal(e)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        let code = match e {
            ValidationError::ForeignOrigin(_) => "origin_not_allowed",
            _ => "invalid_request",
        };
        Self::new(400, code, e.to_string())
    }
}

impl From<CheckoutError> for ApiError {
    fn from(e: CheckoutError) -> Self {
        let (status, code) = match e {
            CheckoutError::BadMode(_) | CheckoutError::NothingToBuy => (400, "invalid_request"),
            CheckoutError::MemberRequired => (401, "member_required"),
            CheckoutError::CheckoutDisabled(_) => (409, "checkout_disabled"),
            CheckoutError::NotSold(_) => (409, "product_archived"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<PriceError> for ApiError {
    fn from(e: PriceError) -> Self {
        Self::bad_request(format!("{}: {e}", e.field()))
    }
}

impl From<PortalRefusal> for ApiError {
    fn from(e: PortalRefusal) -> Self {
        let (status, code) = match e {
            PortalRefusal::Disabled => (409, "portal_disabled"),
            PortalRefusal::NoCustomer => (404, "no_customer"),
        };
        Self::new(status, code, e.to_string())
    }
}

impl From<ConnectionRefusal> for ApiError {
    fn from(e: ConnectionRefusal) -> Self {
        let code = match e {
            ConnectionRefusal::PlatformAccount => "platform_account",
            ConnectionRefusal::NotConnected => "not_connected",
            ConnectionRefusal::AccountInUse => "account_in_use",
        };
        Self::new(409, code, e.to_string())
    }
}

impl From<LinkError> for ApiError {
    fn from(e: LinkError) -> Self {
        let code = match e {
            LinkError::AlreadyLinked(_) => "already_linked",
            LinkError::HasSubscribers { .. } => "product_has_subscribers",
            LinkError::Inactive => "product_inactive",
        };
        Self::new(409, code, e.to_string())
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        Self::new(401, "invalid_token", e.to_string())
    }
}

impl ApiError {
    /// A Stripe failure told to the site's owner, with Stripe's own words (it is their account, and the words say
    /// what to fix). Public callers get [`From<StripeError>`] instead, which never echoes Stripe.
    pub(crate) fn stripe_for_owner(e: StripeError) -> Self {
        match &e {
            StripeError::Refused { body, .. } => {
                let mut error = Self::from(e.clone());
                error.message =
                    format!("Stripe refused the request: {}", body.message.as_deref().unwrap_or("no message"));
                error
            }
            _ => e.into(),
        }
    }
}

/// Public callers never see Stripe's words (they can name objects, accounts or settings of the site's Stripe
/// account); the log keeps them for the operator.
impl From<StripeError> for ApiError {
    fn from(e: StripeError) -> Self {
        match &e {
            StripeError::Refused { status, body } => {
                worker::console_warn!(
                    "Stripe refused a request: {status} {:?} {}",
                    body.code,
                    body.message.as_deref().unwrap_or_default()
                );
                Self::new(502, "stripe_error", "Stripe refused the request; the site's owner can see why in Stripe.")
            }
            StripeError::RateLimited | StripeError::Unavailable(_) => {
                Self::new(503, "stripe_unavailable", "Stripe is not answering right now; please try again shortly.")
            }
            StripeError::Malformed(detail) => {
                worker::console_error!("unexpected answer from Stripe: {detail}");
                Self::new(502, "stripe_error", "Stripe gave an answer Latch did not understand.")
            }
        }
    }
}

/// Result of a handler.
pub(crate) type ApiResult<T> = Result<T, ApiError>;
