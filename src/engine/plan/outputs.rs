//! What a plan makes of the outputs: each computed over the resources as the plan leaves them
//! and compared with the state's, for the plan's `outputs` event and `output_changes`.

use std::collections::{BTreeMap, HashMap};

use stackctl_contract::{Val, Values};

use super::types::{Action, Mode, Plan};
use super::TfAction;
use crate::engine::state::Output;
use crate::engine::{KnownResolver, OutputDef};

/// What a plan does to one output (Terraform's `output_changes`).
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedOutput {
    pub sensitive: bool,
    pub action: TfAction,
    /// The value after apply: unknown where it reads what apply creates or changes.
    pub after: Val,
}

/// The outputs as the plan leaves them: each of `defs` computed over the planned resources
/// (an attribute a create, a replacement or an update leaves unknown is unknown), compared
/// with the prior state's; on destroy, every output the state has goes.
pub fn planned_outputs(p: &Plan, defs: &[OutputDef]) -> BTreeMap<String, PlannedOutput> {
    let gone = |o: &Output| PlannedOutput {
        sensitive: o.sensitive,
        action: TfAction::Delete,
        after: Val::Unknown,
    };
    if p.mode == Mode::Destroy {
        return p
            .prior
            .outputs
            .iter()
            .map(|(name, o)| (name.clone(), gone(o)))
            .collect();
    }
    let known = planned_values(p);
    let resolver = KnownResolver(&known);
    let mut out: BTreeMap<String, PlannedOutput> = p
        .prior
        .outputs
        .iter()
        .filter(|(name, _)| !defs.iter().any(|d| d.name == name.as_str()))
        .map(|(name, o)| (name.clone(), gone(o)))
        .collect();
    for d in defs {
        let after = (d.value)(&resolver);
        let action = match (p.prior.outputs.get(d.name), &after) {
            (None, _) => TfAction::Create,
            (Some(o), Val::Known(v)) if &o.value == v && o.sensitive == d.sensitive => {
                TfAction::NoOp
            }
            (Some(_), _) => TfAction::Update,
        };
        out.insert(
            d.name.to_owned(),
            PlannedOutput {
                sensitive: d.sensitive,
                action,
                after,
            },
        );
    }
    out
}

/// Every resource's attributes as far as the plan knows them after apply: what AWS has where
/// nothing changes, the configured values over it where an update changes it, only the
/// configured values where it is created or replaced (AWS's computed ones are not known yet).
fn planned_values(p: &Plan) -> HashMap<String, Values> {
    let mut known: HashMap<String, Values> = p
        .prior
        .resources
        .iter()
        .map(|(a, r)| (a.clone(), r.attrs.clone()))
        .collect();
    for c in &p.changes {
        let live = c.live.as_ref().map(|l| l.attrs.clone()).unwrap_or_default();
        match c.action {
            Action::Delete => {
                known.remove(&c.address);
            }
            Action::NoOp => {
                known.insert(c.address.clone(), live);
            }
            Action::Update => {
                let mut v = live;
                for (k, d) in &c.desired {
                    match d {
                        Val::Known(x) => v.insert(k.clone(), x.clone()),
                        Val::Unknown => v.remove(k),
                    };
                }
                known.insert(c.address.clone(), v);
            }
            Action::Create | Action::Replace => {
                let v = c
                    .desired
                    .iter()
                    .filter_map(|(k, d)| Some((k.clone(), d.known()?.clone())))
                    .collect();
                known.insert(c.address.clone(), v);
            }
        }
    }
    known
}

#[cfg(test)]
mod tests {

    use serde_json::json;
    use stackctl_contract::Attrs;

    use super::*;
    use crate::engine::fake::FakeKind;

    use crate::engine::state::{ResourceState, State};

    use crate::engine::fake::{change_of as change, plan};

    fn output(name: &'static str, attr: &'static str) -> OutputDef {
        OutputDef {
            name,
            sensitive: false,
            value: Box::new(move |r| r.get("module.ecs.aws_ecs_cluster.main", attr)),
        }
    }

    #[test]
    fn outputs_are_created_kept_changed_or_unknown_as_the_plan_leaves_their_resource() {
        let defs = [output("cluster_name", "name"), output("cluster_arn", "arn")];
        let mut desired = Attrs::new();
        desired.insert("name".into(), Val::from("c2"));
        let mut c = change(
            FakeKind::new("aws_ecs_cluster"),
            "module.ecs.aws_ecs_cluster.main",
            Action::Create,
            &[],
        );
        c.desired = desired.clone();
        // From empty: both created; the name is known, the ARN is AWS's to give.
        let p = plan(Mode::Apply, vec![c.clone()]);
        let out = planned_outputs(&p, &defs);
        assert_eq!(out["cluster_name"].action, TfAction::Create);
        assert_eq!(out["cluster_name"].after, Val::from("c2"));
        assert_eq!(out["cluster_arn"].after, Val::Unknown);
        // Applied as c1: renaming it updates the name, keeps the ARN.
        let mut prior = State::new();
        prior.resources.insert(
            "module.ecs.aws_ecs_cluster.main".into(),
            ResourceState {
                type_name: "aws_ecs_cluster".into(),
                id: "c1".into(),
                attrs: Values::from([
                    ("name".to_owned(), json!("c1")),
                    ("arn".to_owned(), json!("arn:c1")),
                ]),
                depends_on: Vec::new(),
            },
        );
        for (name, v) in [("cluster_name", "c1"), ("cluster_arn", "arn:c1")] {
            prior.outputs.insert(
                name.into(),
                Output {
                    value: json!(v),
                    sensitive: false,
                },
            );
        }
        c.action = Action::Update;
        c.live = Some(prior.resources["module.ecs.aws_ecs_cluster.main"].instance());
        let p = Plan {
            mode: Mode::Apply,
            prior: prior.clone(),
            changes: vec![c.clone()],
        };
        let out = planned_outputs(&p, &defs);
        assert_eq!(out["cluster_name"].action, TfAction::Update);
        assert_eq!(out["cluster_arn"].action, TfAction::NoOp);
        // Replaced: the ARN is unknown again, so it changes.
        c.action = Action::Replace;
        let p = Plan {
            mode: Mode::Apply,
            prior: prior.clone(),
            changes: vec![c],
        };
        assert_eq!(
            planned_outputs(&p, &defs)["cluster_arn"].action,
            TfAction::Update
        );
        // Destroyed: every output the state has goes.
        let p = Plan {
            mode: Mode::Destroy,
            prior,
            changes: Vec::new(),
        };
        let out = planned_outputs(&p, &[]);
        assert_eq!(out.len(), 2);
        assert!(out.values().all(|o| o.action == TfAction::Delete));
    }
}
