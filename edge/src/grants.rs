//! Carries out the access engine's plans: one D1 batch reads what latch-core names, `latch_core::plan::apply` (or
//! `latch_core::delivery::plan` for a webhook) decides, and one batch writes the new rows, the activity entries, the
//! member links, the notification emails (outbox) and the re-fetches (`pending_fetches`, performed after the
//! answer by `fetches.rs`, which applies what they fetch through [`apply`]).

use latch_core::catalog::{self, SiteFacts};
use latch_core::engine::{self, Access, Activity, Grant, Input};
use latch_core::plan::{self, Loaded, Origin, Recipient, Writes};
use worker::D1PreparedStatement;

use crate::context::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Site};

/// The products a member can see at `ctx.now` (`latch_core::engine::access_list`).
pub(crate) async fn member_access(ctx: &Ctx, site: &str, member: &str) -> ApiResult<Vec<Access>> {
    let grants = store::member_grants(&ctx.db, site, member)
        .await?
        .into_iter()
        .map(|r| serde_json::from_str(&r.data))
        .collect::<Result<Vec<Grant>, _>>()
        .map_err(|e| ApiError::internal(format!("stored grant unreadable: {e}")))?;
    Ok(engine::access_list(&grants, ctx.now))
}

/// Applies one input for `site` (a claim's, a re-fetch's or an import's fetched object): reads the scope in one
/// batch, lets latch-core plan everything (`latch_core::plan::apply`) and writes it in one batch with `statements`.
/// The fetches and emails it queues run after the answer (the shell's `wait_until`, or the cron trigger).
pub(crate) async fn apply(
    ctx: &Ctx,
    site: &Site,
    input: Input<'_>,
    origin: Origin<'_>,
    mut statements: Vec<D1PreparedStatement>,
) -> ApiResult<()> {
    let read = store::engine_reads(&ctx.db, &site.id, &engine::scope(&input)).await?;
    let facts = SiteFacts {
        id: site.id.clone(),
        livemode: site.livemode(&ctx.config.stripe_key),
        account: site.event_account(),
    };
    let (catalog, warnings) = catalog::engine_catalog(&facts, &read.products);
    let loaded = Loaded {
        site: &site.id,
        site_name: &read.name,
        catalog: &catalog,
        products: &read.products,
        grants: &read.grants,
        owners: &read.owners,
    };
    let mut writes = plan::apply(&input, loaded, origin, ctx.now);
    writes.log.extend(warnings);
    statements.extend(write(ctx, &site.id, &writes, None)?);
    store::batch(&ctx.db, statements).await?;
    Ok(())
}

/// The statements carrying out an input's [`Writes`] for `site` (activity from the event `event_id`, if any), and
/// the shell told to run the fetches and emails after the answer.
pub(crate) fn write(
    ctx: &Ctx,
    site: &str,
    writes: &Writes,
    event_id: Option<&str>,
) -> ApiResult<Vec<D1PreparedStatement>> {
    for line in &writes.log {
        worker::console_warn!("{line}");
    }
    let mut statements = Vec::new();
    for grant in &writes.grants {
        statements.push(upsert_grant(ctx, site, grant)?);
    }
    if let Some(link) = &writes.link {
        statements.extend(store::link_purchase(&ctx.db, site, link, ctx.now)?);
    }
    for activity in &writes.activities {
        statements.push(insert_activity(ctx, site, activity, event_id)?);
    }
    for job in &writes.fetches {
        statements.push(store::queue_fetch(&ctx.db, site, job, ctx.now)?);
        ctx.fetch_pending.set(true);
    }
    for email in &writes.emails {
        statements.push(match &email.to {
            Recipient::Address(to) => {
                let row = store::Email { site: Some(site), to, subject: &email.subject, text: &email.text };
                store::enqueue(&ctx.db, &email.id, &row, ctx.now)?
            }
            Recipient::MemberOfCustomer(customer) => {
                store::enqueue_for_customer(&ctx.db, &email.id, site, customer, &email.subject, &email.text, ctx.now)?
            }
        });
        ctx.mail_pending.set(true);
    }
    Ok(statements)
}

/// Statement recording an activity entry (from a Stripe event when `event_id` is given).
pub(crate) fn insert_activity(
    ctx: &Ctx,
    site: &str,
    activity: &Activity,
    event_id: Option<&str>,
) -> ApiResult<D1PreparedStatement> {
    let kind = serde_json::to_value(activity.kind).map_err(ApiError::internal)?;
    let kind = kind.as_str().unwrap_or("unknown");
    Ok(store::insert_activity(&ctx.db, site, kind, activity, event_id, ctx.now)?)
}

/// Statement upserting a grant row (`store::upsert_grant`, which holds the engine's ordering under concurrent writers).
pub(crate) fn upsert_grant(ctx: &Ctx, site: &str, grant: &Grant) -> ApiResult<D1PreparedStatement> {
    let data = serde_json::to_string(grant).map_err(ApiError::internal)?;
    Ok(store::upsert_grant(&ctx.db, site, grant, &data, ctx.now)?)
}
