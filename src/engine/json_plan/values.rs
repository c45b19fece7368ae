//! One resource's values as the AWS provider has them, and Terraform's split of a value into
//! what is known (`after`), what is not yet (`after_unknown`) and what is secret
//! (`after_sensitive`). The kind translates its attributes ([`Kind::provider_values`]); this
//! fills in the rest from the provider's schema, as Terraform's plan shows every attribute.

use serde_json::{Map, Value as J};
use stackctl_contract::provider::{self, Object, SENSITIVE, UNKNOWN};
use stackctl_contract::{Attrs, Kind, Val, Values};

use crate::engine::FINGERPRINT_PREFIX;

/// How the object is known: as it exists, or as it is planned to be.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Read from AWS (the state, `before`): an argument not set is null, a computed
    /// attribute not recorded is left out.
    Existing,
    /// To be created: a computed attribute not set is known only after apply.
    Creating,
    /// Updated in place or kept: as [`Stage::Existing`].
    Keeping,
}

/// stackctl's attributes with markers in place of secrets and unknown values, and `id`.
pub fn marked(kind: &dyn Kind, values: &Values, unknown: &[&String], id: Option<&str>) -> Object {
    let sensitive = kind.sensitive();
    let mut out = Map::new();
    for (k, v) in values {
        let secret = sensitive.contains(&k.as_str())
            || v.as_str()
                .is_some_and(|s| s.starts_with(FINGERPRINT_PREFIX));
        let v = if secret {
            J::String(SENSITIVE.to_owned())
        } else {
            v.clone()
        };
        out.insert(k.clone(), v);
    }
    for k in unknown {
        out.insert((*k).clone(), J::String(UNKNOWN.to_owned()));
    }
    match id {
        Some(id) => out.insert("id".to_owned(), J::String(id.to_owned())),
        None => out.insert("id".to_owned(), J::String(UNKNOWN.to_owned())),
    };
    out
}

/// `live` overlaid with `desired` (unknown ones marked), as [`marked`] makes it.
pub fn planned(
    kind: &dyn Kind,
    live: Option<&Values>,
    desired: &Attrs,
    id: Option<&str>,
) -> Object {
    let mut values = live.cloned().unwrap_or_default();
    let mut unknown = Vec::new();
    for (k, v) in desired {
        match v {
            Val::Known(v) => {
                values.insert(k.clone(), v.clone());
            }
            Val::Unknown => {
                values.remove(k);
                unknown.push(k);
            }
        }
    }
    marked(kind, &values, &unknown, id)
}

/// The provider's object of `type_name` from stackctl's marked attributes: the kind's
/// translation, then the schema's other attributes (null, or unknown while creating for a
/// computed one), its unset blocks (`[]`), `tags_all`, and nothing the schema lacks.
pub fn provider_object(kind: &dyn Kind, type_name: &str, attrs: &Object, stage: Stage) -> J {
    let mut values = kind.provider_values(type_name, attrs);
    if !values.contains_key("id") {
        if let Some(id) = attrs.get("id") {
            values.insert("id".to_owned(), id.clone());
        }
    }
    if let (Some(tags), false) = (values.get("tags").cloned(), values.contains_key("tags_all")) {
        values.insert("tags_all".to_owned(), tags);
    }
    match provider::schema(type_name) {
        Some(s) => J::Object(fill(&s.block, values, stage)),
        None => J::Object(values),
    }
}

fn fill(block: &J, mut values: Object, stage: Stage) -> Object {
    let empty = Map::new();
    let attributes = block["attributes"].as_object().unwrap_or(&empty);
    let blocks = block["block_types"].as_object().unwrap_or(&empty);
    values.retain(|k, _| attributes.contains_key(k) || blocks.contains_key(k));
    for (name, a) in attributes {
        if values.contains_key(name) || a["write_only"] == J::Bool(true) {
            continue;
        }
        let computed = a["computed"] == J::Bool(true);
        let v = match (computed, stage) {
            (true, Stage::Creating) => J::String(UNKNOWN.to_owned()),
            // A computed attribute stackctl does not record (a role's attached policies) is
            // left out, not null: null would say AWS has none, and some checks fail on it
            // (checkov's CKV_AWS_274 errors on a null `managed_policy_arns`).
            (true, _) => continue,
            (false, _) => J::Null,
        };
        values.insert(name.clone(), v);
    }
    for (name, b) in blocks {
        let single = b["nesting_mode"] == "single";
        match values.get_mut(name) {
            None => {
                values.insert(
                    name.clone(),
                    if single {
                        J::Null
                    } else {
                        J::Array(Vec::new())
                    },
                );
            }
            Some(J::Array(items)) => {
                for item in items.iter_mut() {
                    if let J::Object(o) = item {
                        *o = fill(&b["block"], std::mem::take(o), stage);
                    }
                }
            }
            Some(J::Object(o)) => {
                *o = fill(&b["block"], std::mem::take(o), stage);
            }
            Some(_) => {}
        }
    }
    values
}

