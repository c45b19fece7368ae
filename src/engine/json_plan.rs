//! A plan as Terraform's JSON plan representation (`terraform show -json`): `resource_changes`
//! with `change.actions`, `before`, `after`, `after_unknown`, and secrets masked, so CI can gate
//! on it with jq. Also the state's `values` form for `show -json` without a plan file.

use serde_json::{json, Map, Value as J};
use stackctl_contract::{Address, Val, Values};

use super::plan::{Action, Change, Drift, Plan};
use super::state::State;

/// The version of Terraform's JSON plan format whose shape this follows.
pub const FORMAT_VERSION: &str = "1.2";

/// The Terraform release whose JSON formats (plan, state, machine-readable UI) these follow,
/// written as `terraform_version`: tools read that key to know the file is a plan at all
/// (checkov skips a plan without it).
pub const TERRAFORM_VERSION: &str = "1.11.4";

/// The version of Terraform's machine-readable UI (`-json` events) these follow.
pub const UI_VERSION: &str = "1.2";

const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// Terraform's `change.actions` for an action.
pub fn actions(c: &Change) -> J {
    match c.action {
        Action::NoOp => json!(["no-op"]),
        Action::Create => json!(["create"]),
        Action::Update => json!(["update"]),
        Action::Delete => json!(["delete"]),
        Action::Replace if c.kind.create_before_destroy() => json!(["create", "delete"]),
        Action::Replace => json!(["delete", "create"]),
    }
}

/// Whether a stored value is a fingerprint standing in for a secret.
fn is_fingerprint(v: &J) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with(super::FINGERPRINT_PREFIX))
}

/// `values` without its secrets, and the `*_sensitive` object naming them (`{key: true}`):
/// Terraform's convention of omitting a sensitive value and flagging it beside. A fingerprint
/// is never shown either: it is a secret's stand-in.
fn split_sensitive(values: &Values, sensitive: &[&str]) -> (J, J) {
    let mut shown = Map::new();
    let mut flags = Map::new();
    for (k, v) in values {
        if sensitive.contains(&k.as_str()) || is_fingerprint(v) {
            flags.insert(k.clone(), J::Bool(true));
        } else {
            shown.insert(k.clone(), v.clone());
        }
    }
    (J::Object(shown), J::Object(flags))
}

/// The address's parts as Terraform names them in `resource_changes`.
fn address_fields(address: &str, type_name: &str) -> Map<String, J> {
    let mut m = Map::new();
    m.insert("address".into(), json!(address));
    if let Ok(a) = Address::parse(address) {
        m.insert(
            "module_address".into(),
            json!(format!("module.{}", a.module)),
        );
        m.insert("name".into(), json!(a.name));
        if let Some(key) = a.key {
            m.insert("index".into(), json!(key));
        }
    }
    m.insert("mode".into(), json!("managed"));
    m.insert("type".into(), json!(type_name));
    m.insert("provider_name".into(), json!(PROVIDER));
    m
}

/// One entry of `resource_changes`.
pub fn resource_change(c: &Change) -> J {
    let sensitive = c.kind.sensitive();
    let before_values = c.live.as_ref().map(|l| l.attrs.clone());
    let (before, before_sensitive) = match &before_values {
        Some(v) if c.action != Action::Create => split_sensitive(v, &sensitive),
        _ => (J::Null, json!(false)),
    };
    // After: what stays of the live object (an update keeps what the configuration does not
    // set), overlaid with the desired values; unknown ones are listed in `after_unknown`.
    let (after, after_unknown, after_sensitive) = if c.action == Action::Delete {
        (J::Null, json!(false), json!(false))
    } else {
        let mut merged: Values = match (&before_values, c.action) {
            (Some(v), Action::NoOp | Action::Update) => v.clone(),
            _ => Values::new(),
        };
        // What AWS changes by itself (a database backing up) is no part of the planned
        // object: a saved plan must not turn stale when only that moved.
        for attr in c.kind.transient() {
            merged.remove(*attr);
        }
        let mut unknown = Map::new();
        for (k, v) in &c.desired {
            match v {
                Val::Known(v) => {
                    merged.insert(k.clone(), v.clone());
                }
                Val::Unknown => {
                    merged.remove(k);
                    unknown.insert(k.clone(), J::Bool(true));
                }
            }
        }
        let (after, flags) = split_sensitive(&merged, &sensitive);
        (after, J::Object(unknown), flags)
    };
    let mut change = json!({
        "actions": actions(c),
        "before": before,
        "after": after,
        "after_unknown": after_unknown,
        "before_sensitive": before_sensitive,
        "after_sensitive": after_sensitive,
    });
    if c.adopt {
        let id = c.live.as_ref().map(|l| l.id.as_str()).unwrap_or_default();
        change["importing"] = json!({ "id": id });
    }
    let mut m = address_fields(&c.address, c.kind.type_name());
    m.insert("change".into(), change);
    if c.forced {
        m.insert("action_reason".into(), json!("replace_by_request"));
    } else if c.action == Action::Replace {
        m.insert(
            "action_reason".into(),
            json!("replace_because_cannot_update"),
        );
    }
    J::Object(m)
}

/// Every change of the plan, no-ops included (as Terraform lists them), in plan order.
pub fn resource_changes(p: &Plan) -> Vec<J> {
    p.changes.iter().map(resource_change).collect()
}

