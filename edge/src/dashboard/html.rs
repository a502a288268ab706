//! The dashboard's shared HTML: the page shell (landmarks, navigation, site switcher, flash message), form
//! fields with their errors tied by `aria-describedby`, and the responses (strict CSP, no caching, Post/Redirect/Get).

use maud::{DOCTYPE, Markup, html};
use worker::Response;

use crate::context::Ctx;
use crate::dashboard::data::SiteRow;
use crate::error::ApiResult;

/// The pages of a site, in navigation order.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    /// Members with access, new and cancelled, revenue.
    Overview,
    /// Products and prices.
    Products,
    /// Stripe connection.
    Payments,
    /// Customer Portal settings.
    Portal,
    /// Script tag, snippets, allowed origins.
    Install,
    /// Members, grants, timelines.
    Members,
    /// What happened.
    Activity,
}

impl Nav {
    const ALL: [Self; 7] =
        [Self::Overview, Self::Products, Self::Payments, Self::Portal, Self::Install, Self::Members, Self::Activity];

    fn label(self) -> &'static str {
        match self {
            Self::Overview => "Overview",
            Self::Products => "Products",
            Self::Payments => "Payments",
            Self::Portal => "Portal",
            Self::Install => "Install",
            Self::Members => "Members",
            Self::Activity => "Activity",
        }
    }

    /// The page's path below `/dashboard/sites/{site}`.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Self::Overview => "",
            Self::Products => "/products",
            Self::Payments => "/payments",
            Self::Portal => "/portal",
            Self::Install => "/install",
            Self::Members => "/members",
            Self::Activity => "/activity",
        }
    }
}

/// Path of a site's page.
pub(crate) fn site_path(site: &str, nav: Nav) -> String {
    format!("/dashboard/sites/{site}{}", nav.path())
}

/// What every signed-in page shows around its content.
pub(crate) struct Chrome<'a> {
    /// The signed-in owner's email.
    pub(crate) email: &'a str,
    /// The owner's sites, for the switcher.
    pub(crate) sites: &'a [SiteRow],
    /// The site shown, if any.
    pub(crate) site: Option<&'a SiteRow>,
    /// The page, for `aria-current`.
    pub(crate) nav: Option<Nav>,
    /// The CSRF token for this session's forms.
    pub(crate) csrf: &'a str,
    /// A message about what just happened (from a fixed list, never from the request).
    pub(crate) flash: Option<&'static str>,
}

/// The hidden CSRF field every form carries.
pub(crate) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(latch_core::csrf::FIELD) value=(token); }
}

/// A labelled input with an optional hint and error, both tied to it with `aria-describedby`.
pub(crate) fn field(
    label: &str,
    name: &str,
    kind: &str,
    value: &str,
    hint: Option<&str>,
    error: Option<&str>,
) -> Markup {
    field_named(label, name, name, kind, value, hint, error)
}

/// [`field`] with an id different from its name (several forms on one page share field names).
pub(crate) fn field_named(
    label: &str,
    id: &str,
    name: &str,
    kind: &str,
    value: &str,
    hint: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described: Vec<&str> =
        [hint.map(|_| hint_id.as_str()), error.map(|_| error_id.as_str())].into_iter().flatten().collect();
    html! {
        div.field {
            label for=(id) { (label) }
            @if let Some(hint) = hint { p.hint id=(hint_id) { (hint) } }
            @if let Some(error) = error { p.error id=(error_id) { (error) } }
            input id=(id) name=(name) type=(kind) value=(value)
                aria-describedby=[(!described.is_empty()).then(|| described.join(" "))]
                aria-invalid=[error.map(|_| "true")];
        }
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width,initial-scale=1";
            title { (title) " · Latch dashboard" }
            link rel="stylesheet" href="/dashboard.css";
            link rel="icon" href="/favicon.svg" type="image/svg+xml";
            script type="module" src="/dashboard.js" {}
        }
    }
}

/// A page outside a site (sign-in, errors, creating a site).
pub(crate) fn bare_page(title: &str, chrome: Option<&Chrome<'_>>, body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/dashboard" { "Latch" }
                    @if let Some(chrome) = chrome { (account(chrome)) }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    @if let Some(flash) = chrome.and_then(|c| c.flash) { (flash_box(flash)) }
                    (body)
                }
            }
        }
    }
}

