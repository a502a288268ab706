//! Install: the exact script tag and `data-latch-*` snippets for this site's products (with copy buttons when
//! JavaScript runs), and the allowed origins editor.

use maud::{Markup, html};
use worker::{Request, Response};

use crate::context::Ctx;
use crate::dashboard::html::{self, Nav, csrf_field};
use crate::dashboard::{SitePage, form};
use crate::error::ApiResult;
use crate::http::edge_origin;
use crate::owners;
use crate::store;

fn snippet(id: &str, label: &str, code: &str) -> Markup {
    html! {
        div.snippet {
            p { (label) }
            pre data-copy data-label=(label) { code #(id) { (code) } }
        }
    }
}

/// "3 minutes ago", roughly.
fn ago(secs: i64) -> String {
    match secs.max(0) {
        0..60 => "just now".into(),
        s @ 60..3600 => plural(s / 60, "minute"),
        s @ 3600..86_400 => plural(s / 3600, "hour"),
        s => plural(s / 86_400, "day"),
    }
}

fn plural(n: i64, unit: &str) -> String {
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// `GET /dashboard/sites/{site}/install`.
pub(crate) async fn show(ctx: &Ctx, req: &Request, page: &SitePage) -> ApiResult<Response> {
    show_with(ctx, req, page, 200, None, None).await
}

async fn show_with(
    ctx: &Ctx,
    req: &Request,
    page: &SitePage,
    status: u16,
    typed: Option<&str>,
    error: Option<&str>,
) -> ApiResult<Response> {
    let site = &page.site.id;
    let edge = edge_origin(req)?;
    let products = store::products(&ctx.db, site).await?;
    let prices = store::all_prices(&ctx.db, site).await?;
    let origins = page.db_site.allowed_origins().join("\n");
    let tag = format!("<script src=\"{edge}/latch.js\" data-site=\"{site}\"></script>");
    // Links with an `href` are reachable by keyboard and read as links; the widget takes their clicks.
    let account = "<a data-latch-signin href=\"#sign-in\">Sign in</a>\n\
                   <a data-latch-portal href=\"#billing\">Manage billing</a>\n\
                   <a data-latch-signout href=\"#sign-out\">Sign out</a>\n\
                   Signed in as <span data-latch-member=\"email\"></span>";
    let body = html! {
        p #live-check {
            @match (&page.site.seen_origin, page.site.seen_at) {
                (Some(origin), Some(at)) => {
                    "Latch saw your site at " strong { (origin) } " " (ago(ctx.now - at)) "."
                }
                _ => "Latch has not seen the widget on your site yet. Once the tag is in place, load a page and reload this one.",
            }
        }
        section aria-labelledby="tag-heading" {
            h2 #tag-heading { "1. Add the script tag" }
            p { "Paste it into the " code { "<head>" } " of every page, without " code { "defer" } "." }
            (snippet("snippet-tag", "Script tag", &tag))
        }
        section aria-labelledby="buttons-heading" {
            h2 #buttons-heading { "2. Mark up what you sell" }
            @if products.is_empty() { p { "Create or link a product first, under Products." } }
            @else {
                p { "A buy link goes to its " code { "href" } " when checkout cannot start (or before the widget has \
                     loaded): the product's sales page when it has one, else point it at your pricing page." }
            }
            @for product in &products {
                h3 { (product.name) }
                @let fallback = product.purchase_url.as_deref().unwrap_or("/pricing");
                @for price in prices.iter().filter(|p| p.product_slug == product.slug && p.active != 0) {
                    @let key = price.lookup_key.as_deref().unwrap_or(&price.id);
                    (snippet(&format!("snippet-buy-{}", price.id), &format!("Buy link, {}", latch_core::money::format(price.unit_amount, &price.currency)),
                        &format!("<a data-latch-buy=\"{key}\" href=\"{fallback}\">Join {}</a>", product.name)))
                }
                (snippet(&format!("snippet-locked-{}", product.slug), "Locked card: a teaser with the members-only part inside",
                    &format!("<article data-latch-locked=\"{0}\">\n  <h2>Teaser title</h2>\n  <div data-latch-content=\"{0}\">Members-only text</div>\n</article>", product.slug)))
                (snippet(&format!("snippet-content-{}", product.slug), "Shown only to people without it",
                    &format!("<div data-latch-content=\"!{}\">Become a member to read on.</div>", product.slug)))
            }
            (snippet("snippet-account", "Sign in, billing and sign out links", account))
        }
        section aria-labelledby="origins-heading" {
            h2 #origins-heading { "3. Allowed addresses" }
            p { "Latch answers the widget only on these origins, and sends buyers back only to them." }
            form method="post" action={ (html::site_path(site, Nav::Install)) "/origins" } {
                (csrf_field(&page.session.csrf))
                div.field {
                    label for="origins" { "Origins, one per line" }
                    p.hint #origins-hint { "Scheme and host, e.g. https://www.example.com" }
                    @if let Some(error) = error { p.error #origins-error { (error) } }
                    textarea #origins name="origins" rows="4"
                        aria-describedby={ "origins-hint" @if error.is_some() { " origins-error" } }
                        aria-invalid=[error.map(|_| "true")] { (typed.unwrap_or(&origins)) }
                }
                button type="submit" #save-origins { "Save addresses" }
            }
        }
    };
    page.render(ctx, status, Nav::Install, "Install", &body)
}

/// `POST …/install/origins` `origins` (one per line).
pub(crate) async fn save_origins(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let typed = form.get("origins");
    let origins: Vec<String> = typed.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    match owners::update_site(ctx, &page.site.id, None, Some(&origins)).await {
        Ok(_) => page.done(ctx, Nav::Install, "origins_saved"),
        Err(e) if e.status == 400 => show_with(ctx, req, page, 400, Some(typed), Some(&e.message)).await,
        Err(e) => Err(e),
    }
}
