//! D1 access: every SQL statement the edge runs lives in this module, by table family. D1 is the source of truth.
//!
//! Functions take plain values (ids, values, `now`) and return plain rows, or prepared statements for the caller to
//! put in its batch ([`batch`], [`Store::run`]); they decide nothing (latch-core does). Nothing outside this module
//! writes SQL: the helpers that prepare and run SQL text ([`statement`], [`run`], [`rows`], [`row`]) are private to
//! it.

use serde::de::DeserializeOwned;
use std::cell::Cell;
use wasm_bindgen::JsValue;

use worker::{D1Database, D1PreparedStatement, D1Result};

mod codes;
mod connect;
#[cfg(feature = "dev")]
mod dev;
mod events;
mod fetches;
mod grants;
mod imports;
mod members;
mod outbox;
mod owners;
mod portal;
mod products;
mod sites;

pub(crate) use self::codes::*;
pub(crate) use self::connect::*;
#[cfg(feature = "dev")]
pub(crate) use self::dev::*;
pub(crate) use self::events::*;
pub(crate) use self::fetches::*;
pub(crate) use self::grants::*;
pub(crate) use self::imports::*;
pub(crate) use self::members::*;
pub(crate) use self::outbox::*;
pub(crate) use self::owners::*;
pub(crate) use self::portal::*;
pub(crate) use self::products::*;
pub(crate) use self::sites::*;

/// A bound SQL argument.
#[derive(Clone, Copy)]
enum Arg<'a> {
    /// TEXT.
    Text(&'a str),
    /// INTEGER (D1 carries numbers as JS doubles: exact up to 2^53).
    Int(i64),
    /// TEXT or NULL.
    OptText(Option<&'a str>),
    /// INTEGER or NULL.
    OptInt(Option<i64>),
}

impl From<&Arg<'_>> for JsValue {
    fn from(arg: &Arg<'_>) -> Self {
        match *arg {
            Arg::Text(s) | Arg::OptText(Some(s)) => Self::from_str(s),
            // D1 numbers are doubles; Latch's integers (timestamps, amounts) stay far below 2^53.
            #[allow(clippy::cast_precision_loss)]
            Arg::Int(i) | Arg::OptInt(Some(i)) => Self::from_f64(i as f64),
            Arg::OptText(None) | Arg::OptInt(None) => Self::NULL,
        }
    }
}

/// The D1 database as one request (or one background run) uses it. Every query goes through here, so the round trips
/// a request costs are counted (the `X-Latch-D1-Round-Trips` header of answers to the operator).
pub(crate) struct Store {
    d1: D1Database,
    round_trips: Cell<u32>,
}

impl Store {
    /// Wraps the `DB` binding.
    pub(crate) fn new(d1: D1Database) -> Self {
        Self { d1, round_trips: Cell::new(0) }
    }

    /// How many times this store went to D1 so far.
    pub(crate) fn round_trips(&self) -> u32 {
        self.round_trips.get()
    }

    fn trip(&self) {
        self.round_trips.set(self.round_trips.get() + 1);
    }

    /// Runs one statement that returns no rows.
    pub(crate) async fn run(&self, statement: D1PreparedStatement) -> worker::Result<D1Result> {
        self.trip();
        statement.run().await
    }

    /// Runs statements in one round trip, as one all-or-nothing transaction, and answers each one's result.
    pub(crate) async fn batch_results(&self, statements: Vec<D1PreparedStatement>) -> worker::Result<Vec<D1Result>> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        self.trip();
        let results = self.d1.batch(statements).await?;
        for result in &results {
            if let Some(err) = result.error() {
                return Err(worker::Error::RustError(err));
            }
        }
        Ok(results)
    }
}

/// Prepares `sql` with `args` bound in order.
fn statement(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<D1PreparedStatement> {
    let values: Vec<JsValue> = args.iter().map(JsValue::from).collect();
    db.d1.prepare(sql).bind(&values)
}

/// Runs one statement that returns no rows.
async fn run(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<D1Result> {
    db.run(statement(db, sql, args)?).await
}

/// Runs a query and deserializes every row.
async fn rows<T: DeserializeOwned>(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<Vec<T>> {
    let statement = statement(db, sql, args)?;
    db.trip();
    statement.all().await?.results()
}

/// Runs a query and deserializes the first row, if any.
async fn row<T: DeserializeOwned>(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<Option<T>> {
    let statement = statement(db, sql, args)?;
    db.trip();
    statement.first(None).await
}

/// Runs a query and answers whether it returned a row: an `UPDATE ... RETURNING` that matched (a claim taken), an
/// existence check.
async fn returns_row(db: &Store, sql: &str, args: &[Arg<'_>]) -> worker::Result<bool> {
    Ok(row::<serde_json::Value>(db, sql, args).await?.is_some())
}

/// Runs statements as one all-or-nothing batch.
pub(crate) async fn batch(db: &Store, statements: Vec<D1PreparedStatement>) -> worker::Result<()> {
    db.batch_results(statements).await.map(|_| ())
}

/// How many rows a statement changed (0 when D1 reports none).
fn changes(result: &D1Result) -> worker::Result<usize> {
    Ok(result.meta()?.and_then(|m| m.changes).unwrap_or(0))
}
