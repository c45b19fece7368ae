//! An AWS with time, in front of moto: what real AWS does during the minutes a resource takes.
//!
//! Moto makes every resource ready at once, never answers a stale read and never fails a
//! deployment. This layer of the [proxy](crate::proxy) replays real AWS's timeline over moto:
//! moto stays the source of truth for what exists, the layer only **rewrites** answers (a load
//! balancer `provisioning`, a database `creating` without an endpoint, a service's deployment
//! `IN_PROGRESS` with its running count rising), **refuses** calls AWS refuses meanwhile (a mount
//! target on a file system still creating, a security group still held by the network
//! interfaces of a deleted service's tasks) and **answers for moto** where it drops a field (the
//! service's health-check grace period) or forgets a resource AWS still shows (a database
//! `deleting`). A one-off task (RunTask) runs and stops as on Fargate, with an exit code.
//!
//! The durations come from a [`Profile`] (`profiles/realistic.toml`: each figure with its
//! source), in real-AWS seconds, and a time scale: at 0.01 a 300 s database create takes 3 s.
//! The layer keeps its own clock from the proxy's start; a resource's window starts when moto
//! answers the call that created (or changed, or deleted) it.
//!
//! It is test tooling: the product never knows it is there.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};

/// One duration of the profile, in real-AWS seconds.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Figure {
    /// The figure the layer uses.
    pub seconds: f64,
    /// What was observed, low and high.
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    /// Where the figure comes from.
    pub source: String,
}

/// How a deployment of an image fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The image cannot be pulled: each task stops with `CannotPullContainerError`.
    CannotPull,
    /// The tasks start but never pass the load balancer's health check.
    Unhealthy,
}

/// Every figure a profile must have: a typo in the file is an error, not a zero.
pub const FIGURES: [&str; 18] = [
    "rds_create",
    "rds_backing_up",
    "rds_modify",
    "rds_delete",
    "alb_create",
    "efs_create",
    "efs_delete",
    "mount_target_create",
    "mount_target_delete",
    "ecs_service_steady",
    "ecs_task_start",
    "ecs_service_drain",
    "eni_release",
    "ecs_task_failure",
    "ecs_health_failure",
    "ecs_task_run",
    "ec2_consistency",
    "iam_propagation",
];

/// The realistic profile's text (`profiles/realistic.toml`).
pub const REALISTIC: &str = include_str!("../profiles/realistic.toml");

/// Durations (real-AWS seconds), the time scale that maps them to test time, and the images
/// whose deployments fail.
#[derive(Clone, Debug)]
pub struct Profile {
    pub figures: BTreeMap<String, Figure>,
    /// Test seconds per real-AWS second: 0.01 plays 300 s in 3 s.
    pub scale: f64,
    /// Images (matched as substrings of the task definition's image) that fail to deploy.
    pub failing_images: Vec<(String, Failure)>,
    /// Whether the first CreateCluster of the account fails with "Unable to assume the service
    /// linked role", as on an account that never used ECS.
    pub fresh_account: bool,
    /// Every duration zero, those the target group's settings make (health checks,
    /// deregistration delay) included.
    pub instant: bool,
}

impl Profile {
    /// The realistic profile at a scale of 1 (real time).
    pub fn realistic() -> Profile {
        Profile::parse(REALISTIC).expect("profiles/realistic.toml is valid")
    }

    /// A profile from TOML: one table per figure, each with `seconds`, `range`, `source`.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let figures: BTreeMap<String, Figure> =
            toml::from_str(text).map_err(|e| format!("profile: {e}"))?;
        for key in FIGURES {
            if !figures.contains_key(key) {
                return Err(format!("profile: figure `{key}` is missing"));
            }
        }
        for (key, f) in &figures {
            if !FIGURES.contains(&key.as_str()) {
                return Err(format!("profile: unknown figure `{key}`"));
            }
            if f.seconds < 0.0 || f.source.trim().is_empty() {
                return Err(format!("profile: `{key}` needs seconds >= 0 and a source"));
            }
        }
        Ok(Profile {
            figures,
            scale: 1.0,
            failing_images: Vec::new(),
            fresh_account: true,
            instant: false,
        })
    }

    /// AWS at once: every duration zero and an account that used ECS before, so the layer
    /// only answers what moto drops (see [`crate::Moto`]).
    pub fn instant() -> Profile {
        let mut p = Profile::realistic().fresh_account(false);
        for f in p.figures.values_mut() {
            f.seconds = 0.0;
        }
        p.instant = true;
        p
    }

    /// Play the durations at this many test seconds per real second.
    pub fn scaled(mut self, scale: f64) -> Profile {
        assert!(scale > 0.0, "the time scale must be positive");
        self.scale = scale;
        self
    }

    /// Override one figure (a test that needs a longer or shorter window).
    pub fn with(mut self, key: &str, seconds: f64) -> Profile {
        let f = self
            .figures
            .get_mut(key)
            .unwrap_or_else(|| panic!("no figure `{key}` in the profile"));
        f.seconds = seconds;
        self
    }

    /// Deployments of an image containing `pattern` fail this way.
    pub fn failing_image(mut self, pattern: &str, failure: Failure) -> Profile {
        self.failing_images.push((pattern.to_owned(), failure));
        self
    }

    /// Whether the first CreateCluster fails once (default: yes).
    pub fn fresh_account(mut self, fresh: bool) -> Profile {
        self.fresh_account = fresh;
        self
    }

    /// A figure in real seconds.
    pub fn seconds(&self, key: &str) -> f64 {
        self.figures
            .get(key)
            .unwrap_or_else(|| panic!("no figure `{key}` in the profile"))
            .seconds
    }
}

/// The longest chain of real-AWS waits through a stack's dependency graph: what an apply or a
/// destroy cannot beat, however it is written.
#[derive(Clone, Debug, PartialEq)]
pub struct CriticalPath {
    /// Real-AWS seconds.
    pub seconds: f64,
    /// The chain, first to last: address and its own seconds.
    pub path: Vec<(String, f64)>,
    /// Every wait's seconds added up (what polls are counted against).
    pub waiting: f64,
}

/// A stack's graph: address -> (resource type, addresses it depends on).
pub type Graph = BTreeMap<String, (String, Vec<String>)>;

impl Profile {
    /// What real AWS makes `apply` wait for after creating a resource of this type, in real
    /// seconds: until it is usable by what depends on it. A service counts until it is steady:
    /// apply waits for a healthy deployment (Terraform's `wait_for_steady_state = true`).
    pub fn create_seconds(&self, type_name: &str) -> f64 {
        match type_name {
            "aws_db_instance" => self.seconds("rds_create"),
            "aws_lb" => self.seconds("alb_create"),
            "aws_efs_file_system" => self.seconds("efs_create"),
            "aws_efs_mount_target" => self.seconds("mount_target_create"),
            "aws_ecs_service" => self.seconds("ecs_service_steady"),
            _ => 0.0,
        }
    }

    /// How long AWS takes to replace a service's tasks with those of a new deployment (an
    /// image change, a redeploy, a rollback), given its target group's settings: the new
    /// task starts (`ecs_task_start`), passes `healthy_threshold` health checks `interval`
    /// seconds apart, and the old task is deregistered, which ends after the group's
    /// deregistration delay. A first deployment has nothing to replace: it takes
    /// `ecs_service_steady` (PrestaShop's installer included).
    pub fn replacement_seconds(&self, tg: &TargetTiming) -> f64 {
        if self.instant {
            return 0.0;
        }
        self.seconds("ecs_task_start")
            + (tg.healthy_threshold * tg.interval) as f64
            + tg.deregistration_delay as f64
    }

    /// What real AWS makes `destroy` wait for when deleting this resource, once everything
    /// that depends on it is gone.
    pub fn destroy_seconds(&self, address: &str, graph: &Graph) -> f64 {
        let Some((type_name, _)) = graph.get(address) else {
            return 0.0;
        };
        match type_name.as_str() {
            "aws_ecs_service" => self.seconds("ecs_service_drain"),
            "aws_db_instance" => self.seconds("rds_delete"),
            "aws_efs_mount_target" => self.seconds("mount_target_delete"),
            "aws_efs_file_system" => self.seconds("efs_delete"),
            _ => 0.0,
        }
    }

