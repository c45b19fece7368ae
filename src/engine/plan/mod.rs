//! Plan: refresh what the state holds from AWS, compute what every resource should be, and
//! decide per resource whether to create, update in place, replace, delete or leave it.
//!
//! This file is the entry point ([`plan`], asked with a [`PlanRequest`]) and the walk of the
//! configuration; each step has its own file (refresh, adopt, diff, targeting), and they share
//! only the vocabulary of `types`, never each other's names.

mod adopt;
mod diff;
mod outputs;
mod parts;
mod refresh;
mod targeting;
mod types;

use std::collections::{BTreeMap, HashMap};

use stackctl_contract::{Attrs, Instance, ResourceSpec};

use self::adopt::{Adoption, Answer, Found};
use self::diff::{decide, desired_with, planned_of, Planned};
pub use self::diff::{diff, scrub_attrs};
pub use self::outputs::{planned_outputs, PlannedOutput};
pub use self::parts::{part_address, ProviderChange, TfAction};
pub use self::refresh::{refresh, refresh_only, Drift};
pub use self::targeting::Targeting;
pub use self::types::{Action, Change, Mode, Plan, PlanError};
use super::graph::Graph;
use super::state::State;
use super::{all_known, Config, Registry};

/// What to plan, and how: built by the caller, one named field per question.
#[derive(Clone, Copy)]
pub struct PlanRequest<'a> {
    /// The stack as the variables describe it.
    pub config: &'a Config,
    /// Every resource kind, so that whatever the state holds can be read and deleted.
    pub registry: &'a Registry,
    /// The state as last recorded; it is refreshed from AWS before anything is decided.
    pub state: &'a State,
    /// Make AWS match the configuration, or delete everything the state holds.
    pub mode: Mode,
    /// At most this many reads in flight at once (`usize::MAX`: all of them; 0 counts as 1).
    pub parallelism: usize,
    /// `-target` (only these and what they need) and `-replace` (replace these regardless).
    pub targeting: &'a Targeting,
}

/// What refresh read: each resource of the state as AWS has it now (None: it is gone).
type Refreshed = BTreeMap<String, Option<Instance>>;

/// Make the plan: refresh, walk the configuration in dependency order (on apply), then delete
/// what the state holds beyond it; narrowed to the `-target`s and what they need.
pub async fn plan(request: PlanRequest<'_>) -> Result<Plan, PlanError> {
    let request = PlanRequest {
        parallelism: request.parallelism.max(1),
        ..request
    };
    if let Some((flag, address)) = request.targeting.unknown(request.config, request.state) {
        return Err(PlanError::NoSuchAddress { flag, address });
    }
    let refreshed = refresh(request.state, request.registry, request.parallelism).await?;
    let prior = refresh::refreshed_state(request.state, &refreshed);
    let mut changes = match request.mode {
        Mode::Apply => config_changes(&request, &refreshed).await?,
        Mode::Destroy => Vec::new(),
    };
    changes.extend(diff::deletions(
        &prior,
        request.config,
        request.registry,
        request.mode,
    )?);
    if !request.targeting.targets.is_empty() {
        changes = request
            .targeting
            .narrow(changes, &config_graph(request.config));
    }
    if let Some(refused) = refused_delete(&changes) {
        return Err(refused);
    }
    Ok(Plan {
        mode: request.mode,
        prior,
        changes,
    })
}

/// A plan that would delete something AWS refuses to delete (a replacement that keeps the old
/// object deletes nothing) is refused whole, before apply or destroy changes anything.
fn refused_delete(changes: &[Change]) -> Option<PlanError> {
    for c in changes {
        let deletes = match c.action {
            Action::Delete => true,
            Action::Replace => c.kind.keeps_replaced().is_none(),
            _ => false,
        };
        if let (true, Some(live)) = (deletes, &c.live) {
            if let Some(why) = c.kind.delete_refused(live) {
                return Some(PlanError::DeleteRefused {
                    address: c.address.clone(),
                    why,
                });
            }
        }
    }
    None
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

/// One resource of the configuration while it is planned: what it should be, what AWS has.
struct Item<'a> {
    address: &'a String,
    spec: &'a ResourceSpec,
    desired: Attrs,
    live: Option<Instance>,
}

/// The changes of the configuration's resources, level by level of the dependency graph.
async fn config_changes(
    request: &PlanRequest<'_>,
    refreshed: &Refreshed,
) -> Result<Vec<Change>, PlanError> {
    let graph = config_graph(request.config);
    let order = graph
        .topo_order()
        .map_err(|c| PlanError::Internal(c.to_string()))?;
    let specs: HashMap<&str, &ResourceSpec> = request
        .config
        .specs
        .iter()
        .map(|s| (s.address.as_str(), s))
        .collect();
    let levels = levels(&graph, &order);
    let salt = &request.state.fingerprint_salt;
    let mut early = look_up_early(request, &levels, &specs, refreshed).await;

    let mut planned: HashMap<String, Planned> = HashMap::new();
    let mut changes = Vec::new();
    for level in &levels {
        // Resources of one level need only earlier levels: compute what they should be,
        // then look up, all at once, the ones the state lacks and the guess above missed.
        let items: Vec<Item> = level
            .iter()
            .filter_map(|address| {
                let spec = *specs.get(address.as_str())?;
                Some(Item {
                    address,
                    spec,
                    desired: desired_with(spec, &planned, salt),
                    live: refreshed.get(address.as_str()).cloned().flatten(),
                })
            })
            .collect();
        let wanted = items
            .iter()
            .map(|i| {
                let values = match i.live {
                    None => all_known(&i.desired),
                    Some(_) => None,
                };
                (i.address, i.spec.kind.as_ref(), values)
            })
            .collect();
        let lookups = adopt::look_up_level(wanted, &mut early, request.parallelism).await;
        for (item, lookup) in items.into_iter().zip(lookups) {
            let change = change_of(request, item, lookup?)?;
            let planned_as = planned_of(change.action, change.live.as_ref(), &change.desired);
            planned.insert(change.address.clone(), planned_as);
            changes.push(change);
        }
    }
    Ok(changes)
}

