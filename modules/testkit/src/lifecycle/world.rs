//! What the lifecycle layer saw created, changed and deleted, with when (its simulated AWS
//! state): the records every service's rules read and write.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::profile::{Failure, TargetTiming};

/// A database (RDS instance).
#[derive(Default)]
pub(super) struct Db {
    pub(super) created: f64,
    pub(super) modified: Option<f64>,
    pub(super) deleted: Option<f64>,
    /// Moto's last `<DBInstance>` element for it, to show while AWS still lists it.
    pub(super) block: String,
    pub(super) subnet_group: String,
    pub(super) security_groups: Vec<String>,
    /// EnablePerformanceInsights as last asked: moto drops it, AWS reports it as
    /// PerformanceInsightsEnabled.
    pub(super) performance_insights: bool,
}

/// An EFS file system.
pub(super) struct Efs {
    pub(super) created: f64,
    pub(super) deleted: Option<f64>,
    pub(super) last: Value,
    /// Throughput settings set through UpdateFileSystem (answered by the layer).
    pub(super) throughput: serde_json::Map<String, Value>,
    /// The backup policy PutBackupPolicy set (answered by the layer: moto sets it only at
    /// creation), and whether a read has shown its `ENABLING`/`DISABLING` step yet.
    pub(super) backup: Option<(String, bool)>,
}

/// An EFS mount target.
pub(super) struct MountTarget {
    pub(super) fs: String,
    pub(super) created: f64,
    pub(super) deleted: Option<f64>,
    pub(super) security_groups: Vec<String>,
    pub(super) last: Value,
}

/// One deployment of an ECS service (CreateService, or an UpdateService that starts one).
pub(super) struct Deployment {
    pub(super) id: String,
    pub(super) task_definition: String,
    pub(super) started: f64,
    /// Seconds to steady state when it replaces a running deployment (from the target
    /// group's settings at the time it started); a first deployment takes
    /// `ecs_service_steady`.
    pub(super) replaces_in: f64,
}

/// An ECS service and its deployments, first to last.
pub(super) struct EcsService {
    pub(super) name: String,
    pub(super) desired: i64,
    pub(super) deployments: Vec<Deployment>,
    pub(super) grace: Option<i64>,
    pub(super) deployment_configuration: Option<Value>,
    pub(super) target_groups: Vec<String>,
    pub(super) security_groups: Vec<String>,
    pub(super) deleted: Option<f64>,
    pub(super) desired_before_delete: i64,
}

/// A task started with RunTask (`stackctl run`): moto creates it, but never runs or stops it.
pub(super) struct OneOffTask {
    pub(super) started: f64,
    /// The container's exit code: `N` when the command's last word is `exit:N`, else 0.
    pub(super) exit_code: i64,
    /// Why its image cannot start, if it cannot.
    pub(super) failure: Option<(Failure, String)>,
    /// When StopTask was called, and its reason.
    pub(super) stopped: Option<(f64, String)>,
}

/// Everything the layer recorded, by id or ARN.
#[derive(Default)]
pub(super) struct World {
    pub(super) dbs: HashMap<String, Db>,
    pub(super) lbs: HashMap<String, f64>,
    /// ELBv2 ARNs and when they were created: describes by ARN lag behind.
    pub(super) elb_created: HashMap<String, f64>,
    pub(super) file_systems: HashMap<String, Efs>,
    pub(super) mount_targets: HashMap<String, MountTarget>,
    pub(super) security_groups: HashMap<String, f64>,
    /// (group, source group) pairs whose ingress already failed once.
    pub(super) ingress_failed: HashSet<(String, String)>,
    pub(super) roles: HashMap<String, f64>,
    pub(super) cluster_refused: bool,
    /// Task definition ARN -> (image, roles it names).
    pub(super) task_definitions: HashMap<String, (String, Vec<String>)>,
    pub(super) services: HashMap<String, EcsService>,
    pub(super) deployments: u64,
    /// Target group ARN -> the settings a deploy's time depends on.
    pub(super) target_timing: HashMap<String, TargetTiming>,
    /// RunTask'd tasks by ARN.
    pub(super) tasks: HashMap<String, OneOffTask>,
}
