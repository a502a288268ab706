//! Carries out the access engine's decisions: load the scope's grants from D1, call `latch_core::engine::apply`,
//! and write the new rows, the activity entries, the member links, the notification emails (outbox), the
//! re-fetches the engine asks for (`pending_fetches`, performed after the answer by [`crate::fetches`]) and the
//! processed event id in one D1 batch.

use std::collections::BTreeMap;

use latch_core::engine::{self, AccessState, Activity, Catalog, Effect, Grant, Input, ProductPolicy, Transition};
use latch_core::member;
use latch_core::notify::{self, Audience};
use serde::Serialize;
use worker::D1PreparedStatement;

use crate::context::Ctx;
use crate::db::{self, Arg, Site};
use crate::error::{ApiError, ApiResult};
use crate::{fetches, outbox, owners};

/// One product a member can see now.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct AccessItem {
    /// Product slug.
    pub(crate) product: String,
    /// When access ends; `None` for lifetime.
    pub(crate) ends_at: Option<i64>,
}

fn parse_grants(rows: Vec<db::GrantRow>) -> ApiResult<Vec<Grant>> {
    rows.into_iter()
        .map(|r| serde_json::from_str(&r.data).map_err(|e| ApiError::internal(format!("stored grant unreadable: {e}"))))
        .collect()
}

/// The products a member can see at `ctx.now`, one entry per product (the longest-lasting grant wins).
pub(crate) async fn member_access(ctx: &Ctx, site: &str, member: &str) -> ApiResult<Vec<AccessItem>> {
    let grants = parse_grants(db::member_grants(&ctx.db, site, member).await?)?;
    let mut by_product: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for g in grants.into_iter().filter(|g| g.is_active(ctx.now)) {
        let entry = by_product.entry(g.product).or_insert(g.ends_at);
        *entry = match (*entry, g.ends_at) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.max(b)),
        };
    }
    Ok(by_product.into_iter().map(|(product, ends_at)| AccessItem { product, ends_at }).collect())
}

/// A product's stored policy overrides (`products.policy`, a JSON object; anything else reads as none).
pub(crate) fn policy_overrides(stored: &str) -> serde_json::Map<String, serde_json::Value> {
    match serde_json::from_str(stored) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

/// The site's catalog for the engine: each product's stored policy over the defaults.
pub(crate) async fn catalog(ctx: &Ctx, site: &Site) -> ApiResult<Catalog> {
    let products = db::products(&ctx.db, &site.id)
        .await?
        .into_iter()
        .map(|p| {
            ProductPolicy::with_overrides(&p.slug, &p.stripe_product, &policy_overrides(&p.policy)).unwrap_or_else(
                |e| {
                    worker::console_warn!("product {} has an unreadable policy ({e}); using the defaults", p.slug);
                    ProductPolicy::new(&p.slug, &p.stripe_product)
                },
            )
        })
        .collect();
    Ok(Catalog {
        products,
        livemode: site.livemode(&ctx.config.stripe_key),
        site: Some(site.id.clone()),
        account: site.event_account(),
    })
}

/// Where an input came from, for the activity feed, idempotency and what follows from it.
pub(crate) struct Origin<'a> {
    /// The Stripe event id, when the input is a webhook event.
    pub(crate) event_id: Option<&'a str>,
    /// The event type (or `claim`, `fetch`, `import`), recorded with a processed event.
    pub(crate) kind: &'a str,
    /// What caused the input, unique per cause (the event id, the checkout session of a claim, the fetch job):
    /// derives the ids of the emails and fetches it queues, so a replay queues nothing twice.
    pub(crate) cause: &'a str,
    /// How many re-fetches deep this input is (0 for events, claims and imports).
    pub(crate) round: i64,
    /// Whether the engine's notifications become emails (imports of existing subscribers stay quiet).
    pub(crate) notify: bool,
}

/// Applies one input for `site`: loads the scope, runs the engine, and writes everything in one batch (plus
/// `extra` statements), including the emails and the re-fetches it causes. Those fetches run after the answer
/// (the shell's `wait_until`, or the cron trigger).
pub(crate) async fn apply(
    ctx: &Ctx,
    site: &Site,
    catalog: &Catalog,
    input: Input<'_>,
    origin: &Origin<'_>,
    mut statements: Vec<D1PreparedStatement>,
) -> ApiResult<Transition> {
    let scope = engine::scope(&input);
    let loaded = if scope.is_empty() {
        Vec::new()
    } else {
        parse_grants(db::scoped_grants(&ctx.db, &site.id, scope.customer.as_deref(), &scope.sources).await?)?
    };
    let transition = engine::apply(&input, &AccessState { grants: loaded }, catalog, ctx.now);

    for grant in &transition.state.grants {
        statements.push(upsert_grant(ctx, &site.id, grant)?);
    }
    // The buyer's customer gets its member (`latch_core::member`): never by the email typed on Stripe's page.
    if let Some(buyer) = engine::buyer(&input, &transition) {
        let plan = member::link_purchase(&site.id, &buyer.customer, &buyer.email, buyer.member.as_deref());
        statements.extend(db::link_purchase(&ctx.db, &site.id, &plan, ctx.now)?);
    }
    for activity in transition.activities() {
        statements.push(insert_activity(ctx, &site.id, activity, origin.event_id)?);
    }
    if let Some(event_id) = origin.event_id {
        statements.push(db::mark_event_processed(&ctx.db, event_id, Some(&site.id), origin.kind, ctx.now)?);
    }
    statements.extend(fetches::queue(ctx, &site.id, &transition, origin.cause, origin.round)?);
    if origin.notify {
        statements.extend(notifications(ctx, site, &transition, origin.cause).await?);
    }
    db::batch(&ctx.db, statements).await?;
    Ok(transition)
}

