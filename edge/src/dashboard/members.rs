//! Members: search by email, each member's grants and access timeline (which Stripe event or owner action, and
//! why), and manual grant and revoke with a reason (decided by latch-core's `manual`, recorded as activity).

use latch_core::engine::Grant;
use latch_core::manual;
use maud::html;
use worker::{Request, Response};

use crate::context::{Ctx, random_id};
use crate::dashboard::activity::{self, Entry};
use crate::dashboard::html::{self, Nav, csrf_field};
use crate::dashboard::{SitePage, form};
use crate::error::{ApiError, ApiResult};
use crate::grants;
use crate::store;

/// Members listed per search.
const LIMIT: i64 = 50;

/// What the dashboard says of a member whose email nobody proved (`latch_core::member`).
const UNVERIFIED: &str = "Not confirmed: bought without signing in";

/// `GET /dashboard/sites/{site}/members?q=`.
pub(crate) async fn list(ctx: &Ctx, req: &Request, page: &SitePage) -> ApiResult<Response> {
    let q = form::query(req, "q")?.unwrap_or_default();
    let pattern =
        format!("%{}%", q.trim().to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let members = store::search_members(&ctx.db, &page.site.id, &pattern, LIMIT).await?;
    let base = html::site_path(&page.site.id, Nav::Members);
    let body = html! {
        form.inline method="get" action=(base) role="search" {
            label for="q" { "Search by email" }
            " "
            input #q name="q" type="search" value=(q);
            " "
            button type="submit" { "Search" }
        }
        @if members.is_empty() { p #no-members { "No members found." } } @else {
            table #members {
                caption.visually-hidden { "Members" }
                thead { tr { th scope="col" { "Email" } th scope="col" { "Email confirmed" }
                             th scope="col" { "Member since" } } }
                tbody {
                    @for m in &members {
                        tr data-verified=(m.verified != 0) {
                            td { a href={ (base) "/" (m.id) } { (m.email) } }
                            td { @if m.verified != 0 { "Yes" } @else { (UNVERIFIED) } }
                            td { (html::time(m.created_at)) }
                        }
                    }
                }
            }
            @if members.len() as i64 == LIMIT { p.hint { "Showing the newest " (LIMIT) "; search to narrow down." } }
        }
    };
    page.render(ctx, 200, Nav::Members, "Members", &body)
}

struct Member {
    id: String,
    email: String,
    verified: bool,
    customers: Vec<String>,
    grants: Vec<Grant>,
}

async fn member(ctx: &Ctx, page: &SitePage, id: &str) -> ApiResult<Member> {
    let site = &page.site.id;
    let found = store::member(&ctx.db, site, id).await?.ok_or_else(|| ApiError::not_found("member"))?;
    let customers = store::customers_of_member(&ctx.db, site, id).await?;
    let grants = store::member_grants(&ctx.db, site, id)
        .await?
        .into_iter()
        .filter_map(|r| serde_json::from_str::<Grant>(&r.data).ok())
        .filter(|g| !g.product.is_empty())
        .collect();
    Ok(Member { id: found.id, email: found.email, verified: found.verified != 0, customers, grants })
}

/// `GET /dashboard/sites/{site}/members/{id}`.
pub(crate) async fn show(ctx: &Ctx, page: &SitePage, id: &str) -> ApiResult<Response> {
    show_with(ctx, page, id, 200, None).await
}

