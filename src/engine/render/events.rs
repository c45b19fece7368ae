//! The machine-readable UI (`-json`) as Terraform's (`internal/command/views/json`, UI 1.2):
//! the opening `version`, a plan's `planned_change`s, `change_summary` and `outputs`, apply's
//! hooks, each naming the AWS provider's resource (a secret's value is its own
//! `aws_secretsmanager_secret_version`), so a tool written for Terraform's stream reads
//! stackctl's. Built here as values; [`super`] prints them through the Printer.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value as J};
use stackctl_contract::Address;

use super::fields;
use crate::engine::json_plan::{TERRAFORM_VERSION, UI_VERSION};
use crate::engine::plan::{Action, Change, Mode, Plan, PlannedOutput, ProviderChange, TfAction};
use crate::engine::state::Output;

use crate::ui::Printer;

/// The first event of a stream (Terraform's `version`): the Terraform release whose formats
/// stackctl writes, the UI version, and stackctl's own version beside them.
pub fn version(ui: Printer) {
    let stackctl = env!("CARGO_PKG_VERSION");
    ui.event(
        "version",
        &format!("stackctl {stackctl} (Terraform's machine-readable UI {UI_VERSION})"),
        fields([
            ("terraform", J::from(TERRAFORM_VERSION)),
            ("ui", J::from(UI_VERSION)),
            ("stackctl", J::from(stackctl)),
        ]),
    );
}

/// Terraform's name of an action in its UI (`json.ChangeAction`): every kind of replacement
/// (a task definition's new revision, which keeps the old one, included) is `replace`.
pub fn action_name(a: TfAction) -> &'static str {
    match a {
        TfAction::NoOp => "noop",
        TfAction::Create => "create",
        TfAction::Update => "update",
        TfAction::Delete => "delete",
        TfAction::DeleteThenCreate | TfAction::CreateThenDelete | TfAction::CreateThenForget => {
            "replace"
        }
    }
}

/// The action a provider resource's events name: an adoption that changes nothing is
/// Terraform's `import`.
fn ui_action(pc: &ProviderChange) -> &'static str {
    match pc.action {
        TfAction::NoOp if pc.change.adopt => "import",
        a => action_name(a),
    }
}

/// A resource as Terraform's events name it (`json.ResourceAddr`): the whole address, the
/// module's, the resource's within it, the provider the type implies, type, name and key.
pub fn resource_json(address: &str) -> J {
    match Address::parse(address) {
        Ok(a) => {
            let module = format!("module.{}", a.module);
            let resource = address
                .strip_prefix(&format!("{module}."))
                .unwrap_or(address);
            json!({
                "addr": address,
                "module": module,
                "resource": resource,
                "implied_provider": a.type_name.split('_').next().unwrap_or_default(),
                "resource_type": a.type_name,
                "resource_name": a.name,
                "resource_key": a.key,
            })
        }
        Err(_) => json!({ "addr": address }),
    }
}

/// Why a provider resource is replaced or deleted (`json.ChangeReason`), when Terraform says.
fn reason(pc: &ProviderChange, mode: Mode) -> Option<&'static str> {
    match pc.action {
        a if a.is_replace() && pc.change.forced => Some("requested"),
        a if a.is_replace() => Some("cannot_update"),
        // A plan that keeps the stack deletes only what the configuration no longer has.
        TfAction::Delete if mode == Mode::Apply => Some("delete_because_no_resource_config"),
        _ => None,
    }
}

/// One `planned_change` (Terraform's `ResourceInstanceChange`): its message and `change`.
/// Beyond Terraform's fields, `changed` lists the attributes (stackctl's names) an update or a
/// replacement changes, as stackctl's events always have.
pub fn planned_change(pc: &ProviderChange, mode: Mode) -> (String, J) {
    let c = pc.change;
    let address = pc.address();
    let action = ui_action(pc);
    let mut change = json!({
        "resource": resource_json(&address),
        "action": action,
    });
    if let Some(r) = reason(pc, mode) {
        change["reason"] = json!(r);
    }
    if c.adopt {
        let id = c.live.as_ref().map(|l| l.id.as_str()).unwrap_or("");
        change["importing"] = json!({ "id": id });
    }
    if pc.action == TfAction::Update || pc.action.is_replace() {
        let changed: Vec<&String> = c.changed.iter().filter(|k| pc.owns(k)).collect();
        change["changed"] = json!(changed);
    }
    (format!("{address}: Plan to {action}"), change)
}

/// The plan's `change_summary` counts (`json.ChangeSummary`), the same the text plan's
/// `Plan: ...` line says: over the provider's resources.
pub fn plan_summary(p: &Plan) -> J {
    let (add, change, remove) = p.counts();
    json!({
        "add": add,
        "change": change,
        "import": p.adopts(),
        "remove": remove,
        "operation": "plan",
    })
}

/// A plan's `outputs` event (`json.OutputsFromChanges`): each output's sensitivity and action,
/// no value.
pub fn plan_outputs(outputs: &BTreeMap<String, PlannedOutput>) -> J {
    J::Object(
        outputs
            .iter()
            .map(|(name, o)| {
                let v = json!({ "sensitive": o.sensitive, "action": action_name(o.action) });
                (name.clone(), v)
            })
            .collect(),
    )
}

