//! A plan as Terraform's JSON plan representation (`terraform show -json`): `resource_changes`
//! with `change.actions`, `before`, `after`, `after_unknown`, and secrets masked, so CI can gate
//! on it with jq. Also the state's `values` form for `show -json` without a plan file.

mod document;
mod values;

use serde_json::{json, Map, Value as J};
use stackctl_contract::Address;

pub use self::document::{
    configuration, output_changes, planned_values, prior_state, state_values,
};
use self::values::Stage;
use super::plan::{part_address, Drift, Plan, ProviderChange, TfAction};

/// The version of Terraform's JSON plan format whose shape this follows.
pub const FORMAT_VERSION: &str = "1.2";

/// The Terraform release whose JSON formats (plan, state, machine-readable UI) these follow,
/// written as `terraform_version`: tools read that key to know the file is a plan at all
/// (checkov skips a plan without it).
pub const TERRAFORM_VERSION: &str = "1.11.4";

/// The version of Terraform's machine-readable UI (`-json` events) these follow.
pub const UI_VERSION: &str = "1.2";

const PROVIDER: &str = "registry.terraform.io/hashicorp/aws";

/// The address's parts as Terraform names them in `resource_changes`.
pub fn address_fields(address: &str, type_name: &str) -> Map<String, J> {
    let mut m = Map::new();
    m.insert("address".into(), json!(address));
    if let Ok(a) = Address::parse(address) {
        m.insert(
            "module_address".into(),
            json!(format!("module.{}", a.module)),
        );
        m.insert("mode".into(), json!("managed"));
        m.insert("type".into(), json!(type_name));
        m.insert("name".into(), json!(a.name));
        if let Some(key) = a.key {
            m.insert("index".into(), json!(key));
        }
    } else {
        m.insert("mode".into(), json!("managed"));
        m.insert("type".into(), json!(type_name));
    }
    m.insert("provider_name".into(), json!(PROVIDER));
    m
}

/// `before` and `before_sensitive` of an existing object (`null`, `false` when there is none).
fn before_of(pc: &ProviderChange) -> (J, J) {
    let c = pc.change;
    match &c.live {
        Some(live) if pc.action != TfAction::Create => {
            let attrs = values::marked(&*c.kind, &live.attrs, &[], Some(&live.id));
            let v = values::provider_object(&*c.kind, pc.type_name(), &attrs, Stage::Existing);
            let (known, _, sensitive) = values::split(&v);
            (known.unwrap_or(J::Null), sensitive)
        }
        _ => (J::Null, J::Bool(false)),
    }
}

/// The object the change leaves, with markers: the live one overlaid with the desired values
/// (an update keeps what the configuration does not set), or the desired values alone for a
/// new object. `None` for a delete.
pub fn after_of(pc: &ProviderChange) -> Option<J> {
    let c = pc.change;
    let (live, id, stage) = match pc.action {
        TfAction::Delete => return None,
        TfAction::NoOp | TfAction::Update => (
            c.live.as_ref().map(|l| &l.attrs),
            c.live.as_ref().map(|l| l.id.as_str()),
            Stage::Keeping,
        ),
        _ => (None, None, Stage::Creating),
    };
    let attrs = values::planned(&*c.kind, live, &c.desired, id);
    let mut v = values::provider_object(&*c.kind, pc.type_name(), &attrs, stage);
    // A part updated in place is a new object of its type (a secret's new value is a new
    // version): what AWS computes for it is known only after apply.
    if let (Some(_), TfAction::Update, Some(schema), Some(o)) = (
        pc.part,
        pc.action,
        stackctl_contract::provider::schema(pc.type_name()),
        v.as_object_mut(),
    ) {
        for (name, a) in schema.block["attributes"].as_object().into_iter().flatten() {
            let computed_only = a["computed"] == true && a["optional"] != true;
            if computed_only && name != "arn" {
                o.insert(
                    name.clone(),
                    J::String(stackctl_contract::provider::UNKNOWN.into()),
                );
            }
        }
    }
    Some(v)
}