async fn show_with(ctx: &Ctx, page: &SitePage, id: &str, status: u16, error: Option<&str>) -> ApiResult<Response> {
    let m = member(ctx, page, id).await?;
    let customers_json = serde_json::to_string(&m.customers).map_err(ApiError::internal)?;
    let timeline: Vec<Entry> = store::customers_activity(&ctx.db, &page.site.id, &customers_json).await?;
    let products = store::products(&ctx.db, &page.site.id).await?;
    let base = format!("{}/{}", html::site_path(&page.site.id, Nav::Members), m.id);
    let csrf = page.session.csrf.as_str();
    let body = html! {
        @if let Some(error) = error { p.error role="alert" #member-error { (error) } }
        @if !m.verified {
            p.hint #unverified {
                (UNVERIFIED) ". The email was typed on Stripe's page and nobody has proved it yet, so this record "
                "stays apart from any other member. When " strong { (m.email) } " signs in with the code Latch "
                "emails them, what was bought here joins their account."
            }
        }
        section aria-labelledby="grants-heading" {
            h2 #grants-heading { "Access" }
            @if m.grants.is_empty() { p { "No access recorded." } } @else {
                table #grants {
                    caption.visually-hidden { "Access of " (m.email) }
                    thead { tr { th scope="col" { "Product" } th scope="col" { "Status" } th scope="col" { "From" }
                                th scope="col" { "Until" } th scope="col" { "Source" } th scope="col" { "Action" } } }
                    tbody {
                        @for g in &m.grants {
                            tr data-product=(g.product) data-active=(g.is_active(ctx.now)) {
                                td { (g.product) }
                                td { (g.status.as_str()) @if g.is_active(ctx.now) { " (has access)" } @else { " (no access)" } }
                                td { (html::time(g.starts_at)) }
                                td { @match g.ends_at { Some(end) => (html::time(end)), None => "no end" } }
                                td { code { (g.source) } }
                                td {
                                    @if manual::revocable(g, ctx.now) {
                                        form.inline method="post" action={ (base) "/revoke" } {
                                            (csrf_field(csrf))
                                            input type="hidden" name="source" value=(g.source);
                                            input type="hidden" name="product" value=(g.product);
                                            label for={ "revoke-reason-" (g.source) } { "Reason" }
                                            " "
                                            input type="text" id={ "revoke-reason-" (g.source) } name="reason" required;
                                            " "
                                            button type="submit" { "Revoke" }
                                        }
                                    } @else if g.is_active(ctx.now) { "Managed in Stripe" } @else { "—" }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !products.is_empty() {
            section aria-labelledby="grant-heading" {
                h2 #grant-heading { "Give access by hand" }
                form method="post" action={ (base) "/grant" } {
                    (csrf_field(csrf))
                    div.field {
                        label for="grant-product" { "Product" }
                        select #grant-product name="product" {
                            @for p in &products { option value=(p.slug) { (p.name) } }
                        }
                    }
                    (html::field_named("Days of access", "grant-days", "days", "number", "",
                        Some("Leave empty for access without an end"), None))
                    (html::field_named("Reason", "grant-reason", "reason", "text", "",
                        Some("Shown in the member's timeline"), None))
                    button type="submit" #grant { "Give access" }
                }
            }
        }
        section aria-labelledby="timeline-heading" {
            h2 #timeline-heading { "Timeline" }
            @if timeline.is_empty() { p { "Nothing yet." } } @else { (activity::table(&page.site.id, &timeline, "Timeline, newest first")) }
        }
    };
    page.render(ctx, status, Nav::Members, &format!("Member {}", m.email), &body)
}

/// `POST …/members/{id}/grant` `product, days, reason`.
pub(crate) async fn grant(ctx: &Ctx, req: &mut Request, page: &SitePage, id: &str) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let m = member(ctx, page, id).await?;
    let products = store::products(&ctx.db, &page.site.id).await?;
    let slugs: Vec<&str> = products.iter().map(|p| p.slug.as_str()).collect();
    let asked = manual::GrantForm { product: form.get("product"), days: form.get("days"), reason: form.get("reason") };
    let source = random_id("manual")?;
    let livemode = page.db_site.livemode(&ctx.config.stripe_key);
    let planned = match manual::grant_from_form(asked, &m.id, &m.customers, &slugs, &source, ctx.now, livemode) {
        Ok(planned) => planned,
        Err(e) => return show_with(ctx, page, id, 400, Some(&e.to_string())).await,
    };
    let mut statements = vec![
        grants::upsert_grant(ctx, &page.site.id, &planned.grant)?,
        grants::insert_activity(ctx, &page.site.id, &planned.activity, None)?,
    ];
    if let Some(customer) = &planned.link_customer {
        statements.push(store::link_customer(&ctx.db, &page.site.id, customer, &m.id)?);
    }
    store::batch(&ctx.db, statements).await?;
    html::redirect(ctx, &format!("{}/{}?done=access_granted", html::site_path(&page.site.id, Nav::Members), m.id), &[])
}

/// `POST …/members/{id}/revoke` `source, product, reason`.
pub(crate) async fn revoke(ctx: &Ctx, req: &mut Request, page: &SitePage, id: &str) -> ApiResult<Response> {
    let form = form::read(ctx, req, &page.session.binding).await?;
    let m = member(ctx, page, id).await?;
    let existing = m
        .grants
        .iter()
        .find(|g| g.source == form.get("source") && g.product == form.get("product"))
        .ok_or_else(|| ApiError::not_found("grant"))?;
    let (ended, entry) = match manual::revoke(existing, form.get("reason"), ctx.now) {
        Ok(done) => done,
        Err(e) => return show_with(ctx, page, id, 400, Some(&e.to_string())).await,
    };
    store::batch(
        &ctx.db,
        vec![
            grants::upsert_grant(ctx, &page.site.id, &ended)?,
            grants::insert_activity(ctx, &page.site.id, &entry, None)?,
        ],
    )
    .await?;
    html::redirect(ctx, &format!("{}/{}?done=access_revoked", html::site_path(&page.site.id, Nav::Members), m.id), &[])
}