/// The outputs as Terraform writes them after apply and in `output -json`
/// (`json.OutputsFromMap`): `{name: {sensitive, type, value}}`; a sensitive value only when
/// `reveal` (the user asked for the outputs themselves, as `terraform output -json` prints them).
pub fn outputs_json(outputs: &BTreeMap<String, Output>, reveal: bool) -> J {
    J::Object(
        outputs
            .iter()
            .map(|(k, o)| {
                let mut v = json!({ "sensitive": o.sensitive, "type": cty_type(&o.value) });
                if reveal || !o.sensitive {
                    v["value"] = o.value.clone();
                }
                (k.clone(), v)
            })
            .collect(),
    )
}

/// A value's type as Terraform writes it in JSON (cty's type notation): an output built from a
/// list of attributes is a tuple, as Terraform types a list expression.
pub fn cty_type(v: &J) -> J {
    match v {
        J::String(_) => json!("string"),
        J::Number(_) => json!("number"),
        J::Bool(_) => json!("bool"),
        J::Null => json!("dynamic"),
        J::Array(a) => json!(["tuple", a.iter().map(cty_type).collect::<Vec<_>>()]),
        J::Object(o) => {
            let m: Map<String, J> = o.iter().map(|(k, v)| (k.clone(), cty_type(v))).collect();
            json!(["object", m])
        }
    }
}

/// The provider resources apply's hooks speak for: each of the change's that apply acts on
/// (a secret's value changed alone is its version's update, not the secret's).
pub fn acted(c: &Change) -> Vec<ProviderChange<'_>> {
    let all = c.provider_changes();
    let acting: Vec<ProviderChange> = all
        .iter()
        .copied()
        .filter(ProviderChange::does_something)
        .collect();
    if acting.is_empty() {
        // Apply acts on a change the plan counted as nothing for the provider (none today):
        // the kind's own resource speaks for it, with the change's action.
        return all
            .into_iter()
            .take(1)
            .map(|own| ProviderChange {
                action: tf_action(c.action),
                ..own
            })
            .collect();
    }
    acting
}

/// The provider action whose words a change's own progress line takes (any replacement reads
/// the same).
pub fn tf_action(a: Action) -> TfAction {
    match a {
        Action::NoOp => TfAction::NoOp,
        Action::Create => TfAction::Create,
        Action::Update => TfAction::Update,
        Action::Replace => TfAction::DeleteThenCreate,
        Action::Delete => TfAction::Delete,
    }
}

/// What the hooks say of an action: (starting, done, going on), as Terraform's UI words them.
pub fn verbs(a: TfAction) -> (&'static str, &'static str, &'static str) {
    match a {
        TfAction::Create => ("Creating...", "Creation complete", "creating"),
        TfAction::Update => ("Modifying...", "Modifications complete", "modifying"),
        TfAction::DeleteThenCreate | TfAction::CreateThenDelete | TfAction::CreateThenForget => {
            ("Replacing...", "Replacement complete", "replacing")
        }
        TfAction::Delete => ("Destroying...", "Destruction complete", "destroying"),
        // An adoption: the state learns of what AWS has.
        TfAction::NoOp => ("Adopting...", "Adoption complete", "adopting"),
    }
}

/// A hook's `hook` (`resource`, `action`, `elapsed_seconds` once it has begun).
pub fn hook(pc: &ProviderChange, elapsed: Option<Duration>) -> J {
    let mut h = json!({
        "resource": resource_json(&pc.address()),
        "action": ui_action(pc),
    });
    if let Some(e) = elapsed {
        h["elapsed_seconds"] = json!(e.as_secs());
    }
    h
}

/// The id a hook names (`id_key`, `id_value`): the kind's own resource's; a part's (a secret's
/// version) is not one stackctl keeps.
pub fn with_id(mut hook: J, pc: &ProviderChange, id: Option<&str>) -> J {
    if let (None, Some(id)) = (pc.part, id) {
        hook["id_key"] = json!("id");
        hook["id_value"] = json!(id);
    }
    hook
}

#[cfg(test)]
mod tests {

    use serde_json::json;
    use stackctl_contract::provider::Part;

    use super::*;
    use crate::engine::fake::FakeKind;

    const VERSION_PART: &[Part] = &[Part {
        type_name: "aws_secretsmanager_secret_version",
        owns: &["secret_string"],
    }];

    use crate::engine::fake::{change_of as change, plan};

    #[test]
    fn a_resource_is_named_as_terraform_names_it() {
        assert_eq!(
            resource_json("module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]"),
            json!({
                "addr": "module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]",
                "module": "module.efs",
                "resource": "aws_efs_mount_target.main[\"eu-west-3a\"]",
                "implied_provider": "aws",
                "resource_type": "aws_efs_mount_target",
                "resource_name": "main",
                "resource_key": "eu-west-3a",
            })
        );
        assert_eq!(
            resource_json("module.rds.aws_db_instance.main")["resource_key"],
            J::Null
        );
    }

