//! Typed access to parsed request parameters, with Stripe's error messages naming the parameter.

use crate::error::{ApiError, ApiResult};
use serde_json::{Map, Value};

/// Stripe's metadata limits: keys per object, characters per key, characters per value.
const METADATA_KEYS: usize = 50;
const METADATA_KEY_CHARS: usize = 40;
const METADATA_VALUE_CHARS: usize = 500;

/// Request parameters (form body merged with the query string), possibly a nested hash like `recurring`.
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: Map<String, Value>,
    prefix: String,
}

impl Params {
    /// Wraps a parsed top-level parameter map.
    pub fn new(map: Map<String, Value>) -> Self {
        Self { map, prefix: String::new() }
    }

    /// The raw map.
    pub fn raw(&self) -> &Map<String, Value> {
        &self.map
    }

    /// The name of `key` as the client wrote it (`recurring[interval]`).
    pub fn name(&self, key: &str) -> String {
        if self.prefix.is_empty() { key.to_string() } else { format!("{}[{key}]", self.prefix) }
    }

    /// Whether a parameter was sent.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// Rejects parameters Stripe would not accept on this endpoint (`expand` is always allowed).
    pub fn allow(&self, known: &[&str]) -> ApiResult<()> {
        for k in self.map.keys() {
            if k != "expand" && !known.contains(&k.as_str()) {
                return Err(ApiError::param_unknown(&self.name(k)));
            }
        }
        Ok(())
    }

    /// Rejects what a list endpoint would not accept: its `filters` besides paging (`limit`, `starting_after`,
    /// `ending_before`), `created` and `expand`.
    pub fn allow_list(&self, filters: &[&str]) -> ApiResult<()> {
        let paging = ["limit", "starting_after", "ending_before", "created"];
        let known: Vec<&str> = paging.iter().chain(filters).copied().collect();
        self.allow(&known)
    }

