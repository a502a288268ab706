//! Stripe's request encoding: `application/x-www-form-urlencoded` with bracket nesting.
//!
//! `metadata[k]=v` becomes `{"metadata": {"k": "v"}}`, `expand[]=a&expand[]=b` and `expand[0]=a&expand[1]=b`
//! become arrays, `line_items[0][price]=p` becomes `[{"price": "p"}]`. Leaves are always strings: typing happens
//! in [`crate::params`], where Stripe-shaped errors name the offending parameter.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A parse failure, reported to the client as an `invalid_request_error` naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError {
    /// The parameter as the client wrote it.
    pub param: String,
    /// Human-readable reason.
    pub message: String,
}

/// Largest array index accepted (Stripe's own arrays are far smaller).
const MAX_INDEX: usize = 1000;

#[derive(Debug)]
enum Node {
    Leaf(String),
    Map(BTreeMap<String, Self>),
    List(Vec<Self>),
}

/// Parses a form-encoded body or query string into a JSON object of nested objects, arrays and strings.
pub fn parse(input: &str) -> Result<Map<String, Value>, FormError> {
    let mut root: BTreeMap<String, Node> = BTreeMap::new();
    for (key, value) in form_urlencoded::parse(input.as_bytes()) {
        if key.is_empty() {
            continue;
        }
        let segments = split_key(&key)
            .ok_or_else(|| FormError { param: key.to_string(), message: format!("Invalid parameter name: {key}") })?;
        insert(&mut root, &segments, value.into_owned(), &key)?;
    }
    Ok(root
        .into_iter()
        .map(|(k, v)| {
            let keep_map = k == "metadata";
            (k, finish(v, keep_map))
        })
        .collect())
}

/// Splits `a[b][]` into `["a", "b", ""]`. Returns `None` for malformed brackets.
fn split_key(key: &str) -> Option<Vec<String>> {
    let (base, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => return Some(vec![key.to_string()]),
    };
    if base.is_empty() {
        return None;
    }
    let mut out = vec![base.to_string()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        out.push(inner[..close].to_string());
        rest = &inner[close + 1..];
    }
    Some(out)
}

fn conflict(key: &str) -> FormError {
    FormError {
        param: key.to_string(),
        message: format!("Invalid value for {key}: a parameter cannot be both a value and a hash or array."),
    }
}

fn insert(map: &mut BTreeMap<String, Node>, segs: &[String], value: String, key: &str) -> Result<(), FormError> {
    let Some((first, rest)) = segs.split_first() else {
        return Ok(());
    };
    if rest.is_empty() {
        map.insert(first.clone(), Node::Leaf(value));
        return Ok(());
    }
    let child = map
        .entry(first.clone())
        .or_insert_with(|| if rest[0].is_empty() { Node::List(Vec::new()) } else { Node::Map(BTreeMap::new()) });
    insert_into(child, rest, value, key)
}

fn insert_into(node: &mut Node, segs: &[String], value: String, key: &str) -> Result<(), FormError> {
    let Some((first, rest)) = segs.split_first() else {
        return Ok(());
    };
    if first.is_empty() {
        // `[]`: append (or, with further segments, fill the last element until a key repeats).
        let list = match node {
            Node::List(l) => l,
            Node::Leaf(s) if s.is_empty() => {
                *node = Node::List(Vec::new());
                match node {
                    Node::List(l) => l,
                    _ => return Err(conflict(key)),
                }
            }
            _ => return Err(conflict(key)),
        };
        if rest.is_empty() {
            if !value.is_empty() {
                list.push(Node::Leaf(value));
            }
            return Ok(());
        }
        let reuse = matches!(list.last(), Some(Node::Map(m)) if !m.contains_key(&rest[0]));
        if !reuse {
            list.push(Node::Map(BTreeMap::new()));
        }
        return match list.last_mut() {
            Some(last) => insert_into(last, rest, value, key),
            None => Ok(()),
        };
    }
    match node {
        Node::Map(m) => insert(m, segs, value, key),
        Node::Leaf(s) if s.is_empty() => {
            let mut m = BTreeMap::new();
            insert(&mut m, segs, value, key)?;
            *node = Node::Map(m);
            Ok(())
        }
        Node::List(list) => {
            // `a[]=x&a[0]=y` mixes; treat numeric keys against a list as indices.
            let idx: usize = first.parse().ok().filter(|i| *i < MAX_INDEX).ok_or_else(|| conflict(key))?;
            while list.len() <= idx {
                list.push(Node::Map(BTreeMap::new()));
            }
            if rest.is_empty() {
                list[idx] = Node::Leaf(value);
                Ok(())
            } else {
                insert_into(&mut list[idx], rest, value, key)
            }
        }
        Node::Leaf(_) => Err(conflict(key)),
    }
}

/// Converts the build tree to JSON. Maps whose keys are all array indices become arrays (in index order),
/// except metadata, whose keys are the user's own.
fn finish(node: Node, keep_map: bool) -> Value {
    match node {
        Node::Leaf(s) => Value::String(s),
        Node::List(l) => Value::Array(l.into_iter().map(|n| finish(n, false)).collect()),
        Node::Map(m) => {
            let all_indices = !m.is_empty()
                && m.keys().all(|k| !k.is_empty() && k.len() < 6 && k.bytes().all(|b| b.is_ascii_digit()));
            if all_indices && !keep_map {
                let mut items: Vec<(usize, Node)> =
                    m.into_iter().map(|(k, v)| (k.parse::<usize>().unwrap_or(usize::MAX), v)).collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| finish(v, false)).collect())
            } else {
                Value::Object(
                    m.into_iter()
                        .map(|(k, v)| {
                            let keep = k == "metadata";
                            (k, finish(v, keep))
                        })
                        .collect(),
                )
            }
        }
    }
}
