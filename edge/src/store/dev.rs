//! `dev_clock`: the local stack's clock offset (`dev` builds only).

use serde::Deserialize;

use super::{Arg, Store, row, run};

/// The stored clock offset, if it was ever moved.
pub(crate) async fn dev_clock_offset(db: &Store) -> worker::Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Row {
        offset_secs: i64,
    }
    let row: Option<Row> = row(db, "SELECT offset_secs FROM dev_clock WHERE id = 1", &[]).await?;
    Ok(row.map(|r| r.offset_secs))
}

/// Sets the clock offset.
pub(crate) async fn set_dev_clock_offset(db: &Store, offset: i64) -> worker::Result<()> {
    run(
        db,
        "INSERT INTO dev_clock (id, offset_secs) VALUES (1, ?1) \
         ON CONFLICT (id) DO UPDATE SET offset_secs = excluded.offset_secs",
        &[Arg::Int(offset)],
    )
    .await?;
    Ok(())
}
