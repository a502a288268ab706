//! The site owners' dashboard under `/dashboard`: server-rendered HTML (maud), one module per page, forms that
//! post and redirect (Post/Redirect/Get) and work without JavaScript. Behind the owner's session cookie; every
//! form carries a CSRF token bound to the session and must come from the dashboard's own origin
//! ([`form::read`]). Pages call the same operations as the JSON API (`crate::manage`).

mod activity;
mod data;
mod form;
mod html;
mod install;
mod members;
mod overview;
mod payments;
mod portal;
mod products;
mod session;
mod signin;
mod sites;

use worker::{Method, Request, Response};

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Site};
use data::SiteRow;
use html::{Chrome, Nav};
use session::Session;

/// The page Stripe's Connect flow ends on (connected, refused, Stripe busy), in the dashboard's layout: `body`, then
/// a way back: to the site's Payments page, named, once the flow is known to be this browser's, else to the
/// dashboard.
pub(crate) fn connect_outcome(
    ctx: &Ctx,
    status: u16,
    title: &str,
    body: &maud::Markup,
    site: Option<(&str, &str)>,
) -> ApiResult<Response> {
    let (href, label) = match site {
        Some((id, name)) => (html::site_path(id, Nav::Payments), format!("Back to {name}: Payments")),
        None => ("/dashboard".to_owned(), "Back to the dashboard".to_owned()),
    };
    let content = maud::html! {
        (body)
        p { a #back href=(href) { (label) } }
    };
    html::respond(ctx, status, &html::bare_page(title, None, &content), &[])
}

/// Messages shown after a redirect, by the code in `?done=`: a fixed list, so nothing from the URL is echoed.
fn flash(code: &str) -> Option<&'static str> {
    Some(match code {
        "site_created" => "Site created. Connect Stripe next.",
        "disconnected" => {
            "Stripe disconnected. Subscriptions on the Stripe account were not cancelled; Stripe keeps billing them."
        }
        "confirmed" => "Confirmed. For the next 10 minutes you can change this site's Stripe connection.",
        "product_created" => "Product created in Stripe.",
        "price_added" => "Price added.",
        "product_linked" => "Product linked. Its existing subscribers are being imported.",
        "settings_saved" => "Settings saved.",
        "import_resumed" => "Import resumed.",
        "origins_saved" => "Allowed addresses saved.",
        "portal_saved" => "Portal settings saved in Stripe.",
        "access_granted" => "Access given. It is in the member's timeline.",
        "access_revoked" => "Access revoked. It is in the member's timeline.",
        _ => return None,
    })
}

/// A signed-in page of one site: who, which sites, which site, the CSRF token, the flash message.
pub(crate) struct SitePage {
    /// The signed-in owner.
    session: Session,
    /// Every site of the owner.
    sites: Vec<SiteRow>,
    /// The site shown (as the dashboard shows it).
    site: SiteRow,
    /// The site as the shared functions take it.
    db_site: Site,
    /// Message from the previous step.
    flash: Option<&'static str>,
}

impl SitePage {
    /// The chrome around a page of this site.
    fn chrome(&self, nav: Nav) -> Chrome<'_> {
        Chrome {
            email: &self.session.owner.email,
            sites: &self.sites,
            site: Some(&self.site),
            nav: Some(nav),
            csrf: &self.session.csrf,
            flash: self.flash,
        }
    }

    /// Renders a page of this site.
    fn render(&self, ctx: &Ctx, status: u16, nav: Nav, title: &str, body: &maud::Markup) -> ApiResult<Response> {
        html::respond(ctx, status, &html::site_page(title, &self.chrome(nav), body), &[])
    }

    /// Redirects to a page of this site with a flash code.
    fn done(&self, ctx: &Ctx, nav: Nav, code: &str) -> ApiResult<Response> {
        html::redirect(ctx, &format!("{}?done={code}", html::site_path(&self.site.id, nav)), &[])
    }
}

/// `/dashboard/...`: every error becomes an HTML page with the error's status.
pub(crate) async fn route(ctx: &Ctx, req: &mut Request, rest: &[&str]) -> ApiResult<Response> {
    match handle(ctx, req, rest).await {
        Ok(response) => Ok(response),
        Err(e) => html::error_page(ctx, e.status, &e.message),
    }
}

