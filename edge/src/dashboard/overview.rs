//! Overview: the site at a glance (members with access, new and cancelled this month, monthly recurring revenue
//! by currency, products, Stripe connection) and the next step to take.

use std::collections::BTreeMap;

use latch_core::engine::Grant;
use latch_core::event::{List, Subscription};
use latch_core::money::{self, RecurringPrice};
use latch_core::stripe_request;
use maud::html;
use worker::Response;

use crate::context::Ctx;
use crate::dashboard::SitePage;
use crate::dashboard::html::{self, Nav};
use crate::error::{ApiError, ApiResult};
use crate::{store, stripe};

/// Start of the current UTC month (Unix seconds).
fn month_start(now: i64) -> i64 {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(now as f64 * 1000.0));
    let start = js_sys::Date::utc(f64::from(date.get_utc_full_year()), f64::from(date.get_utc_month()));
    (start / 1000.0) as i64
}

/// Pages of a Stripe list read per price for the overview.
const PAGES_PER_PRICE: usize = 10;
/// Subscriptions counted per price at most; past them the figure is a lower bound.
const COUNTED_PER_PRICE: usize = PAGES_PER_PRICE * stripe_request::LIST_PAGE_SIZE;

/// Monthly recurring revenue by currency from the paying subscriptions of the site's recurring prices (Stripe list
/// calls, up to [`COUNTED_PER_PRICE`] subscriptions per price); `Err` carries why it is not shown. `true` when a
/// price has more subscriptions than that, so the figure is a lower bound.
async fn recurring(ctx: &Ctx, page: &SitePage) -> Result<(BTreeMap<String, i64>, bool), String> {
    let account = page.db_site.stripe().map_err(|e| e.message)?;
    let stored = store::all_prices(&ctx.db, &page.site.id).await.map_err(|e| e.to_string())?;
    let prices: Vec<RecurringPrice<'_>> = stored
        .iter()
        .filter_map(|p| {
            let interval = p.interval.as_deref()?;
            Some(RecurringPrice { id: &p.id, unit_amount: p.unit_amount, currency: &p.currency, interval })
        })
        .collect();
    let mut subscriptions = Vec::new();
    let mut partial = false;
    for price in &prices {
        let mut after: Option<String> = None;
        let mut more = true;
        for _ in 0..PAGES_PER_PRICE {
            let request = stripe_request::list_active_subscriptions(price.id, after.as_deref()).on_account(account);
            let list: List<Subscription> =
                stripe::send(&ctx.config, &request).await.map_err(|e| ApiError::stripe_for_owner(e).message)?;
            after = list.data.last().map(|s| s.id.clone());
            more = list.has_more && after.is_some();
            subscriptions.extend(list.data);
            if !more {
                break;
            }
        }
        partial |= more;
    }
    Ok((money::monthly_recurring(&subscriptions, &prices), partial))
}

/// `GET /dashboard/sites/{site}`.
pub(crate) async fn show(ctx: &Ctx, page: &SitePage) -> ApiResult<Response> {
    let site = &page.site.id;
    // One person per member (a member may have several Stripe customers); a customer without a member counts alone.
    // Rows that ended are left in D1 (a superset of the active ones is read; `Grant::is_active` decides).
    let rows = store::grants_not_ended(&ctx.db, site, ctx.now).await?;
    let grants: Vec<(Grant, Option<String>)> =
        rows.into_iter().filter_map(|r| Some((serde_json::from_str(&r.data).ok()?, r.member_id))).collect();
    let since = month_start(ctx.now);
    let people = |started_since: i64| {
        let mut who: Vec<&str> = grants
            .iter()
            .filter(|(g, _)| g.is_active(ctx.now) && g.starts_at >= started_since)
            .map(|(g, member)| member.as_deref().unwrap_or(&g.customer))
            .collect();
        who.sort_unstable();
        who.dedup();
        who.len()
    };
    let (with_access, new) = (people(i64::MIN), people(since));
    let cancelled = store::cancellations_since(&ctx.db, site, since).await?;
    let products = store::products(&ctx.db, site).await?;
    let connected = page.site.stripe_status.as_deref() == Some("connected");
    let mrr = recurring(ctx, page).await;
    let portal_set = connected && crate::manage::portal::load(ctx, &page.db_site).await?.stripe_configuration.is_some();
    let body = html! {
        dl.stats {
            div { dt { "Members with access" } dd #stat-access { (with_access) } }
            div { dt { "New this month" } dd #stat-new { (new) } }
            div { dt { "Cancellations this month" } dd #stat-cancelled { (cancelled) } }
            div { dt { "Products" } dd #stat-products { (products.len()) } }
        }
        h2 { "Recurring revenue" }
        @match &mrr {
            Ok((by_currency, partial)) => {
                @if by_currency.is_empty() { p #mrr { "No paying subscriptions yet." } } @else {
                    ul #mrr {
                        @for (currency, amount) in by_currency {
                            li data-currency=(currency) { (money::format(*amount, currency)) " per month" }
                        }
                    }
                    p.hint { "Paying subscriptions, before discounts and taxes; trials are not counted."
                        @if *partial {
                            " Over " (COUNTED_PER_PRICE) " subscriptions on a price: only the newest "
                            (COUNTED_PER_PRICE) " of each are counted."
                        } }
                }
            }
            Err(why) => p #mrr { "Not available: " (why) }
        }
        h2 { "Next steps" }
        ul.steps {
            li { @if connected { "Stripe is connected." } @else {
                a href=(html::site_path(site, Nav::Payments)) { "Connect Stripe" } } }
            li { @if products.is_empty() { a href=(html::site_path(site, Nav::Products)) { "Create or link a product" } }
                 @else { (products.len()) " products." } }
            li { @match &page.site.seen_origin {
                Some(origin) => { "Latch has seen the widget at " (origin) "." }
                None => a #step-install href=(html::site_path(site, Nav::Install)) { "Add the script tag to your site" },
            } }
            li { @if portal_set { "The Customer Portal is set up." } @else {
                a #step-portal href=(html::site_path(site, Nav::Portal)) { "Set up the Customer Portal" } } }
        }
    };
    page.render(ctx, 200, Nav::Overview, "Overview", &body)
}
