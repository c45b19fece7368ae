//! Plan: refresh what the state holds from AWS, compute what every resource should be, and
//! decide per resource whether to create, update in place, replace, delete or leave it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use serde_json::Value as J;
use stackctl_contract::{
    effective, Attrs, Instance, Kind, Prior, Resolve, ResourceError, ResourceSpec, Val, Values,
};

use super::graph::Graph;
use super::state::{ResourceState, State};
use super::{scrub_instance, Config, Registry};

/// What to do with one resource, with Terraform's symbols.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    NoOp,
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    pub fn symbol(self) -> &'static str {
        match self {
            Action::NoOp => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Destroy,
}

/// The planned change of one resource.
#[derive(Clone)]
pub struct Change {
    pub address: String,
    pub kind: Arc<dyn Kind>,
    pub action: Action,
    /// The resource as AWS has it now (after refresh), if it exists.
    pub live: Option<Instance>,
    /// What it should be, secrets fingerprinted; empty for a delete.
    pub desired: Attrs,
    /// Desired attributes that differ from the live ones.
    pub changed: Vec<String>,
    /// Why, when it is not plain: drift, or the attributes that force a replacement.
    pub note: Option<String>,
    /// What the kind says of some changed attributes of an update (deferred to a maintenance
    /// window, an outage), shown next to them.
    pub notes: BTreeMap<String, String>,
    /// What it needs before it can be created or changed (config), or what needed it (state).
    pub depends_on: Vec<String>,
    /// It exists in AWS under its unique name but the state does not know it (a run was killed
    /// before it could write the id): apply records it instead of creating a duplicate.
    pub adopt: bool,
    /// The plan already looked for such a resource; when it could not (the name depends on
    /// something not yet created), apply looks just before creating.
    pub adopt_checked: bool,
    /// A resource with this one's unique name exists in AWS without this stack's tags (another
    /// project's, environment's or tool's): apply refuses to create over it, since a create
    /// can hand back the existing resource (ECS CreateCluster, an EFS creation token).
    pub foreign: Option<String>,
    /// `-replace` asked for it: apply replaces it even where nothing forces a replacement.
    pub forced: bool,
}

impl Change {
    /// Whether apply does something here: an action, or recording an adoption. The rest are
    /// resources already as they should be, which a plan does not show.
    pub fn does_something(&self) -> bool {
        self.action != Action::NoOp || self.adopt
    }
}

/// A plan: the refreshed prior state plus the changes that would make AWS match the
/// configuration, in dependency order.
pub struct Plan {
    pub mode: Mode,
    pub prior: State,
    pub changes: Vec<Change>,
}

impl Plan {
    pub fn adopts(&self) -> usize {
        self.changes.iter().filter(|c| c.adopt).count()
    }

