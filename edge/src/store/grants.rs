//! `grants` and `activity`: the engine's grants (the upsert that holds its order under racing writers), the
//! activity entries written with them, and what the dashboard reads of both.

use latch_core::engine::{Activity, Grant};
use serde::Deserialize;
use worker::D1PreparedStatement;

use super::{Arg, Store, row, rows, statement};

/// A stored grant: the engine's grant as JSON.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GrantRow {
    /// The engine's grant, serialized.
    pub(crate) data: String,
}

/// The grant upsert, which holds the engine's ordering in the database too, so two requests racing between load and
/// write cannot undo each other: a row in a final status (`GrantStatus::FINAL`: canceled, expired, dispute
/// lost, revoked) is never replaced; a final row replaces any other whatever its version; otherwise the newer Stripe
/// version wins, and at an equal version a re-fetched row outranks an event's. Arguments: site, customer, product,
/// source, status, ends_at, the grant as JSON, now.
pub(crate) fn upsert_grant_sql() -> String {
    let finals = latch_core::engine::GrantStatus::FINAL.map(|s| format!("'{}'", s.as_str())).join(", ");
    format!(
        "INSERT INTO grants (site_id, customer, product, source, status, ends_at, data, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         ON CONFLICT (site_id, customer, product, source) DO UPDATE SET \
           status = excluded.status, ends_at = excluded.ends_at, data = excluded.data, updated_at = excluded.updated_at \
         WHERE grants.status NOT IN ({finals}) AND (excluded.status IN ({finals}) OR \
           (json_extract(excluded.data, '$.version'), coalesce(json_extract(excluded.data, '$.fetched'), 0)) \
           >= (json_extract(grants.data, '$.version'), coalesce(json_extract(grants.data, '$.fetched'), 0)))"
    )
}

/// Statement upserting `grant` (serialized as `data`) for `site` ([`upsert_grant_sql`]).
pub(crate) fn upsert_grant(
    db: &Store,
    site: &str,
    grant: &Grant,
    data: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        &upsert_grant_sql(),
        &[
            Arg::Text(site),
            Arg::Text(&grant.customer),
            Arg::Text(&grant.product),
            Arg::Text(&grant.source),
            Arg::Text(grant.status.as_str()),
            Arg::OptInt(grant.ends_at),
            Arg::Text(data),
            Arg::Int(now),
        ],
    )
}

/// Grants of a member across all their customers.
pub(crate) async fn member_grants(db: &Store, site: &str, member: &str) -> worker::Result<Vec<GrantRow>> {
    rows(
        db,
        "SELECT g.data FROM grants g JOIN member_customers mc ON mc.site_id = g.site_id AND mc.customer = g.customer \
         WHERE g.site_id = ?1 AND mc.member_id = ?2",
        &[Arg::Text(site), Arg::Text(member)],
    )
    .await
}

/// Every grant row of the product `slug` of a site.
pub(crate) async fn product_grants(db: &Store, site: &str, slug: &str) -> worker::Result<Vec<GrantRow>> {
    rows(db, "SELECT data FROM grants WHERE site_id = ?1 AND product = ?2", &[Arg::Text(site), Arg::Text(slug)]).await
}

/// A grant with the member its customer is linked to, if any.
#[derive(Deserialize)]
pub(crate) struct GrantOfMember {
    /// The engine's grant, serialized.
    pub(crate) data: String,
    /// The member of the grant's customer.
    pub(crate) member_id: Option<String>,
}

/// The grants of a site that have no end or end after `now` (a superset of the active ones), each with its
/// customer's member.
pub(crate) async fn grants_not_ended(db: &Store, site: &str, now: i64) -> worker::Result<Vec<GrantOfMember>> {
    rows(
        db,
        "SELECT g.data, mc.member_id FROM grants g LEFT JOIN member_customers mc \
           ON mc.site_id = g.site_id AND mc.customer = g.customer \
         WHERE g.site_id = ?1 AND (g.ends_at IS NULL OR g.ends_at > ?2)",
        &[Arg::Text(site), Arg::Int(now)],
    )
    .await
}

