//! The rest of Terraform's plan document around `resource_changes`: `planned_values`,
//! `prior_state`, `configuration` and `output_changes`, and the state as `show -json` prints it
//! (`values.root_module.child_modules`), all in the AWS provider's shapes.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as J};
use stackctl_contract::provider::{self, Part, SENSITIVE, UNKNOWN};
use stackctl_contract::{Address, Kind, Resolve, Val};

use super::values::{self, Stage};
use super::{address_fields, after_of, FORMAT_VERSION, TERRAFORM_VERSION};
use crate::engine::plan::{part_address, Plan, PlannedOutput, TfAction};
use crate::engine::state::{Output, State};
use crate::engine::{Config, Registry};

/// One resource of a `values` representation (state or planned values).
fn resource(address: &str, type_name: &str, v: &J, depends_on: Option<&[String]>) -> J {
    let (known, _, sensitive) = values::split(v);
    let mut m = address_fields(address, type_name);
    m.remove("module_address");
    m.insert(
        "schema_version".into(),
        json!(provider::schema(type_name).map_or(0, |s| s.version)),
    );
    m.insert("values".into(), known.unwrap_or(J::Null));
    m.insert("sensitive_values".into(), sensitive);
    if let Some(deps) = depends_on {
        if !deps.is_empty() {
            m.insert("depends_on".into(), json!(deps));
        }
    }
    J::Object(m)
}

/// Resources grouped as Terraform's module tree: `{resources: [], child_modules: [{address,
/// resources}]}`, each list sorted by address.
fn module_tree(mut resources: Vec<(String, J)>) -> J {
    resources.sort_by(|a, b| a.0.cmp(&b.0));
    let mut root = Vec::new();
    let mut modules: BTreeMap<String, Vec<J>> = BTreeMap::new();
    for (address, r) in resources {
        match Address::parse(&address) {
            Ok(a) => modules
                .entry(format!("module.{}", a.module))
                .or_default()
                .push(r),
            Err(_) => root.push(r),
        }
    }
    let children: Vec<J> = modules
        .into_iter()
        .map(|(address, resources)| json!({ "resources": resources, "address": address }))
        .collect();
    let mut m = Map::new();
    if !root.is_empty() {
        m.insert("resources".into(), J::Array(root));
    }
    m.insert("child_modules".into(), J::Array(children));
    J::Object(m)
}

/// Outputs as `values.outputs` has them; a sensitive one's value is not written.
fn outputs_values(outputs: &BTreeMap<String, Output>) -> J {
    J::Object(
        outputs
            .iter()
            .map(|(k, o)| {
                let mut v = json!({ "sensitive": o.sensitive });
                if !o.sensitive {
                    v["value"] = o.value.clone();
                }
                (k.clone(), v)
            })
            .collect(),
    )
}

/// The kind's own type and its parts.
fn types_of(kind: &dyn Kind) -> Vec<Option<&'static Part>> {
    std::iter::once(None)
        .chain(kind.parts().iter().map(Some))
        .collect()
}

/// The state's resources in the provider's shapes (`values.root_module`).
fn state_module(state: &State, registry: &Registry) -> J {
    let mut out = Vec::new();
    for (address, rs) in &state.resources {
        let Some(kind) = registry.get(&rs.type_name) else {
            continue;
        };
        let attrs = values::marked(&**kind, &rs.attrs, &[], Some(&rs.id));
        for part in types_of(&**kind) {
            let type_name = part.map_or(kind.type_name(), |p| p.type_name);
            let at = part_address(address, part);
            let v = values::provider_object(&**kind, type_name, &attrs, Stage::Existing);
            let mut deps = rs.depends_on.clone();
            if part.is_some() {
                deps.insert(0, address.clone());
            }
            out.push((at.clone(), resource(&at, type_name, &v, Some(&deps))));
        }
    }
    module_tree(out)
}

/// `show -json` without a plan: the state as Terraform's `values` representation.
pub fn state_values(state: &State, registry: &Registry) -> J {
    json!({
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "stackctl_version": env!("CARGO_PKG_VERSION"),
        "values": {
            "outputs": outputs_values(&state.outputs),
            "root_module": state_module(state, registry),
        },
    })
}