    /// The services whose tasks' network interfaces hold this security group after the
    /// service has drained: the group cannot go before `eni_release` after each of them,
    /// whatever else it waits for (the clock starts with the service, not with the group).
    fn held_by<'g>(&self, address: &str, graph: &'g Graph) -> Vec<&'g String> {
        match graph.get(address) {
            Some((t, _)) if t == "aws_security_group" => graph
                .iter()
                .filter(|(_, (t, deps))| {
                    t == "aws_ecs_service" && deps.iter().any(|d| d == address)
                })
                .map(|(a, _)| a)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The critical path of an apply from empty (each resource after what it depends on) or of
    /// a destroy (each resource after what depends on it), from this profile and the graph
    /// alone.
    pub fn critical_path(&self, graph: &Graph, destroy: bool) -> CriticalPath {
        // Predecessors: what must be done before a resource starts.
        let before = |addr: &str| -> Vec<String> {
            if destroy {
                graph
                    .iter()
                    .filter(|(_, (_, deps))| deps.iter().any(|d| d == addr))
                    .map(|(a, _)| a.clone())
                    .collect()
            } else {
                graph
                    .get(addr)
                    .map(|(_, deps)| {
                        deps.iter()
                            .filter(|d| graph.contains_key(*d))
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            }
        };
        let own = |addr: &str| {
            if destroy {
                self.destroy_seconds(addr, graph)
            } else {
                graph.get(addr).map_or(0.0, |(t, _)| self.create_seconds(t))
            }
        };
        // Per node: when it is done, the link it waited for last, and the seconds that link
        // added. Memoised: the graph is a DAG.
        type Memo = BTreeMap<String, (f64, Option<String>, f64)>;
        let mut memo: Memo = BTreeMap::new();
        fn finish(
            p: &Profile,
            graph: &Graph,
            destroy: bool,
            addr: &str,
            before: &dyn Fn(&str) -> Vec<String>,
            own: &dyn Fn(&str) -> f64,
            memo: &mut Memo,
        ) -> f64 {
            if let Some((f, _, _)) = memo.get(addr) {
                return *f;
            }
            let mine = own(addr);
            let mut best: (f64, Option<String>, f64) = (mine, None, mine);
            for pred in before(addr) {
                let f = finish(p, graph, destroy, &pred, before, own, memo) + mine;
                if f > best.0 || best.1.is_none() && f >= best.0 {
                    best = (f, Some(pred), mine);
                }
            }
            if destroy {
                let release = p.seconds("eni_release");
                for holder in p.held_by(addr, graph) {
                    let f = finish(p, graph, destroy, holder, before, own, memo) + release;
                    if f > best.0 {
                        best = (f, Some(holder.clone()), release);
                    }
                }
            }
            memo.insert(addr.to_owned(), best.clone());
            best.0
        }
        let mut end: Option<(f64, String)> = None;
        for addr in graph.keys() {
            let f = finish(self, graph, destroy, addr, &before, &own, &mut memo);
            if end.as_ref().is_none_or(|(e, _)| f > *e) {
                end = Some((f, addr.clone()));
            }
        }
        let mut path = Vec::new();
        let mut at = end.as_ref().map(|(_, a)| a.clone());
        while let Some(a) = at {
            let (_, pred, added) = memo.get(&a).cloned().unwrap_or((0.0, None, 0.0));
            path.push((a, added));
            at = pred;
        }
        path.reverse();
        // Keep the chain readable: only the links that wait.
        path.retain(|(_, s)| *s > 0.0);
        let waiting = graph.keys().map(|a| own(a)).sum::<f64>()
            + if destroy {
                graph
                    .keys()
                    .filter(|a| !self.held_by(a, graph).is_empty())
                    .count() as f64
                    * self.seconds("eni_release")
            } else {
                0.0
            };
        CriticalPath {
            seconds: end.map_or(0.0, |(f, _)| f),
            path,
            waiting,
        }
    }
}

/// One call as the layer sees it.
pub(crate) struct Call {
    pub service: String,
    pub operation: String,
    /// The path without the query string.
    pub path: String,
    /// Form parameters (query protocol) and query-string parameters.
    pub params: HashMap<String, String>,
    /// The JSON body, `Null` when there is none.
    pub json: Value,
}

impl Call {
    pub fn new(service: String, operation: String, target: &str, body: &[u8], form: bool) -> Call {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut params = parse_form(query);
        if form {
            params.extend(parse_form(std::str::from_utf8(body).unwrap_or_default()));
        }
        let json = if form || body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body).unwrap_or(Value::Null)
        };
        Call {
            service,
            operation,
            path: path.to_owned(),
            params,
            json,
        }
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params.get(key).map(String::as_str)
    }

    /// Values of the parameters whose names match `prefix.N[.suffix]`, such as `GroupId.1`.
    fn params_like(&self, prefix: &str, suffix: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('.'))
                    .and_then(|rest| rest.strip_suffix(suffix))
                    .is_some_and(|n| {
                        !n.is_empty()
                            && n.split('.')
                                .all(|p| p.chars().all(|c| c.is_ascii_alphanumeric()))
                    })
            })
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The last segment of the path (the id of a REST call).
    fn path_id(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }
}

/// What AWS would answer instead of doing the call: an error (`status` 4xx, `code`,
/// `message`), or, for a call moto does not implement, AWS's answer (`status` 2xx and `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// A JSON answer in place of moto's, when `status` is 2xx.
    pub body: Option<String>,
}

fn refuse(status: u16, code: &str, message: impl Into<String>) -> Option<Refusal> {
    Some(Refusal {
        status,
        code: code.to_owned(),
        message: message.into(),
        body: None,
    })
}

#[derive(Default)]
struct Db {
    created: f64,
    modified: Option<f64>,
    deleted: Option<f64>,
    /// Moto's last `<DBInstance>` element for it, to show while AWS still lists it.
    block: String,
    subnet_group: String,
    security_groups: Vec<String>,
}

struct Efs {
    created: f64,
    deleted: Option<f64>,
    last: Value,
    /// Throughput settings set through UpdateFileSystem (answered by the layer).
    throughput: serde_json::Map<String, Value>,
}

struct MountTarget {
    fs: String,
    created: f64,
    deleted: Option<f64>,
    security_groups: Vec<String>,
    last: Value,
}

struct Deployment {
    id: String,
    task_definition: String,
    started: f64,
    /// Seconds to steady state when it replaces a running deployment (from the target
    /// group's settings at the time it started); a first deployment takes
    /// `ecs_service_steady`.
    replaces_in: f64,
}

/// The target group settings a rolling deploy's time depends on; AWS's defaults until a call
/// sets them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetTiming {
    pub interval: i64,
    pub healthy_threshold: i64,
    pub deregistration_delay: i64,
}

impl Default for TargetTiming {
    /// ELBv2's defaults for an `ip` target group: checks every 30 s, healthy after 5 passes,
    /// 300 s deregistration delay (ELBv2 API reference, CreateTargetGroup and target group
    /// attributes).
    fn default() -> Self {
        TargetTiming {
            interval: 30,
            healthy_threshold: 5,
            deregistration_delay: 300,
        }
    }
}

impl TargetTiming {
    /// Take what a CreateTargetGroup, ModifyTargetGroup or ModifyTargetGroupAttributes call
    /// sets.
    fn update(&mut self, call: &Call) {
        let num = |k: &str| call.param(k).and_then(|v| v.parse().ok());
        if let Some(n) = num("HealthCheckIntervalSeconds") {
            self.interval = n;
        }
        if let Some(n) = num("HealthyThresholdCount") {
            self.healthy_threshold = n;
        }
        for (k, v) in &call.params {
            if v == "deregistration_delay.timeout_seconds" && k.ends_with(".Key") {
                let value = format!("{}.Value", k.trim_end_matches(".Key"));
                if let Some(n) = num(&value) {
                    self.deregistration_delay = n;
                }
            }
        }
    }
}

struct EcsService {
    name: String,
    desired: i64,
    deployments: Vec<Deployment>,
    grace: Option<i64>,
    deployment_configuration: Option<Value>,
    target_groups: Vec<String>,
    security_groups: Vec<String>,
    deleted: Option<f64>,
    desired_before_delete: i64,
}

/// A task started with RunTask (`stackctl run`): moto creates it, but never runs or stops it.
struct OneOffTask {
    started: f64,
    /// The container's exit code: `N` when the command's last word is `exit:N`, else 0.
    exit_code: i64,
    /// Why its image cannot start, if it cannot.
    failure: Option<(Failure, String)>,
    /// When StopTask was called, and its reason.
    stopped: Option<(f64, String)>,
}

#[derive(Default)]
struct World {
    dbs: HashMap<String, Db>,
    lbs: HashMap<String, f64>,
    /// ELBv2 ARNs and when they were created: describes by ARN lag behind.
    elb_created: HashMap<String, f64>,
    file_systems: HashMap<String, Efs>,
    mount_targets: HashMap<String, MountTarget>,
    security_groups: HashMap<String, f64>,
    /// (group, source group) pairs whose ingress already failed once.
    ingress_failed: HashSet<(String, String)>,
    roles: HashMap<String, f64>,
    cluster_refused: bool,
    /// Task definition ARN -> (image, roles it names).
    task_definitions: HashMap<String, (String, Vec<String>)>,
    services: HashMap<String, EcsService>,
    deployments: u64,
    /// Target group ARN -> the settings a deploy's time depends on.
    target_timing: HashMap<String, TargetTiming>,
    /// RunTask'd tasks by ARN.
    tasks: HashMap<String, OneOffTask>,
}

/// Counts of what the layer did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Calls refused as AWS refuses them during a window.
    pub refused: u64,
    /// Answers rewritten (a state, a count, a dropped field) or answered for moto.
    pub rewritten: u64,
}

/// The layer's state: the profile, its clock and what it saw created.
pub(crate) struct Lifecycle {
    profile: Profile,
    start: Instant,
    world: Mutex<World>,
    stats: Mutex<LayerStats>,
}

impl Lifecycle {
    pub fn new(profile: Profile) -> Lifecycle {
        Lifecycle {
            profile,
            start: Instant::now(),
            world: Mutex::new(World::default()),
            stats: Mutex::new(LayerStats::default()),
        }
    }

    pub fn stats(&self) -> LayerStats {
        *self.stats.lock().unwrap()
    }