/// One entry of `resource_changes`.
pub fn resource_change(pc: &ProviderChange) -> J {
    let c = pc.change;
    let (before, before_sensitive) = before_of(pc);
    let (after, after_unknown, after_sensitive) = match after_of(pc) {
        Some(v) => {
            let (known, unknown, sensitive) = values::split(&v);
            (known.unwrap_or(J::Null), unknown, sensitive)
        }
        None => (J::Null, J::Bool(false), J::Bool(false)),
    };
    let mut change = json!({
        "actions": pc.action.json(),
        "before": before,
        "after": after,
        "after_unknown": after_unknown,
        "before_sensitive": before_sensitive,
        "after_sensitive": after_sensitive,
    });
    if pc.action.is_replace() {
        let paths: Vec<J> = c
            .changed
            .iter()
            .filter(|k| pc.owns(k) && c.kind.force_new(k))
            .map(|k| json!([k]))
            .collect();
        if !paths.is_empty() {
            change["replace_paths"] = J::Array(paths);
        }
    }
    if c.adopt {
        let id = c.live.as_ref().map(|l| l.id.as_str()).unwrap_or_default();
        change["importing"] = json!({ "id": id });
    }
    let mut m = address_fields(&pc.address(), pc.type_name());
    m.insert("change".into(), change);
    if pc.action.is_replace() {
        let reason = if c.forced {
            "replace_by_request"
        } else {
            "replace_because_cannot_update"
        };
        m.insert("action_reason".into(), json!(reason));
    }
    J::Object(m)
}

/// Every change of the plan as the provider's resources, no-ops included (as Terraform lists
/// them), in plan order.
pub fn resource_changes(p: &Plan) -> Vec<J> {
    p.provider_changes().iter().map(resource_change).collect()
}

/// What of a resource change a saved plan must still be at apply time: the address, the
/// actions and what the resource is to become, without `transient` attributes (which AWS
/// changes by itself). `before` is left out: AWS may move a computed attribute (a status, a
/// timestamp) without the plan being any different.
pub fn essence(change: &J, transient: &[&str]) -> J {
    let mut e = json!({
        "address": change["address"],
        "actions": change["change"]["actions"],
        "after": change["change"]["after"],
        "after_unknown": change["change"]["after_unknown"],
        "after_sensitive": change["change"]["after_sensitive"],
    });
    for key in ["after", "after_unknown", "after_sensitive"] {
        if let Some(o) = e[key].as_object_mut() {
            for attr in transient {
                o.remove(*attr);
            }
        }
    }
    e
}

