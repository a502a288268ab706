//! Posted forms: the body (`application/x-www-form-urlencoded`), checked against CSRF before anything is read
//! from it: the request must come from the dashboard's own origin (`Origin`, `Sec-Fetch-Site`) and carry the
//! token bound to the session (or, before sign-in, to the pre-session cookie). Either failing is a 403.

use latch_core::csrf;
use worker::Request;

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::http::edge_origin;

/// Largest form body the dashboard accepts.
const MAX_FORM: usize = 16 * 1024;

/// A posted form's fields.
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// The trimmed value of `name` ("" when absent).
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.trim())
    }

    /// Whether a checkbox named `name` was checked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

fn forbidden(message: &str) -> ApiError {
    ApiError::new(403, "csrf", message)
}

/// Reads a posted form after the CSRF checks against `binding` (the session's or pre-session's hash).
pub(crate) async fn read(ctx: &Ctx, req: &mut Request, binding: &str) -> ApiResult<Form> {
    let headers = req.headers();
    let origin = headers.get("Origin")?;
    let fetch_site = headers.get("Sec-Fetch-Site")?;
    if !csrf::same_origin(&edge_origin(req)?, origin.as_deref(), fetch_site.as_deref()) {
        return Err(forbidden("This form was sent from another site; it was refused."));
    }
    let bytes = crate::http::read_body(req, MAX_FORM).await?;
    let form = Form(form_urlencoded::parse(&bytes).into_owned().collect());
    if !csrf::token_ok(ctx.config.token_secret.as_bytes(), binding, form.get(csrf::FIELD)) {
        return Err(forbidden(
            "This form has expired or was not sent from the dashboard. Reload the page and try again.",
        ));
    }
    Ok(form)
}

/// The query parameter `name` of a request, if present.
pub(crate) fn query(req: &Request, name: &str) -> ApiResult<Option<String>> {
    Ok(req.url()?.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()))
}