    /// Real-AWS seconds since the proxy started.
    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64() / self.profile.scale
    }

    fn secs(&self, key: &str) -> f64 {
        self.profile.seconds(key)
    }

    /// Before forwarding: the request's body as moto must get it, when it differs. Moto's
    /// RunTask adds up the containers' own memory and fails (a 500) when a container has none,
    /// which Fargate allows (the task's memory is enough, as in this stack): a container
    /// `memoryReservation` of 0 (AWS's minimum is 6) lets moto run the task definition's tasks,
    /// and the answers drop it again ([`unreserved`]), so what AWS would answer is unchanged.
    pub fn request(&self, call: &Call) -> Option<Vec<u8>> {
        if (call.service.as_str(), call.operation.as_str()) != ("ecs", "RegisterTaskDefinition") {
            return None;
        }
        let mut v = call.json.clone();
        let mut changed = false;
        for c in v.get_mut("containerDefinitions")?.as_array_mut()? {
            let Some(c) = c.as_object_mut() else { continue };
            if !c.contains_key("memory") && !c.contains_key("memoryReservation") {
                c.insert("memoryReservation".into(), json!(0));
                changed = true;
            }
        }
        changed.then(|| v.to_string().into_bytes())
    }

    /// Before forwarding: a refusal, or `None` to forward.
    pub fn before(&self, call: &Call) -> Option<Refusal> {
        let refusal = self.decide(call);
        match &refusal {
            Some(r) if r.body.is_some() => self.stats.lock().unwrap().rewritten += 1,
            Some(_) => self.stats.lock().unwrap().refused += 1,
            None => {}
        }
        refusal
    }

    fn decide(&self, call: &Call) -> Option<Refusal> {
        let now = self.now();
        let mut w = self.world.lock().unwrap();
        let w = &mut *w;
        match (call.service.as_str(), call.operation.as_str()) {
            ("ec2", "DescribeSecurityGroups") => {
                // Named by id, AWS answers NotFound; through a filter, it leaves the group out
                // (see `rewrite`).
                let ids = call.params_like("GroupId", "");
                let fresh = ids.into_iter().find(|id| {
                    w.security_groups
                        .get(*id)
                        .is_some_and(|t| now - t < self.secs("ec2_consistency"))
                })?;
                refuse(
                    400,
                    "InvalidGroup.NotFound",
                    format!("The security group '{fresh}' does not exist"),
                )
            }
            ("ec2", "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress") => {
                let group = call.param("GroupId").unwrap_or_default().to_owned();
                let sources = call.params_like("IpPermissions", ".GroupId");
                // A describe can already see the group while a rule naming it still fails
                // once: the rule's check lags further (observed up to ten times the describe's
                // window).
                let fresh = sources.into_iter().find(|s| {
                    w.security_groups
                        .get(*s)
                        .is_some_and(|t| now - t < 10.0 * self.secs("ec2_consistency"))
                        && !w.ingress_failed.contains(&(group.clone(), s.to_string()))
                })?;
                w.ingress_failed.insert((group, fresh.to_owned()));
                refuse(
                    400,
                    "InvalidGroup.NotFound",
                    format!("The security group '{fresh}' does not exist"),
                )
            }
            ("ec2", "DeleteSecurityGroup") => {
                let id = call.param("GroupId")?;
                let holder = self.holder_of_group(w, id, now)?;
                refuse(
                    400,
                    "DependencyViolation",
                    format!("resource {id} has a dependent object ({holder})"),
                )
            }
            (
                "elasticloadbalancing",
                op @ ("DescribeTargetGroups" | "DescribeListeners" | "DescribeLoadBalancers"),
            ) => {
                // Named by ARN right after their create, ELBv2 answers "not found".
                let (param, code, what) = match op {
                    "DescribeTargetGroups" => {
                        ("TargetGroupArns", "TargetGroupNotFound", "target groups")
                    }
                    "DescribeListeners" => ("ListenerArns", "ListenerNotFound", "listeners"),
                    _ => ("LoadBalancerArns", "LoadBalancerNotFound", "load balancers"),
                };
                let fresh = call
                    .params_like(&format!("{param}.member"), "")
                    .into_iter()
                    .any(|arn| {
                        w.elb_created
                            .get(arn)
                            .is_some_and(|t| now - t < self.secs("ec2_consistency"))
                    });
                fresh.then(|| Refusal {
                    status: 400,
                    code: code.into(),
                    message: format!("One or more {what} not found"),
                    body: None,
                })
            }
            ("elasticloadbalancing", "DeleteTargetGroup") => {
                let arn = call.param("TargetGroupArn")?;
                let svc = w.services.values().find(|s| {
                    s.target_groups.iter().any(|t| t == arn)
                        && s.deleted
                            .is_none_or(|d| now - d < self.secs("ecs_service_drain"))
                })?;
                refuse(
                    400,
                    "ResourceInUse",
                    format!(
                        "Target group '{arn}' is currently in use by a listener or a rule (ECS service {} still registers targets)",
                        svc.name
                    ),
                )
            }
            ("rds", "DeleteDBSubnetGroup") => {
                let name = call.param("DBSubnetGroupName")?;
                let (id, _) = w.dbs.iter().find(|(_, db)| {
                    db.subnet_group == name
                        && db
                            .deleted
                            .is_some_and(|d| now - d < self.secs("rds_delete"))
                })?;
                refuse(
                    400,
                    "InvalidDBSubnetGroupStateFault",
                    format!("Cannot delete the subnet group '{name}' because at least one database instance: {id} is still using it."),
                )
            }
            ("rds", "ModifyDBInstance") => {
                let id = call.param("DBInstanceIdentifier")?;
                let db = w.dbs.get(id)?;
                let status = self.db_status(db, now)?;
                (status != "available").then(|| Refusal {
                    status: 400,
                    code: "InvalidDBInstanceState".into(),
                    message: format!(
                        "Database instance is not in available state (it is {status})."
                    ),
                    body: None,
                })
            }
            ("elasticfilesystem", "POST /2015-02-01/mount-targets") => {
                let fs = call.str("FileSystemId")?;
                let created = w.file_systems.get(fs)?.created;
                (now - created < self.secs("efs_create")).then(|| Refusal {
                    status: 409,
                    code: "IncorrectFileSystemLifeCycleState".into(),
                    message: format!("File system '{fs}' is in the creating state; mount targets can only be created on an available file system."),
                    body: None,
                })
            }
            ("elasticfilesystem", "DELETE /2015-02-01/file-systems/{id}") => {
                let fs = call.path_id();
                let busy = w.mount_targets.values().any(|mt| {
                    mt.fs == fs
                        && mt
                            .deleted
                            .is_some_and(|d| now - d < self.secs("mount_target_delete"))
                });
                busy.then(|| Refusal {
                    status: 409,
                    code: "FileSystemInUse".into(),
                    message: format!("File system '{fs}' has mount targets being deleted."),
                    body: None,
                })
            }
            ("elasticfilesystem", "PUT /2015-02-01/file-systems/{id}") => {
                // UpdateFileSystem: moto does not implement it. Answer as AWS does, and show
                // the new throughput mode from now on.
                let id = call.path_id().to_owned();
                let fs = w.file_systems.get_mut(&id)?;
                let mut v = fs.last.clone();
                for key in ["ThroughputMode", "ProvisionedThroughputInMibps"] {
                    if let Some(x) = call.json.get(key) {
                        v[key] = x.clone();
                        fs.throughput.insert(key.to_owned(), x.clone());
                    }
                }
                Some(Refusal {
                    status: 202,
                    code: String::new(),
                    message: String::new(),
                    body: Some(v.to_string()),
                })
            }
            ("ecs", "CreateCluster") if self.profile.fresh_account && !w.cluster_refused => {
                w.cluster_refused = true;
                refuse(
                    400,
                    "InvalidParameterException",
                    "Unable to assume the service linked role. Please verify that the ECS service linked role exists.",
                )
            }
            ("ecs", "RegisterTaskDefinition") => {
                let fresh = ["executionRoleArn", "taskRoleArn"]
                    .iter()
                    .filter_map(|k| call.str(k))
                    .find(|arn| {
                        w.roles
                            .get(*arn)
                            .is_some_and(|t| now - t < self.secs("iam_propagation"))
                    })?;
                refuse(
                    400,
                    "ClientException",
                    format!("Role is not valid: ECS cannot assume {fresh} yet"),
                )
            }
            _ => None,
        }
    }

    /// What still holds a security group: the tasks of a service (until their network
    /// interfaces are released), a mount target, a database.
    fn holder_of_group(&self, w: &World, id: &str, now: f64) -> Option<String> {
        for s in w.services.values() {
            let held = match s.deleted {
                None => true,
                Some(d) => now - d < self.secs("ecs_service_drain") + self.secs("eni_release"),
            };
            if held && s.security_groups.iter().any(|g| g == id) {
                return Some(format!("network interfaces of ECS service {}", s.name));
            }
        }
        for (mid, mt) in &w.mount_targets {
            let held = mt
                .deleted
                .is_none_or(|d| now - d < self.secs("mount_target_delete"));
            if held && mt.security_groups.iter().any(|g| g == id) {
                return Some(format!("network interface of EFS mount target {mid}"));
            }
        }
        for (did, db) in &w.dbs {
            let held = db.deleted.is_none_or(|d| now - d < self.secs("rds_delete"));
            if held && db.security_groups.iter().any(|g| g == id) {
                return Some(format!("network interface of database {did}"));
            }
        }
        None
    }

    fn db_status(&self, db: &Db, now: f64) -> Option<&'static str> {
        if let Some(d) = db.deleted {
            return (now - d < self.secs("rds_delete")).then_some("deleting");
        }
        let age = now - db.created;
        if age < self.secs("rds_create") - self.secs("rds_backing_up") {
            return Some("creating");
        }
        if age < self.secs("rds_create") {
            return Some("backing-up");
        }
        if db
            .modified
            .is_some_and(|m| now - m < self.secs("rds_modify"))
        {
            return Some("modifying");
        }
        Some("available")
    }

    /// After moto answered: record what was created, rewrite the answer as AWS would give it.
    /// Returns the status to send (an answer for moto turns a 404 into a 200).
    pub fn after(&self, call: &Call, status: u16, body: &mut Vec<u8>) -> u16 {
        let Ok(text) = std::str::from_utf8(body) else {
            return status;
        };
        let out = self.rewrite(call, status, text);
        match out {
            Some((s, new)) => {
                if new != text || s != status {
                    self.stats.lock().unwrap().rewritten += 1;
                }
                *body = new.into_bytes();
                s
            }
            None => status,
        }
    }

    fn rewrite(&self, call: &Call, status: u16, text: &str) -> Option<(u16, String)> {
        let now = self.now();
        let mut w = self.world.lock().unwrap();
        let w = &mut *w;
        let ok = (200..300).contains(&status);
        match (call.service.as_str(), call.operation.as_str()) {
            ("ec2", "CreateSecurityGroup") if ok => {
                let id = tag_text(text, "groupId")?;
                w.security_groups.insert(id.to_owned(), now);
                None
            }
            ("ec2", "DescribeSecurityGroups") if ok => {
                let mut out = text.to_owned();
                for (start, end) in items(text, "securityGroupInfo", "item").into_iter().rev() {
                    let block = &text[start..end];
                    let fresh = tag_text(block, "groupId")
                        .and_then(|id| w.security_groups.get(id))
                        .is_some_and(|t| now - t < self.secs("ec2_consistency"));
                    if fresh {
                        out.replace_range(start - "<item>".len()..end + "</item>".len(), "");
                    }
                }
                Some((status, out))
            }
            ("iam", "CreateRole") if ok => {
                let arn = tag_text(text, "Arn")?;
                w.roles.insert(arn.to_owned(), now);
                None
            }
            ("elasticloadbalancing", "CreateTargetGroup") if ok => {
                let arn = tag_text(text, "TargetGroupArn")?.to_owned();
                w.elb_created.insert(arn.clone(), now);
                w.target_timing.entry(arn).or_default().update(call);
                None
            }
            ("elasticloadbalancing", "ModifyTargetGroup" | "ModifyTargetGroupAttributes") if ok => {
                let arn = call.param("TargetGroupArn")?.to_owned();
                w.target_timing.entry(arn).or_default().update(call);
                None
            }
            ("elasticloadbalancing", "CreateListener") if ok => {
                w.elb_created
                    .insert(tag_text(text, "ListenerArn")?.to_owned(), now);
                None
            }
            ("elasticloadbalancing", "CreateLoadBalancer") if ok => {
                let arn = tag_text(text, "LoadBalancerArn")?;
                w.lbs.insert(arn.to_owned(), now);
                w.elb_created.insert(arn.to_owned(), now);
                self.provisioning(w, text, now)
            }
            ("elasticloadbalancing", "DescribeLoadBalancers") if ok => {
                self.provisioning(w, text, now)
            }
            ("rds", "CreateDBInstance") if ok => {
                let block = element(text, "DBInstance")?.to_owned();
                let id = tag_text(&block, "DBInstanceIdentifier")?.to_owned();
                let db = Db {
                    created: now,
                    subnet_group: call
                        .param("DBSubnetGroupName")
                        .unwrap_or_default()
                        .to_owned(),
                    security_groups: call
                        .params_like("VpcSecurityGroupIds", "")
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    block,
                    ..Db::default()
                };
                w.dbs.insert(id, db);
                self.db_answer(w, call, text, now)
            }
            ("rds", "ModifyDBInstance") if ok => {
                let id = call.param("DBInstanceIdentifier")?;
                let reboots = call.param("DBInstanceClass").is_some()
                    || call.param("AllocatedStorage").is_some();
                if call.param("ApplyImmediately") == Some("true") && reboots {
                    if let Some(db) = w.dbs.get_mut(id) {
                        db.modified = Some(now);
                    }
                }
                self.db_answer(w, call, text, now)
            }
            ("rds", "DeleteDBInstance") if ok => {
                let id = call.param("DBInstanceIdentifier")?;
                if let Some(db) = w.dbs.get_mut(id) {
                    db.deleted = Some(now);
                    if let Some(block) = element(text, "DBInstance") {
                        db.block = block.to_owned();
                    }
                }
                self.db_answer(w, call, text, now)
            }
            ("rds", "DescribeDBInstances") => self.db_answer(w, call, text, now),
            ("elasticfilesystem", "POST /2015-02-01/file-systems") if ok => {
                let v: Value = serde_json::from_str(text).ok()?;
                let id = v.get("FileSystemId")?.as_str()?.to_owned();
                w.file_systems.insert(
                    id,
                    Efs {
                        created: now,
                        deleted: None,
                        last: v.clone(),
                        throughput: Default::default(),
                    },
                );
                creating(status, v)
            }
            ("elasticfilesystem", "DELETE /2015-02-01/file-systems/{id}") if ok => {
                if let Some(fs) = w.file_systems.get_mut(call.path_id()) {
                    fs.deleted = Some(now);
                }
                None
            }
            ("elasticfilesystem", "GET /2015-02-01/file-systems") => {
                self.fs_answer(w, call, status, text, now)
            }
            ("elasticfilesystem", "POST /2015-02-01/mount-targets") if ok => {
                let v: Value = serde_json::from_str(text).ok()?;
                let id = v.get("MountTargetId")?.as_str()?.to_owned();
                let groups = strings(call.json.get("SecurityGroups"));
                w.mount_targets.insert(
                    id,
                    MountTarget {
                        fs: v.get("FileSystemId")?.as_str()?.to_owned(),
                        created: now,
                        deleted: None,
                        security_groups: groups,
                        last: v.clone(),
                    },
                );
                creating(status, v)
            }
            ("elasticfilesystem", "DELETE /2015-02-01/mount-targets/{id}") if ok => {
                if let Some(mt) = w.mount_targets.get_mut(call.path_id()) {
                    mt.deleted = Some(now);
                }
                None
            }
            ("elasticfilesystem", "GET /2015-02-01/mount-targets") => {
                self.mt_answer(w, call, status, text, now)
            }
            ("ecs", "DescribeTaskDefinition") if ok => {
                let mut v: Value = serde_json::from_str(text).ok()?;
                unreserved(&mut v).then(|| (status, v.to_string()))
            }
            ("ecs", "RegisterTaskDefinition") if ok => {
                let mut v: Value = serde_json::from_str(text).ok()?;
                let changed = unreserved(&mut v);
                let td = v.get("taskDefinition")?;
                let arn = td.get("taskDefinitionArn")?.as_str()?.to_owned();
                let image = td
                    .pointer("/containerDefinitions/0/image")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let roles = ["executionRoleArn", "taskRoleArn"]
                    .iter()
                    .filter_map(|k| td.get(*k).and_then(Value::as_str).map(str::to_owned))
                    .collect();
                w.task_definitions.insert(arn, (image, roles));
                changed.then(|| (status, v.to_string()))
            }
            ("ecs", "CreateService") if ok => {
                let v: Value = serde_json::from_str(text).ok()?;
                let arn = v.pointer("/service/serviceArn")?.as_str()?.to_owned();
                let td = v.pointer("/service/taskDefinition")?.as_str()?.to_owned();
                w.deployments += 1;
                let svc = EcsService {
                    name: call.str("serviceName").unwrap_or_default().to_owned(),
                    desired: call
                        .json
                        .get("desiredCount")
                        .and_then(Value::as_i64)
                        .unwrap_or(0),
                    deployments: vec![Deployment {
                        id: format!(
                            "ecs-svc/{:019}",
                            4_000_000_000_000_000_000u64 + w.deployments
                        ),
                        task_definition: td,
                        started: now,
                        replaces_in: self.secs("ecs_service_steady"),
                    }],
                    grace: call
                        .json
                        .get("healthCheckGracePeriodSeconds")
                        .and_then(Value::as_i64),
                    deployment_configuration: call.json.get("deploymentConfiguration").cloned(),
                    target_groups: target_groups(&call.json),
                    security_groups: security_groups(&call.json),
                    deleted: None,
                    desired_before_delete: 0,
                };
                w.services.insert(arn, svc);
                self.services_answer(w, text, now, "/service")
            }
            ("ecs", "UpdateService") if ok => {
                let v: Value = serde_json::from_str(text).ok()?;
                let arn = v.pointer("/service/serviceArn")?.as_str()?.to_owned();
                let td = v.pointer("/service/taskDefinition")?.as_str()?.to_owned();
                let next_id = w.deployments + 1;
                let timing = w
                    .services
                    .get(&arn)?
                    .target_groups
                    .first()
                    .and_then(|tg| w.target_timing.get(tg))
                    .copied()
                    .unwrap_or_default();
                let replaces_in = self.profile.replacement_seconds(&timing);
                let svc = w.services.get_mut(&arn)?;
                if let Some(n) = call.json.get("desiredCount").and_then(Value::as_i64) {
                    svc.desired = n;
                }
                if let Some(g) = call
                    .json
                    .get("healthCheckGracePeriodSeconds")
                    .and_then(Value::as_i64)
                {
                    svc.grace = Some(g);
                }
                if let Some(c) = call.json.get("deploymentConfiguration") {
                    svc.deployment_configuration = Some(c.clone());
                }
                if call.json.get("networkConfiguration").is_some() {
                    svc.security_groups = security_groups(&call.json);
                }
                let current = svc.deployments.last().map(|d| d.task_definition.clone());
                let new_deployment = current.as_deref() != Some(td.as_str())
                    || call.json.get("forceNewDeployment").and_then(Value::as_bool) == Some(true)
                    || call.json.get("networkConfiguration").is_some();
                if new_deployment {
                    svc.deployments.push(Deployment {
                        id: format!("ecs-svc/{:019}", 4_000_000_000_000_000_000u64 + next_id),
                        task_definition: td,
                        started: now,
                        replaces_in,
                    });
                    w.deployments = next_id;
                }
                self.services_answer(w, text, now, "/service")
            }
            ("ecs", "DeleteService") if ok => {
                let v: Value = serde_json::from_str(text).ok()?;
                let arn = v.pointer("/service/serviceArn")?.as_str()?.to_owned();
                let svc = w.services.get_mut(&arn)?;
                svc.deleted = Some(now);
                svc.desired_before_delete = self.running(svc, now).max(svc.desired);
                self.services_answer(w, text, now, "/service")
            }
            ("ecs", "DescribeServices") if ok => self.services_answer(w, text, now, "/services"),
            ("ecs", "RunTask") if ok => {
                let mut v: Value = serde_json::from_str(text).ok()?;
                let command = call
                    .json
                    .pointer("/overrides/containerOverrides/0/command")
                    .and_then(Value::as_array)
                    .and_then(|c| c.last())
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let exit_code = command
                    .strip_prefix("exit:")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                for t in v.get_mut("tasks")?.as_array_mut()? {
                    let arn = t.get("taskArn").and_then(Value::as_str)?.to_owned();
                    let td = t.get("taskDefinitionArn").and_then(Value::as_str);
                    let task = OneOffTask {
                        started: now,
                        exit_code,
                        failure: td.and_then(|td| self.failure_of(w, td)),
                        stopped: None,
                    };
                    // RunTask answers before anything ran, whatever the timeline.
                    task_json(t, &task, "PROVISIONING", None);
                    w.tasks.insert(arn, task);
                }
                Some((status, v.to_string()))
            }
            ("ecs", "StopTask") if ok => {
                let mut v: Value = serde_json::from_str(text).ok()?;
                let arn = v.pointer("/task/taskArn")?.as_str()?.to_owned();
                let task = w.tasks.get_mut(&arn)?;
                if task.stopped.is_none() {
                    let reason = call.str("reason").unwrap_or("Task stopped by user");
                    task.stopped = Some((now, reason.to_owned()));
                }
                self.one_off(task, v.get_mut("task")?, now);
                Some((status, v.to_string()))
            }
            ("ecs", "DescribeTasks") if ok => {
                let mut v: Value = serde_json::from_str(text).ok()?;
                for t in v.get_mut("tasks")?.as_array_mut()? {
                    let Some(known) = t
                        .get("taskArn")
                        .and_then(Value::as_str)
                        .and_then(|a| w.tasks.get(a))
                    else {
                        continue;
                    };
                    self.one_off(known, t, now);
                }
                Some((status, v.to_string()))
            }
            ("elasticloadbalancing", "DescribeTargetHealth") if ok => {
                self.target_health(w, call.param("TargetGroupArn")?, text, now)
            }
            _ => None,
        }
    }

    /// DescribeTargetHealth for a target group an ECS service registers its tasks in (moto
    /// runs no task, so it has none): the running tasks `healthy`, those of a deployment in
    /// progress `initial`, or `unhealthy` when its image never passes the health check, and a
    /// deleted service's tasks `draining`.
    fn target_health(&self, w: &World, tg: &str, text: &str, now: f64) -> Option<(u16, String)> {
        let svc = w
            .services
            .values()
            .filter(|s| s.target_groups.iter().any(|t| t == tg))
            .max_by(|a, b| a.deleted.is_none().cmp(&b.deleted.is_none()))?;
        let failures: HashMap<&str, Option<(Failure, String)>> = svc
            .deployments
            .iter()
            .map(|d| {
                (
                    d.task_definition.as_str(),
                    self.failure_of(w, &d.task_definition),
                )
            })
            .collect();
        let view = self.view_with(svc, now, &|td| failures.get(td).cloned().flatten());
        let mut states: Vec<(&str, Option<&str>)> = Vec::new();
        let running_state = if view.status == "ACTIVE" {
            "healthy"
        } else {
            "draining"
        };
        states.extend((0..view.running).map(|_| (running_state, None)));
        if let Some(primary) = view
            .deployments
            .iter()
            .find(|d| d["status"] == "PRIMARY" && d["rolloutState"] == "IN_PROGRESS")
        {
            let pending = primary["desiredCount"].as_i64().unwrap_or(0)
                - primary["runningCount"].as_i64().unwrap_or(0);
            let td = primary["taskDefinition"].as_str().unwrap_or_default();
            match failures.get(td).cloned().flatten().map(|(f, _)| f) {
                // Tasks that never start never register.
                Some(Failure::CannotPull) => {}
                Some(Failure::Unhealthy) => states
                    .extend((0..pending).map(|_| ("unhealthy", Some("Target.FailedHealthChecks")))),
                None => states
                    .extend((0..pending).map(|_| ("initial", Some("Elb.RegistrationInProgress")))),
            }
        }
        let members: String = states
            .iter()
            .enumerate()
            .map(|(i, (state, reason))| {
                format!(
                    "<member><Target><Id>10.0.{}.{}</Id><Port>80</Port></Target><HealthCheckPort>80</HealthCheckPort><TargetHealth><State>{state}</State>{}</TargetHealth></member>",
                    i / 250,
                    i % 250 + 4,
                    reason.map(|r| format!("<Reason>{r}</Reason>")).unwrap_or_default()
                )
            })
            .collect();
        let out = if text.contains("<TargetHealthDescriptions/>") {
            text.replacen(
                "<TargetHealthDescriptions/>",
                &format!("<TargetHealthDescriptions>{members}</TargetHealthDescriptions>"),
                1,
            )
        } else if text.contains("</TargetHealthDescriptions>") {
            if !items(text, "TargetHealthDescriptions", "member").is_empty() {
                // Targets someone registered by hand: moto's answer stands.
                return None;
            }
            text.replacen(
                "</TargetHealthDescriptions>",
                &format!("{members}</TargetHealthDescriptions>"),
                1,
            )
        } else if text.contains("<DescribeTargetHealthResult/>") {
            text.replacen(
                "<DescribeTargetHealthResult/>",
                &format!("<DescribeTargetHealthResult><TargetHealthDescriptions>{members}</TargetHealthDescriptions></DescribeTargetHealthResult>"),
                1,
            )
        } else if text.contains("<DescribeTargetHealthResult>") {
            text.replacen(
                "<DescribeTargetHealthResult>",
                &format!("<DescribeTargetHealthResult><TargetHealthDescriptions>{members}</TargetHealthDescriptions>"),
                1,
            )
        } else {
            return None;
        };
        Some((200, out))
    }

    fn provisioning(&self, w: &World, text: &str, now: f64) -> Option<(u16, String)> {
        let mut out = text.to_owned();
        for (start, end) in items(text, "LoadBalancers", "member").into_iter().rev() {
            let block = &text[start..end];
            let Some(arn) = tag_text(block, "LoadBalancerArn") else {
                continue;
            };
            let fresh = w
                .lbs
                .get(arn)
                .is_some_and(|t| now - t < self.secs("alb_create"));
            if fresh {
                let new = block.replacen("<Code>active</Code>", "<Code>provisioning</Code>", 1);
                out.replace_range(start..end, &new);
            }
        }
        Some((200, out))
    }

    /// DescribeDBInstances (and the single-instance answers): the status AWS would show, no
    /// endpoint while creating, and an instance being deleted still listed.
    fn db_answer(&self, w: &mut World, call: &Call, text: &str, now: f64) -> Option<(u16, String)> {
        let wanted = call.param("DBInstanceIdentifier");
        let describe = call.operation == "DescribeDBInstances";
        if describe && text.contains("DBInstanceNotFound") {
            // Moto forgot it at once; AWS lists it as `deleting` for minutes.
            let id = wanted?;
            let db = w.dbs.get(id)?;
            if self.db_status(db, now) != Some("deleting") {
                return None;
            }
            let block = set_tag_text(&db.block, "DBInstanceStatus", "deleting");
            return Some((
                200,
                format!(
                    "<DescribeDBInstancesResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><DescribeDBInstancesResult><DBInstances><DBInstance>{block}</DBInstance></DBInstances></DescribeDBInstancesResult><ResponseMetadata><RequestId>11f00000-0000-4000-8000-000000000000</RequestId></ResponseMetadata></DescribeDBInstancesResponse>"
                ),
            ));
        }
        let container = if describe { "DBInstances" } else { "" };
        let mut out = text.to_owned();
        let mut seen = HashSet::new();
        let ranges = if describe {
            items(text, container, "DBInstance")
        } else {
            element_range(text, "DBInstance").into_iter().collect()
        };
        for (start, end) in ranges.into_iter().rev() {
            let block = &text[start..end];
            let Some(id) = tag_text(block, "DBInstanceIdentifier").map(str::to_owned) else {
                continue;
            };
            seen.insert(id.clone());
            let Some(db) = w.dbs.get_mut(&id) else {
                continue;
            };
            if db.deleted.is_none() {
                db.block = block.to_owned();
            }
            let Some(status) = self.db_status(db, now) else {
                continue;
            };
            let mut new = set_tag_text(block, "DBInstanceStatus", status);
            if status == "creating" {
                new = remove_element(&new, "Endpoint");
            }
            out.replace_range(start..end, &new);
        }
        if describe && wanted.is_none() {
            // Instances being deleted are still listed.
            let mut ghosts = String::new();
            for (id, db) in &w.dbs {
                if !seen.contains(id) && self.db_status(db, now) == Some("deleting") {
                    ghosts.push_str("<DBInstance>");
                    ghosts.push_str(&set_tag_text(&db.block, "DBInstanceStatus", "deleting"));
                    ghosts.push_str("</DBInstance>");
                }
            }
            if !ghosts.is_empty() {
                out = if out.contains("</DBInstances>") {
                    out.replacen("</DBInstances>", &format!("{ghosts}</DBInstances>"), 1)
                } else {
                    out.replacen(
                        "<DBInstances/>",
                        &format!("<DBInstances>{ghosts}</DBInstances>"),
                        1,
                    )
                };
            }
        }
        Some((200, out))
    }

    fn fs_answer(
        &self,
        w: &mut World,
        call: &Call,
        status: u16,
        text: &str,
        now: f64,
    ) -> Option<(u16, String)> {
        let wanted = call
            .param("FileSystemId")
            .map(str::to_owned)
            .or_else(|| (call.path_id() != "file-systems").then(|| call.path_id().to_owned()));
        if status == 404 {
            let fs = w.file_systems.get(wanted.as_deref()?)?;
            let deleting = fs
                .deleted
                .is_some_and(|d| now - d < self.secs("efs_delete"));
            if !deleting {
                return None;
            }
            let mut ghost = fs.last.clone();
            ghost["LifeCycleState"] = json!("deleting");
            return Some((200, json!({ "FileSystems": [ghost] }).to_string()));
        }
        let mut v: Value = serde_json::from_str(text).ok()?;
        for fs in v.get_mut("FileSystems")?.as_array_mut()? {
            let Some(id) = fs.get("FileSystemId").and_then(Value::as_str) else {
                continue;
            };
            let Some(known) = w.file_systems.get_mut(id) else {
                continue;
            };
            for (k, x) in &known.throughput {
                fs[k] = x.clone();
            }
            known.last = fs.clone();
            if now - known.created < self.secs("efs_create") {
                fs["LifeCycleState"] = json!("creating");
            }
        }
        Some((status, v.to_string()))
    }

    fn mt_answer(
        &self,
        w: &mut World,
        call: &Call,
        status: u16,
        text: &str,
        now: f64,
    ) -> Option<(u16, String)> {
        let deleting = |mt: &MountTarget| {
            mt.deleted
                .is_some_and(|d| now - d < self.secs("mount_target_delete"))
        };
        let ghost = |mt: &MountTarget| {
            let mut g = mt.last.clone();
            g["LifeCycleState"] = json!("deleting");
            g
        };
        if status == 404 {
            let mt = w.mount_targets.get(call.param("MountTargetId")?)?;
            if !deleting(mt) {
                return None;
            }
            return Some((200, json!({ "MountTargets": [ghost(mt)] }).to_string()));
        }
        let mut v: Value = serde_json::from_str(text).ok()?;
        let list = v.get_mut("MountTargets")?.as_array_mut()?;
        let mut seen = HashSet::new();
        for mt in list.iter_mut() {
            let Some(id) = mt
                .get("MountTargetId")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                continue;
            };
            let Some(known) = w.mount_targets.get_mut(&id) else {
                continue;
            };
            seen.insert(id);
            known.last = mt.clone();
            if now - known.created < self.secs("mount_target_create") {
                mt["LifeCycleState"] = json!("creating");
            }
        }
        if let Some(fs) = call.param("FileSystemId") {
            for (id, mt) in &w.mount_targets {
                if mt.fs == fs && !seen.contains(id) && deleting(mt) {
                    list.push(ghost(mt));
                }
            }
        }
        Some((status, v.to_string()))
    }

    /// Tasks running for a service now.
    fn running(&self, s: &EcsService, now: f64) -> i64 {
        self.service_view(s, now).running
    }

    fn failure_of(&self, w: &World, task_definition: &str) -> Option<(Failure, String)> {
        let (image, _) = w.task_definitions.get(task_definition)?;
        self.profile
            .failing_images
            .iter()
            .find(|(p, _)| image.contains(p.as_str()))
            .map(|(_, f)| (*f, image.clone()))
    }

    fn service_view(&self, s: &EcsService, now: f64) -> View {
        // Placeholder for services without a known failure; `services_answer` fills failures.
        self.view_with(s, now, &|_| None)
    }

    fn view_with(
        &self,
        s: &EcsService,
        now: f64,
        failure: &dyn Fn(&str) -> Option<(Failure, String)>,
    ) -> View {
        if let Some(d) = s.deleted {
            let drain = self.secs("ecs_service_drain");
            let left = if now - d < drain {
                ((s.desired_before_delete as f64) * (1.0 - (now - d) / drain)).ceil() as i64
            } else {
                0
            };
            return View {
                status: if now - d < drain {
                    "DRAINING"
                } else {
                    "INACTIVE"
                },
                running: left,
                deployments: Vec::new(),
                task_definition: None,
                events: Vec::new(),
            };
        }
        let breaker = s
            .deployment_configuration
            .as_ref()
            .and_then(|c| c.pointer("/deploymentCircuitBreaker"));
        let breaker_on = breaker
            .and_then(|b| b.get("enable"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let rollback = breaker
            .and_then(|b| b.get("rollback"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // Walk the deployments in order: each either completes, fails (and may roll back to
        // the last one that completed) or is still in progress.
        let mut stable: Option<(String, String)> = None; // (deployment id, task definition)
        let mut view = View {
            status: "ACTIVE",
            running: 0,
            deployments: Vec::new(),
            task_definition: None,
            events: Vec::new(),
        };
        let desired = s.desired;
        for (i, dep) in s.deployments.iter().enumerate() {
            let superseded_at = s.deployments.get(i + 1).map(|n| n.started);
            let end = superseded_at.unwrap_or(now);
            let age = end - dep.started;
            // A deployment that replaces running tasks takes what the target group's settings
            // make it take; the service's first one, its first start.
            let steady = if stable.is_some() {
                dep.replaces_in
            } else {
                self.secs("ecs_service_steady")
            }
            .max(f64::EPSILON);
            match failure(&dep.task_definition) {
                None => {
                    if age >= steady {
                        stable = Some((dep.id.clone(), dep.task_definition.clone()));
                        if superseded_at.is_none() {
                            view.deployments = vec![deployment_json(
                                dep,
                                "PRIMARY",
                                "COMPLETED",
                                desired,
                                desired,
                                0,
                                format!("ECS deployment {} completed.", dep.id),
                            )];
                            view.running = desired;
                            view.task_definition = Some(dep.task_definition.clone());
                            view.events
                                .push(format!("(service {}) has reached a steady state.", s.name));
                        }
                    } else if superseded_at.is_none() {
                        let new = ((desired as f64) * age / steady).floor() as i64;
                        let mut deps = vec![deployment_json(
                            dep,
                            "PRIMARY",
                            "IN_PROGRESS",
                            desired,
                            new.min(desired),
                            0,
                            format!("ECS deployment {} in progress.", dep.id),
                        )];
                        let old = stable.as_ref().map_or(0, |_| desired);
                        if let Some((sid, std)) = &stable {
                            deps.push(completed(sid, std, "ACTIVE", old));
                        }
                        view.deployments = deps;
                        view.running = new.min(desired) + old;
                        view.task_definition = Some(dep.task_definition.clone());
                        view.events.push(format!(
                            "(service {}) has started {} tasks.",
                            s.name,
                            new.min(desired)
                        ));
                    }
                }
                Some((kind, image)) => {
                    let cycle = match kind {
                        Failure::CannotPull => self.secs("ecs_task_failure"),
                        Failure::Unhealthy => self.secs("ecs_health_failure"),
                    }
                    .max(f64::EPSILON);
                    let reason = match kind {
                        Failure::CannotPull => format!(
                            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {}: not found",
                            image
                        ),
                        Failure::Unhealthy => "Task failed ELB health checks in (target-group)".to_owned(),
                    };
                    let per_cycle = desired.max(1);
                    let failed = ((age / cycle).floor() as i64) * per_cycle;
                    let threshold = ((desired as f64 * 0.5).ceil() as i64).clamp(3, 200);
                    let tripped = breaker_on && failed >= threshold;
                    if superseded_at.is_some() {
                        continue;
                    }
                    let old = stable.as_ref().map_or(0, |_| desired);
                    if failed > 0 {
                        view.events.push(format!(
                            "(service {}) (deployment {}) {} tasks stopped: {reason}",
                            s.name, dep.id, failed
                        ));
                    }
                    if tripped {
                        view.events.push(format!(
                            "(service {}) (deployment {}) deployment failed: tasks failed to start.",
                            s.name, dep.id
                        ));
                        let failed_dep = deployment_json(
                            dep,
                            "ACTIVE",
                            "FAILED",
                            0,
                            0,
                            failed,
                            "ECS deployment circuit breaker: tasks failed to start.".into(),
                        );
                        match (&stable, rollback) {
                            (Some((sid, std)), true) => {
                                view.events.push(format!(
                                    "(service {}) rolling back to deployment {sid}.",
                                    s.name
                                ));
                                view.deployments =
                                    vec![completed(sid, std, "PRIMARY", desired), failed_dep];
                                view.running = desired;
                                view.task_definition = Some(std.clone());
                            }
                            _ => {
                                let mut primary = failed_dep;
                                primary["status"] = json!("PRIMARY");
                                view.deployments = vec![primary];
                                view.running = old;
                                view.task_definition = Some(dep.task_definition.clone());
                            }
                        }
                    } else {
                        let mut deps = vec![deployment_json(
                            dep,
                            "PRIMARY",
                            "IN_PROGRESS",
                            desired,
                            0,
                            failed,
                            format!("ECS deployment {} in progress.", dep.id),
                        )];
                        if let Some((sid, std)) = &stable {
                            deps.push(completed(sid, std, "ACTIVE", desired));
                        }
                        view.deployments = deps;
                        view.running = old;
                        view.task_definition = Some(dep.task_definition.clone());
                    }
                }
            }
        }
        view
    }

    /// A RunTask'd task as AWS shows it `now`: PROVISIONING, PENDING (the image pull), RUNNING,
    /// then STOPPED `ecs_task_run` after RunTask with its container's exit code; an image that
    /// cannot be pulled stops after `ecs_task_failure` with no exit code; StopTask stops it at
    /// once (Fargate's SIGTERM: exit 143 if the command was running).
    fn one_off(&self, t: &OneOffTask, v: &mut Value, now: f64) {
        let pull_fails = matches!(t.failure, Some((Failure::CannotPull, _)));
        let run = if pull_fails {
            self.secs("ecs_task_failure")
        } else {
            self.secs("ecs_task_run")
        };
        let end = t.started + run;
        // Layer time (real-AWS seconds since the start) as a wall-clock timestamp.
        let epoch = |at: f64| {
            let wall = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            wall - (now - at).max(0.0) * self.profile.scale
        };
        let phase = |at: f64| {
            let frac = (at - t.started) / run.max(f64::EPSILON);
            match () {
                _ if frac < 1.0 / 3.0 => "PROVISIONING",
                _ if frac < 2.0 / 3.0 || pull_fails => "PENDING",
                _ => "RUNNING",
            }
        };
        match &t.stopped {
            Some((at, reason)) if *at < end && now >= *at => {
                let code = (phase(*at) == "RUNNING").then_some(143);
                let stop = Stop {
                    code: "UserInitiated",
                    reason: reason.clone(),
                    exit_code: code,
                    container_reason: None,
                    at_epoch: epoch(*at),
                };
                task_json(v, t, "STOPPED", Some(stop))
            }
            _ if now >= end => {
                let stop = match &t.failure {
                    Some((Failure::CannotPull, image)) => Stop {
                        code: "TaskFailedToStart",
                        reason: "CannotPullContainerError: pull image manifest has been retried 5 time(s)".into(),
                        exit_code: None,
                        container_reason: Some(format!(
                            "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {image}: not found"
                        )),
                        at_epoch: epoch(end),
                    },
                    _ => Stop {
                        code: "EssentialContainerExited",
                        reason: "Essential container in task exited".into(),
                        exit_code: Some(t.exit_code),
                        container_reason: None,
                        at_epoch: epoch(end),
                    },
                };
                task_json(v, t, "STOPPED", Some(stop))
            }
            _ => task_json(v, t, phase(now), None),
        }
    }

    fn services_answer(
        &self,
        w: &World,
        text: &str,
        now: f64,
        pointer: &str,
    ) -> Option<(u16, String)> {
        let mut v: Value = serde_json::from_str(text).ok()?;
        let mut one = |svc: &mut Value| {
            let Some(arn) = svc.get("serviceArn").and_then(Value::as_str) else {
                return;
            };
            let Some(known) = w.services.get(arn) else {
                return;
            };
            let images: HashMap<&str, Option<(Failure, String)>> = known
                .deployments
                .iter()
                .map(|d| {
                    (
                        d.task_definition.as_str(),
                        self.failure_of(w, &d.task_definition),
                    )
                })
                .collect();
            let view = self.view_with(known, now, &|td| images.get(td).cloned().flatten());
            svc["status"] = json!(view.status);
            svc["runningCount"] = json!(view.running);
            svc["pendingCount"] = json!((known.desired - view.running).max(0));
            if view.status == "ACTIVE" {
                svc["deployments"] = Value::Array(view.deployments);
                if let Some(td) = view.task_definition {
                    svc["taskDefinition"] = json!(td);
                }
            } else {
                svc["desiredCount"] = json!(0);
            }
            // What moto drops and AWS echoes.
            if let Some(g) = known.grace {
                svc["healthCheckGracePeriodSeconds"] = json!(g);
            }
            if let Some(c) = &known.deployment_configuration {
                svc["deploymentConfiguration"] = c.clone();
            }
            let at = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or_default();
            let events: Vec<Value> = view
                .events
                .iter()
                .rev()
                .enumerate()
                .map(|(i, m)| json!({ "id": format!("lifecycle-{i}"), "createdAt": at, "message": m }))
                .collect();
            if !events.is_empty() {
                svc["events"] = Value::Array(events);
            }
        };
        match v.pointer_mut(pointer)? {
            Value::Array(list) => list.iter_mut().for_each(&mut one),
            svc @ Value::Object(_) => one(svc),
            _ => return None,
        }
        Some((200, v.to_string()))
    }
}

struct View {
    status: &'static str,
    running: i64,
    deployments: Vec<Value>,
    task_definition: Option<String>,
    events: Vec<String>,
}

/// Drop the container `memoryReservation` of 0 that [`Lifecycle::request`] added for moto.
/// Whether there was one.
fn unreserved(v: &mut Value) -> bool {
    let Some(Value::Array(containers)) = v.pointer_mut("/taskDefinition/containerDefinitions")
    else {
        return false;
    };
    let mut found = false;
    for c in containers.iter_mut().filter_map(Value::as_object_mut) {
        if c.get("memoryReservation") == Some(&json!(0)) {
            c.remove("memoryReservation");
            found = true;
        }
    }
    found
}

/// How a one-off task stopped.
struct Stop {
    code: &'static str,
    reason: String,
    exit_code: Option<i64>,
    container_reason: Option<String>,
    /// When, in seconds since the Unix epoch.
    at_epoch: f64,
}

/// Write a one-off task's status (and, once stopped, why and its exit code) into moto's task:
/// moto's own status advances by one step per describe and its exit code is always 0.
fn task_json(v: &mut Value, t: &OneOffTask, status: &str, stop: Option<Stop>) {
    let Some(task) = v.as_object_mut() else {
        return;
    };
    task.insert("lastStatus".into(), json!(status));
    let desired = if stop.is_some() || t.stopped.is_some() {
        "STOPPED"
    } else {
        "RUNNING"
    };
    task.insert("desiredStatus".into(), json!(desired));
    for k in ["stopCode", "stoppedReason", "stoppedAt", "stoppingAt"] {
        task.remove(k);
    }
    let container_status = match status {
        "RUNNING" => "RUNNING",
        "STOPPED" => "STOPPED",
        _ => "PENDING",
    };
    if let Some(s) = &stop {
        task.insert("stopCode".into(), json!(s.code));
        task.insert("stoppedReason".into(), json!(s.reason));
        task.insert("stoppedAt".into(), json!(s.at_epoch));
    }
    if let Some(Value::Array(containers)) = task.get_mut("containers") {
        if let Some(Value::Object(c)) = containers.first_mut() {
            c.insert("lastStatus".into(), json!(container_status));
            c.remove("exitCode");
            c.remove("reason");
            if let Some(s) = &stop {
                if let Some(code) = s.exit_code {
                    c.insert("exitCode".into(), json!(code));
                }
                if let Some(r) = &s.container_reason {
                    c.insert("reason".into(), json!(r));
                }
            }
        }
    }
}

/// A deployment that reached steady state: `count` tasks of `task_definition` running.
fn completed(id: &str, task_definition: &str, status: &str, count: i64) -> Value {
    json!({
        "id": id, "status": status, "taskDefinition": task_definition,
        "desiredCount": count, "runningCount": count, "pendingCount": 0, "failedTasks": 0,
        "launchType": "FARGATE", "rolloutState": "COMPLETED",
        "rolloutStateReason": format!("ECS deployment {id} completed."),
    })
}

fn deployment_json(
    dep: &Deployment,
    status: &str,
    rollout: &str,
    desired: i64,
    running: i64,
    failed: i64,
    reason: String,
) -> Value {
    json!({
        "id": dep.id,
        "status": status,
        "taskDefinition": dep.task_definition,
        "desiredCount": desired,
        "runningCount": running,
        "pendingCount": (desired - running).max(0),
        "failedTasks": failed,
        "launchType": "FARGATE",
        "rolloutState": rollout,
        "rolloutStateReason": reason,
    })
}

fn target_groups(req: &Value) -> Vec<String> {
    req.get("loadBalancers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|lb| lb.get("targetGroupArn").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn security_groups(req: &Value) -> Vec<String> {
    strings(req.pointer("/networkConfiguration/awsvpcConfiguration/securityGroups"))
}

/// The strings of a JSON array (none when it is not one).
fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A create's answer as AWS gives it: the resource still `creating`.
fn creating(status: u16, mut v: Value) -> Option<(u16, String)> {
    v["LifeCycleState"] = json!("creating");
    Some((status, v.to_string()))
}
/// `a=1&b=x%20y` as a map, percent- and plus-decoded.
fn parse_form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The text of the first `<tag>...</tag>`.
fn tag_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    Some(&xml[start..end])
}

/// `block` with the first `<tag>`'s text set to `value`.
fn set_tag_text(block: &str, tag: &str, value: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let Some(s) = block.find(&open).map(|i| i + open.len()) else {
        return block.to_owned();
    };
    let Some(e) = block[s..].find(&close).map(|i| s + i) else {
        return block.to_owned();
    };
    format!("{}{value}{}", &block[..s], &block[e..])
}

/// `block` without its first `<tag>...</tag>` element.
fn remove_element(block: &str, tag: &str) -> String {
    match element_range(block, tag) {
        Some((s, e)) => {
            let open = format!("<{tag}>");
            let close = format!("</{tag}>");
            format!("{}{}", &block[..s - open.len()], &block[e + close.len()..])
        }
        None => block.to_owned(),
    }
}

/// The inner text of the first `<tag>` element, nested elements of the same name included.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    element_range(xml, tag).map(|(s, e)| &xml[s..e])
}

fn element_range(xml: &str, tag: &str) -> Option<(usize, usize)> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = matching_close(xml, start, tag)?;
    Some((start, end))
}

/// Where the `</tag>` closing an element whose content starts at `from` begins.
fn matching_close(xml: &str, from: usize, tag: &str) -> Option<usize> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut depth = 1;
    let mut at = from;
    loop {
        let next_open = xml[at..].find(&open).map(|i| at + i);
        let next_close = at + xml[at..].find(&close)?;
        match next_open {
            Some(o) if o < next_close => {
                depth += 1;
                at = o + open.len();
            }
            _ => {
                depth -= 1;
                if depth == 0 {
                    return Some(next_close);
                }
                at = next_close + close.len();
            }
        }
    }
}

