//! The owner's sites: the landing redirect, the site switcher, and creating a site.

use maud::{Markup, html};
use worker::{Request, Response};

use crate::context::Ctx;
use crate::dashboard::data;
use crate::dashboard::form::{self, query};
use crate::dashboard::html::{self, Chrome, Nav, csrf_field, field};
use crate::dashboard::session::Session;
use crate::error::ApiResult;
use crate::owners;

/// `GET /dashboard`: the first site's overview, or creating a first site.
pub(crate) async fn home(ctx: &Ctx, session: &Session) -> ApiResult<Response> {
    let sites = data::owner_sites(ctx, &session.owner.id).await?;
    match sites.first() {
        Some(site) => html::redirect(ctx, &html::site_path(&site.id, Nav::Overview), &[]),
        None => html::redirect(ctx, "/dashboard/sites/new", &[]),
    }
}

/// `GET /dashboard/switch?site=`: the switcher's form (a GET, so it works without JavaScript and changes nothing).
pub(crate) async fn switch(ctx: &Ctx, req: &Request, session: &Session) -> ApiResult<Response> {
    let wanted = query(req, "site")?.unwrap_or_default();
    let sites = data::owner_sites(ctx, &session.owner.id).await?;
    match sites.iter().find(|s| s.id == wanted) {
        Some(site) => html::redirect(ctx, &html::site_path(&site.id, Nav::Overview), &[]),
        None => html::redirect(ctx, "/dashboard", &[]),
    }
}

struct Errors<'a> {
    name: Option<&'a str>,
    origin: Option<&'a str>,
    other: Option<&'a str>,
}

fn new_site_page(chrome: &Chrome<'_>, name: &str, origin: &str, errors: &Errors<'_>) -> Markup {
    let body = html! {
        @if let Some(error) = errors.other { p.error role="alert" #site-error { (error) } }
        form method="post" action="/dashboard/sites" {
            (csrf_field(chrome.csrf))
            (field("Site name", "name", "text", name, None, errors.name))
            (field("Website address", "origin", "url", origin,
                Some("Where your site lives, e.g. https://www.example.com. You can add more addresses later."),
                errors.origin))
            button type="submit" { "Create site" }
        }
    };
    html::bare_page("New site", Some(chrome), &body)
}

fn chrome<'a>(session: &'a Session, sites: &'a [data::SiteRow]) -> Chrome<'a> {
    Chrome { email: &session.owner.email, sites, site: None, nav: None, csrf: &session.csrf, flash: None }
}

/// `GET /dashboard/sites/new`.
pub(crate) async fn new_form(ctx: &Ctx, session: &Session) -> ApiResult<Response> {
    let sites = data::owner_sites(ctx, &session.owner.id).await?;
    let page = new_site_page(&chrome(session, &sites), "", "", &Errors { name: None, origin: None, other: None });
    html::respond(ctx, 200, &page, &[])
}

/// `POST /dashboard/sites` `name, origin`: creates a site owned by the signed-in owner.
pub(crate) async fn create(ctx: &Ctx, req: &mut Request, session: &Session) -> ApiResult<Response> {
    let form = form::read(ctx, req, &session.binding).await?;
    let (name, origin) = (form.get("name"), form.get("origin"));
    let name_error = (name.is_empty() || name.len() > 100).then_some("Give the site a name (up to 100 characters).");
    let origin_checked = latch_core::validate::origin_of(origin);
    let origin_error = origin_checked.as_ref().err().map(ToString::to_string);
    if name_error.is_some() || origin_error.is_some() {
        let sites = data::owner_sites(ctx, &session.owner.id).await?;
        let errors = Errors { name: name_error, origin: origin_error.as_deref(), other: None };
        return html::respond(ctx, 400, &new_site_page(&chrome(session, &sites), name, origin, &errors), &[]);
    }
    let origins: Vec<String> = origin_checked.into_iter().collect();
    match owners::create_site(ctx, &session.owner, name, &origins).await {
        Ok(site) => {
            html::redirect(ctx, &format!("{}?done=site_created", html::site_path(&site.id, Nav::Payments)), &[])
        }
        Err(e) if e.status < 500 => {
            let sites = data::owner_sites(ctx, &session.owner.id).await?;
            let errors = Errors { name: None, origin: None, other: Some(&e.message) };
            html::respond(ctx, e.status, &new_site_page(&chrome(session, &sites), name, origin, &errors), &[])
        }
        Err(e) => Err(e),
    }
}