    /// An optional string parameter.
    pub fn str(&self, key: &str) -> ApiResult<Option<String>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(
                "parameter_invalid_string",
                format!("Invalid string: {} must be a string, not a hash or array.", self.name(key)),
                Some(&self.name(key)),
            )),
        }
    }

    /// An optional string parameter where the empty string counts as absent.
    pub fn nonempty(&self, key: &str) -> ApiResult<Option<String>> {
        Ok(self.str(key)?.filter(|s| !s.is_empty()))
    }

    /// A required, non-empty string parameter.
    pub fn req_str(&self, key: &str) -> ApiResult<String> {
        self.nonempty(key)?.ok_or_else(|| ApiError::param_missing(&self.name(key)))
    }

    /// An optional integer parameter.
    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.str(key)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                ApiError::invalid("parameter_invalid_integer", format!("Invalid integer: {s}"), Some(&self.name(key)))
            }),
        }
    }

    /// An optional non-negative integer parameter.
    pub fn uint(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.int(key)? {
            Some(n) if n < 0 => Err(ApiError::invalid(
                "parameter_invalid_integer",
                format!("This value must be greater than or equal to 0 (it currently is '{n}')."),
                Some(&self.name(key)),
            )),
            other => Ok(other),
        }
    }

    /// An optional amount in minor units (0..=99,999,999, Stripe's limit).
    pub fn amount(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.uint(key)? {
            Some(n) if n > 99_999_999 => Err(ApiError::invalid(
                "parameter_invalid_integer",
                format!("This value must be less than or equal to 99999999 (it currently is '{n}')."),
                Some(&self.name(key)),
            )),
            other => Ok(other),
        }
    }

    /// An optional boolean parameter (`true` / `false`).
    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.str(key)?.as_deref() {
            None | Some("") => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(other) => Err(ApiError::invalid(
                "parameter_invalid_boolean",
                format!("Invalid boolean: {other}"),
                Some(&self.name(key)),
            )),
        }
    }

    /// An optional string parameter restricted to `allowed` values.
    pub fn one_of(&self, key: &str, allowed: &[&str]) -> ApiResult<Option<String>> {
        match self.nonempty(key)? {
            None => Ok(None),
            Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
            Some(v) => Err(ApiError::bad(
                format!("Invalid {}: must be one of {} (got '{v}')", self.name(key), allowed.join(", ")),
                Some(&self.name(key)),
            )),
        }
    }

    /// A nested hash parameter (`recurring[...]`), or `None` when absent or sent empty.
    pub fn sub(&self, key: &str) -> ApiResult<Option<Self>> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Self { map: m.clone(), prefix: self.name(key) })),
            Some(_) => {
                Err(ApiError::bad(format!("Invalid object: {} must be a hash.", self.name(key)), Some(&self.name(key))))
            }
        }
    }

    /// An array parameter (`expand[]`, `line_items[0][...]`); a single string counts as a one-element list.
    pub fn list(&self, key: &str) -> ApiResult<Vec<Value>> {
        match self.map.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(a)) => Ok(a.clone()),
            Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![Value::String(s.clone())]),
            Some(_) => Err(ApiError::bad(
                format!("Invalid array: {} must be an array.", self.name(key)),
                Some(&self.name(key)),
            )),
        }
    }

    /// An array of strings parameter.
    pub fn str_list(&self, key: &str) -> ApiResult<Vec<String>> {
        self.list(key)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                _ => Err(ApiError::bad(
                    format!("Invalid string: {}[{i}] must be a string.", self.name(key)),
                    Some(&format!("{}[{i}]", self.name(key))),
                )),
            })
            .collect()
    }

    /// An array of hashes parameter (`line_items`), each as nested params named `key[i]`.
    pub fn hash_list(&self, key: &str) -> ApiResult<Vec<Self>> {
        self.list(key)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(m) => Ok(Self { map: m, prefix: format!("{}[{i}]", self.name(key)) }),
                _ => Err(ApiError::bad(
                    format!("Invalid object: {}[{i}] must be a hash.", self.name(key)),
                    Some(&format!("{}[{i}]", self.name(key))),
                )),
            })
            .collect()
    }

    /// The `expand[]` paths.
    pub fn expand(&self) -> ApiResult<Vec<String>> {
        self.str_list("expand")
    }

    /// Metadata to set: `None` when not sent, `Some(None)` when cleared with `metadata=`, else key -> value
    /// where an empty value means "remove this key".
    #[allow(clippy::type_complexity)]
    pub fn metadata(&self) -> ApiResult<Option<Option<Map<String, Value>>>> {
        match self.map.get("metadata") {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(None)),
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    if !v.is_string() {
                        return Err(ApiError::bad(
                            format!("Invalid value for metadata[{k}]: metadata values must be strings."),
                            Some(&format!("metadata[{k}]")),
                        ));
                    }
                    let param = format!("metadata[{k}]");
                    if k.chars().count() > METADATA_KEY_CHARS {
                        return Err(ApiError::bad(
                            format!(
                                "Metadata keys can have up to {METADATA_KEY_CHARS} characters, but you passed in a key that is {} characters. Invalid key: {k}",
                                k.chars().count()
                            ),
                            Some(&param),
                        ));
                    }
                    let length = v.as_str().map_or(0, |v| v.chars().count());
                    if length > METADATA_VALUE_CHARS {
                        return Err(ApiError::bad(
                            format!(
                                "Metadata values can have up to {METADATA_VALUE_CHARS} characters, but you passed in a value that is {length} characters. Invalid value: {}",
                                v.as_str().unwrap_or_default()
                            ),
                            Some(&param),
                        ));
                    }
                }
                Ok(Some(Some(m.clone())))
            }
            Some(_) => Err(ApiError::bad("Invalid metadata: must be a hash.", Some("metadata"))),
        }
    }

    /// Applies [`Params::metadata`] to an object's `metadata` field; returns the old metadata if it changed.
    pub fn apply_metadata(&self, obj: &mut Value) -> ApiResult<Option<Value>> {
        let Some(update) = self.metadata()? else {
            return Ok(None);
        };
        let old = obj.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new()));
        let mut new = match (&update, &old) {
            (None, _) => Map::new(),
            (Some(_), Value::Object(m)) => m.clone(),
            (Some(_), _) => Map::new(),
        };
        if let Some(m) = update {
            for (k, v) in m {
                if v.as_str() == Some("") {
                    new.remove(&k);
                } else {
                    new.insert(k, v);
                }
            }
        }
        if new.len() > METADATA_KEYS {
            return Err(ApiError::bad(
                format!(
                    "Metadata can have up to {METADATA_KEYS} keys, but you've set {}. Email us at support+metadata@stripe.com for more information.",
                    new.len()
                ),
                Some("metadata"),
            ));
        }
        let new = Value::Object(new);
        if new == old {
            return Ok(None);
        }
        obj["metadata"] = new;
        Ok(Some(old))
    }
}