/// The inner ranges of the top-level `<item>` elements of the first `<container>` element.
fn items(xml: &str, container: &str, item: &str) -> Vec<(usize, usize)> {
    let Some((cs, ce)) = element_range(xml, container) else {
        return Vec::new();
    };
    let open = format!("<{item}>");
    let close = format!("</{item}>");
    let mut out = Vec::new();
    let mut at = cs;
    while let Some(i) = xml[at..ce].find(&open) {
        let start = at + i + open.len();
        let Some(end) = matching_close(xml, start, item) else {
            break;
        };
        out.push((start, end));
        at = end + close.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_realistic_profile_has_every_figure_with_a_source() {
        let p = Profile::realistic();
        for key in FIGURES {
            let f = &p.figures[key];
            assert!(!f.source.is_empty(), "{key}");
            if let Some([lo, hi]) = f.range {
                assert!(
                    lo <= f.seconds && f.seconds <= hi,
                    "{key}: {} not in [{lo}, {hi}]",
                    f.seconds
                );
            }
        }
        assert_eq!(p.seconds("rds_create"), 300.0);
        assert!(Profile::parse("[rds_create]\nseconds = 1\nsource = \"x\"").is_err());
    }

    #[test]
    fn a_rolling_deploy_takes_what_the_target_group_settings_make_it_take() {
        let p = Profile::realistic();
        // AWS's defaults: 60 s to start, 5 checks 30 s apart, 300 s to deregister.
        assert_eq!(p.replacement_seconds(&TargetTiming::default()), 510.0);
        // stackctl's: 2 checks 10 s apart, 30 s to deregister.
        let fast = TargetTiming {
            interval: 10,
            healthy_threshold: 2,
            deregistration_delay: 30,
        };
        assert_eq!(p.replacement_seconds(&fast), 110.0);
    }

    #[test]
    fn the_critical_path_follows_the_longest_chain_of_waits() {
        let g: Graph = [
            ("sg.rds", "aws_security_group", vec![]),
            ("sg.ecs", "aws_security_group", vec![]),
            ("db", "aws_db_instance", vec!["sg.rds"]),
            ("lb", "aws_lb", vec![]),
            ("svc", "aws_ecs_service", vec!["db", "lb", "sg.ecs"]),
        ]
        .into_iter()
        .map(|(a, t, d)| {
            (
                a.to_owned(),
                (t.to_owned(), d.into_iter().map(str::to_owned).collect()),
            )
        })
        .collect();
        let p = Profile::realistic();
        let apply = p.critical_path(&g, false);
        // The database, then the service's first deployment, which apply waits for.
        assert_eq!(apply.seconds, 600.0);
        assert_eq!(
            apply.path,
            [("db".to_owned(), 300.0), ("svc".to_owned(), 300.0)]
        );
        assert_eq!(apply.waiting, 755.0);
        let destroy = p.critical_path(&g, true);
        // The service drains (60), then its group waits for the task interfaces (180) while
        // the database's delete (180) runs: two chains of 240 s.
        assert_eq!(destroy.seconds, 240.0);
        assert_eq!(destroy.path[0], ("svc".to_owned(), 60.0));
        assert_eq!(destroy.path[1].1, 180.0);
        let longer = p.clone().with("eni_release", 200.0);
        assert_eq!(
            longer.critical_path(&g, true).path,
            [("svc".to_owned(), 60.0), ("sg.ecs".to_owned(), 200.0)]
        );
        // The interfaces' clock starts with the service, not with the group: a group that
        // also waits for the database (the database uses it) is not held for the database's
        // delete plus the release, only for the longer of the two.
        let mut g2 = g.clone();
        g2.get_mut("db").unwrap().1.push("sg.ecs".to_owned());
        let chained = p.critical_path(&g2, true);
        assert_eq!(chained.seconds, 240.0, "{chained:?}");
    }

    #[test]
    fn xml_items_skip_nested_members() {
        let xml = "<R><LoadBalancers><member><A>1</A><AvailabilityZones><member>z</member></AvailabilityZones><State><Code>active</Code></State></member><member><A>2</A></member></LoadBalancers></R>";
        let found: Vec<&str> = items(xml, "LoadBalancers", "member")
            .into_iter()
            .map(|(s, e)| &xml[s..e])
            .collect();
        assert_eq!(found.len(), 2);
        assert!(found[0].ends_with("</State>"), "{}", found[0]);
        assert_eq!(tag_text(found[1], "A"), Some("2"));
        assert_eq!(
            remove_element(
                "<x><Endpoint><Address>a</Address></Endpoint><y/></x>",
                "Endpoint"
            ),
            "<x><y/></x>"
        );
        assert_eq!(
            set_tag_text("<S>available</S>", "S", "creating"),
            "<S>creating</S>"
        );
    }

    #[test]
    fn query_parameters_are_decoded_and_matched_by_index() {
        let call = Call::new(
            "ec2".into(),
            "AuthorizeSecurityGroupIngress".into(),
            "/",
            b"Action=AuthorizeSecurityGroupIngress&GroupId=sg-1&IpPermissions.1.Groups.1.GroupId=sg-2&IpPermissions.1.IpRanges.1.Description=a+b%2Fc",
            true,
        );
        assert_eq!(call.params_like("IpPermissions", ".GroupId"), ["sg-2"]);
        assert_eq!(
            call.param("IpPermissions.1.IpRanges.1.Description"),
            Some("a b/c")
        );
        assert!(call.params_like("GroupId", "").is_empty());
    }

    /// A RunTask'd task through the layer: RunTask's answer, then DescribeTasks' at `scale`.
    fn one_off(profile: Profile, command: &[&str], image: &str) -> (Value, Value) {
        let layer = Lifecycle::new(profile);
        let td = "arn:aws:ecs:eu-west-3:1:task-definition/shop:1";
        let mut body = json!({"taskDefinition": {"taskDefinitionArn": td,
            "containerDefinitions": [{"name": "shop", "image": image, "memoryReservation": 0}]}})
        .to_string()
        .into_bytes();
        let register = Call::new(
            "ecs".into(),
            "RegisterTaskDefinition".into(),
            "/",
            br#"{"containerDefinitions":[{"name":"shop"}]}"#,
            false,
        );
        assert!(
            layer.request(&register).is_some(),
            "no memory: one is added for moto"
        );
        layer.after(&register, 200, &mut body);
        let answer: Value = serde_json::from_slice(&body).unwrap();
        assert!(answer
            .pointer("/taskDefinition/containerDefinitions/0/memoryReservation")
            .is_none());
        // Moto's task: RUNNING at once, exit code 0.
        let task = json!({"taskArn": "arn:aws:ecs:eu-west-3:1:task/c/abc", "taskDefinitionArn": td,
            "lastStatus": "RUNNING", "desiredStatus": "RUNNING", "stoppedReason": "",
            "containers": [{"name": "shop", "lastStatus": "PENDING", "exitCode": 0}]});
        let run = Call::new(
            "ecs".into(),
            "RunTask".into(),
            "/",
            json!({"overrides": {"containerOverrides": [{"name": "shop", "command": command}]}})
                .to_string()
                .as_bytes(),
            false,
        );
        let mut body = json!({"tasks": [task.clone()], "failures": []})
            .to_string()
            .into_bytes();
        layer.after(&run, 200, &mut body);
        let started: Value = serde_json::from_slice(&body).unwrap();
        let describe = Call::new("ecs".into(), "DescribeTasks".into(), "/", b"{}", false);
        let mut body = json!({"tasks": [task], "failures": []})
            .to_string()
            .into_bytes();
        layer.after(&describe, 200, &mut body);
        let described: Value = serde_json::from_slice(&body).unwrap();
        (started["tasks"][0].clone(), described["tasks"][0].clone())
    }

    #[test]
    fn one_off_tasks_run_then_stop_with_the_exit_code_the_command_names() {
        let (started, stopped) =
            one_off(Profile::instant(), &["sh", "-c", "exit 3", "exit:3"], "php");
        assert_eq!(started["lastStatus"], "PROVISIONING");
        assert!(started["containers"][0].get("exitCode").is_none());
        assert_eq!(stopped["lastStatus"], "STOPPED");
        assert_eq!(stopped["stopCode"], "EssentialContainerExited");
        assert_eq!(
            stopped["stoppedReason"],
            "Essential container in task exited"
        );
        assert_eq!(stopped["containers"][0]["exitCode"], 3);
        let (_, ok) = one_off(Profile::instant(), &["php", "-v"], "php");
        assert_eq!(ok["containers"][0]["exitCode"], 0);

        // A minute of AWS is a minute here: still starting, no exit code yet.
        let (_, starting) = one_off(Profile::realistic(), &["php", "-v"], "php");
        assert_eq!(starting["lastStatus"], "PROVISIONING");
        assert_eq!(starting["desiredStatus"], "RUNNING");
        assert!(starting["containers"][0].get("exitCode").is_none());

        let failing = Profile::instant().failing_image("nope", Failure::CannotPull);
        let (_, failed) = one_off(failing, &["php", "-v", "exit:0"], "shop:nope");
        assert_eq!(failed["lastStatus"], "STOPPED");
        assert_eq!(failed["stopCode"], "TaskFailedToStart");
        assert!(failed["containers"][0].get("exitCode").is_none());
        assert!(failed["containers"][0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("CannotPullContainerError"));
    }
}