fn flash_box(flash: &str) -> Markup {
    html! { p.flash role="status" { (flash) } }
}

fn account(chrome: &Chrome<'_>) -> Markup {
    html! {
        div.account {
            @if !chrome.sites.is_empty() {
                form.switcher method="get" action="/dashboard/switch" {
                    label for="site-switcher" { "Site" }
                    select #site-switcher name="site" {
                        @for s in chrome.sites {
                            option value=(s.id) selected[chrome.site.is_some_and(|c| c.id == s.id)] { (s.name) }
                        }
                    }
                    button type="submit" { "Switch" }
                }
            }
            a href="/dashboard/sites/new" { "New site" }
            span.who { (chrome.email) }
            form method="post" action="/dashboard/signout" {
                (csrf_field(chrome.csrf))
                button type="submit" { "Sign out" }
            }
        }
    }
}

/// A page of a site: the shell with the site's navigation.
pub(crate) fn site_page(title: &str, chrome: &Chrome<'_>, body: &Markup) -> Markup {
    let site = chrome.site.map_or("", |s| s.id.as_str());
    let site_name = chrome.site.map_or("", |s| s.name.as_str());
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(&format!("{title} · {site_name}")))
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/dashboard" { "Latch" }
                    (account(chrome))
                }
                div.frame {
                    nav aria-label="Site" {
                        p.site-name { (site_name) br; code { (site) } }
                        ul {
                            @for item in Nav::ALL {
                                li {
                                    a href=(site_path(site, item))
                                        aria-current=[(chrome.nav == Some(item)).then_some("page")] { (item.label()) }
                                }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        h1 { (title) }
                        @if let Some(flash) = chrome.flash { (flash_box(flash)) }
                        (body)
                    }
                }
            }
        }
    }
}

/// Headers every dashboard answer carries: no caching, a strict CSP (forms may post to the dashboard and be
/// redirected to Stripe's OAuth page), no framing, no sniffing.
fn harden(ctx: &Ctx, response: &mut Response) -> ApiResult<()> {
    let headers = response.headers_mut();
    headers.set("Cache-Control", "no-store")?;
    headers.set(
        "Content-Security-Policy",
        &format!(
            "default-src 'self'; base-uri 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self' {}",
            ctx.config.connect_base
        ),
    )?;
    headers.set("X-Frame-Options", "DENY")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    headers.set("Referrer-Policy", "same-origin")?;
    Ok(())
}

/// An HTML answer with `status` and the dashboard's headers, setting `cookies`.
pub(crate) fn respond(ctx: &Ctx, status: u16, markup: &Markup, cookies: &[String]) -> ApiResult<Response> {
    let mut response = Response::from_html(markup.0.as_str())?.with_status(status);
    harden(ctx, &mut response)?;
    for cookie in cookies {
        response.headers_mut().append("Set-Cookie", cookie)?;
    }
    Ok(response)
}

/// A 303 redirect (Post/Redirect/Get) setting `cookies`.
pub(crate) fn redirect(ctx: &Ctx, location: &str, cookies: &[String]) -> ApiResult<Response> {
    let mut response = Response::empty()?.with_status(303);
    harden(ctx, &mut response)?;
    response.headers_mut().set("Location", location)?;
    for cookie in cookies {
        response.headers_mut().append("Set-Cookie", cookie)?;
    }
    Ok(response)
}

/// An error page (status from the error; its message is safe to show: `ApiError` never carries secrets).
pub(crate) fn error_page(ctx: &Ctx, status: u16, message: &str) -> ApiResult<Response> {
    let title = match status {
        403 => "Not allowed",
        404 => "Not found",
        _ => "Something went wrong",
    };
    let body = html! {
        p #error-message { (message) }
        p { a href="/dashboard" { "Back to the dashboard" } }
    };
    respond(ctx, status, &bare_page(title, None, &body), &[])
}

/// A Unix time as people read it: `3 Jan 2027, 14:05 UTC` (`latch_core::dates`), in a `<time>` that
/// dashboard.js shows in the owner's own time zone and words.
pub(crate) fn time(unix: i64) -> Markup {
    html! { time datetime=(latch_core::dates::iso(unix)) { (latch_core::dates::moment(unix)) } }
}