/// The state the plan was made from, refreshed: each resource as the plan's refresh read it.
pub fn prior_state(p: &Plan) -> J {
    let mut out = Vec::new();
    for pc in p.provider_changes() {
        let c = pc.change;
        let Some(live) = &c.live else { continue };
        let attrs = values::marked(&*c.kind, &live.attrs, &[], Some(&live.id));
        let v = values::provider_object(&*c.kind, pc.type_name(), &attrs, Stage::Existing);
        let at = pc.address();
        out.push((
            at.clone(),
            resource(&at, pc.type_name(), &v, Some(&c.depends_on)),
        ));
    }
    json!({
        "format_version": FORMAT_VERSION,
        "terraform_version": TERRAFORM_VERSION,
        "values": {
            "outputs": outputs_values(&p.prior.outputs),
            "root_module": module_tree(out),
        },
    })
}

/// `planned_values`: every resource the plan leaves (deleted ones are not), known values only.
pub fn planned_values(p: &Plan, outputs: &BTreeMap<String, PlannedOutput>) -> J {
    let mut out = Vec::new();
    for pc in p.provider_changes() {
        let Some(v) = after_of(&pc) else { continue };
        let at = pc.address();
        out.push((at.clone(), resource(&at, pc.type_name(), &v, None)));
    }
    let outputs: Map<String, J> = outputs
        .iter()
        .filter(|(_, o)| o.action != TfAction::Delete)
        .map(|(name, o)| {
            let mut v = json!({ "sensitive": o.sensitive });
            if let (Val::Known(known), false) = (&o.after, o.sensitive) {
                v["value"] = known.clone();
            }
            (name.clone(), v)
        })
        .collect();
    json!({ "outputs": outputs, "root_module": module_tree(out) })
}

/// `output_changes`: each output's value before (the state's) and after the plan; a
/// sensitive one's values are not written.
pub fn output_changes(p: &Plan, outputs: &BTreeMap<String, PlannedOutput>) -> J {
    let mut m = Map::new();
    for (name, o) in outputs {
        let before = p.prior.outputs.get(name);
        let shown = |v: Option<&J>| match v {
            Some(v) if !o.sensitive => v.clone(),
            _ => J::Null,
        };
        let gone = o.action == TfAction::Delete;
        let after = if gone { None } else { o.after.known() };
        m.insert(
            name.clone(),
            json!({
                "actions": o.action.json(),
                "before": shown(before.map(|b| &b.value)),
                "after": shown(after),
                "after_unknown": !gone && after.is_none(),
                "before_sensitive": before.is_some_and(|b| b.sensitive),
                "after_sensitive": !gone && o.sensitive,
            }),
        );
    }
    J::Object(m)
}

/// A resolver that answers every attribute of another resource with a marker naming it, so
/// that the configuration can say which provider attribute reads which resource.
struct Naming;

const REF: &str = "\u{2}ref:";

impl Resolve for Naming {
    fn get(&self, address: &str, attr: &str) -> Val {
        Val::Known(J::String(format!("{REF}{address}.{attr}\u{2}")))
    }
}

/// The references a value holds: `["aws_y.z.attr", "aws_y.z"]`. A resource whose type and name
/// no other module has is named without its module, as in one Terraform configuration:
/// policy tools (checkov's graph) connect resources of a plan by such references across the
/// whole plan, and cannot follow a module's variables, which is how Terraform itself would pass
/// another module's attribute in.
fn references(v: &J, unique: &BTreeMap<String, usize>, out: &mut Vec<String>) {
    match v {
        J::String(s) => {
            let text = s.replace("\\u0002", "\u{2}");
            for piece in text.split(REF).skip(1) {
                if let Some(end) = piece.find('\u{2}') {
                    let mut attr_ref = piece[..end].to_owned();
                    if let Ok(a) = Address::parse(attr_ref.rsplit_once('.').map_or("", |x| x.0)) {
                        let local = format!("{}.{}", a.type_name, a.name);
                        if unique.get(&local) == Some(&1) {
                            let attr = attr_ref.rsplit_once('.').map_or("", |x| x.1);
                            attr_ref = format!("{local}.{attr}");
                        }
                    }
                    let resource_ref = attr_ref
                        .rsplit_once('.')
                        .map(|(r, _)| r.to_owned())
                        .unwrap_or_default();
                    for r in [attr_ref, resource_ref] {
                        if !r.is_empty() && !out.contains(&r) {
                            out.push(r);
                        }
                    }
                }
            }
        }
        J::Array(a) => a.iter().for_each(|x| references(x, unique, out)),
        J::Object(o) => o.values().for_each(|x| references(x, unique, out)),
        _ => {}
    }
}