/// What of a resource change a saved plan must still be at apply time: the address, the
/// actions and what the resource is to become. `before` is left out: AWS may move a computed
/// attribute (a status, a timestamp) without the plan being any different.
pub fn essence(change: &J) -> J {
    json!({
        "address": change["address"],
        "actions": change["change"]["actions"],
        "after": change["change"]["after"],
        "after_unknown": change["change"]["after_unknown"],
        "after_sensitive": change["change"]["after_sensitive"],
    })
}

/// The state as `terraform show -json` prints it: `values.root_module.resources` and
/// `values.outputs`, secrets masked.
pub fn state_values(state: &State) -> J {
    let resources: Vec<J> = state
        .resources
        .iter()
        .map(|(address, rs)| {
            let mut m = address_fields(address, &rs.type_name);
            let mut values = rs.attrs.clone();
            values
                .entry("id".to_owned())
                .or_insert_with(|| J::String(rs.id.clone()));
            let (shown, flags) = split_sensitive(&values, &[]);
            m.insert("values".into(), shown);
            m.insert("sensitive_values".into(), flags);
            m.insert("depends_on".into(), json!(rs.depends_on));
            J::Object(m)
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "stackctl_version": env!("CARGO_PKG_VERSION"),
        "values": {
            "outputs": super::render::outputs_json(&state.outputs, false),
            "root_module": { "resources": resources },
        },
    })
}

/// One entry of `resource_drift`: a resource changed (`["update"]`) or deleted (`["delete"]`)
/// outside stackctl, before and after as the state and AWS have it.
pub fn drift_change(d: &Drift) -> J {
    let sensitive = d.kind.sensitive();
    let with_id = |i: &stackctl_contract::Instance| {
        let mut v = i.attrs.clone();
        v.entry("id".to_owned())
            .or_insert_with(|| J::String(i.id.clone()));
        v
    };
    let (before, before_sensitive) = split_sensitive(&with_id(&d.before), &sensitive);
    let (actions, after, after_sensitive) = match &d.after {
        Some(a) => {
            let (after, flags) = split_sensitive(&with_id(a), &sensitive);
            (json!(["update"]), after, flags)
        }
        None => (json!(["delete"]), J::Null, json!(false)),
    };
    let mut m = address_fields(&d.address, d.kind.type_name());
    m.insert(
        "change".into(),
        json!({
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {},
            "before_sensitive": before_sensitive,
            "after_sensitive": after_sensitive,
        }),
    );
    J::Object(m)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use stackctl_contract::{Attrs, Field, Flag, Instance};

    use super::super::fake::{self, FakeKind};
    use super::*;

    fn db() -> Arc<FakeKind> {
        Arc::new(FakeKind::new("aws_db_instance").fields(&[
            Field {
                name: "password",
                flags: &[Flag::Sensitive],
            },
            Field {
                name: "class",
                flags: &[],
            },
        ]))
    }

    #[test]
    fn an_update_shows_before_and_after_with_secrets_and_unknowns_flagged_not_shown() {
        let live = Instance::new(
            "p-db",
            Values::from([
                ("class".to_owned(), json!("db.t3.micro")),
                ("password".to_owned(), json!("fingerprint:sha256:abc")),
                ("endpoint".to_owned(), json!("p-db.x:3306")),
            ]),
        );
        let desired = Attrs::from([
            ("class".to_owned(), Val::from("db.t3.small")),
            ("password".to_owned(), Val::from("fingerprint:sha256:abc")),
            ("subnet_group".to_owned(), Val::Unknown),
        ]);
        let c = fake::change(
            "module.rds.aws_db_instance.main",
            db(),
            Action::Update,
            Some(live),
            desired,
            &["class", "subnet_group"],
        );
        let j = resource_change(&c);
        assert_eq!(j["address"], "module.rds.aws_db_instance.main");
        assert_eq!(j["module_address"], "module.rds");
        assert_eq!(j["type"], "aws_db_instance");
        let ch = &j["change"];
        assert_eq!(ch["actions"], json!(["update"]));
        assert_eq!(ch["before"]["class"], "db.t3.micro");
        assert_eq!(ch["after"]["class"], "db.t3.small");
        // What the configuration does not set stays as it is.
        assert_eq!(ch["after"]["endpoint"], "p-db.x:3306");
        assert_eq!(ch["after_unknown"], json!({ "subnet_group": true }));
        assert_eq!(ch["before_sensitive"], json!({ "password": true }));
        assert_eq!(ch["after_sensitive"], json!({ "password": true }));
        assert!(!j.to_string().contains("fingerprint"), "{j}");
    }

    #[test]
    fn replacements_follow_the_kinds_order_and_say_why() {
        let live = Instance::new("a", Values::new());
        let mut c = fake::change(
            "module.rds.aws_db_instance.main",
            db(),
            Action::Replace,
            Some(live.clone()),
            Attrs::new(),
            &[],
        );
        assert_eq!(
            resource_change(&c)["change"]["actions"],
            json!(["delete", "create"])
        );
        assert_eq!(
            resource_change(&c)["action_reason"],
            "replace_because_cannot_update"
        );
        c.forced = true;
        assert_eq!(resource_change(&c)["action_reason"], "replace_by_request");
        let kept = fake::change(
            "module.ecs.aws_ecs_task_definition.main",
            Arc::new(FakeKind::new("aws_ecs_task_definition").keeps_replaced("kept")),
            Action::Replace,
            Some(live),
            Attrs::new(),
            &[],
        );
        assert_eq!(
            resource_change(&kept)["change"]["actions"],
            json!(["create", "delete"])
        );
    }
}
