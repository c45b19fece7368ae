//! Diff: what each resource of the configuration should be, given what the resources it needs
//! are planned to be; how that differs from what AWS has (create, update, replace or nothing);
//! and what the state holds that the configuration does not (delete).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value as J;
use stackctl_contract::{effective, Attrs, Instance, Kind, Resolve, ResourceSpec, Val, Values};

use super::types::{Action, Change, Mode, PlanError};
use crate::engine::graph::Graph;
use crate::engine::state::{ResourceState, State};
use crate::engine::{Config, Registry};

/// What a resolver knows of a resource while the plan is being made.
pub(super) enum Planned {
    /// It exists and keeps these attributes.
    Known(Values),
    /// It is changed in place: desired attributes where set, live ones otherwise.
    Updating(Values, Attrs),
    /// It will be created or replaced: the attributes the configuration sets are known (they
    /// are what the resource will have, in the form a read returns), computed ones (ids,
    /// ARNs, DNS names) only after apply, as in Terraform.
    Creating(Attrs),
}

struct PlanResolver<'a>(&'a HashMap<String, Planned>);

impl Resolve for PlanResolver<'_> {
    fn get(&self, address: &str, attr: &str) -> Val {
        let known = |v: Option<&J>| match v {
            Some(v) if !v.is_null() => Val::Known(v.clone()),
            _ => Val::Unknown,
        };
        match self.0.get(address) {
            Some(Planned::Known(values)) => known(values.get(attr)),
            Some(Planned::Updating(values, desired)) => match desired.get(attr) {
                Some(v) => v.clone(),
                None => known(values.get(attr)),
            },
            Some(Planned::Creating(desired)) => desired.get(attr).cloned().unwrap_or(Val::Unknown),
            None => Val::Unknown,
        }
    }
}

