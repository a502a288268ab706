//! Settings > Customer Portal: whether members may open Stripe's billing portal, its privacy and terms links, and
//! whether members may cancel there. Loaded and saved by `manage::portal`, the operations behind the JSON API
//! too (which check the settings in latch-core and carry them in a Stripe billing portal configuration).

use latch_core::portal::PortalSettings;
use maud::html;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::dashboard::html::{self, Nav, csrf_field, field_named};
use crate::dashboard::{SitePage, form};
use crate::error::ApiResult;
use crate::manage::portal;

/// `GET /dashboard/sites/{site}/portal`.
pub(crate) async fn show(ctx: &Ctx, page: &SitePage) -> ApiResult<Response> {
    let stored = portal::load(ctx, &page.db_site).await?;
    render(ctx, page, 200, &stored.settings, stored.stripe_configuration.as_deref(), None)
}

fn render(
    ctx: &Ctx,
    page: &SitePage,
    status: u16,
    settings: &PortalSettings,
    configuration: Option<&str>,
    error: Option<(&str, &str)>,
) -> ApiResult<Response> {
    let error_for = |field: &str| error.filter(|(f, _)| *f == field).map(|(_, m)| m);
    let other_error = error.filter(|(f, _)| *f != "privacy_policy_url" && *f != "terms_of_service_url").map(|(_, m)| m);
    let body = html! {
        p { "Members open Stripe's billing portal from your site (a " code { "data-latch-portal" } " link) to update
             their card, see invoices and, if you allow it, cancel." }
        @if let Some(error) = other_error { p.error role="alert" #portal-error { (error) } }
        form method="post" action={ (html::site_path(&page.site.id, Nav::Portal)) } {
            (csrf_field(&page.session.csrf))
            div.check {
                input type="checkbox" #portal-enabled name="enabled" value="yes" checked[settings.enabled];
                label for="portal-enabled" { "Members can open the billing portal" }
            }
            div.check {
                input type="checkbox" #portal-cancel name="allow_cancel" value="yes" checked[settings.allow_cancel];
                label for="portal-cancel" { "Members can cancel there (access runs to the end of the paid period)" }
            }
            (field_named("Privacy policy URL", "privacy", "privacy_policy_url", "url",
                settings.privacy_policy_url.as_deref().unwrap_or(""), Some("Shown in the portal, e.g. https://www.example.com/privacy"),
                error_for("privacy_policy_url")))
            (field_named("Terms of service URL", "terms", "terms_of_service_url", "url",
                settings.terms_of_service_url.as_deref().unwrap_or(""), Some("Shown in the portal"),
                error_for("terms_of_service_url")))
            button type="submit" #save-portal { "Save portal settings" }
        }
        @if let Some(id) = configuration { p.hint { "Stripe portal configuration " code #portal-configuration { (id) } } }
    };
    page.render(ctx, status, Nav::Portal, "Customer Portal", &body)
}

/// `POST /dashboard/sites/{site}/portal` `enabled, allow_cancel, privacy_policy_url, terms_of_service_url`.
pub(crate) async fn save(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let link = |name: &str| Some(form.get(name)).filter(|v| !v.is_empty()).map(str::to_owned);
    let settings = PortalSettings {
        enabled: form.checked("enabled"),
        privacy_policy_url: link("privacy_policy_url"),
        terms_of_service_url: link("terms_of_service_url"),
        allow_cancel: form.checked("allow_cancel"),
    };
    if let Err(e) = settings.validated() {
        return render(ctx, page, 400, &settings, None, Some((e.field(), &e.to_string())));
    }
    match portal::save(ctx, &page.db_site, &settings).await {
        Ok(_) => page.done(ctx, Nav::Portal, "portal_saved"),
        Err(e) if e.status < 500 => render(ctx, page, e.status, &settings, None, Some(("", &e.message))),
        Err(e) => Err(e),
    }
}
