//! The AWS provider's view of a resource: Terraform's type names, attribute names and value
//! shapes, which `show -json` and `plan -json` write so that tools reading Terraform's JSON
//! (checkov, conftest, Infracost, pull-request bots) read stackctl's plans as Terraform's.
//!
//! stackctl's own attributes stay as they are (the state keeps them, so no state migrates): each
//! [`Kind`](crate::Kind) translates them at the edge with
//! [`provider_values`](crate::Kind::provider_values), and the engine fills in the rest from the
//! provider's schema, shipped in `provider/aws-provider-schema.json`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{Map, Value as J};

/// Stands for a value known only after apply while a kind translates its attributes. A kind
/// carries it through as it is; inside a JSON string it makes the whole string unknown
/// ([`json_string`] does that), as Terraform's plan shows a policy that names an ARN to be.
pub const UNKNOWN: &str = "\u{1}(known after apply)";

/// Stands for a secret (the state holds only its fingerprint). The engine writes it nowhere and
/// flags it in `*_sensitive` instead, as Terraform flags a sensitive value.
pub const SENSITIVE: &str = "\u{1}(sensitive value)";

/// The provider's objects: attribute name -> value.
pub type Object = Map<String, J>;

/// A provider resource type a kind manages together with its own in the same calls, which
/// Terraform's provider makes a resource of its own: a secret's value is an
/// `aws_secretsmanager_secret_version`. It owns some of the kind's attributes: a change of only
/// those is an update of the part, not of the kind's own resource. Its address is the kind's,
/// with this type: `module.secrets.aws_secretsmanager_secret_version.db_password`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    pub type_name: &'static str,
    pub owns: &'static [&'static str],
}

/// Whether `v` is, or holds, the marker `marker` (inside arrays, objects, or a JSON string).
pub fn holds(v: &J, marker: &str) -> bool {
    match v {
        J::String(s) => s == marker || s.contains(marker) || s.contains(&escaped(marker)),
        J::Array(a) => a.iter().any(|x| holds(x, marker)),
        J::Object(o) => o.values().any(|x| holds(x, marker)),
        _ => false,
    }
}

/// A marker as it reads once serialized inside a JSON string (`\u0001...`).
fn escaped(marker: &str) -> String {
    let s = serde_json::to_string(marker).unwrap_or_default();
    s.trim_matches('"').to_owned()
}

/// A nested block as the provider writes every block, single ones included: a list of objects.
/// `None` or null is an absent block (`[]`); an array is taken as the list itself.
pub fn block(v: Option<&J>) -> J {
    match v {
        None | Some(J::Null) => J::Array(Vec::new()),
        Some(J::Array(a)) => J::Array(a.clone()),
        Some(other) => J::Array(vec![other.clone()]),
    }
}

/// A JSON document as the provider's JSON-string attributes hold it (an IAM policy, container
/// definitions): compact text. Unknown if any part is unknown, [`SENSITIVE`] if any part is a
/// secret; null stays null, and a string is taken as the text already.
pub fn json_string(v: Option<&J>) -> J {
    match v {
        None | Some(J::Null) => J::Null,
        Some(v) if holds(v, UNKNOWN) => J::String(UNKNOWN.to_owned()),
        Some(v) if holds(v, SENSITIVE) => J::String(SENSITIVE.to_owned()),
        Some(J::String(s)) => J::String(s.clone()),
        Some(v) => J::String(v.to_string()),
    }
}

/// A number as a string, as the provider keeps some (a target group's `deregistration_delay`).
pub fn number_string(v: Option<&J>) -> J {
    match v {
        None | Some(J::Null) => J::Null,
        Some(J::Number(n)) => J::String(n.to_string()),
        Some(other) => other.clone(),
    }
}

/// Copy `names` that `from` has into `to` under the same names.
pub fn copy(from: &Object, to: &mut Object, names: &[&str]) {
    for name in names {
        if let Some(v) = from.get(*name) {
            to.insert((*name).to_owned(), v.clone());
        }
    }
}

