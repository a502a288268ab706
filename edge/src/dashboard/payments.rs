//! Settings > Payments: the Stripe connection (Connect through Stripe's OAuth page, Disconnect with the warning
//! that subscriptions are not cancelled), its status and mode, and webhook health.

use maud::html;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::dashboard::html::{self, Nav, csrf_field};
use crate::dashboard::{SitePage, data, form};
use crate::error::ApiResult;
use crate::routes::connect;

/// `GET /dashboard/sites/{site}/payments`.
pub(crate) async fn show(ctx: &Ctx, page: &SitePage) -> ApiResult<Response> {
    show_with(ctx, page, 200, None).await
}

async fn show_with(ctx: &Ctx, page: &SitePage, status: u16, error: Option<&str>) -> ApiResult<Response> {
    let site = &page.site;
    let health = data::webhook_health(ctx, &site.id).await?;
    let connect_available = ctx.config.connect_client_id.is_some();
    let state = site.stripe_status.as_deref().unwrap_or("not_connected");
    let base = html::site_path(&site.id, Nav::Payments);
    let body = html! {
        @if let Some(error) = error { p.error role="alert" #payments-error { (error) } }
        section aria-labelledby="stripe-heading" {
            h2 #stripe-heading { "Stripe account" }
            dl.facts {
                dt { "Status" }
                dd #stripe-status data-status=(state) {
                    @match state {
                        "connected" => "Connected",
                        "disconnected" => "Disconnected",
                        _ => "Not connected",
                    }
                }
                @if let Some(account) = &site.stripe_account {
                    dt { "Account" } dd { code #stripe-account { (account) } }
                    dt { "Mode" } dd #stripe-mode { @if site.livemode != 0 { "Live" } @else { "Test" } }
                }
                @if let Some(at) = site.connected_at { dt { "Connected on" } dd { (html::time(at)) } }
            }
            @if !connect_available {
                p { "Stripe Connect is not configured on this Latch; it uses the platform's own Stripe account." }
            } @else if state == "connected" {
                form method="post" action={ (base) "/disconnect" } {
                    (csrf_field(&page.session.csrf))
                    p.warning #disconnect-warning {
                        strong { "Disconnecting does not cancel subscriptions. " }
                        (connect::SUBSCRIPTIONS_NOT_CANCELLED)
                    }
                    div.check {
                        input type="checkbox" #confirm name="confirm" value="yes" required
                            aria-describedby="disconnect-warning";
                        label for="confirm" { "I understand that subscriptions keep running in Stripe" }
                    }
                    button.danger type="submit" #disconnect { "Disconnect Stripe" }
                }
            } @else {
                form method="post" action={ (base) "/connect" } {
                    (csrf_field(&page.session.csrf))
                    p { "You will approve Latch on Stripe's page, then come back here." }
                    button type="submit" #connect { "Connect Stripe" }
                }
            }
        }
        section aria-labelledby="webhooks-heading" {
            h2 #webhooks-heading { "Webhooks" }
            dl.facts {
                dt { "Last event received" }
                dd #last-event {
                    @match &health.last {
                        Some((kind, at)) => { code { (kind) } ", " (html::time(*at)) }
                        None => "None yet",
                    }
                }
                dt { "Events in the last 24 hours" } dd #events-day { (health.last_day) }
                dt { "Failed payments in the last 7 days" } dd #failed-payments { (health.failed_payments_week) }
            }
            p.hint { "Events Stripe could not deliver are retried by Stripe and listed in its dashboard under Webhooks." }
        }
    };
    page.render(ctx, status, Nav::Payments, "Payments", &body)
}

/// `POST …/payments/connect`: redirects to Stripe's authorize page with the state bound to this owner session.
pub(crate) async fn connect(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    form::read(ctx, req, &page.session.binding).await?;
    match connect::authorize(ctx, req, &page.db_site, Some(&page.session.token)).await {
        Ok((url, cookie)) => html::redirect(ctx, &url, cookie.as_slice()),
        Err(e) => show_with(ctx, page, e.status, Some(&e.message)).await,
    }
}

/// `POST …/payments/disconnect` `confirm=yes`: deauthorizes Latch on the Stripe account.
pub(crate) async fn disconnect(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    if form.get("confirm") != "yes" {
        let message = "Tick the box to confirm that subscriptions keep running in Stripe.";
        return show_with(ctx, page, 400, Some(message)).await;
    }
    match connect::disconnect_site(ctx, &page.db_site).await {
        Ok(_) => page.done(ctx, Nav::Payments, "disconnected"),
        Err(e) => show_with(ctx, page, e.status, Some(&e.message)).await,
    }
}