/// Desired attributes that differ from `live` (an unknown value always differs). A value AWS
/// holds as pending (accepted, applied in a maintenance window) counts as the attribute's: it
/// is not sent again on every apply, and a desired value other than it is a change.
pub fn diff(desired: &Attrs, live: &Values) -> Vec<String> {
    desired
        .iter()
        .filter(|(k, v)| match v {
            Val::Unknown => true,
            Val::Known(v) => effective(live, k) != Some(v),
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// Fingerprint the known sensitive values of `desired` the way the state stores them.
pub fn scrub_attrs(desired: &mut Attrs, sensitive: &[&str], salt: &str) {
    for key in sensitive {
        if let Some(Val::Known(J::String(s))) = desired.get(*key) {
            let fp = crate::engine::fingerprint(salt, s);
            desired.insert((*key).to_owned(), Val::Known(J::String(fp)));
        }
    }
}

/// What `spec` should be, given what the resources it needs are planned to be, with its secrets
/// fingerprinted as the state holds them. Both walks of the plan go through here: an early
/// lookup's answer is reused only if its values are equal, so they must be computed alike.
pub(super) fn desired_with(
    spec: &ResourceSpec,
    planned: &HashMap<String, Planned>,
    salt: &str,
) -> Attrs {
    let mut desired = spec.desired(&PlanResolver(planned));
    scrub_attrs(&mut desired, &spec.kind.sensitive(), salt);
    desired
}

/// Whether `desired` asks to create the resource (it does not exist), leave it, change it in
/// place, or replace it; with the desired attributes that differ and, for a replacement, why.
pub(super) fn decide(
    kind: &dyn Kind,
    desired: &Attrs,
    live: Option<&Instance>,
) -> (Action, Vec<String>, Option<String>) {
    let Some(inst) = live else {
        return (Action::Create, desired.keys().cloned().collect(), None);
    };
    let changed = diff(desired, &inst.attrs);
    let forces: Vec<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|c| kind.force_new(c))
        .collect();
    if changed.is_empty() {
        (Action::NoOp, changed, None)
    } else if !forces.is_empty() {
        let mut why = format!("{} cannot change in place", forces.join(", "));
        if let Some(kept) = kind.keeps_replaced() {
            why = format!("{why}; {kept}");
        }
        (Action::Replace, changed, Some(why))
    } else {
        (Action::Update, changed, None)
    }
}

/// What the resources that need this one will see of it.
pub(super) fn planned_of(action: Action, live: Option<&Instance>, desired: &Attrs) -> Planned {
    match (action, live) {
        (Action::NoOp, Some(inst)) => Planned::Known(inst.attrs.clone()),
        (Action::Update, Some(inst)) => Planned::Updating(inst.attrs.clone(), desired.clone()),
        _ => Planned::Creating(desired.clone()),
    }
}

/// What the state has and the configuration does not (everything, on destroy): deleted, after
/// whatever depended on it.
// PlanError is what the public `plan` returns; boxing it for this step would change that.
#[allow(clippy::result_large_err)]
pub(super) fn deletions(
    prior: &State,
    config: &Config,
    registry: &Registry,
    mode: Mode,
) -> Result<Vec<Change>, PlanError> {
    let in_config: HashSet<&str> = match mode {
        Mode::Apply => config.specs.iter().map(|s| s.address.as_str()).collect(),
        Mode::Destroy => Default::default(),
    };
    let mut doomed = Graph::default();
    for (address, rs) in &prior.resources {
        if !in_config.contains(address.as_str()) {
            doomed.add(address, rs.depends_on.iter().cloned());
        }
    }
    let mut order = doomed
        .topo_order()
        .map_err(|c| PlanError::Internal(c.to_string()))?;
    order.reverse();
    order
        .into_iter()
        .map(|address| deletion(prior, registry, mode, address))
        .collect()
}

/// The delete of `address`, a resource of `prior`; `depends_on` lists what needed it.
// PlanError is what the public `plan` returns; boxing it for this step would change that.
#[allow(clippy::result_large_err)]
fn deletion(
    prior: &State,
    registry: &Registry,
    mode: Mode,
    address: String,
) -> Result<Change, PlanError> {
    let rs: &ResourceState = &prior.resources[&address];
    let kind = registry
        .get(&rs.type_name)
        .ok_or_else(|| PlanError::UnknownType {
            address: address.clone(),
            type_name: rs.type_name.clone(),
        })?
        .clone();
    let dependents = prior
        .resources
        .iter()
        .filter(|(_, r)| r.depends_on.contains(&address))
        .map(|(a, _)| a.clone())
        .collect();
    Ok(Change {
        address: address.clone(),
        kind,
        action: Action::Delete,
        live: Some(rs.instance()),
        desired: Attrs::new(),
        changed: Vec::new(),
        note: (mode == Mode::Apply).then(|| "it is no longer in the configuration".to_owned()),
        notes: BTreeMap::new(),
        depends_on: dependents,
        adopt: false,
        adopt_checked: false,
        foreign: None,
        forced: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_sees_changes_and_unknowns_only_on_desired_keys() {
        let desired = Attrs::from([
            ("a".to_owned(), Val::from(1)),
            ("b".to_owned(), Val::from("x")),
            ("c".to_owned(), Val::Unknown),
        ]);
        let live = Values::from([
            ("a".to_owned(), json!(1)),
            ("b".to_owned(), json!("y")),
            ("c".to_owned(), json!("z")),
            ("arn".to_owned(), json!("computed")),
        ]);
        assert_eq!(diff(&desired, &live), vec!["b", "c"]);
    }

    #[test]
    fn a_pending_value_is_not_a_change_but_another_value_is() {
        let live = Values::from([
            ("class".to_owned(), json!("db.t3.micro")),
            ("size".to_owned(), json!(20)),
            ("pending".to_owned(), json!({ "class": "db.t3.small" })),
        ]);
        let desired = |class: &str| {
            Attrs::from([
                ("class".to_owned(), Val::from(class)),
                ("size".to_owned(), Val::from(20)),
            ])
        };
        // Accepted by AWS for the maintenance window: not sent again.
        assert!(diff(&desired("db.t3.small"), &live).is_empty());
        // Back to what runs now, or a third value: the pending one must be replaced.
        assert_eq!(diff(&desired("db.t3.micro"), &live), vec!["class"]);
        assert_eq!(diff(&desired("db.t3.large"), &live), vec!["class"]);
    }

    #[test]
    fn sensitive_desired_values_compare_as_fingerprints() {
        let mut desired = Attrs::from([("password".to_owned(), Val::from("hunter2hunter2"))]);
        scrub_attrs(&mut desired, &["password"], "salt");
        let mut live = Values::from([("password".to_owned(), json!("hunter2hunter2"))]);
        crate::engine::scrub_values(&mut live, &["password"], "salt");
        assert!(diff(&desired, &live).is_empty());
        assert!(!format!("{desired:?}{live:?}").contains("hunter2"));
    }
}