/// The entries of `resource_drift` for a resource changed (`["update"]`) or deleted
/// (`["delete"]`) outside stackctl, before and after as the state and AWS have it: one per
/// provider resource that moved.
pub fn drift_changes(d: &Drift) -> Vec<J> {
    let kind = &*d.kind;
    let object = |i: &stackctl_contract::Instance, type_name: &str| {
        let attrs = values::marked(kind, &i.attrs, &[], Some(&i.id));
        values::provider_object(kind, type_name, &attrs, Stage::Existing)
    };
    let parts = std::iter::once(None).chain(kind.parts().iter().map(Some));
    let mut out = Vec::new();
    for part in parts {
        let type_name = part.map_or(kind.type_name(), |p| p.type_name);
        let before = object(&d.before, type_name);
        let after = d.after.as_ref().map(|a| object(a, type_name));
        if part.is_some() && after.as_ref() == Some(&before) {
            continue;
        }
        let (before, _, before_sensitive) = values::split(&before);
        let (actions, after, after_sensitive) = match after {
            Some(a) => {
                let (known, _, sensitive) = values::split(&a);
                (json!(["update"]), known.unwrap_or(J::Null), sensitive)
            }
            None => (json!(["delete"]), J::Null, json!(false)),
        };
        let mut m = address_fields(&part_address(&d.address, part), type_name);
        m.insert(
            "change".into(),
            json!({
                "actions": actions,
                "before": before.unwrap_or(J::Null),
                "after": after,
                "after_unknown": {},
                "before_sensitive": before_sensitive,
                "after_sensitive": after_sensitive,
            }),
        );
        out.push(J::Object(m));
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use stackctl_contract::{Attrs, Field, Flag, Instance, Val, Values};

    use super::super::fake::{self, FakeKind};
    use super::super::plan::{Action, Change};
    use super::*;

    fn db() -> Arc<FakeKind> {
        Arc::new(FakeKind::new("aws_db_instance").fields(&[
            Field {
                name: "password",
                flags: &[Flag::Sensitive],
            },
            Field {
                name: "instance_class",
                flags: &[],
            },
        ]))
    }

    fn only(c: &Change) -> J {
        let pcs = c.provider_changes();
        assert_eq!(pcs.len(), 1);
        resource_change(&pcs[0])
    }

    #[test]
    fn an_update_shows_before_and_after_with_secrets_and_unknowns_flagged_not_shown() {
        let live = Instance::new(
            "p-db",
            Values::from([
                ("instance_class".to_owned(), json!("db.t3.micro")),
                ("password".to_owned(), json!("fingerprint:sha256:abc")),
                ("endpoint".to_owned(), json!("p-db.x:3306")),
                ("bookkeeping".to_owned(), json!("not the provider's")),
            ]),
        );
        let desired = Attrs::from([
            ("instance_class".to_owned(), Val::from("db.t3.small")),
            ("password".to_owned(), Val::from("fingerprint:sha256:abc")),
            ("db_subnet_group_name".to_owned(), Val::Unknown),
        ]);
        let c = fake::change(
            "module.rds.aws_db_instance.main",
            db(),
            Action::Update,
            Some(live),
            desired,
            &["instance_class", "db_subnet_group_name"],
        );
        let j = only(&c);
        assert_eq!(j["address"], "module.rds.aws_db_instance.main");
        assert_eq!(j["module_address"], "module.rds");
        assert_eq!(j["type"], "aws_db_instance");
        assert_eq!(j["name"], "main");
        let ch = &j["change"];
        assert_eq!(ch["actions"], json!(["update"]));
        assert_eq!(ch["before"]["instance_class"], "db.t3.micro");
        assert_eq!(ch["before"]["id"], "p-db");
        assert_eq!(ch["after"]["instance_class"], "db.t3.small");
        // What the configuration does not set stays as it is.
        assert_eq!(ch["after"]["endpoint"], "p-db.x:3306");
        // The provider's other attributes are there, unset; what it lacks is not.
        assert_eq!(ch["after"]["deletion_protection"], J::Null);
        assert!(ch["after"].get("bookkeeping").is_none());
        assert_eq!(ch["after_unknown"]["db_subnet_group_name"], true);
        assert!(ch["after"].get("db_subnet_group_name").is_none());
        assert_eq!(ch["before_sensitive"]["password"], true);
        assert_eq!(ch["after_sensitive"]["password"], true);
        assert!(ch["after"].get("password").is_none());
        assert!(!j.to_string().contains("fingerprint"), "{j}");
    }

    #[test]
    fn a_create_lists_the_providers_computed_attributes_as_unknown() {
        let desired = Attrs::from([("instance_class".to_owned(), Val::from("db.t3.micro"))]);
        let c = fake::change(
            "module.rds.aws_db_instance.main",
            db(),
            Action::Create,
            None,
            desired,
            &[],
        );
        let ch = &only(&c)["change"];
        assert_eq!(ch["actions"], json!(["create"]));
        assert_eq!(ch["before"], J::Null);
        assert_eq!(ch["before_sensitive"], false);
        for computed in ["id", "arn", "endpoint", "address", "port"] {
            assert_eq!(ch["after_unknown"][computed], true, "{computed}");
        }
        assert_eq!(ch["after"]["instance_class"], "db.t3.micro");
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
        assert_eq!(only(&c)["change"]["actions"], json!(["delete", "create"]));
        assert_eq!(only(&c)["action_reason"], "replace_because_cannot_update");
        c.forced = true;
        assert_eq!(only(&c)["action_reason"], "replace_by_request");
        // A new task definition revision keeps the old one: Terraform's create-then-forget,
        // which a "no deletes" gate on `actions` lets through.
        let kept = fake::change(
            "module.ecs.aws_ecs_task_definition.main",
            Arc::new(FakeKind::new("aws_ecs_task_definition").keeps_replaced("kept")),
            Action::Replace,
            Some(live),
            Attrs::new(),
            &[],
        );
        assert_eq!(
            only(&kept)["change"]["actions"],
            json!(["create", "forget"])
        );
    }
}