/// Copy `(ours, theirs)` pairs that `from` has into `to` under the provider's name.
pub fn rename(from: &Object, to: &mut Object, pairs: &[(&str, &str)]) {
    for (ours, theirs) in pairs {
        if let Some(v) = from.get(*ours) {
            to.insert((*theirs).to_owned(), v.clone());
        }
    }
}

/// One resource type's schema: its root block (`attributes`, `block_types`) and version.
#[derive(Debug)]
pub struct TypeSchema {
    pub block: J,
    pub version: u64,
}

/// The provider's schema of `type_name`, `None` for a type it was not cut to.
pub fn schema(type_name: &str) -> Option<&'static TypeSchema> {
    static SCHEMAS: OnceLock<BTreeMap<String, TypeSchema>> = OnceLock::new();
    SCHEMAS
        .get_or_init(|| {
            let all: J = serde_json::from_str(include_str!("../provider/aws-provider-schema.json"))
                .expect("the shipped provider schema is JSON");
            let mut out = BTreeMap::new();
            if let J::Object(types) = all {
                for (name, s) in types {
                    out.insert(
                        name,
                        TypeSchema {
                            version: s["version"].as_u64().unwrap_or(0),
                            block: s["block"].clone(),
                        },
                    );
                }
            }
            out
        })
        .get(type_name)
}

/// Whether `values` fits `type_name`'s schema: every attribute and block is the provider's, with
/// its type and nesting (blocks as lists of objects). Markers fit anywhere. For the kinds'
/// tests: a wrong name or shape would make tools skip the value without a word.
pub fn check(type_name: &str, values: &Object) -> Result<(), String> {
    let s = schema(type_name).ok_or_else(|| format!("{type_name}: not in the provider schema"))?;
    check_block(type_name, &s.block, values)
}

fn check_block(path: &str, block: &J, values: &Object) -> Result<(), String> {
    for (k, v) in values {
        let here = format!("{path}.{k}");
        if let Some(attr) = block["attributes"].get(k) {
            check_type(&here, &attr["type"], v)?;
        } else if let Some(b) = block["block_types"].get(k) {
            if is_marker(v) || v.is_null() {
                continue;
            }
            let mode = b["nesting_mode"].as_str().unwrap_or("list");
            let items: Vec<&J> = match (mode, v) {
                ("single", J::Object(_)) => vec![v],
                ("list" | "set", J::Array(a)) => a.iter().collect(),
                _ => return Err(format!("{here}: a {mode} block, found {v}")),
            };
            for (i, item) in items.into_iter().enumerate() {
                let J::Object(o) = item else {
                    return Err(format!("{here}[{i}]: a block is an object, found {item}"));
                };
                check_block(&format!("{here}[{i}]"), &b["block"], o)?;
            }
        } else {
            return Err(format!(
                "{here}: no such attribute or block in the provider schema"
            ));
        }
    }
    Ok(())
}

fn is_marker(v: &J) -> bool {
    v.as_str().is_some_and(|s| s == UNKNOWN || s == SENSITIVE)
}

