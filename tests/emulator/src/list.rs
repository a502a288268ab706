//! Stripe list responses: newest first, `limit` (1..=100, default 10), `starting_after` / `ending_before`.

use crate::error::{ApiError, ApiResult};
use crate::events::public;
use crate::objects;
use crate::params::Params;
use serde_json::Value;

/// Pages `items` (already filtered, newest first) as Stripe does, for a list at `url`.
pub fn page<'a>(items: impl Iterator<Item = &'a Value>, params: &Params, url: &str) -> ApiResult<Value> {
    let limit = match params.int("limit")? {
        None => 10,
        Some(n) if (1..=100).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::invalid(
                "parameter_invalid_integer",
                format!("Invalid limit: must be between 1 and 100 (it currently is '{n}')."),
                Some("limit"),
            ));
        }
    };
    let starting_after = params.nonempty("starting_after")?;
    let ending_before = params.nonempty("ending_before")?;
    let all: Vec<&Value> = items.collect();
    let find = |id: &str, param: &str| -> ApiResult<usize> {
        all.iter().position(|v| v["id"] == id).ok_or_else(|| {
            let what = crate::store::Kind::of_id(id).map_or("object", |k| k.label());
            // A cursor naming no object is answered like a missing URL id.
            ApiError { status: 404, ..ApiError::missing(what, id, param) }
        })
    };
    let (slice, has_more): (Vec<&Value>, bool) = if let Some(id) = starting_after {
        let start = find(&id, "starting_after")? + 1;
        let rest = &all[start.min(all.len())..];
        (rest.iter().take(limit).copied().collect(), rest.len() > limit)
    } else if let Some(id) = ending_before {
        let end = find(&id, "ending_before")?;
        let before = &all[..end];
        let from = before.len().saturating_sub(limit);
        (before[from..].to_vec(), from > 0)
    } else {
        (all.iter().take(limit).copied().collect(), all.len() > limit)
    };
    Ok(objects::list(url, slice.into_iter().map(public).collect(), has_more))
}

/// Applies `created` filters (`created=N` or `created[gte|gt|lte|lt]=N`) to an object.
pub fn created_matches(params: &Params, obj: &Value) -> ApiResult<bool> {
    let created = obj["created"].as_i64().unwrap_or(0);
    if let Some(sub) = params.sub("created")? {
        for (op, ok) in [("gt", 1), ("gte", 2), ("lt", 3), ("lte", 4)] {
            if let Some(n) = sub.int(op)? {
                let pass = match ok {
                    1 => created > n,
                    2 => created >= n,
                    3 => created < n,
                    _ => created <= n,
                };
                if !pass {
                    return Ok(false);
                }
            }
        }
        return Ok(true);
    }
    Ok(params.int("created")?.is_none_or(|n| n == created))
}