/// Statement recording an activity entry (from a Stripe event when `event_id` is given).
pub(crate) fn insert_activity(
    ctx: &Ctx,
    site: &str,
    activity: &Activity,
    event_id: Option<&str>,
) -> ApiResult<D1PreparedStatement> {
    let kind = serde_json::to_value(activity.kind).map_err(ApiError::internal)?;
    Ok(db::statement(
        &ctx.db,
        "INSERT INTO activity (site_id, kind, customer, product, stripe_object, event_id, reason, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[
            Arg::Text(site),
            Arg::Text(kind.as_str().unwrap_or("unknown")),
            Arg::OptText(activity.customer.as_deref()),
            Arg::OptText(activity.product.as_deref()),
            Arg::Text(&activity.stripe_object),
            Arg::OptText(event_id),
            Arg::Text(&activity.reason),
            Arg::Int(ctx.now),
        ],
    )?)
}

/// Statement upserting a grant row (`db::upsert_grant`, which holds the engine's ordering under concurrent writers).
pub(crate) fn upsert_grant(ctx: &Ctx, site: &str, grant: &Grant) -> ApiResult<D1PreparedStatement> {
    let data = serde_json::to_string(grant).map_err(ApiError::internal)?;
    Ok(db::upsert_grant(&ctx.db, site, grant, &data, ctx.now)?)
}

/// Outbox statements for the engine's notifications, each rendered by latch-core, in the batch of the change they
/// report. The recipient is the email the source told, else the member owning the customer: known now, or linked
/// later by the checkout or claim (a subscription event often comes first), when the held email is addressed.
/// Owner notifications go to every owner of the site (none for an operator-made site without owners: logged).
async fn notifications(
    ctx: &Ctx,
    site: &Site,
    transition: &Transition,
    cause: &str,
) -> ApiResult<Vec<D1PreparedStatement>> {
    let notes: Vec<_> = transition
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify(n) => Some(n),
            _ => None,
        })
        .collect();
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    let site_name = db::site_name(&ctx.db, &site.id).await?.unwrap_or_else(|| site.id.clone());
    let products = db::products(&ctx.db, &site.id).await?;
    let mut statements = Vec::new();
    for n in notes {
        let product = n.product.as_deref().and_then(|slug| products.iter().find(|p| p.slug == slug));
        let email = notify::render(n, &site_name, product.map(|p| p.name.as_str()));
        if notify::audience(n.kind) == Audience::Owner {
            let owners = owners::emails_of_site(ctx, &site.id).await?;
            if owners.is_empty() {
                worker::console_log!(
                    "{} for site {} not emailed: the site has no owner",
                    notify::kind_name(n.kind),
                    site.id
                );
            }
            for to in owners {
                let row = outbox::Email { site: Some(&site.id), to: &to, subject: &email.subject, text: &email.text };
                statements.push(outbox::enqueue(&ctx.db, &notify::outbox_id(cause, n, &to), &row, ctx.now)?);
                ctx.mail_pending.set(true);
            }
            continue;
        }
        // An `email:` customer key (no Stripe customer) is the address itself.
        let told = n.email.as_deref().or_else(|| n.customer.as_deref().and_then(|c| c.strip_prefix("email:")));
        let statement = match (told.and_then(|e| latch_core::validate::email(e).ok()), n.customer.as_deref()) {
            (Some(to), _) => {
                let row = outbox::Email { site: Some(&site.id), to: &to, subject: &email.subject, text: &email.text };
                outbox::enqueue(&ctx.db, &notify::outbox_id(cause, n, &to), &row, ctx.now)?
            }
            (None, Some(customer)) => outbox::enqueue_for_customer(
                &ctx.db,
                &notify::outbox_id(cause, n, &format!("customer:{customer}")),
                &site.id,
                customer,
                &email.subject,
                &email.text,
                ctx.now,
            )?,
            (None, None) => {
                worker::console_warn!("{} not emailed: it names no customer", notify::kind_name(n.kind));
                continue;
            }
        };
        statements.push(statement);
        ctx.mail_pending.set(true);
    }
    Ok(statements)
}