fn check_type(path: &str, ty: &J, v: &J) -> Result<(), String> {
    if v.is_null() || is_marker(v) {
        return Ok(());
    }
    let bad = || Err(format!("{path}: expected {ty}, found {v}"));
    match ty {
        J::String(t) => match (t.as_str(), v) {
            ("string", J::String(_))
            | ("number", J::Number(_))
            | ("bool", J::Bool(_))
            | ("dynamic", _) => Ok(()),
            _ => bad(),
        },
        J::Array(parts) => match (parts.first().and_then(J::as_str), v) {
            (Some("list" | "set"), J::Array(items)) => {
                for (i, x) in items.iter().enumerate() {
                    check_type(&format!("{path}[{i}]"), &parts[1], x)?;
                }
                Ok(())
            }
            (Some("map"), J::Object(o)) => {
                for (k, x) in o {
                    check_type(&format!("{path}.{k}"), &parts[1], x)?;
                }
                Ok(())
            }
            (Some("object"), J::Object(o)) => {
                for (k, x) in o {
                    match parts[1].get(k) {
                        Some(t) => check_type(&format!("{path}.{k}"), t, x)?,
                        None => return Err(format!("{path}.{k}: no such field")),
                    }
                }
                Ok(())
            }
            _ => bad(),
        },
        _ => bad(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: J) -> Object {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_document_with_an_unknown_part_is_unknown_as_a_whole() {
        let doc = json!({"Resource": [UNKNOWN], "Effect": "Allow"});
        assert_eq!(json_string(Some(&doc)), json!(UNKNOWN));
        assert_eq!(
            json_string(Some(&json!({"Effect": "Allow"}))),
            json!("{\"Effect\":\"Allow\"}")
        );
        assert!(holds(
            &json!(format!("x{}y", escaped(SENSITIVE))),
            SENSITIVE
        ));
    }

    #[test]
    fn the_schema_refuses_names_and_shapes_that_are_not_the_providers() {
        let ok = obj(json!({
            "name": "x",
            "health_check": [{"path": "/", "interval": 10}],
            "deregistration_delay": "30",
            "tags": {"a": "b"},
        }));
        check("aws_lb_target_group", &ok).unwrap();
        let single = obj(json!({"health_check": {"path": "/"}}));
        assert!(check("aws_lb_target_group", &single).is_err());
        let wrong = obj(json!({"deregistration_delay": 30}));
        assert!(check("aws_lb_target_group", &wrong).is_err());
        let unknown = obj(json!({"cidr": "0.0.0.0/0"}));
        assert!(check("aws_security_group", &unknown).is_err());
        assert_eq!(schema("aws_security_group").map(|s| s.version), Some(1));
    }
}

// ---- Helpers added for the alb, security, efs, rds and secrets translations (issue 21). ----

/// Set each of `pairs` that `to` lacks: the values AWS applies where stackctl sets nothing
/// (a load balancer's idle timeout, a database's Multi-AZ), so that a policy reads what is
/// really there, as Terraform's plan shows the provider's defaults. A value the kind recorded
/// wins.
pub fn defaults(to: &mut Object, pairs: &[(&str, J)]) {
    for (name, v) in pairs {
        to.entry((*name).to_owned()).or_insert_with(|| v.clone());
    }
}

/// The account of a known ARN (`arn:aws:ec2:eu-west-3:123456789012:security-group/sg-1` ->
/// `123456789012`), which the provider shows as `owner_id`; `None` for a marker, a missing ARN
/// or one without an account.
pub fn arn_account(arn: Option<&J>) -> Option<J> {
    let arn = arn
        .and_then(J::as_str)
        .filter(|s| !is_marker(&J::from(*s)))?;
    let account = arn.split(':').nth(4).filter(|a| !a.is_empty())?;
    Some(J::from(account))
}

#[cfg(test)]
mod helper_tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_fill_only_what_is_missing_and_accounts_come_from_known_arns() {
        let mut o = Object::new();
        o.insert("idle_timeout".into(), json!(120));
        defaults(
            &mut o,
            &[("idle_timeout", json!(60)), ("enable_http2", json!(true))],
        );
        assert_eq!(
            J::Object(o),
            json!({"idle_timeout": 120, "enable_http2": true})
        );
        let arn = json!("arn:aws:ec2:eu-west-3:123456789012:security-group/sg-1");
        assert_eq!(arn_account(Some(&arn)), Some(json!("123456789012")));
        assert_eq!(arn_account(Some(&json!(UNKNOWN))), None);
        assert_eq!(arn_account(Some(&json!("arn:aws:s3:::bucket"))), None);
        assert_eq!(arn_account(None), None);
    }
}