/// Terraform's three views of a value with markers: the known part (unknown and secret
/// values left out of objects, null in lists), and where the unknown and the secret ones are
/// (`true` at their place, known ones omitted from objects and `false` in lists).
pub fn split(v: &J) -> (Option<J>, J, J) {
    match v {
        J::String(_) if provider::holds(v, UNKNOWN) => (None, J::Bool(true), J::Bool(false)),
        J::String(_) if provider::holds(v, SENSITIVE) => (None, J::Bool(false), J::Bool(true)),
        J::Array(items) => {
            let mut known = Vec::new();
            let mut unknown = Vec::new();
            let mut sensitive = Vec::new();
            for item in items {
                let (k, u, s) = split(item);
                known.push(k.unwrap_or(J::Null));
                unknown.push(u);
                sensitive.push(s);
            }
            (
                Some(J::Array(known)),
                J::Array(unknown),
                J::Array(sensitive),
            )
        }
        J::Object(o) => {
            let mut known = Map::new();
            let mut unknown = Map::new();
            let mut sensitive = Map::new();
            for (key, item) in o {
                let (k, u, s) = split(item);
                if let Some(k) = k {
                    known.insert(key.clone(), k);
                }
                if u != J::Bool(false) {
                    unknown.insert(key.clone(), u);
                }
                if s != J::Bool(false) {
                    sensitive.insert(key.clone(), s);
                }
            }
            (
                Some(J::Object(known)),
                J::Object(unknown),
                J::Object(sensitive),
            )
        }
        other => (Some(other.clone()), J::Bool(false), J::Bool(false)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_and_secret_values_leave_the_known_part_and_are_flagged_in_place() {
        let v = json!({
            "name": "x",
            "arn": UNKNOWN,
            "password": SENSITIVE,
            "subnets": ["a", UNKNOWN],
            "block": [{"port": 80, "target": UNKNOWN}],
            "tags": null,
        });
        let (known, unknown, sensitive) = split(&v);
        assert_eq!(
            known.unwrap(),
            json!({"name": "x", "subnets": ["a", null], "block": [{"port": 80}], "tags": null})
        );
        assert_eq!(
            unknown,
            json!({"arn": true, "subnets": [false, true], "block": [{"target": true}]})
        );
        assert_eq!(
            sensitive,
            json!({"password": true, "subnets": [false, false], "block": [{}]})
        );
    }

    #[test]
    fn the_schema_fills_what_the_translation_leaves_and_drops_what_is_not_the_providers() {
        let kind = crate::engine::fake::FakeKind::new("aws_lb_target_group");
        let attrs = marked(
            &kind,
            &Values::from([
                ("name".to_owned(), json!("tg")),
                ("bookkeeping".to_owned(), json!("x")),
                ("tags".to_owned(), json!({"a": "b"})),
            ]),
            &[],
            None,
        );
        let creating = provider_object(&kind, "aws_lb_target_group", &attrs, Stage::Creating);
        assert_eq!(creating["name"], "tg");
        assert_eq!(creating["tags_all"], json!({"a": "b"}));
        assert!(creating.get("bookkeeping").is_none());
        assert_eq!(creating["arn"], UNKNOWN);
        assert_eq!(creating["id"], UNKNOWN);
        assert_eq!(creating["slow_start"], J::Null);
        assert_eq!(creating["health_check"], json!([]));
        let kept = provider_object(&kind, "aws_lb_target_group", &attrs, Stage::Keeping);
        assert!(kept.get("arn").is_none(), "{kept}");
        assert_eq!(kept["slow_start"], J::Null);
    }
}