    pub fn counts(&self) -> (usize, usize, usize) {
        let mut add = 0;
        let mut change = 0;
        let mut destroy = 0;
        for c in &self.changes {
            match c.action {
                Action::Create => add += 1,
                Action::Update => change += 1,
                Action::Replace => {
                    add += 1;
                    // A kept predecessor (a task definition revision) is not destroyed.
                    if c.kind.keeps_replaced().is_none() {
                        destroy += 1
                    }
                }
                Action::Delete => destroy += 1,
                Action::NoOp => {}
            }
        }
        (add, change, destroy)
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(Change::does_something)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("refreshing {address}: {source}")]
    Refresh {
        address: String,
        source: ResourceError,
    },
    #[error("the state holds {address} of type {type_name}, which this stackctl does not know\n  hint: use the stackctl version that wrote the state, or `stackctl state rm {address}`")]
    UnknownType { address: String, type_name: String },
    /// An update AWS would refuse midway through an apply, refused before any change.
    #[error("{address} cannot be updated as planned: {}{}", error.message, error.hint.as_ref().map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    Refused {
        address: String,
        /// Not named `source`, which `{:#}` would print a second time.
        error: ResourceError,
    },
    #[error("-{flag} {address}: no resource of this stack has that address\n  hint: `stackctl graph` prints the configuration's addresses, `stackctl state list` the state's; a module such as module.rds takes in all its resources{}", if *flag == "replace" { " (-replace takes one resource)" } else { "" })]
    NoSuchAddress { flag: &'static str, address: String },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Read every resource the state holds from AWS, `parallelism` batches at once (all of them
/// unless -parallelism says otherwise). `None`: it is gone.
///
/// Resources are handed to their kinds by batch group, so that a kind can describe all of
/// its resources in one request (the four security groups in one `DescribeSecurityGroups`):
/// plan's cost in requests is then close to one per resource, not one per attribute source.
pub async fn refresh(
    state: &State,
    registry: &Registry,
    parallelism: usize,
) -> Result<BTreeMap<String, Option<Instance>>, PlanError> {
    // batch group -> (a kind of the group, the resources of the group)
    type Members<'a> = Vec<(&'a String, &'a ResourceState, Instance)>;
    let mut groups: BTreeMap<&str, (Arc<dyn Kind>, Members)> = BTreeMap::new();
    for (address, rs) in &state.resources {
        let kind = registry
            .get(&rs.type_name)
            .ok_or_else(|| PlanError::UnknownType {
                address: address.clone(),
                type_name: rs.type_name.clone(),
            })?;
        groups
            .entry(kind.batch_group())
            .or_insert_with(|| (kind.clone(), Vec::new()))
            .1
            .push((address, rs, rs.instance()));
    }
    let salt = &state.fingerprint_salt;
    let reads = groups.into_values().map(|(kind, members)| async move {
        let priors: Vec<Prior<'_>> = members
            .iter()
            .map(|(_, rs, instance)| Prior {
                type_name: &rs.type_name,
                instance,
            })
            .collect();
        let live = kind
            .read_many(&priors)
            .await
            .map_err(|source| PlanError::Refresh {
                address: members
                    .iter()
                    .map(|(a, _, _)| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                source,
            })?;
        if live.len() != members.len() {
            return Err(PlanError::Internal(format!(
                "{} answered {} reads for {} resources",
                kind.batch_group(),
                live.len(),
                members.len()
            )));
        }
        let mut out = Vec::new();
        for ((address, rs, _), live) in members.iter().zip(live) {
            tracing::debug!(%address, exists = live.is_some(), "refreshed");
            // Scrub with the resource's own kind: a batch can mix types.
            let sensitive = registry
                .get(&rs.type_name)
                .map_or(Vec::new(), |k| k.sensitive());
            out.push((
                (*address).clone(),
                live.map(|i| scrub_instance(i, &sensitive, salt)),
            ));
        }
        Ok::<_, PlanError>(out)
    });
    let mut refreshed = BTreeMap::new();
    let batches: Vec<_> = stream::iter(reads)
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    for batch in batches {
        refreshed.extend(batch?);
    }
    Ok(refreshed)
}

/// What a resolver knows of a resource while the plan is being made.
enum Planned {
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
            let fp = super::fingerprint(salt, s);
            desired.insert((*key).to_owned(), Val::Known(J::String(fp)));
        }
    }
}

/// What `spec` should be, given what the resources it needs are planned to be, with its secrets
/// fingerprinted as the state holds them. Both walks of the plan go through here: an early
/// lookup's answer is reused only if its values are equal, so they must be computed alike.
fn desired_with(spec: &ResourceSpec, planned: &HashMap<String, Planned>, salt: &str) -> Attrs {
    let mut desired = spec.desired(&PlanResolver(planned));
    scrub_attrs(&mut desired, &spec.kind.sensitive(), salt);
    desired
}