    #[test]
    fn a_secret_value_changed_alone_is_its_version_update() {
        let kind = FakeKind::new("aws_secretsmanager_secret").parts(VERSION_PART);
        let c = change(
            kind,
            "module.secrets.aws_secretsmanager_secret.db",
            Action::Update,
            &["secret_string"],
        );
        let acting = acted(&c);
        assert_eq!(acting.len(), 1);
        let (message, change) = planned_change(&acting[0], Mode::Apply);
        assert_eq!(
            message,
            "module.secrets.aws_secretsmanager_secret_version.db: Plan to update"
        );
        assert_eq!(
            change["resource"]["resource"],
            "aws_secretsmanager_secret_version.db"
        );
        assert_eq!(change["changed"], json!(["secret_string"]));
        assert!(change.get("reason").is_none(), "{change}");
        // The hook names the version, and no id stackctl does not keep.
        let h = with_id(hook(&acting[0], None), &acting[0], Some("arn:secret"));
        assert_eq!(h["action"], "update");
        assert!(h.get("id_value").is_none(), "{h}");
    }

    #[test]
    fn a_created_secret_is_two_creates() {
        let kind = FakeKind::new("aws_secretsmanager_secret").parts(VERSION_PART);
        let c = change(
            kind,
            "module.secrets.aws_secretsmanager_secret.db",
            Action::Create,
            &[],
        );
        let names: Vec<String> = acted(&c)
            .iter()
            .map(|pc| planned_change(pc, Mode::Apply).0)
            .collect();
        assert_eq!(
            names,
            [
                "module.secrets.aws_secretsmanager_secret.db: Plan to create",
                "module.secrets.aws_secretsmanager_secret_version.db: Plan to create",
            ]
        );
    }

    #[test]
    fn replacements_say_why_and_a_kept_revision_is_a_replace() {
        let td = || FakeKind::new("aws_ecs_task_definition").keeps_replaced("rollback");
        let c = change(
            td(),
            "module.ecs.aws_ecs_task_definition.main",
            Action::Replace,
            &["image"],
        );
        let pcs = acted(&c);
        assert_eq!(pcs[0].action, TfAction::CreateThenForget);
        let (_, change) = planned_change(&pcs[0], Mode::Apply);
        assert_eq!(change["action"], "replace");
        assert_eq!(change["reason"], "cannot_update");
        let mut forced = c.clone();
        forced.forced = true;
        let (_, change) = planned_change(&acted(&forced)[0], Mode::Apply);
        assert_eq!(change["reason"], "requested");
        // The summary counts the new revision as added and nothing destroyed.
        let summary = plan_summary(&plan(Mode::Apply, vec![c]));
        assert_eq!(
            (&summary["add"], &summary["remove"]),
            (&json!(1), &json!(0))
        );
    }

    #[test]
    fn deletes_say_why_only_when_the_stack_stays() {
        let c = change(
            FakeKind::new("aws_cloudwatch_log_group"),
            "module.ecs.aws_cloudwatch_log_group.old",
            Action::Delete,
            &[],
        );
        let pc = acted(&c)[0];
        assert_eq!(
            planned_change(&pc, Mode::Apply).1["reason"],
            "delete_because_no_resource_config"
        );
        assert!(planned_change(&pc, Mode::Destroy).1.get("reason").is_none());
    }

    #[test]
    fn an_adoption_is_an_import_with_its_id() {
        let mut c = change(
            FakeKind::new("aws_cloudwatch_log_group"),
            "module.ecs.aws_cloudwatch_log_group.main",
            Action::NoOp,
            &[],
        );
        c.adopt = true;
        let pc = acted(&c)[0];
        let (message, change) = planned_change(&pc, Mode::Apply);
        assert_eq!(
            message,
            "module.ecs.aws_cloudwatch_log_group.main: Plan to import"
        );
        assert_eq!(change["importing"], json!({ "id": "arn:secret" }));
        assert_eq!(plan_summary(&plan(Mode::Apply, vec![c]))["import"], 1);
    }

    #[test]
    fn outputs_after_apply_carry_their_type_and_no_secret() {
        let outputs = BTreeMap::from([
            (
                "port".to_owned(),
                Output {
                    value: json!(3306),
                    sensitive: false,
                },
            ),
            (
                "endpoint".to_owned(),
                Output {
                    value: json!("db:3306"),
                    sensitive: true,
                },
            ),
            (
                "dns".to_owned(),
                Output {
                    value: json!(["a", 1]),
                    sensitive: false,
                },
            ),
        ]);
        assert_eq!(
            outputs_json(&outputs, false),
            json!({
                "port": { "sensitive": false, "type": "number", "value": 3306 },
                "endpoint": { "sensitive": true, "type": "string" },
                "dns": { "sensitive": false, "type": ["tuple", ["string", "number"]], "value": ["a", 1] },
            })
        );
        assert_eq!(outputs_json(&outputs, true)["endpoint"]["value"], "db:3306");
    }
}
