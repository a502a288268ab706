//! Sign in (email, then the emailed code) and sign out. The forms are bound to a pre-session cookie until the
//! owner is signed in; a wrong code shows the form again with the error tied to the field.

use latch_core::validate;
use maud::{Markup, html};
use worker::Request;
use worker::Response;

use crate::context::Ctx;
use crate::dashboard::form::{self, query};
use crate::dashboard::html::{self, csrf_field, field};
use crate::dashboard::session::{self, Session};
use crate::error::ApiResult;
use crate::owners;

fn email_page(csrf: &str, email: &str, error: Option<&str>) -> Markup {
    let body = html! {
        p { "Latch emails you a sign-in code. New here? Signing in creates your account." }
        form method="post" action="/dashboard/signin" {
            (csrf_field(csrf))
            (field("Email", "email", "email", email, None, error))
            button type="submit" { "Email me a code" }
        }
    };
    html::bare_page("Sign in", None, &body)
}

/// `GET /dashboard/signin`: the email form (sets the pre-session cookie its token is bound to).
pub(crate) async fn email_form(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    if session::current(ctx, req).await?.is_some() {
        return html::redirect(ctx, "/dashboard", &[]);
    }
    let (binding, cookie) = session::pre_session(req)?;
    let csrf = latch_core::csrf::token(ctx.config.token_secret.as_bytes(), &binding);
    html::respond(ctx, 200, &email_page(&csrf, "", None), &cookie.into_iter().collect::<Vec<_>>())
}

/// `POST /dashboard/signin` `email`: sends a code and shows the code form (via a redirect).
pub(crate) async fn send(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let binding = session::posted_pre_session(req)?;
    let form = form::read(ctx, req, &binding).await?;
    let csrf = latch_core::csrf::token(ctx.config.token_secret.as_bytes(), &binding);
    let email = match validate::email(form.get("email")) {
        Ok(email) => email,
        Err(e) => return html::respond(ctx, 400, &email_page(&csrf, form.get("email"), Some(&e.to_string())), &[]),
    };
    // The code is bound to this browser: its pre-session cookie is the challenge.
    if let Err(e) = owners::send_owner_code(ctx, req, &email, &binding).await {
        return html::respond(ctx, e.status, &email_page(&csrf, &email, Some(&e.message)), &[]);
    }
    let location = format!(
        "/dashboard/signin/code?email={}",
        form_urlencoded::byte_serialize(email.as_bytes()).collect::<String>()
    );
    html::redirect(ctx, &location, &[])
}

fn code_page(csrf: &str, email: &str, error: Option<&str>) -> Markup {
    let body = html! {
        p { "We sent a code to " strong { (email) } ". It works once, for 10 minutes, in this browser." }
        form method="post" action="/dashboard/signin/code" {
            (csrf_field(csrf))
            input type="hidden" name="email" value=(email);
            div.field {
                label for="code" { "Code" }
                @if let Some(error) = error { p.error id="code-error" { (error) } }
                input id="code" name="code" type="text" autocomplete="one-time-code" autocapitalize="characters"
                    aria-describedby=[error.map(|_| "code-error")] aria-invalid=[error.map(|_| "true")];
            }
            button type="submit" { "Sign in" }
        }
        p { a href="/dashboard/signin" { "Use another email" } }
    };
    html::bare_page("Enter your code", None, &body)
}

/// `GET /dashboard/signin/code?email=`: the code form.
pub(crate) async fn code_form(ctx: &Ctx, req: &Request) -> ApiResult<Response> {
    let (binding, cookie) = session::pre_session(req)?;
    let csrf = latch_core::csrf::token(ctx.config.token_secret.as_bytes(), &binding);
    let email = query(req, "email")?.unwrap_or_default();
    html::respond(ctx, 200, &code_page(&csrf, &email, None), &cookie.into_iter().collect::<Vec<_>>())
}

/// `POST /dashboard/signin/code` `email, code`: signs in (session cookie) and goes to the dashboard.
pub(crate) async fn verify(ctx: &Ctx, req: &mut Request) -> ApiResult<Response> {
    let binding = session::posted_pre_session(req)?;
    let form = form::read(ctx, req, &binding).await?;
    let csrf = latch_core::csrf::token(ctx.config.token_secret.as_bytes(), &binding);
    let email = form.get("email").to_owned();
    match owners::verify_owner_code(ctx, req, &email, &binding, form.get("code")).await {
        Ok((_owner, token)) => {
            let cookies = [owners::session_cookie(req, &token)?, session::clear_pre_session(req)?];
            html::redirect(ctx, "/dashboard", &cookies)
        }
        Err(e) => html::respond(ctx, e.status, &code_page(&csrf, &email, Some(&e.message)), &[]),
    }
}

/// `POST /dashboard/signout`: ends the session and goes back to sign-in.
pub(crate) async fn signout(ctx: &Ctx, req: &mut Request, session: &Session) -> ApiResult<Response> {
    form::read(ctx, req, &session.binding).await?;
    owners::revoke_session(ctx, &session.token).await?;
    html::redirect(ctx, "/dashboard/signin", &[owners::clear_session_cookie(req)?])
}
