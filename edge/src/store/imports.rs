//! `import_jobs`: imports of a linked product's existing subscribers, one page per step, the cursor moving only
//! forward from the value a step read.

use serde::{Deserialize, Serialize};

use super::{Arg, Store, changes, row, rows, run};

/// An import job, as stored and as shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImportJob {
    /// `imp_...`
    pub(crate) id: String,
    /// Latch product slug.
    pub(crate) product: String,
    /// Stripe price being paged; `None` once done.
    pub(crate) price: Option<String>,
    /// Last subscription seen on that price.
    pub(crate) cursor: Option<String>,
    /// Active and trialing subscriptions applied.
    pub(crate) imported: i64,
    /// Subscriptions in other states, left to webhooks.
    pub(crate) skipped: i64,
    /// 1 once every price was paged through.
    pub(crate) done: i64,
    /// The last step's error, if it failed (resume to retry).
    pub(crate) error: Option<String>,
    /// Unix seconds.
    pub(crate) created_at: i64,
    /// Unix seconds of the last step.
    pub(crate) updated_at: i64,
}

const JOB_COLUMNS: &str = "id, product, price, cursor, imported, skipped, done, error, created_at, updated_at";

/// Records a new job of the product `slug` made at `now`, starting at `price` (`None`: nothing to page, done).
pub(crate) async fn insert_import_job(
    db: &Store,
    id: &str,
    site: &str,
    slug: &str,
    price: Option<&str>,
    now: i64,
) -> worker::Result<()> {
    run(
        db,
        "INSERT INTO import_jobs (id, site_id, product, price, done, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        &[
            Arg::Text(id),
            Arg::Text(site),
            Arg::Text(slug),
            Arg::OptText(price),
            Arg::Int(i64::from(price.is_none())),
            Arg::Int(now),
        ],
    )
    .await?;
    Ok(())
}

/// One job of a site.
pub(crate) async fn import_job(db: &Store, site: &str, id: &str) -> worker::Result<Option<ImportJob>> {
    row(
        db,
        &format!("SELECT {JOB_COLUMNS} FROM import_jobs WHERE site_id = ?1 AND id = ?2"),
        &[Arg::Text(site), Arg::Text(id)],
    )
    .await
}

/// A site's latest 50 jobs, newest first.
pub(crate) async fn import_jobs(db: &Store, site: &str) -> worker::Result<Vec<ImportJob>> {
    rows(
        db,
        &format!(
            "SELECT {JOB_COLUMNS} FROM import_jobs WHERE site_id = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 50"
        ),
        &[Arg::Text(site)],
    )
    .await
}

/// The site the job `id` belongs to, if there is such a job.
pub(crate) async fn site_of_import_job(db: &Store, id: &str) -> worker::Result<Option<String>> {
    #[derive(Deserialize)]
    struct SiteOf {
        site_id: String,
    }
    let row: Option<SiteOf> = row(db, "SELECT site_id FROM import_jobs WHERE id = ?1", &[Arg::Text(id)]).await?;
    Ok(row.map(|r| r.site_id))
}

/// Records the error of the job's last step at `now`.
pub(crate) async fn record_import_error(db: &Store, id: &str, error: &str, now: i64) -> worker::Result<()> {
    run(
        db,
        "UPDATE import_jobs SET error = ?2, updated_at = ?3 WHERE id = ?1",
        &[Arg::Text(id), Arg::Text(error), Arg::Int(now)],
    )
    .await?;
    Ok(())
}

/// Where a step leaves a job.
pub(crate) struct ImportProgress<'a> {
    /// The price to page next (`None`: done).
    pub(crate) price: Option<&'a str>,
    /// The cursor on it.
    pub(crate) cursor: Option<&'a str>,
    /// Subscriptions this step applied.
    pub(crate) imported: i64,
    /// Subscriptions this step left to webhooks.
    pub(crate) skipped: i64,
}

/// Moves the unfinished job `id` from where the step read it (`price`, `cursor`) to `progress` at `now`, clearing
/// its error; `false` when another step moved it first (or it is done).
pub(crate) async fn advance_import_job(
    db: &Store,
    id: &str,
    price: &str,
    cursor: Option<&str>,
    progress: &ImportProgress<'_>,
    now: i64,
) -> worker::Result<bool> {
    let moved = run(
        db,
        "UPDATE import_jobs SET price = ?2, cursor = ?3, imported = imported + ?4, skipped = skipped + ?5, done = ?6, \
         error = NULL, updated_at = ?7 WHERE id = ?1 AND price IS ?8 AND cursor IS ?9 AND done = 0",
        &[
            Arg::Text(id),
            Arg::OptText(progress.price),
            Arg::OptText(progress.cursor),
            Arg::Int(progress.imported),
            Arg::Int(progress.skipped),
            Arg::Int(i64::from(progress.price.is_none())),
            Arg::Int(now),
            Arg::Text(price),
            Arg::OptText(cursor),
        ],
    )
    .await?;
    Ok(changes(&moved)? != 0)
}