async fn handle(ctx: &Ctx, req: &mut Request, rest: &[&str]) -> ApiResult<Response> {
    let method = req.method();
    match (&method, rest) {
        (Method::Get, ["signin"]) => return signin::email_form(ctx, req).await,
        (Method::Post, ["signin"]) => return signin::send(ctx, req).await,
        (Method::Get, ["signin", "code"]) => return signin::code_form(ctx, req).await,
        (Method::Post, ["signin", "code"]) => return signin::verify(ctx, req).await,
        _ => {}
    }
    let Some(session) = session::current(ctx, req).await? else {
        return html::redirect(ctx, "/dashboard/signin", &[]);
    };
    match (&method, rest) {
        (Method::Post, ["signout"]) => signin::signout(ctx, req, &session).await,
        (Method::Get, []) => sites::home(ctx, &session).await,
        (Method::Get, ["switch"]) => sites::switch(ctx, req, &session).await,
        (Method::Get, ["sites", "new"]) => sites::new_form(ctx, &session).await,
        (Method::Post, ["sites"]) => sites::create(ctx, req, &session).await,
        (_, ["sites", site, page @ ..]) => {
            let page_ctx = load(ctx, req, session, site).await?;
            site_route(ctx, req, &method, &page_ctx, page).await
        }
        _ => Err(ApiError::not_found("this page")),
    }
}

/// Loads a site the owner manages; another owner's site (or an unknown one) is a 404.
async fn load(ctx: &Ctx, req: &Request, session: Session, site_id: &str) -> ApiResult<SitePage> {
    let sites = data::owner_sites(ctx, &session.owner.id).await?;
    let site = sites.iter().find(|s| s.id == site_id).cloned().ok_or_else(|| ApiError::not_found("site"))?;
    let db_site = store::site(&ctx.db, &site.id).await?.ok_or_else(|| ApiError::not_found("site"))?;
    let flash = form::query(req, "done")?.as_deref().and_then(flash);
    Ok(SitePage { session, sites, site, db_site, flash })
}

async fn site_route(
    ctx: &Ctx,
    req: &mut Request,
    method: &Method,
    page: &SitePage,
    rest: &[&str],
) -> ApiResult<Response> {
    match (method, rest) {
        (Method::Get, []) => overview::show(ctx, page).await,
        (Method::Get, ["payments"]) => payments::show(ctx, req, page).await,
        (Method::Post, ["payments", "connect"]) => payments::connect(ctx, req, page).await,
        (Method::Post, ["payments", "confirm", "send"]) => payments::send_confirmation(ctx, req, page).await,
        (Method::Post, ["payments", "confirm"]) => payments::confirm(ctx, req, page).await,
        (Method::Post, ["payments", "disconnect"]) => payments::disconnect(ctx, req, page).await,
        (Method::Get, ["products"]) => products::show(ctx, page).await,
        (Method::Post, ["products"]) => products::create(ctx, req, page).await,
        (Method::Post, ["products", "link"]) => products::link(ctx, req, page).await,
        (Method::Post, ["products", slug, "prices"]) => products::add_price(ctx, req, page, slug).await,
        (Method::Post, ["products", slug, "settings"]) => products::settings(ctx, req, page, slug).await,
        (Method::Post, ["imports", id, "resume"]) => products::resume(ctx, req, page, id).await,
        (Method::Get, ["activity"]) => activity::feed(ctx, req, page).await,
        (Method::Get, ["portal"]) => portal::show(ctx, page).await,
        (Method::Post, ["portal"]) => portal::save(ctx, req, page).await,
        (Method::Get, ["install"]) => install::show(ctx, req, page).await,
        (Method::Get, ["members"]) => members::list(ctx, req, page).await,
        (Method::Get, ["members", id]) => members::show(ctx, page, id).await,
        (Method::Post, ["members", id, "grant"]) => members::grant(ctx, req, page, id).await,
        (Method::Post, ["members", id, "revoke"]) => members::revoke(ctx, req, page, id).await,
        (Method::Post, ["install", "origins"]) => install::save_origins(ctx, req, page).await,
        _ => Err(ApiError::not_found("this page")),
    }
}