/// Statement recording an activity entry of kind `kind` (`activity.kind`'s name) at `now`, from the Stripe event
/// `event_id` when given.
pub(crate) fn insert_activity(
    db: &Store,
    site: &str,
    kind: &str,
    activity: &Activity,
    event_id: Option<&str>,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO activity (site_id, kind, customer, product, stripe_object, event_id, reason, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[
            Arg::Text(site),
            Arg::Text(kind),
            Arg::OptText(activity.customer.as_deref()),
            Arg::OptText(activity.product.as_deref()),
            Arg::Text(&activity.stripe_object),
            Arg::OptText(event_id),
            Arg::Text(&activity.reason),
            Arg::Int(now),
        ],
    )
}

/// Statement recording a "Payment method updated" entry for the SetupIntent `setup_intent`, unless the site has one
/// for it already (one atomic statement, so two runs of the job record it once).
pub(crate) fn insert_payment_method_updated(
    db: &Store,
    site: &str,
    customer: Option<&str>,
    setup_intent: &str,
    reason: &str,
    now: i64,
) -> worker::Result<D1PreparedStatement> {
    statement(
        db,
        "INSERT INTO activity (site_id, kind, customer, product, stripe_object, event_id, reason, created_at) \
         SELECT ?1, 'payment_method_updated', ?2, NULL, ?3, NULL, ?4, ?5 WHERE NOT EXISTS \
         (SELECT 1 FROM activity WHERE site_id = ?1 AND kind = 'payment_method_updated' AND stripe_object = ?3)",
        &[Arg::Text(site), Arg::OptText(customer), Arg::Text(setup_intent), Arg::Text(reason), Arg::Int(now)],
    )
}

/// One activity entry.
#[derive(Debug, Deserialize)]
pub(crate) struct ActivityEntry {
    /// Row id (pagination cursor).
    pub(crate) id: i64,
    /// `ActivityKind` name.
    pub(crate) kind: String,
    /// Product slug, if known.
    pub(crate) product: Option<String>,
    /// Stripe object it came from.
    pub(crate) stripe_object: Option<String>,
    /// Stripe event id, if it came from a webhook.
    pub(crate) event_id: Option<String>,
    /// Why, in words.
    pub(crate) reason: String,
    /// Unix seconds.
    pub(crate) created_at: i64,
    /// The member the entry's customer belongs to, when known (the feed links to their page).
    #[serde(default)]
    pub(crate) member: Option<String>,
}

/// Up to `limit` entries of a site older than the entry `before` (by id), newest first: of kind `kind` if given,
/// else of every kind but `ignored` (events that changed nothing are shown only when asked for).
pub(crate) async fn activity_page(
    db: &Store,
    site: &str,
    kind: Option<&str>,
    before: i64,
    limit: i64,
) -> worker::Result<Vec<ActivityEntry>> {
    rows(
        db,
        "SELECT a.id, a.kind, a.product, a.stripe_object, a.event_id, a.reason, a.created_at, mc.member_id AS member \
         FROM activity a LEFT JOIN member_customers mc ON mc.site_id = a.site_id AND mc.customer = a.customer \
         WHERE a.site_id = ?1 AND coalesce(a.kind = ?2, a.kind != 'ignored') AND a.id < ?3 ORDER BY a.id DESC LIMIT ?4",
        &[Arg::Text(site), Arg::OptText(kind), Arg::Int(before), Arg::Int(limit)],
    )
    .await
}