/// Every adoption look-up of the plan, sent at once on a guess.
///
/// A resource the state lacks is looked up by its unique name before it is created
/// (adoption). Its name may come from what it needs (a role policy names its role), so the
/// lookup can only be made once they are planned, which waits on their own lookups: one round
/// trip per dependency level. Instead, guess that nothing is adopted, compute every lookup from
/// that guess and send them all at once. The guess is almost always right: an adopted resource
/// keeps the name the configuration gives it. Where it was wrong (the values differ), the walk
/// of [`config_changes`] looks up again with the real values.
async fn look_up_early<'a>(
    request: &PlanRequest<'_>,
    levels: &[Vec<&'a String>],
    specs: &HashMap<&str, &ResourceSpec>,
    refreshed: &Refreshed,
) -> HashMap<&'a str, Answer> {
    let salt = &request.state.fingerprint_salt;
    let mut guessed: HashMap<String, Planned> = HashMap::new();
    let mut lookups = Vec::new();
    for address in levels.iter().flatten() {
        let Some(spec) = specs.get(address.as_str()) else {
            continue;
        };
        let desired = desired_with(spec, &guessed, salt);
        let live = refreshed.get(address.as_str()).cloned().flatten();
        if live.is_none() {
            if let Some(values) = all_known(&desired) {
                lookups.push((address.as_str(), spec.kind.clone(), values));
            }
        }
        let (action, _, _) = decide(spec.kind.as_ref(), &desired, live.as_ref());
        guessed.insert(
            (*address).clone(),
            planned_of(action, live.as_ref(), &desired),
        );
    }
    adopt::look_up_all(lookups, request.parallelism).await
}

/// The change of one resource, given what a look-up by its name found (None: not looked up).
// PlanError is what the public `plan` returns; boxing it for this step would change that.
#[allow(clippy::result_large_err)]
fn change_of(
    request: &PlanRequest<'_>,
    item: Item<'_>,
    lookup: Option<Found>,
) -> Result<Change, PlanError> {
    let Item {
        address,
        spec,
        desired,
        mut live,
    } = item;
    let kind = spec.kind.clone();
    let salt = &request.state.fingerprint_salt;
    let adoption = adopt::judge(lookup, kind.as_ref(), salt, &mut live);
    let (mut action, changed, mut note) = decide(kind.as_ref(), &desired, live.as_ref());
    let forced = live.is_some() && request.targeting.replace.contains(address);
    if forced && matches!(action, Action::NoOp | Action::Update) {
        action = Action::Replace;
        note = Some("replacement requested with -replace".to_owned());
    }
    // Refuse now what AWS would refuse halfway through the apply.
    let notes = match (action, live.as_ref()) {
        (Action::Update, Some(inst)) => {
            kind.review_update(inst, &desired, &changed)
                .map_err(|error| PlanError::Refused {
                    address: address.clone(),
                    error,
                })?
        }
        _ => BTreeMap::new(),
    };
    let was_in_state = request.state.resources.contains_key(address);
    let note = note_of(action, note, &adoption, was_in_state);
    Ok(Change {
        address: address.clone(),
        kind,
        action,
        live,
        desired,
        changed,
        note,
        notes,
        depends_on: spec.dependencies().into_iter().collect(),
        adopt: adoption.adopt,
        adopt_checked: adoption.checked,
        foreign: adoption.foreign,
        forced,
    })
}

/// What the plan says next to a change, beyond its action: a foreign resource in the way, a
/// resource deleted outside stackctl, one found in AWS, or `decide`'s and `-replace`'s `note`.
fn note_of(
    action: Action,
    note: Option<String>,
    adoption: &Adoption,
    was_in_state: bool,
) -> Option<String> {
    let note = match action {
        Action::Create if adoption.foreign.is_some() => Some(format!(
            "{} has its name in AWS but not this stack's tags: apply will refuse it until that resource is renamed or removed",
            adoption.foreign.as_deref().unwrap_or_default()
        )),
        Action::Create => was_in_state.then(|| "it was deleted outside stackctl".to_owned()),
        _ => note,
    };
    match (adoption.adopt, note) {
        (true, Some(n)) => Some(format!("found in AWS, not in the state; {n}")),
        (true, None) => Some("found in AWS, not in the state".to_owned()),
        (false, n) => n,
    }
}
