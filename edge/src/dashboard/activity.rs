//! Activity: what happened on the site and why (purchases, subscriptions, renewals, failed payments, refunds,
//! ignored events with the reason), newest first, filterable by kind, paginated by id (`?before=`).

use maud::html;
use worker::{Request, Response};

use crate::context::Ctx;
use crate::dashboard::html::{self, Nav};
use crate::dashboard::{SitePage, form};
use crate::error::ApiResult;
use crate::store;

/// One activity entry.
pub(crate) use crate::store::ActivityEntry as Entry;

/// Entries per page.
const PAGE: i64 = 25;

/// The kinds an owner can filter by, with their labels (the engine's `ActivityKind` names).
pub(crate) const KINDS: [(&str, &str); 17] = [
    ("product_purchased", "Product purchased"),
    ("subscription_started", "Subscription started"),
    ("subscription_renewed", "Subscription renewed"),
    ("subscription_updated", "Subscription updated"),
    ("subscription_cancelled", "Subscription cancelled"),
    ("payment_failed", "Payment failed"),
    ("awaiting_payment", "Awaiting payment"),
    ("payment_method_updated", "Payment method updated"),
    ("checkout_expired", "Checkout expired"),
    ("refunded", "Refunded"),
    ("dispute_opened", "Dispute opened"),
    ("dispute_closed", "Dispute closed"),
    ("customer_deleted", "Customer deleted"),
    ("account_disconnected", "Stripe disconnected"),
    ("access_granted", "Access granted"),
    ("access_revoked", "Access revoked"),
    ("ignored", "Ignored event"),
];

/// The label of an activity kind.
pub(crate) fn label(kind: &str) -> &str {
    KINDS.iter().find(|(k, _)| *k == kind).map_or(kind, |(_, l)| l)
}

/// A table of entries (the feed and a member's timeline); an entry about a known member links to their page.
pub(crate) fn table(site: &str, entries: &[Entry], caption: &str) -> maud::Markup {
    let members = html::site_path(site, Nav::Members);
    html! {
        table.feed {
            caption.visually-hidden { (caption) }
            thead { tr { th scope="col" { "When" } th scope="col" { "What" } th scope="col" { "Product" }
                        th scope="col" { "Why" } th scope="col" { "Stripe" } } }
            tbody {
                @for e in entries {
                    tr data-kind=(e.kind) {
                        td { (html::time(e.created_at)) }
                        td {
                            @match &e.member {
                                Some(member) => a.member href={ (members) "/" (member) } { (label(&e.kind)) },
                                None => (label(&e.kind)),
                            }
                        }
                        td { (e.product.as_deref().unwrap_or("—")) }
                        td { (e.reason) }
                        td { code { (e.event_id.as_deref().or(e.stripe_object.as_deref()).unwrap_or("—")) } }
                    }
                }
            }
        }
    }
}

/// `GET /dashboard/sites/{site}/activity?kind=&before=`.
pub(crate) async fn feed(ctx: &Ctx, req: &Request, page: &SitePage) -> ApiResult<Response> {
    let kind = form::query(req, "kind")?.filter(|k| KINDS.iter().any(|(known, _)| known == k));
    let before = form::query(req, "before")?.and_then(|b| b.parse::<i64>().ok()).unwrap_or(i64::MAX);
    let entries = store::activity_page(&ctx.db, &page.site.id, kind.as_deref(), before, PAGE + 1).await?;
    let more = entries.len() > PAGE as usize;
    let shown = &entries[..entries.len().min(PAGE as usize)];
    let base = html::site_path(&page.site.id, Nav::Activity);
    let next = shown.last().map(|last| {
        let filter = kind.as_deref().map(|k| format!("kind={k}&")).unwrap_or_default();
        format!("{base}?{filter}before={}", last.id)
    });
    let body = html! {
        form.inline method="get" action=(base) {
            label for="kind" { "Show" }
            select #kind name="kind" {
                option value="" { "Everything but ignored events" }
                @for (k, l) in KINDS { option value=(k) selected[kind.as_deref() == Some(k)] { (l) } }
            }
            button type="submit" { "Filter" }
        }
        @if shown.is_empty() { p #no-activity { "Nothing yet." } } @else { (table(&page.site.id, shown, "Activity, newest first")) }
        nav aria-label="Pages" {
            @if before != i64::MAX { a href=(base) { "Newest" } " " }
            @if more { @if let Some(next) = &next { a rel="next" href=(next) { "Older" } } }
        }
    };
    page.render(ctx, 200, Nav::Activity, "Activity", &body)
}