/// Whether `desired` asks to create the resource (it does not exist), leave it, change it in
/// place, or replace it; with the desired attributes that differ and, for a replacement, why.
fn decide(
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
fn planned_of(action: Action, live: Option<&Instance>, desired: &Attrs) -> Planned {
    match (action, live) {
        (Action::NoOp, Some(inst)) => Planned::Known(inst.attrs.clone()),
        (Action::Update, Some(inst)) => Planned::Updating(inst.attrs.clone(), desired.clone()),
        _ => Planned::Creating(desired.clone()),
    }
}

/// `order` cut into levels: a resource's level is one more than the deepest of what it needs,
/// so nothing in a level depends on anything else in it.
fn levels<'a>(graph: &Graph, order: &'a [String]) -> Vec<Vec<&'a String>> {
    let mut depth: HashMap<&str, usize> = HashMap::new();
    let mut levels: Vec<Vec<&String>> = Vec::new();
    for address in order {
        let d = graph.needs[address]
            .iter()
            .filter_map(|n| depth.get(n.as_str()))
            .max()
            .map_or(0, |m| m + 1);
        depth.insert(address, d);
        if levels.len() <= d {
            levels.resize_with(d + 1, Vec::new);
        }
        levels[d].push(address);
    }
    levels
}

/// The dependency graph of the configuration.
pub fn config_graph(config: &Config) -> Graph {
    let mut g = Graph::default();
    for spec in &config.specs {
        g.add(&spec.address, spec.dependencies());
    }
    g
}

/// `state` as AWS has it now: ids and attributes read back, vanished resources dropped.
fn refreshed_state(state: &State, refreshed: &BTreeMap<String, Option<Instance>>) -> State {
    let mut prior = state.clone();
    for (address, live) in refreshed {
        match live {
            Some(inst) => {
                if let Some(rs) = prior.resources.get_mut(address) {
                    rs.id = inst.id.clone();
                    rs.attrs = inst.attrs.clone();
                }
            }
            None => {
                prior.resources.remove(address);
            }
        }
    }
    prior
}

/// One resource that changed outside stackctl: as the state had it, and as AWS has it now
/// (None: deleted).
pub struct Drift {
    pub address: String,
    pub kind: Arc<dyn Kind>,
    pub before: Instance,
    pub after: Option<Instance>,
}

/// `-refresh-only`: read every resource of the state and say what changed outside stackctl;
/// the state as it should then be recorded comes with it. Nothing is planned, nothing changes.
pub async fn refresh_only(
    state: &State,
    registry: &Registry,
    parallelism: usize,
) -> Result<(State, Vec<Drift>), PlanError> {
    let refreshed = refresh(state, registry, parallelism.max(1)).await?;
    let mut drift = Vec::new();
    for (address, live) in &refreshed {
        let rs = &state.resources[address];
        let before = rs.instance();
        let same = live
            .as_ref()
            .is_some_and(|l| l.id == before.id && l.attrs == before.attrs);
        if !same {
            let kind = registry
                .get(&rs.type_name)
                .ok_or_else(|| PlanError::UnknownType {
                    address: address.clone(),
                    type_name: rs.type_name.clone(),
                })?
                .clone();
            drift.push(Drift {
                address: address.clone(),
                kind,
                before,
                after: live.clone(),
            });
        }
    }
    Ok((refreshed_state(state, &refreshed), drift))
}

/// What a plan is asked beyond the configuration: Terraform's `-target` and `-replace`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Targeting {
    /// Only these resources (addresses or module prefixes) and what they need.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Replace these resources even if nothing forces it.
    #[serde(default)]
    pub replace: Vec<String>,
}

impl Targeting {
    /// Every `-target` must name something of the configuration or the state, and every
    /// `-replace` a resource of the configuration: a typo must not plan the whole stack, or
    /// nothing, in silence. The first flag and address that name nothing, if any.
    pub fn unknown(&self, config: &Config, state: &State) -> Option<(&'static str, String)> {
        let known: Vec<&str> = config
            .specs
            .iter()
            .map(|s| s.address.as_str())
            .chain(state.resources.keys().map(String::as_str))
            .collect();
        if let Some(t) = self
            .targets
            .iter()
            .find(|t| !known.iter().any(|a| under(a, t)))
        {
            return Some(("target", t.clone()));
        }
        self.replace
            .iter()
            .find(|r| !config.specs.iter().any(|s| &s.address == *r))
            .map(|r| ("replace", r.clone()))
    }
}

/// Whether `address` is `filter` or inside it (`module.rds` holds its resources).
fn under(address: &str, filter: &str) -> bool {
    stackctl_contract::Address::parse(address).map_or(address == filter, |a| a.is_under(filter))
}