/// Terraform's expression of a provider value: the resources it reads, or its constant value.
fn expression(v: &J, unique: &BTreeMap<String, usize>) -> Option<J> {
    let mut refs = Vec::new();
    references(v, unique, &mut refs);
    if !refs.is_empty() {
        return Some(json!({ "references": refs }));
    }
    if v.is_null() || provider::holds(v, UNKNOWN) || provider::holds(v, SENSITIVE) {
        return None;
    }
    Some(json!({ "constant_value": v }))
}

/// Expressions of a translated object: nested blocks (lists of objects) as lists of
/// expression objects, as Terraform writes them.
fn expressions(o: &Map<String, J>, unique: &BTreeMap<String, usize>) -> Map<String, J> {
    let mut m = Map::new();
    for (k, v) in o {
        let nested = v
            .as_array()
            .filter(|a| !a.is_empty() && a.iter().all(J::is_object));
        let e = match nested {
            Some(items) => Some(J::Array(
                items
                    .iter()
                    .map(|i| J::Object(expressions(i.as_object().expect("checked"), unique)))
                    .collect(),
            )),
            None => expression(v, unique),
        };
        if let Some(e) = e {
            m.insert(k.clone(), e);
        }
    }
    m
}

/// `configuration`: the provider, and each module call with its resources' expressions (a
/// constant, or the references to other resources that the value reads) and the outputs'.
/// Secrets are never evaluated here: their attributes are left out.
pub fn configuration(config: &Config, registry: &Registry, region: &str) -> J {
    // How many resources of the stack have each `type.name` (instances of one count once).
    let mut unique: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for spec in &config.specs {
        if let Ok(a) = Address::parse(&spec.address) {
            if seen.insert((a.module.clone(), a.type_name.clone(), a.name.clone())) {
                *unique
                    .entry(format!("{}.{}", a.type_name, a.name))
                    .or_default() += 1;
            }
        }
    }
    let mut modules: BTreeMap<String, Vec<J>> = BTreeMap::new();
    for spec in &config.specs {
        let Ok(a) = Address::parse(&spec.address) else {
            continue;
        };
        let Some(kind) = registry.get(spec.kind.type_name()) else {
            continue;
        };
        let sensitive = kind.sensitive();
        let desired = spec.desired(&Naming);
        let mut attrs = Map::new();
        for (k, v) in desired {
            let v = match v {
                _ if sensitive.contains(&k.as_str()) => J::String(SENSITIVE.to_owned()),
                Val::Known(v) => v,
                Val::Unknown => J::String(UNKNOWN.to_owned()),
            };
            attrs.insert(k, v);
        }
        for part in types_of(&**kind) {
            let type_name = part.map_or(kind.type_name(), |p| p.type_name);
            let values = kind.provider_values(type_name, &attrs);
            let mut relative = a.clone();
            relative.module = String::new();
            relative.type_name = type_name.to_owned();
            relative.key = None;
            let local = format!("{}.{}", type_name, a.name);
            let entry = json!({
                "address": local,
                "mode": "managed",
                "type": type_name,
                "name": a.name,
                "provider_config_key": "aws",
                "expressions": expressions(&values, &unique),
                "schema_version": provider::schema(type_name).map_or(0, |s| s.version),
            });
            let list = modules.entry(a.module.clone()).or_default();
            // Several instances (mount targets by subnet) share one configuration block.
            if !list.iter().any(|e| e["address"] == entry["address"]) {
                list.push(entry);
            }
        }
    }
    let module_calls: Map<String, J> = modules
        .into_iter()
        .map(|(name, resources)| {
            (
                name.clone(),
                json!({
                    "source": format!("./modules/{name}"),
                    "module": { "resources": resources },
                }),
            )
        })
        .collect();
    let outputs: Map<String, J> = config
        .outputs
        .iter()
        .map(|o| {
            let mut e = json!({ "sensitive": o.sensitive });
            if let Val::Known(v) = (o.value)(&Naming) {
                let mut refs = Vec::new();
                references(&v, &unique, &mut refs);
                e["expression"] = json!({ "references": refs });
            }
            (o.name.to_owned(), e)
        })
        .collect();
    json!({
        "provider_config": {
            "aws": {
                "name": "aws",
                "full_name": super::PROVIDER,
                "expressions": { "region": { "constant_value": region } },
            },
        },
        "root_module": { "outputs": outputs, "module_calls": module_calls },
    })
}
