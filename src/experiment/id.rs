//! Job ids: ten hex digits of a SHA-256 of the result-relevant config in canonical form, so ids
//! do not depend on key order in the file and change whenever anything that affects the result
//! changes, but not with where a job runs.

use std::collections::BTreeMap;

use crate::base::hash::sha256_prefix;
use crate::config::Config;

/// The result-relevant part of a config, canonical: defaults written out (the pool window),
/// keys sorted at every level, and without the fields that only choose where it runs
/// (`train.backend`, `train.device`).
pub fn identity(config: &Config) -> serde_json::Value {
    let mut c = config.clone();
    c.model = c.model.resolved();
    let mut v = serde_json::to_value(&c).unwrap_or(serde_json::Value::Null);
    if let Some(train) = v.get_mut("train").and_then(|t| t.as_object_mut()) {
        train.remove("backend");
        train.remove("device");
    }
    sort_keys(v)
}

fn sort_keys(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => {
            let sorted: BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sort_keys).collect())
        }
        other => other,
    }
}

/// Ten hex digits of a SHA-256 of [`identity`] (written without spaces, keys sorted).
pub fn job_id(config: &Config) -> String {
    let text = format!("ser-job v1\n{}", identity(config));
    sha256_prefix(text.as_bytes(), 5)
}