/// Make the plan: refresh, then walk the configuration in dependency order, with at most
/// `parallelism` reads in flight at once.
pub async fn plan(
    config: &Config,
    registry: &Registry,
    state: &State,
    mode: Mode,
    parallelism: usize,
) -> Result<Plan, PlanError> {
    plan_with(
        config,
        registry,
        state,
        mode,
        parallelism,
        &Targeting::default(),
    )
    .await
}

/// [`plan`], narrowed to `-target`s and what they need, with `-replace`d resources replaced.
pub async fn plan_with(
    config: &Config,
    registry: &Registry,
    state: &State,
    mode: Mode,
    parallelism: usize,
    targeting: &Targeting,
) -> Result<Plan, PlanError> {
    if let Some((flag, address)) = targeting.unknown(config, state) {
        return Err(PlanError::NoSuchAddress { flag, address });
    }
    let parallelism = parallelism.max(1);
    let refreshed = refresh(state, registry, parallelism).await?;
    let prior = refreshed_state(state, &refreshed);
    let salt = state.fingerprint_salt.clone();
    let mut changes = Vec::new();

    if mode == Mode::Apply {
        let graph = config_graph(config);
        let order = graph
            .topo_order()
            .map_err(|c| PlanError::Internal(c.to_string()))?;
        let specs: HashMap<&str, _> = config
            .specs
            .iter()
            .map(|s| (s.address.as_str(), s))
            .collect();
        let levels = levels(&graph, &order);

        // A resource the state lacks is looked up by its unique name before it is created
        // (adoption). Its name may come from what it needs (a role policy names its role), so
        // the lookup can only be made once they are planned, which waits on their own lookups:
        // one round trip per dependency level. Instead, guess that nothing is adopted, compute
        // every lookup from that guess and send them all at once. The guess is almost always
        // right: an adopted resource keeps the name the configuration gives it. Where it was
        // wrong (the values differ), the walk below looks up again with the real values.
        let mut early: HashMap<&str, (Values, Result<Option<Instance>, ResourceError>)> =
            HashMap::new();
        {
            let mut guessed: HashMap<String, Planned> = HashMap::new();
            let mut lookups = Vec::new();
            for address in levels.iter().flatten() {
                let Some(spec) = specs.get(address.as_str()) else {
                    continue;
                };
                let desired = desired_with(spec, &guessed, &salt);
                let live = refreshed.get(address.as_str()).cloned().flatten();
                if live.is_none() {
                    if let Some(values) = super::all_known(&desired) {
                        lookups.push((address.as_str(), spec.kind.clone(), values));
                    }
                }
                let (action, _, _) = decide(spec.kind.as_ref(), &desired, live.as_ref());
                guessed.insert(
                    (*address).clone(),
                    planned_of(action, live.as_ref(), &desired),
                );
            }
            let results: Vec<_> = stream::iter(
                lookups
                    .iter()
                    .map(|(_, kind, values)| async move { kind.adopt(values).await }),
            )
            .buffered(parallelism)
            .collect()
            .await;
            for ((address, _, values), found) in lookups.into_iter().zip(results) {
                early.insert(address, (values, found));
            }
        }

        let mut planned: HashMap<String, Planned> = HashMap::new();
        for level in &levels {
            // Resources of one level need only earlier levels: compute what they should be,
            // then look up, all at once, the ones the state lacks and the guess above missed.
            let mut items = Vec::new();
            for address in level {
                let Some(spec) = specs.get(address.as_str()) else {
                    continue;
                };
                let desired = desired_with(spec, &planned, &salt);
                let live = refreshed.get(address.as_str()).cloned().flatten();
                items.push((*address, *spec, desired, live));
            }
            let lookups: Vec<_> =
                stream::iter(items.iter().map(|(address, spec, desired, live)| {
                    let values = match live {
                        None => super::all_known(desired),
                        Some(_) => None,
                    };
                    let guessed = early.remove(address.as_str());
                    async move {
                        let Some(values) = values else {
                            return Ok(None);
                        };
                        let found = match guessed {
                            Some((guess, found)) if guess == values => found,
                            _ => spec.kind.adopt(&values).await,
                        };
                        let found = found.map_err(|source| PlanError::Refresh {
                            address: (*address).clone(),
                            source,
                        })?;
                        Ok::<_, PlanError>(Some((found, values)))
                    }
                }))
                .buffered(parallelism)
                .collect()
                .await;
            for ((address, spec, desired, mut live), lookup) in items.into_iter().zip(lookups) {
                let kind = spec.kind.clone();
                let was_in_state = state.resources.contains_key(address);
                let (mut adopt, mut adopt_checked, mut foreign) = (false, false, None);
                if let Some((found, values)) = lookup? {
                    adopt_checked = true;
                    match found {
                        Some(found) if super::owned(&found, &values) => {
                            adopt = true;
                            live = Some(scrub_instance(found, &kind.sensitive(), &salt));
                        }
                        Some(found) => foreign = Some(found.id),
                        None => {}
                    }
                }
                let (mut action, changed, mut note) =
                    decide(kind.as_ref(), &desired, live.as_ref());
                let forced = live.is_some() && targeting.replace.contains(address);
                if forced && matches!(action, Action::NoOp | Action::Update) {
                    action = Action::Replace;
                    note = Some("replacement requested with -replace".to_owned());
                }
                // Refuse now what AWS would refuse halfway through the apply.
                let notes = match (action, live.as_ref()) {
                    (Action::Update, Some(inst)) => kind
                        .review_update(inst, &desired, &changed)
                        .map_err(|error| PlanError::Refused {
                            address: address.clone(),
                            error,
                        })?,
                    _ => BTreeMap::new(),
                };
                let note = match action {
                    Action::Create if foreign.is_some() => Some(format!(
                        "{} has its name in AWS but not this stack's tags: apply will refuse it until that resource is renamed or removed",
                        foreign.as_deref().unwrap_or_default()
                    )),
                    Action::Create => was_in_state.then(|| "it was deleted outside stackctl".to_owned()),
                    _ => note,
                };
                let note = match (adopt, note) {
                    (true, Some(n)) => Some(format!("found in AWS, not in the state; {n}")),
                    (true, None) => Some("found in AWS, not in the state".to_owned()),
                    (false, n) => n,
                };
                planned.insert(address.clone(), planned_of(action, live.as_ref(), &desired));
                changes.push(Change {
                    address: address.clone(),
                    kind,
                    action,
                    live,
                    desired,
                    changed,
                    note,
                    notes,
                    depends_on: spec.dependencies().into_iter().collect(),
                    adopt,
                    adopt_checked,
                    foreign,
                    forced,
                });
            }
        }
    }

    // What the state has and the configuration does not (everything, on destroy) is deleted,
    // after whatever depended on it.
    let in_config: std::collections::HashSet<&str> = match mode {
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
    for address in order {
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
        changes.push(Change {
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
        });
    }
    if !targeting.targets.is_empty() {
        changes = narrow(changes, config, &targeting.targets);
    }
    Ok(Plan {
        mode,
        prior,
        changes,
    })
}

/// Keep the changes of the targets and of what they need (in the configuration, transitively);
/// a delete is kept when it is targeted itself. What depends on a target is left alone.
fn narrow(changes: Vec<Change>, config: &Config, targets: &[String]) -> Vec<Change> {
    let graph = config_graph(config);
    let mut keep: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut todo: Vec<String> = changes
        .iter()
        .map(|c| c.address.clone())
        .filter(|a| targets.iter().any(|t| under(a, t)))
        .collect();
    while let Some(a) = todo.pop() {
        if keep.insert(a.clone()) {
            if let Some(needs) = graph.needs.get(&a) {
                todo.extend(needs.iter().cloned());
            }
        }
    }
    changes
        .into_iter()
        .filter(|c| keep.contains(&c.address))
        .collect()
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
        super::super::scrub_values(&mut live, &["password"], "salt");
        assert!(diff(&desired, &live).is_empty());
        assert!(!format!("{desired:?}{live:?}").contains("hunter2"));
    }
}
