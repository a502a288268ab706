//! Settings > Payments: the Stripe connection (Connect through Stripe's OAuth page, Disconnect with the warning
//! that subscriptions are not cancelled), its status and mode, and webhook health. Every change but a site's first
//! connection first asks for a fresh code from the owner's email (`latch_core::owner::needs_confirmation`).

use latch_core::owner::Sensitive;
use maud::html;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::dashboard::html::{self, Nav, csrf_field};
use crate::dashboard::{SitePage, data, form};
use crate::error::ApiResult;
use crate::manage::connection;
use crate::owners;

/// `GET /dashboard/sites/{site}/payments` (`?confirm=sent` after a confirmation code was emailed).
pub(crate) async fn show(ctx: &Ctx, req: &Request, page: &SitePage) -> ApiResult<Response> {
    let sent = form::query(req, "confirm")?.as_deref() == Some("sent");
    show_with(ctx, page, 200, None, sent).await
}

/// The change the page's Stripe button makes.
fn change(page: &SitePage) -> Sensitive {
    page.db_site.connection().next_change()
}

async fn show_with(ctx: &Ctx, page: &SitePage, status: u16, error: Option<&str>, sent: bool) -> ApiResult<Response> {
    let site = &page.site;
    let health = data::webhook_health(ctx, &site.id).await?;
    let connect_available = ctx.config.connect_client_id.is_some();
    let platform = page.db_site.platform_account != 0;
    let state = latch_core::account::status_label(site.stripe_status.as_deref(), platform);
    let confirmed_at = owners::confirmed_at(ctx, &page.session.token).await?;
    let unconfirmed = latch_core::owner::needs_confirmation(change(page), confirmed_at, ctx.now);
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
                        "platform_account" => "The platform's own Stripe account (set by the operator)",
                        _ => "Not connected",
                    }
                }
                @if let Some(account) = &site.stripe_account {
                    dt { "Account" } dd { code #stripe-account { (account) } }
                    dt { "Mode" } dd #stripe-mode { @if site.livemode != 0 { "Live" } @else { "Test" } }
                }
                @if let Some(at) = site.connected_at { dt { "Connected on" } dd { (html::time(at)) } }
            }
            @if platform {
                p { "Only the operator of this Latch can move the site to another Stripe account." }
            } @else if !connect_available {
                p { "Stripe Connect is not configured on this Latch: ask its operator to set it up." }
            } @else if unconfirmed && sent {
                form method="post" action={ (base) "/confirm" } #confirm-form {
                    (csrf_field(&page.session.csrf))
                    p { "We emailed you a code. Type it here to confirm it is you; it works once, for 10 minutes." }
                    div.field {
                        label for="confirm-code" { "Code" }
                        input #confirm-code name="code" type="text" autocomplete="one-time-code"
                            autocapitalize="characters" required;
                    }
                    button type="submit" #confirm-submit { "Confirm" }
                }
            } @else if unconfirmed {
                form method="post" action={ (base) "/confirm/send" } #confirm-send-form {
                    (csrf_field(&page.session.csrf))
                    p #confirm-why {
                        "Changing the Stripe account decides where this site's payments go, so we first check it is "
                        "you: we email a code to " strong { (page.session.owner.email) } "."
                    }
                    button type="submit" #confirm-send { "Email me a code" }
                }
            } @else if state == "connected" {
                form method="post" action={ (base) "/disconnect" } {
                    (csrf_field(&page.session.csrf))
                    p.warning #disconnect-warning {
                        strong { "Disconnecting does not cancel subscriptions. " }
                        (connection::SUBSCRIPTIONS_NOT_CANCELLED)
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
    match connection::authorize(ctx, req, &page.db_site, Some(&page.session.token)).await {
        Ok((url, cookie)) => html::redirect(ctx, &url, cookie.as_slice()),
        Err(e) => show_with(ctx, page, e.status, Some(&e.message), false).await,
    }
}

/// `POST …/payments/disconnect` `confirm=yes`: deauthorizes Latch on the Stripe account.
pub(crate) async fn disconnect(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    if form.get("confirm") != "yes" {
        let message = "Tick the box to confirm that subscriptions keep running in Stripe.";
        return show_with(ctx, page, 400, Some(message), false).await;
    }
    match connection::disconnect_site(ctx, &page.db_site, Some(&page.session.token)).await {
        Ok(_) => page.done(ctx, Nav::Payments, "disconnected"),
        Err(e) => show_with(ctx, page, e.status, Some(&e.message), false).await,
    }
}

/// `POST …/payments/confirm/send`: emails the owner a code bound to this session.
pub(crate) async fn send_confirmation(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    form::read(ctx, req, &page.session.binding).await?;
    match owners::send_confirm_code(ctx, req, &page.session.owner, &page.session.binding).await {
        Ok(()) => html::redirect(ctx, &format!("{}?confirm=sent", html::site_path(&page.site.id, Nav::Payments)), &[]),
        Err(e) => show_with(ctx, page, e.status, Some(&e.message), false).await,
    }
}

/// `POST …/payments/confirm` `code`: confirms the session for 10 minutes of Stripe connection changes.
pub(crate) async fn confirm(ctx: &Ctx, req: &mut Request, page: &SitePage) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let (owner, token) = (&page.session.owner, &page.session.token);
    match owners::confirm_session(ctx, req, owner, token, &page.session.binding, form.get("code")).await {
        Ok(()) => page.done(ctx, Nav::Payments, "confirmed"),
        Err(e) => show_with(ctx, page, e.status, Some(&e.message), true).await,
    }
}
