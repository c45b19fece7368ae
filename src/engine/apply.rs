//! Apply: walk the planned changes as a graph, starting each one as soon as everything it needs
//! is done, recording every result in the state at once, and skipping only the dependents of a
//! failure.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use stackctl_contract::interrupt as stop_waits;
use stackctl_contract::{tags, wait, Instance, Kind, ResourceError, ResourceSpec, Val, Values};

use super::backend::Store;
use super::graph::Graph;
use super::interrupt;
use super::plan::{diff, scrub_attrs, Action, Change, Plan};
use super::render::Progress;
use super::state::{Output, ResourceState, State, StateError};
use super::{fail_point, owned, scrub_instance, Config, KnownResolver, Report};

/// The state being applied, saved to its store (the file, or S3) after every change it records.
pub struct Persist {
    store: Store,
    state: Mutex<State>,
}

impl Persist {
    #[cfg(test)]
    pub fn new(path: std::path::PathBuf, state: State) -> Self {
        Persist::with_store(Store::Local(path), state)
    }

    pub fn with_store(store: Store, state: State) -> Self {
        Persist {
            store,
            state: Mutex::new(state),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed (each change is one
        // map insert), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn salt(&self) -> String {
        self.lock().fingerprint_salt.clone()
    }

    /// Set or remove one resource and write the whole state atomically.
    pub fn record(&self, address: &str, rs: Option<ResourceState>) -> Result<(), StateError> {
        let mut state = self.lock();
        match rs {
            Some(rs) => state.resources.insert(address.to_owned(), rs),
            None => state.resources.remove(address),
        };
        self.store.save_blocking(&mut state)
    }

    pub fn save_with(&self, f: impl FnOnce(&mut State)) -> Result<(), StateError> {
        let mut state = self.lock();
        f(&mut state);
        self.store.save_blocking(&mut state)
    }

    /// The attributes of every resource in the state, for resolving references.
    pub fn known(&self) -> HashMap<String, Values> {
        self.lock()
            .resources
            .iter()
            .map(|(a, r)| (a.clone(), r.attrs.clone()))
            .collect()
    }

    pub fn into_state(self) -> State {
        self.state.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

/// What one change did in AWS: the apply summary counts these, not what was planned (a planned
/// update that found nothing left to change changed nothing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// A resource found in AWS under its name and tags was recorded.
    pub adopted: bool,
    pub created: bool,
    pub updated: bool,
    pub deleted: bool,
}

/// How a walk ended.
#[derive(Default)]
pub struct Outcome {
    pub done: usize,
    pub added: usize,
    pub changed: usize,
    pub destroyed: usize,
    pub adopted: usize,
    pub failed: Vec<(String, String)>,
    pub skipped: Vec<String>,
    pub interrupted: bool,
    /// Operations whose wait the interrupt ended: sent, and going on in AWS.
    pub stopped: Vec<String>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty() && !self.interrupted
    }
}

/// How many changes run at once without `-parallelism`: Terraform's 10, enough for every
/// independent branch of this stack, few enough not to trip API rate limits.
pub const DEFAULT_PARALLELISM: usize = 10;

/// Execute the plan's changes, at most `parallelism` at once.
pub async fn apply(
    plan: &Plan,
    config: &Config,
    persist: &Persist,
    progress: &Progress,
    parallelism: usize,
) -> Outcome {
    let nodes: HashMap<&str, &Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::NoOp || c.adopt)
        .map(|c| (c.address.as_str(), c))
        .collect();
    let specs: HashMap<&str, &ResourceSpec> = config
        .specs
        .iter()
        .map(|s| (s.address.as_str(), s))
        .collect();
    // For a delete, `depends_on` lists what needed it: those go first. Otherwise it lists what it
    // needs. Either way only nodes of this run constrain the order.
    let mut graph = Graph::default();
    for c in nodes.values() {
        graph.add(
            &c.address,
            c.depends_on
                .iter()
                .filter(|d| nodes.contains_key(d.as_str()))
                .cloned(),
        );
    }

    let mut outcome = Outcome::default();
    let mut pending: BTreeSet<&str> = nodes.keys().copied().collect();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut blocked: BTreeSet<String> = BTreeSet::new();
    let mut running = FuturesUnordered::new();
    let mut started: HashMap<String, Instant> = HashMap::new();
    // What each running operation's waits last heard from AWS, for the progress lines.
    let mut notes: HashMap<String, wait::Note> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    // The first Ctrl-C is this walk's to handle (super::interrupt): nothing new starts, a
    // request under way is finished, a wait gives way. A second one stops the process at once,
    // its lock released; this says what it leaves.
    let in_flight = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let _handling = {
        let in_flight = in_flight.clone();
        let progress = Progress(progress.0);
        interrupt::handling(move || progress.aborted(in_flight.load(Ordering::Relaxed)))
    };
    let mut stop = std::pin::pin!(interrupt::stopped());

    loop {
        if !outcome.interrupted {
            let ready: Vec<&str> = pending
                .iter()
                .copied()
                .filter(|n| graph.needs[*n].iter().all(|d| finished.contains(d)))
                .take(parallelism.max(1).saturating_sub(running.len()))
                .collect();
            for n in ready {
                pending.remove(n);
                let change = nodes[n];
                progress.start(change);
                started.insert(n.to_owned(), Instant::now());
                let spec = specs.get(n).copied();
                let note = wait::Note::default();
                notes.insert(n.to_owned(), note.clone());
                running.push(async move {
                    let op = wait::noted(note, run(change, spec, persist, progress));
                    (change, stop_waits::waits_end(op).await)
                });
            }
        }
        in_flight.store(running.len(), Ordering::Relaxed);
        if running.is_empty() {
            break;
        }
        tokio::select! {
            Some((change, result)) = running.next() => {
                let elapsed = started.get(&change.address).map(Instant::elapsed).unwrap_or_default();
                match result {
                    Ok((id, effect)) => {
                        progress.done(change, elapsed, id.as_deref());
                        outcome.done += 1;
                        // Counted as the plan counts: per provider resource (a secret and
                        // its value are two).
                        let share = |on: bool, pick: fn((usize, usize, usize)) -> usize| {
                            let planned: usize =
                                change.provider_changes().iter().map(|pc| pick(pc.action.counts())).sum();
                            if on { planned.max(1) } else { 0 }
                        };
                        outcome.added += share(effect.created, |c| c.0);
                        outcome.changed += share(effect.updated, |c| c.1);
                        outcome.destroyed += share(effect.deleted, |c| c.2);
                        outcome.adopted += if effect.adopted { change.provider_changes().len() } else { 0 };
                        finished.insert(change.address.clone());
                    }
                    Err(e) if e.is(&[stop_waits::INTERRUPTED]) => {
                        // Not a failure: the user stopped the wait, AWS goes on.
                        progress.stopped(change, elapsed, &e);
                        outcome.stopped.push(change.address.clone());
                        if !outcome.interrupted {
                            progress.interrupted(running.len());
                            outcome.interrupted = true;
                        }
                    }
                    Err(e) => {
                        progress.failed(change, elapsed, &e);
                        outcome.failed.push((change.address.clone(), e.to_string()));
                        for d in graph.dependents(&change.address) {
                            if pending.remove(d.as_str()) {
                                blocked.insert(d);
                            }
                        }
                    }
                }
            }
            _ = tick.tick() => {
                for (address, t) in &started {
                    if !finished.contains(address) && !outcome.failed.iter().any(|(a, _)| a == address) {
                        let note = notes
                            .get(address)
                            .and_then(|n| n.lock().ok().and_then(|n| n.clone()));
                        progress.still(nodes[address.as_str()], t.elapsed(), note.as_deref());
                    }
                }
            }
            () = &mut stop, if !outcome.interrupted => {
                progress.interrupted(running.len());
                outcome.interrupted = true;
            }
        }
    }
    outcome.skipped = blocked
        .into_iter()
        .chain(pending.iter().map(|s| s.to_string()))
        .collect();
    for s in &outcome.skipped {
        progress.skipped(s);
    }
    outcome
}

/// Carry out one change; the id of the resulting resource, if any, and what was done.
async fn run(
    change: &Change,
    spec: Option<&ResourceSpec>,
    persist: &Persist,
    report: &dyn Report,
) -> Result<(Option<String>, Effect), ResourceError> {
    let kind = &change.kind;
    tracing::debug!(address = %change.address, action = ?change.action, "starting");
    let salt = persist.salt();
    let save = |rs: Option<ResourceState>| {
        persist
            .record(&change.address, rs)
            .map_err(|e| ResourceError::new("writing state", e.to_string()))
    };
    let mut effect = Effect::default();

    if change.action == Action::Delete {
        if let Some(live) = &change.live {
            kind.delete(live).await?;
            fail_point(report);
            effect.deleted = true;
        }
        save(None)?;
        return Ok((None, effect));
    }

    let spec = spec.ok_or_else(|| {
        ResourceError::internal(format!("{} has no configuration", change.address))
    })?;
    // Desired values again, now that everything this resource needs exists: the plan may have
    // had them as "known after apply". Secrets are in clear here, for AWS, and nowhere else.
    let known = persist.known();
    let desired = spec.desired(&KnownResolver(&known));
    let values = known_values(&desired, &change.address)?;
    let mut compare = desired.clone();
    scrub_attrs(&mut compare, &kind.sensitive(), &salt);
    let record = |inst: Instance| -> Result<Option<String>, ResourceError> {
        let inst = scrub_instance(inst, &kind.sensitive(), &salt);
        let id = inst.id.clone();
        save(Some(ResourceState {
            type_name: kind.type_name().to_owned(),
            id: inst.id,
            attrs: inst.attrs,
            depends_on: spec.dependencies().into_iter().collect(),
        }))?;
        Ok(Some(id))
    };
    // Take over a resource found in AWS: record it at once; if it was found mid-creation, wait
    // for it as create would (plan never waits, apply does) and record it as it is then, so
    // that its dependents see its final attributes; then bring it to `desired` below.
    let take = |found: Instance, effect: &mut Effect| {
        effect.adopted = true;
        let record = &record;
        let salt = &salt;
        async move {
            record(found.clone())?;
            let settled = kind.settle(found.clone()).await?;
            if settled != found {
                record(settled.clone())?;
            }
            Ok::<_, ResourceError>(scrub_instance(settled, &kind.sensitive(), salt))
        }
    };
    // Create, but record only what carries this stack's tags: a create can answer with a
    // resource that already existed (ECS CreateCluster, an EFS creation token, ELBv2's
    // idempotent creates), and that one is someone else's.
    let create = || async {
        let inst = kind.create(&values).await?;
        if owned(&inst, &values) {
            return Ok(inst);
        }
        confirm_not_ours(kind.as_ref(), inst, &values).await
    };

    let mut live = change
        .live
        .clone()
        .filter(|_| change.action != Action::Create);
    if change.adopt {
        if let Some(l) = live.take() {
            live = Some(take(l, &mut effect).await?);
        }
    }
    if live.is_none() {
        if let Some(id) = &change.foreign {
            return Err(not_ours(kind.as_ref(), id, &values));
        }
        if !change.adopt_checked {
            // The plan could not look for it (its name needed a resource that did not exist
            // yet).
            live = match adopt_owned(kind.as_ref(), &values).await? {
                Some(found) => Some(take(found, &mut effect).await?),
                None => None,
            };
        }
    }
    let live = match live {
        Some(l) => l,
        None => match create().await {
            Ok(inst) => {
                fail_point(report);
                effect.created = true;
                return Ok((record(inst)?, effect));
            }
            // The create may have worked with its answer lost (a dropped connection that the
            // retry turned into "already exists"), or worked half-way: take what is there, if
            // it is ours.
            Err(e) => match adopt_owned(kind.as_ref(), &values).await {
                // Created, and its wait stopped by Ctrl-C: recorded as it is, nothing more
                // sent (a change after the create is the next run's).
                Ok(Some(found)) if e.is(&[stop_waits::INTERRUPTED]) => {
                    record(found)?;
                    return Err(e);
                }
                Ok(Some(found)) => take(found, &mut effect).await?,
                Err(not_ours) if not_ours.is(&[NOT_OURS]) => return Err(not_ours),
                _ => return Err(e),
            },
        },
    };

    let changed = diff(&compare, &live.attrs);
    // Attribute names only: values may be secrets.
    tracing::debug!(address = %change.address, ?changed, "changing");
    if changed.is_empty() && !change.forced {
        // Nothing left to do: it only looked like a change while a dependency was unknown, or
        // the adopted resource already matches.
        return Ok((Some(live.id.clone()), effect));
    }
    if !change.forced && !changed.iter().any(|c| kind.force_new(c)) {
        let inst = match kind.update(&live, &values, &changed).await {
            // Sent, and its wait stopped by Ctrl-C: the state records what AWS reads now.
            Err(e) if e.is(&[stop_waits::INTERRUPTED]) => {
                if let Ok(Some(now)) = kind.read(&live).await {
                    record(now)?;
                }
                return Err(e);
            }
            r => r?,
        };
        fail_point(report);
        effect.updated = true;
        return Ok((record(inst)?, effect));
    }
    if change.forced && kind.keeps_replaced().is_some() {
        // -replace of a kept kind (a task definition): a new revision, the old one stays. No
        // look-up first: the one found would be the very resource to replace.
        let inst = create().await?;
        fail_point(report);
        effect.created = true;
        let id = record(inst)?;
        return Ok((id, effect));
    }
    if kind.create_before_destroy() && !change.forced {
        // A replacement registered by an interrupted run is reused, not registered twice.
        let new = match adopt_owned(kind.as_ref(), &values).await? {
            Some(found) => found,
            None => {
                let inst = create().await?;
                fail_point(report);
                inst
            }
        };
        let id = record(new)?;
        effect.created = true;
        if kind.keeps_replaced().is_some() {
            // The old one stays for whatever still uses it; the kind retires it later.
            return Ok((id, effect));
        }
        kind.delete(&live).await.map_err(|e| ResourceError {
            message: format!(
                "the replacement {} was created, but the old {} could not be deleted: {}",
                id.as_deref().unwrap_or("?"),
                live.id,
                e.message
            ),
            ..e
        })?;
        fail_point(report);
        effect.deleted = true;
        Ok((id, effect))
    } else {
        kind.delete(&live).await?;
        fail_point(report);
        save(None)?;
        effect.deleted = true;
        let inst = create().await?;
        fail_point(report);
        effect.created = true;
        Ok((record(inst)?, effect))
    }
}

/// A create answered with a resource that does not carry this stack's tags. It is someone
/// else's (a create that handed back an existing resource), or ours read back before AWS
/// showed its tags (tags are a separate, eventually consistent read for ELBv2 and CloudWatch
/// Logs). Look it up again a few times, about 3.5 s in all, before calling it foreign: taking
/// our own resource for someone else's would fail the apply and leave it unrecorded.
async fn confirm_not_ours(
    kind: &dyn Kind,
    created: Instance,
    values: &Values,
) -> Result<Instance, ResourceError> {
    for delay in [500, 1000, 2000] {
        tokio::time::sleep(Duration::from_millis(delay)).await;
        match kind.adopt(values).await {
            Ok(Some(found)) if found.id == created.id && owned(&found, values) => {
                tracing::debug!(id = %found.id, "tags showed up on a later read");
                return Ok(found);
            }
            Ok(Some(found)) if found.id == created.id => {}
            // Gone, another one, or the read failed: nothing shows it is ours.
            _ => break,
        }
    }
    Err(not_ours(kind, &created.id, values))
}

/// The code of [`not_ours`] errors.
const NOT_OURS: &str = "NotThisStacks";

/// The error for a resource that has this one's name in AWS but not this stack's tags: it is
/// someone else's, so it is neither recorded nor changed.
fn not_ours(kind: &dyn Kind, id: &str, values: &Values) -> ResourceError {
    let want = values
        .get("tags")
        .and_then(serde_json::Value::as_object)
        .map(|t| {
            [tags::MANAGED_BY, tags::PROJECT, tags::ENVIRONMENT]
                .iter()
                .filter_map(|k| Some(format!("{k}={}", t.get(*k)?.as_str()?)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    ResourceError::new(
        kind.type_name(),
        format!(
            "{id} already exists in AWS with this resource's name but without this stack's tags ({want}); stackctl recorded nothing and changed nothing"
        ),
    )
    .with_code(NOT_OURS)
    .with_hint("it belongs to another project, environment or tool: give this stack another project_name or environment, or rename or delete that resource yourself if it is unused")
}

/// The resource AWS has under `values`' unique name if it is this stack's; an error if one
/// exists that is not.
async fn adopt_owned(kind: &dyn Kind, values: &Values) -> Result<Option<Instance>, ResourceError> {
    match kind.adopt(values).await? {
        Some(found) if owned(&found, values) => Ok(Some(found)),
        Some(found) => Err(not_ours(kind, &found.id, values)),
        None => Ok(None),
    }
}

fn known_values(
    desired: &stackctl_contract::Attrs,
    address: &str,
) -> Result<Values, ResourceError> {
    desired
        .iter()
        .map(|(k, v)| match v {
            Val::Known(v) => Ok((k.clone(), v.clone())),
            Val::Unknown => Err(ResourceError::internal(format!(
                "{address}: attribute `{k}` is still unknown when it is needed; a resource it depends on is missing from the state"
            ))),
        })
        .collect()
}

/// Compute the outputs from the state and store them in it (no network needed to show them).
pub fn compute_outputs(config: &Config, persist: &Persist) -> Result<(), StateError> {
    let known = persist.known();
    let resolver = KnownResolver(&known);
    let outputs = config
        .outputs
        .iter()
        .filter_map(|o| match (o.value)(&resolver) {
            Val::Known(v) => Some((
                o.name.to_owned(),
                Output {
                    value: v,
                    sensitive: o.sensitive,
                },
            )),
            Val::Unknown => None,
        })
        .collect();
    persist.save_with(|s| s.outputs = outputs)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use stackctl_contract::{Attrs, Field, Flag};

    use super::super::fake::{self, FakeKind};
    use super::*;

    /// A cluster kind whose create answers with a resource that already existed and is not
    /// this stack's, as ECS CreateCluster does for an existing name; its spec and change.
    fn setup() -> (Arc<FakeKind>, ResourceSpec, Change) {
        let kind = Arc::new(FakeKind::new("aws_ecs_cluster").on_create(|_| {
            Instance::new(
                "arn:aws:ecs:eu-west-3:123456789012:cluster/theirs",
                Values::from([("tags".to_owned(), json!({ "team": "other" }))]),
            )
        }));
        let spec = ResourceSpec::new("module.ecs.aws_ecs_cluster.main", kind.clone(), |_| {
            Attrs::from([
                ("name".to_owned(), Val::from("p-dev-cluster")),
                (
                    "tags".to_owned(),
                    Val::from(json!({
                        "ManagedBy": "stackctl",
                        "stackctl:project": "p",
                        "stackctl:environment": "dev"
                    })),
                ),
            ])
        });
        let desired = spec.desired(&KnownResolver(&HashMap::new()));
        let change = fake::change(
            &spec.address,
            kind.clone(),
            Action::Create,
            None,
            desired,
            &[],
        );
        (kind, spec, change)
    }

    /// The check that holds when the plan could not see the resource (made between plan and
    /// apply, or a create that answers with an existing one): nothing is recorded.
    #[tokio::test]
    async fn a_create_that_hands_back_another_stacks_resource_records_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        let persist = Persist::new(path.clone(), State::new());
        let (kind, spec, change) = setup();
        let err = run(&change, Some(&spec), &persist, &Progress::default())
            .await
            .unwrap_err();
        assert!(err.is(&[NOT_OURS]), "{err}");
        assert!(err.message.contains("cluster/theirs"), "{err}");
        assert!(err.message.contains("stackctl:environment=dev"), "{err}");
        assert_eq!(kind.created(), 1);
        assert!(persist.into_state().resources.is_empty());
        assert!(!path.exists(), "the state was written");
    }

    /// Our own resource read back before AWS shows its tags is recorded once a later read
    /// shows them, not taken for someone else's.
    #[tokio::test]
    async fn a_create_whose_tags_show_up_late_is_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(dir.path().join("s.json"), State::new());
        let (_, theirs_spec, mut change) = setup();
        // Created without tags showing yet; found by name with them.
        let kind: Arc<dyn Kind> = Arc::new(
            FakeKind::new("aws_cloudwatch_log_group")
                .on_create(|_| {
                    Instance::new("ours", Values::from([("tags".to_owned(), json!({}))]))
                })
                .on_adopt(|desired| Some(Instance::new("ours", desired.clone()))),
        );
        let spec = ResourceSpec::new(theirs_spec.address.clone(), kind.clone(), move |r| {
            theirs_spec.desired(r)
        });
        change.kind = kind;
        let (id, effect) = run(&change, Some(&spec), &persist, &Progress::default())
            .await
            .unwrap();
        assert_eq!(id.as_deref(), Some("ours"));
        assert!(effect.created);
        assert!(persist.into_state().resources.contains_key(&change.address));
    }

    /// A replacement whose kind keeps the replaced resource (a task definition revision, which
    /// the service still runs and a rollback needs) creates the new one, records it, and never
    /// deletes the old one; the plan counts no destroy for it.
    #[tokio::test]
    async fn a_kept_replacement_deletes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(dir.path().join("s.json"), State::new());
        let kind = Arc::new(
            FakeKind::new("aws_ecs_task_definition")
                .fields(&[Field {
                    name: "image",
                    flags: &[Flag::ForceNew],
                }])
                .keeps_replaced("the old revision stays registered")
                .on_create(|desired| Instance::new("rev-2", desired.clone())),
        );
        let spec = ResourceSpec::new(
            "module.ecs.aws_ecs_task_definition.main",
            kind.clone(),
            |_| Attrs::from([("image".to_owned(), Val::from("b"))]),
        );
        let live = Instance::new("rev-1", Values::from([("image".to_owned(), json!("a"))]));
        let desired = spec.desired(&KnownResolver(&HashMap::new()));
        let change = fake::change(
            &spec.address,
            kind.clone(),
            Action::Replace,
            Some(live),
            desired,
            &["image"],
        );
        let plan = Plan {
            mode: super::super::plan::Mode::Apply,
            prior: State::new(),
            changes: vec![change.clone()],
        };
        assert_eq!(plan.counts(), (1, 0, 0));
        let (id, effect) = run(&change, Some(&spec), &persist, &Progress::default())
            .await
            .unwrap();
        assert_eq!(id.as_deref(), Some("rev-2"));
        assert!(effect.created && !effect.deleted, "{effect:?}");
        assert_eq!(kind.deleted(), 0);
        assert_eq!(persist.into_state().resources[&change.address].id, "rev-2");
    }

    /// `-replace` of a kept kind with nothing changed: a new revision is created, even though
    /// the look-up by name would find the current one (which must not be taken as the new).
    #[tokio::test]
    async fn a_forced_replacement_creates_anew_though_nothing_changed() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(dir.path().join("s.json"), State::new());
        let kind = Arc::new(
            FakeKind::new("aws_ecs_task_definition")
                .keeps_replaced("the old revision stays registered")
                .on_adopt(|d| Some(Instance::new("rev-1", d.clone())))
                .on_create(|desired| Instance::new("rev-2", desired.clone())),
        );
        let spec = ResourceSpec::new(
            "module.ecs.aws_ecs_task_definition.main",
            kind.clone(),
            |_| Attrs::from([("image".to_owned(), Val::from("a"))]),
        );
        let live = Instance::new("rev-1", Values::from([("image".to_owned(), json!("a"))]));
        let desired = spec.desired(&KnownResolver(&HashMap::new()));
        let mut change = fake::change(
            &spec.address,
            kind.clone(),
            Action::Replace,
            Some(live),
            desired,
            &[],
        );
        change.forced = true;
        let (id, effect) = run(&change, Some(&spec), &persist, &Progress::default())
            .await
            .unwrap();
        assert_eq!(id.as_deref(), Some("rev-2"));
        assert!(effect.created && !effect.deleted, "{effect:?}");
        assert_eq!(kind.created(), 1);
    }

    /// A same-named resource the plan found without the stack's tags: apply does not even
    /// send the create, which could hand it back.
    #[tokio::test]
    async fn a_foreign_resource_the_plan_found_is_refused_before_any_create() {
        let dir = tempfile::tempdir().unwrap();
        let persist = Persist::new(dir.path().join("s.json"), State::new());
        let (kind, spec, mut change) = setup();
        change.foreign = Some("arn:aws:ecs:eu-west-3:123456789012:cluster/theirs".to_owned());
        let err = run(&change, Some(&spec), &persist, &Progress::default())
            .await
            .unwrap_err();
        assert!(err.is(&[NOT_OURS]), "{err}");
        assert_eq!(kind.created(), 0);
        assert!(persist.into_state().resources.is_empty());
    }
}