/// The newest 100 entries of a site about any of `customers` (a JSON array), newest first.
pub(crate) async fn customers_activity(db: &Store, site: &str, customers: &str) -> worker::Result<Vec<ActivityEntry>> {
    rows(
        db,
        "SELECT id, kind, product, stripe_object, event_id, reason, created_at FROM activity \
         WHERE site_id = ?1 AND customer IN (SELECT value FROM json_each(?2)) ORDER BY id DESC LIMIT 100",
        &[Arg::Text(site), Arg::Text(customers)],
    )
    .await
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// Payment failures recorded for a site after `since`.
pub(crate) async fn failed_payments_since(db: &Store, site: &str, since: i64) -> worker::Result<i64> {
    let count: Option<Count> = row(
        db,
        "SELECT COUNT(*) AS n FROM activity WHERE site_id = ?1 AND kind = 'payment_failed' AND created_at > ?2",
        &[Arg::Text(site), Arg::Int(since)],
    )
    .await?;
    Ok(count.map_or(0, |c| c.n))
}

/// Subscription cancellations recorded for a site from `since` on.
pub(crate) async fn cancellations_since(db: &Store, site: &str, since: i64) -> worker::Result<i64> {
    let count: Option<Count> = row(
        db,
        "SELECT COUNT(*) AS n FROM activity WHERE site_id = ?1 AND kind = 'subscription_cancelled' AND created_at >= ?2",
        &[Arg::Text(site), Arg::Int(since)],
    )
    .await?;
    Ok(count.map_or(0, |c| c.n))
}

/// The store's SQL run natively against SQLite (what D1 is) with every migration applied: the statements whose
/// behaviour under concurrent writers cannot be provoked through the local stack, which serializes requests.
#[cfg(all(test, not(target_arch = "wasm32")))]
mod sql_tests {
    use latch_core::engine::{Grant, GrantStatus};
    use rusqlite::{Connection, params};

    fn database() -> Connection {
        let db = Connection::open_in_memory().expect("sqlite");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<_> =
            std::fs::read_dir(&dir).expect("migrations").map(|e| e.expect("entry").path()).collect();
        files.sort();
        for file in files {
            db.execute_batch(&std::fs::read_to_string(&file).expect("migration")).expect("apply migration");
        }
        db.execute("INSERT INTO sites (id, name, created_at) VALUES ('site_a', 'A', 0)", []).expect("site");
        db
    }

    fn grant(status: GrantStatus, version: i64, fetched: bool) -> Grant {
        Grant {
            customer: "cus_1".into(),
            product: "pro".into(),
            source: "sub_1".into(),
            livemode: false,
            status,
            starts_at: 0,
            ends_at: Some(1000 + version),
            version,
            email: None,
            dispute: None,
            fetched,
            paid_through: None,
            subscription_status: None,
            period_end: None,
        }
    }

    /// Writes `g` through the real upsert, as a request that loaded an older state would.
    fn write(db: &Connection, g: &Grant) {
        let data = serde_json::to_string(g).expect("json");
        db.execute(
            &super::upsert_grant_sql(),
            params!["site_a", g.customer, g.product, g.source, g.status.as_str(), g.ends_at, data, 0],
        )
        .expect("upsert");
    }

    fn stored(db: &Connection) -> GrantStatus {
        let status: String =
            db.query_row("SELECT status FROM grants WHERE source = 'sub_1'", [], |r| r.get(0)).expect("row");
        GrantStatus::parse(&status).expect("status")
    }

    /// Each pair of writes, in both orders, as two requests that both loaded the state before either wrote.
    #[test]
    fn racing_writers_keep_the_engines_order() {
        use GrantStatus::{Active, Canceled, DisputeLost, PastDue, Refunded, Revoked};
        // (first written, then written, what must be stored whichever order the two land in)
        let cases = [
            (grant(Canceled, 100, false), grant(Active, 100, false), Canceled),
            (grant(Canceled, 100, false), grant(Active, 200, true), Canceled),
            (grant(DisputeLost, 50, false), grant(Active, 300, false), DisputeLost),
            // A refund is not final (it can fail): the newer news wins either way.
            (grant(Refunded, 200, false), grant(Active, 100, false), Refunded),
            (grant(Refunded, 200, false), grant(Active, 200, true), Active),
            (grant(Revoked, 100, false), grant(PastDue, 100, true), Revoked),
            (grant(Active, 200, false), grant(PastDue, 100, false), Active),
            (grant(PastDue, 100, true), grant(Active, 100, false), PastDue),
        ];
        for (a, b, want) in cases {
            for (first, second) in [(&a, &b), (&b, &a)] {
                let db = database();
                write(&db, first);
                write(&db, second);
                assert_eq!(
                    stored(&db),
                    want,
                    "{:?}@{} then {:?}@{}",
                    first.status,
                    first.version,
                    second.status,
                    second.version
                );
            }
        }
        // A newer event replaces an older one, and a write of the same row again changes nothing.
        let db = database();
        write(&db, &grant(Active, 100, false));
        write(&db, &grant(PastDue, 101, false));
        write(&db, &grant(PastDue, 101, false));
        assert_eq!(stored(&db), PastDue);
    }
}
