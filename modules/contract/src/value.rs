//! Attribute values: what a resource should have (possibly unknown until apply) and what it has.

use std::collections::BTreeMap;

use serde_json::Value as J;

use crate::error::ResourceError;

/// One desired attribute value. `Unknown` stands for a value another resource will only have once
/// it exists (Terraform's "known after apply").
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    Known(J),
    Unknown,
}

impl Val {
    pub fn known(&self) -> Option<&J> {
        match self {
            Val::Known(v) => Some(v),
            Val::Unknown => None,
        }
    }

    /// Combine several values into one built from all of them; unknown if any input is unknown.
    pub fn all<const N: usize>(parts: [&Val; N], f: impl FnOnce([&J; N]) -> J) -> Val {
        let mut known = Vec::with_capacity(N);
        for p in parts {
            match p {
                Val::Known(v) => known.push(v),
                Val::Unknown => return Val::Unknown,
            }
        }
        match known.try_into() {
            Ok(arr) => Val::Known(f(arr)),
            Err(_) => Val::Unknown,
        }
    }
}

impl<T: Into<J>> From<T> for Val {
    fn from(v: T) -> Self {
        Val::Known(v.into())
    }
}

/// Desired attributes of one resource, by name.
pub type Attrs = BTreeMap<String, Val>;

/// Known attribute values: what AWS reports, or desired attributes once all are known.
pub type Values = BTreeMap<String, J>;

/// A live attribute a kind may add to what it reads: an object of attribute name -> the value AWS
/// has accepted for it but applies only later (RDS's PendingModifiedValues, which wait for the
/// database's maintenance window). The engine takes such a value as the one the attribute is
/// going to have: a desired value equal to it is not a change to send again on every apply,
/// and the plan lists it as pending.
pub const PENDING: &str = "pending";

/// The value `key` is going to have: the pending one if AWS holds one, else the live one.
pub fn effective<'a>(live: &'a Values, key: &str) -> Option<&'a J> {
    live.get(PENDING)
        .and_then(|p| p.get(key))
        .or_else(|| live.get(key))
}

/// Typed access to [`Values`] for the code that turns them into AWS requests. A missing or
/// mistyped attribute is a bug in the module, reported as an error rather than a panic.
pub trait ValuesExt {
    fn get_str(&self, key: &str) -> Result<&str, ResourceError>;
    fn get_i64(&self, key: &str) -> Result<i64, ResourceError>;
    fn get_bool(&self, key: &str) -> Result<bool, ResourceError>;
    fn get_strs(&self, key: &str) -> Result<Vec<String>, ResourceError>;
    fn get_map(&self, key: &str) -> Result<BTreeMap<String, String>, ResourceError>;
}

fn bad(key: &str, want: &str) -> ResourceError {
    ResourceError::internal(format!("attribute `{key}` is missing or not {want}"))
}

impl ValuesExt for Values {
    fn get_str(&self, key: &str) -> Result<&str, ResourceError> {
        self.get(key)
            .and_then(J::as_str)
            .ok_or_else(|| bad(key, "a string"))
    }

    fn get_i64(&self, key: &str) -> Result<i64, ResourceError> {
        self.get(key)
            .and_then(J::as_i64)
            .ok_or_else(|| bad(key, "an integer"))
    }

    fn get_bool(&self, key: &str) -> Result<bool, ResourceError> {
        self.get(key)
            .and_then(J::as_bool)
            .ok_or_else(|| bad(key, "a boolean"))
    }

    fn get_strs(&self, key: &str) -> Result<Vec<String>, ResourceError> {
        let arr = self
            .get(key)
            .and_then(J::as_array)
            .ok_or_else(|| bad(key, "a list"))?;
        arr.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(key, "a list of strings"))
            })
            .collect()
    }

    fn get_map(&self, key: &str) -> Result<BTreeMap<String, String>, ResourceError> {
        let obj = self
            .get(key)
            .and_then(J::as_object)
            .ok_or_else(|| bad(key, "a map"))?;
        obj.iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_owned()))
                    .ok_or_else(|| bad(key, "a map of strings"))
            })
            .collect()
    }
}

/// An integer argument as the `i32` most SDK fields take; out of range is a bug in the module
/// (the variables' checks bound every number the user gives).
pub fn to_i32(key: &str, v: i64) -> Result<i32, ResourceError> {
    i32::try_from(v)
        .map_err(|_| ResourceError::internal(format!("attribute `{key}` is out of range: {v}")))
}

/// A sorted, de-duplicated JSON list of strings: the canonical form of every id set, so that
/// the order AWS happens to answer in never shows as a change.
pub fn string_set<I, S>(items: I) -> J
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    J::from(sorted_set(items))
}

/// The same as a typed argument: a sorted, de-duplicated list, so that the order AWS happens
/// to answer in never shows as a change.
pub fn sorted_set<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut v: Vec<String> = items.into_iter().map(Into::into).collect();
    v.sort();
    v.dedup();
    v
}

/// A JSON object of strings from key/value pairs (serde_json's map is sorted by key).
pub fn string_map<I, K, V>(items: I) -> J
where
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    J::Object(
        items
            .into_iter()
            .map(|(k, v)| (k.into(), J::String(v.into())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_unknown_when_any_part_is() {
        let a = Val::from("a");
        let got = Val::all([&a, &Val::Unknown], |_| J::Null);
        assert_eq!(got, Val::Unknown);
        let b = Val::from("b");
        let got = Val::all([&a, &b], |[x, y]| {
            J::from(format!("{}{}", x.as_str().unwrap(), y.as_str().unwrap()))
        });
        assert_eq!(got, Val::from("ab"));
    }

    #[test]
    fn sets_are_sorted_and_unique() {
        assert_eq!(string_set(["b", "a", "b"]), serde_json::json!(["a", "b"]));
    }

    #[test]
    fn a_pending_value_is_the_one_the_attribute_is_going_to_have() {
        let live = Values::from([
            ("class".to_owned(), J::from("small")),
            ("size".to_owned(), J::from(20)),
            (PENDING.to_owned(), serde_json::json!({ "class": "large" })),
        ]);
        assert_eq!(effective(&live, "class"), Some(&J::from("large")));
        assert_eq!(effective(&live, "size"), Some(&J::from(20)));
        assert_eq!(effective(&live, "other"), None);
    }

    #[test]
    fn typed_access_reports_missing_keys() {
        let mut v = Values::new();
        v.insert("n".into(), J::from(3));
        assert_eq!(v.get_i64("n").unwrap(), 3);
        let err = v.get_str("n").unwrap_err().to_string();
        assert!(err.contains("`n`"), "{err}");
    }
}
