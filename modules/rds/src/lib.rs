//! The rds module: the MySQL database PrestaShop uses, and the subnet group it lives in.
//!
//! AWS cannot return some attributes (the master password, what to do on deletion): `read`
//! carries them over from the prior state, and `delete` takes its final-snapshot decision from
//! them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_rds::primitives::{DateTime, DateTimeFormat};
use aws_sdk_rds::types::{DbInstance, DbSubnetGroup, Tag};
use aws_sdk_rds::Client;
use serde_json::Value as J;
use stackctl_contract::value::string_set;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    aws_error, Absent, Attrs, Instance, Kind, Ref, ResourceError, ResourceSpec, Tags, Val, Values,
    ValuesExt,
};

pub const SUBNET_GROUP: &str = "module.rds.aws_db_subnet_group.main";
pub const INSTANCE: &str = "module.rds.aws_db_instance.main";

/// Creating, modifying or deleting a database takes minutes, sometimes well over half an hour
/// (a Multi-AZ conversion, a large storage change).
const DB_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// A subnet group stays in use for a while after its database is deleted.
const SUBNET_GROUP_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Attributes AWS never returns: `read` carries them over from the prior instance.
const CARRIED: &[&str] = &[
    "password",
    "skip_final_snapshot",
    "final_snapshot_identifier",
];

/// What the module needs from the root: Terraform's module variables.
pub struct Inputs {
    /// `{project_name}-{environment}`: every AWS name starts with it, so two environments or
    /// projects in one account never share a name.
    pub name_prefix: String,
    /// `prod` keeps a final snapshot when the database is destroyed.
    pub environment: String,
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage: i64,
    pub db_name: String,
    pub username: String,
    pub password: String,
    pub subnet_ids: Vec<String>,
    /// The RDS security group's `id`.
    pub security_group: Ref,
    pub tags: Tags,
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    vec![
        Arc::new(SubnetGroupKind {
            rds: Client::new(sdk),
        }),
        Arc::new(DbInstanceKind {
            rds: Client::new(sdk),
        }),
    ]
}

/// The subnet group over the given subnets, and a private, encrypted MySQL instance in it.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let sg_kind: Arc<dyn Kind> = Arc::new(SubnetGroupKind {
        rds: Client::new(sdk),
    });
    let db_kind: Arc<dyn Kind> = Arc::new(DbInstanceKind {
        rds: Client::new(sdk),
    });

    // AWS stores both names in lower case: asking for them so keeps plans quiet.
    let group_name = format!("{}-db-subnet-group", inputs.name_prefix).to_lowercase();
    let description = format!("Subnets of the {} database", inputs.name_prefix);
    let subnet_ids = string_set(inputs.subnet_ids.iter().cloned());
    let group_tags = inputs.tags.clone().with("Name", group_name.clone());
    let subnet_group = ResourceSpec::new(SUBNET_GROUP, sg_kind, move |_r| {
        Attrs::from([
            ("name".to_owned(), Val::from(group_name.clone())),
            ("description".to_owned(), Val::from(description.clone())),
            ("subnet_ids".to_owned(), Val::from(subnet_ids.clone())),
            ("tags".to_owned(), Val::from(group_tags.to_json())),
        ])
    });

    let identifier = format!("{}-db", inputs.name_prefix).to_lowercase();
    let prod = inputs.environment == "prod";
    let final_snapshot = if prod {
        J::from(format!("{identifier}-final"))
    } else {
        J::Null
    };
    let sg = inputs.security_group.clone();
    let group = Ref::new(SUBNET_GROUP, "name");
    let db_tags = inputs.tags.clone().with("Name", identifier.clone());
    let fixed = Attrs::from([
        ("identifier".to_owned(), Val::from(identifier)),
        ("engine".to_owned(), Val::from("mysql")),
        (
            "engine_version".to_owned(),
            Val::from(inputs.engine_version.clone()),
        ),
        (
            "instance_class".to_owned(),
            Val::from(inputs.instance_class.clone()),
        ),
        (
            "allocated_storage".to_owned(),
            Val::from(inputs.allocated_storage),
        ),
        ("storage_encrypted".to_owned(), Val::from(true)),
        ("backup_retention_period".to_owned(), Val::from(7)),
        ("publicly_accessible".to_owned(), Val::from(false)),
        ("db_name".to_owned(), Val::from(inputs.db_name.clone())),
        ("username".to_owned(), Val::from(inputs.username.clone())),
        ("password".to_owned(), Val::from(inputs.password.clone())),
        ("skip_final_snapshot".to_owned(), Val::from(!prod)),
        (
            "final_snapshot_identifier".to_owned(),
            Val::Known(final_snapshot),
        ),
        ("tags".to_owned(), Val::from(db_tags.to_json())),
    ]);
    let instance = ResourceSpec::new(INSTANCE, db_kind, move |r| {
        let mut attrs = fixed.clone();
        attrs.insert(
            "vpc_security_group_ids".to_owned(),
            Val::all([&sg.get(r)], |[id]| J::Array(vec![id.clone()])),
        );
        attrs.insert("db_subnet_group_name".to_owned(), group.get(r));
        attrs
    });
    vec![subnet_group, instance]
}

/// `aws_db_subnet_group`: the subnets the database may be placed in, found by name.
pub struct SubnetGroupKind {
    rds: Client,
}

#[async_trait]
impl Kind for SubnetGroupKind {
    fn type_name(&self) -> &'static str {
        "aws_db_subnet_group"
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["name"]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        match self.describe(&prior.id).await? {
            Some(g) => Ok(Some(self.group_instance(&g).await?)),
            None => Ok(None),
        }
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let name = desired.get_str("name")?;
        self.read(&Instance::new(name, Values::new())).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let name = desired.get_str("name")?;
        let tags = Tags::from_json(desired.get("tags"));
        let out = self
            .rds
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(desired.get_str("description")?)
            .set_subnet_ids(Some(desired.get_strs("subnet_ids")?))
            .set_tags(Some(rds_tags(&tags.0)))
            .send()
            .await
            .map_err(|e| aws_error("CreateDBSubnetGroup", e))?;
        match out.db_subnet_group() {
            Some(g) => self.group_instance(g).await,
            None => self.read_back(name).await,
        }
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        if changed
            .iter()
            .any(|c| c == "subnet_ids" || c == "description")
        {
            self.rds
                .modify_db_subnet_group()
                .db_subnet_group_name(&prior.id)
                .db_subnet_group_description(desired.get_str("description")?)
                .set_subnet_ids(Some(desired.get_strs("subnet_ids")?))
                .send()
                .await
                .map_err(|e| aws_error("ModifyDBSubnetGroup", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = match prior.attrs.get("arn").and_then(J::as_str) {
                Some(arn) => arn.to_owned(),
                None => self
                    .read_back(&prior.id)
                    .await?
                    .attrs
                    .get_str("arn")?
                    .to_owned(),
            };
            sync_tags(&self.rds, &arn, prior, desired).await?;
        }
        self.read_back(&prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // The database being deleted still holds the group for minutes: wait for it.
        wait::delete_when_released(
            &format!("DB subnet group {} to be released", prior.id),
            SUBNET_GROUP_TIMEOUT,
            &["InvalidDBSubnetGroupStateFault"],
            &["DBSubnetGroupNotFoundFault"],
            || async {
                self.rds
                    .delete_db_subnet_group()
                    .db_subnet_group_name(&prior.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error("DeleteDBSubnetGroup", e))
            },
        )
        .await
    }
}

impl SubnetGroupKind {
    async fn describe(&self, name: &str) -> Result<Option<DbSubnetGroup>, ResourceError> {
        self.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(name)
            .send()
            .await
            .map_err(|e| aws_error("DescribeDBSubnetGroups", e))
            .absent_if(&["DBSubnetGroupNotFoundFault"])
            .map(|o| o.and_then(|out| out.db_subnet_groups().first().cloned()))
    }

    async fn read_back(&self, name: &str) -> Result<Instance, ResourceError> {
        self.read(&Instance::new(name, Values::new()))
            .await?
            .ok_or_else(|| {
                ResourceError::new(
                    "DescribeDBSubnetGroups",
                    format!("DB subnet group {name} vanished right after it was changed"),
                )
                .retryable()
            })
    }

    /// The group's attributes; its tags need a call of their own.
    async fn group_instance(&self, g: &DbSubnetGroup) -> Result<Instance, ResourceError> {
        let name = g.db_subnet_group_name().unwrap_or_default();
        let arn = g.db_subnet_group_arn().unwrap_or_default();
        let tags = list_tags(&self.rds, arn).await?;
        Ok(Instance::new(
            name,
            Values::from([
                ("id".to_owned(), J::from(name)),
                ("name".to_owned(), J::from(name)),
                ("arn".to_owned(), J::from(arn)),
                (
                    "description".to_owned(),
                    J::from(g.db_subnet_group_description().unwrap_or_default()),
                ),
                (
                    "subnet_ids".to_owned(),
                    string_set(
                        g.subnets()
                            .iter()
                            .filter_map(|s| s.subnet_identifier())
                            .map(str::to_owned),
                    ),
                ),
                ("vpc_id".to_owned(), J::from(g.vpc_id().unwrap_or_default())),
                ("tags".to_owned(), tags.to_json()),
            ]),
        ))
    }
}

/// `aws_db_instance`: the MySQL database.
pub struct DbInstanceKind {
    rds: Client,
}

#[async_trait]
impl Kind for DbInstanceKind {
    fn type_name(&self) -> &'static str {
        "aws_db_instance"
    }

    fn force_new(&self) -> &'static [&'static str] {
        &[
            "identifier",
            "engine",
            "db_name",
            "username",
            "storage_encrypted",
        ]
    }

    fn sensitive(&self) -> &'static [&'static str] {
        &["password"]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self
            .describe(&prior.id)
            .await?
            .map(|db| db_instance(&db, &prior.attrs)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let id = desired.get_str("identifier")?;
        let Some(db) = self.describe(id).await? else {
            return Ok(None);
        };
        // Found mid-creation (a run killed while waiting), it is returned as it is: `settle`
        // waits, in apply only.
        Ok(Some(db_instance(&db, desired)))
    }

    async fn settle(&self, found: Instance) -> Result<Instance, ResourceError> {
        if found.attrs.get("status").and_then(J::as_str) == Some("available") {
            return Ok(found);
        }
        // What depends on it needs its endpoint, which exists once it is available.
        let db = self.wait_available(&found.id, false).await?;
        Ok(db_instance(&db, &found.attrs))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let id = desired.get_str("identifier")?;
        let tags = Tags::from_json(desired.get("tags"));
        self.rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(desired.get_str("engine")?)
            .engine_version(desired.get_str("engine_version")?)
            .db_instance_class(desired.get_str("instance_class")?)
            .allocated_storage(to_i32(desired, "allocated_storage")?)
            .storage_encrypted(desired.get_bool("storage_encrypted")?)
            .backup_retention_period(to_i32(desired, "backup_retention_period")?)
            .publicly_accessible(desired.get_bool("publicly_accessible")?)
            .set_vpc_security_group_ids(Some(desired.get_strs("vpc_security_group_ids")?))
            .db_subnet_group_name(desired.get_str("db_subnet_group_name")?)
            .db_name(desired.get_str("db_name")?)
            .master_username(desired.get_str("username")?)
            .master_user_password(desired.get_str("password")?)
            .set_tags(Some(rds_tags(&tags.0)))
            .send()
            .await
            .map_err(|e| {
                let e = aws_error("CreateDBInstance", e);
                if e.is(&["DBInstanceAlreadyExists"]) {
                    e.with_hint("a database with this identifier exists outside the state: the next apply adopts it if it carries this stack's tags; if not, it is someone else's: pick another project_name or environment")
                } else {
                    e
                }
            })?;
        let db = self.wait_available(id, false).await?;
        Ok(db_instance(&db, desired))
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let mut modify = self
            .rds
            .modify_db_instance()
            .db_instance_identifier(&prior.id)
            .apply_immediately(true);
        let mut any = false;
        for c in changed {
            modify = match c.as_str() {
                "instance_class" => modify.db_instance_class(desired.get_str(c)?),
                "allocated_storage" => modify.allocated_storage(to_i32(desired, c)?),
                "backup_retention_period" => modify.backup_retention_period(to_i32(desired, c)?),
                "publicly_accessible" => modify.publicly_accessible(desired.get_bool(c)?),
                "vpc_security_group_ids" => {
                    modify.set_vpc_security_group_ids(Some(desired.get_strs(c)?))
                }
                "db_subnet_group_name" => modify.db_subnet_group_name(desired.get_str(c)?),
                "password" => modify.master_user_password(desired.get_str(c)?),
                "engine_version" => {
                    let want = desired.get_str(c)?;
                    let engine = desired.get_str("engine")?;
                    let have = prior
                        .attrs
                        .get("engine_version")
                        .and_then(J::as_str)
                        .unwrap_or_default();
                    let major = major_version(engine, have) != major_version(engine, want);
                    modify
                        .engine_version(want)
                        .allow_major_version_upgrade(major)
                }
                // Tags have their own calls; the deletion settings live only in the state.
                _ => continue,
            };
            any = true;
        }
        if any {
            modify
                .send()
                .await
                .map_err(|e| aws_error("ModifyDBInstance", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let arn = match prior.attrs.get("arn").and_then(J::as_str) {
                Some(arn) => arn.to_owned(),
                None => self
                    .describe(&prior.id)
                    .await?
                    .and_then(|db| db.db_instance_arn().map(str::to_owned))
                    .unwrap_or_default(),
            };
            sync_tags(&self.rds, &arn, prior, desired).await?;
        }
        let db = self.wait_available(&prior.id, any).await?;
        Ok(db_instance(&db, desired))
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // A per-process random value (std seeds every RandomState afresh), no extra crate.
        let nonce = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish() as u16
        };
        let snapshot = final_snapshot_name(prior, SystemTime::now(), nonce);
        let requested = AtomicBool::new(false);
        let requested = &requested;
        let snapshot = &snapshot;
        // An instance that is still being created or modified refuses deletion
        // (InvalidDBInstanceState): keep asking until it accepts, then until it is gone.
        wait::until(
            &format!("database {} to be deleted", prior.id),
            // A delete takes 2 to 4 minutes.
            Backoff::expecting(Duration::from_secs(180), DB_TIMEOUT),
            move || async move {
                let Some(db) = self.describe(&prior.id).await? else {
                    return Ok(Poll::Ready(()));
                };
                let status = db.db_instance_status().unwrap_or_default().to_owned();
                if status == "deleting" || requested.load(Ordering::SeqCst) {
                    return Ok(Poll::Pending(status));
                }
                let call = self
                    .rds
                    .delete_db_instance()
                    .db_instance_identifier(&prior.id)
                    .delete_automated_backups(true);
                let call = match snapshot {
                    Some(name) => call
                        .skip_final_snapshot(false)
                        .final_db_snapshot_identifier(name),
                    None => call.skip_final_snapshot(true),
                };
                match call.send().await {
                    Ok(_) => {
                        requested.store(true, Ordering::SeqCst);
                        // Look once more at once: an instance that goes at once (an emulator)
                        // should not wait out the quiet period of a real delete.
                        Ok(match self.describe(&prior.id).await? {
                            None => Poll::Ready(()),
                            Some(db) => Poll::Pending(
                                db.db_instance_status().unwrap_or("deleting").to_owned(),
                            ),
                        })
                    }
                    Err(e) => {
                        let e = aws_error("DeleteDBInstance", e);
                        if e.is(&["DBInstanceNotFound"]) {
                            Ok(Poll::Ready(()))
                        } else if e.is(&["InvalidDBInstanceState"]) {
                            Ok(Poll::Pending(status))
                        } else {
                            Err(e)
                        }
                    }
                }
            },
        )
        .await
    }
}

impl DbInstanceKind {
    async fn describe(&self, id: &str) -> Result<Option<DbInstance>, ResourceError> {
        self.rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeDBInstances", e))
            .absent_if(&["DBInstanceNotFound"])
            .map(|o| o.and_then(|out| out.db_instances().first().cloned()))
    }

    /// Wait until the database takes connections. After a modification, AWS may still say
    /// `available` for a moment before it starts: `modified` also waits for the pending
    /// changes to be applied.
    async fn wait_available(&self, id: &str, modified: bool) -> Result<DbInstance, ResourceError> {
        wait::until(
            &format!("database {id} to be available"),
            // A create takes about 5 minutes, a modification about 4.
            Backoff::expecting(
                Duration::from_secs(if modified { 240 } else { 300 }),
                DB_TIMEOUT,
            ),
            || async {
                let db = self.describe(id).await?.ok_or_else(|| {
                    ResourceError::new(
                        "DescribeDBInstances",
                        format!("database {id} vanished while it was being set up"),
                    )
                    .retryable()
                })?;
                let status = db.db_instance_status().unwrap_or_default();
                match status {
                    "available" | "storage-optimization" => {
                        if modified && has_pending_changes(&db) {
                            Ok(Poll::Pending(format!("{status}, changes pending")))
                        } else {
                            Ok(Poll::Ready(db))
                        }
                    }
                    "failed"
                    | "incompatible-parameters"
                    | "incompatible-network"
                    | "incompatible-option-group"
                    | "incompatible-restore"
                    | "inaccessible-encryption-credentials"
                    | "storage-full" => Err(ResourceError::new(
                        "DescribeDBInstances",
                        format!("database {id} is in the `{status}` state"),
                    )
                    .with_hint("see the database's events in the RDS console; fix the cause, or destroy it and apply again")),
                    "deleting" => Err(ResourceError::new(
                        "DescribeDBInstances",
                        format!("database {id} is being deleted"),
                    )),
                    s => Ok(Poll::Pending(s.to_owned())),
                }
            },
        )
        .await
    }
}

/// Whether a change asked with ApplyImmediately is still waiting to be applied.
fn has_pending_changes(db: &DbInstance) -> bool {
    db.pending_modified_values().is_some_and(|p| {
        p.db_instance_class().is_some()
            || p.allocated_storage().is_some()
            || p.engine_version().is_some()
            || p.backup_retention_period().is_some()
            || p.master_user_password().is_some()
            || p.db_subnet_group_name().is_some()
    })
}

/// The identifier of the snapshot to take on deletion, or `None` to skip it. A timestamp to
/// the second and a random suffix keep a second destroy (after a restore, of a re-created
/// database, or two in the same minute) from colliding with an earlier one's snapshot, which
/// would make DeleteDBInstance fail with DBSnapshotAlreadyExists.
fn final_snapshot_name(prior: &Instance, now: SystemTime, nonce: u16) -> Option<String> {
    let name = prior
        .attrs
        .get("final_snapshot_identifier")
        .and_then(J::as_str);
    let skip = prior
        .attrs
        .get("skip_final_snapshot")
        .and_then(J::as_bool)
        .unwrap_or(name.is_none());
    if skip {
        return None;
    }
    let base = name.map_or_else(|| format!("{}-final", prior.id), str::to_owned);
    // `2026-11-22T02:13:45Z` -> `20261122-021345`
    let stamp: String = DateTime::from(now)
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .collect();
    if stamp.len() != 14 {
        return Some(format!("{base}-{nonce:04x}"));
    }
    Some(format!(
        "{base}-{}-{}-{nonce:04x}",
        &stamp[..8],
        &stamp[8..]
    ))
}

/// The engine's major version: `8.0` for MySQL 8.0.35, `16` for PostgreSQL 16.4.
fn major_version<'a>(engine: &str, version: &'a str) -> &'a str {
    let parts = if engine.starts_with("postgres") { 1 } else { 2 };
    match version.match_indices('.').nth(parts - 1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

fn db_instance(db: &DbInstance, prior: &Values) -> Instance {
    let id = db.db_instance_identifier().unwrap_or_default();
    let live_version = db.engine_version().unwrap_or_default();
    // AWS answers with the full version (8.0.35) for the one asked (8.0).
    let engine_version = match prior.get("engine_version").and_then(J::as_str) {
        Some(p) if live_version == p || live_version.starts_with(&format!("{p}.")) => p,
        _ => live_version,
    };
    let tags = Tags::from_pairs(db.tag_list().iter().map(|t| {
        (
            t.key().unwrap_or_default().to_owned(),
            t.value().unwrap_or_default().to_owned(),
        )
    }));
    let groups = db
        .vpc_security_groups()
        .iter()
        .filter(|g| g.status() != Some("removing"))
        .filter_map(|g| g.vpc_security_group_id())
        .map(str::to_owned);
    let mut attrs = Values::from([
        ("id".to_owned(), J::from(id)),
        ("identifier".to_owned(), J::from(id)),
        (
            "arn".to_owned(),
            J::from(db.db_instance_arn().unwrap_or_default()),
        ),
        (
            "engine".to_owned(),
            J::from(db.engine().unwrap_or_default()),
        ),
        ("engine_version".to_owned(), J::from(engine_version)),
        (
            "instance_class".to_owned(),
            J::from(db.db_instance_class().unwrap_or_default()),
        ),
        (
            "allocated_storage".to_owned(),
            J::from(db.allocated_storage().unwrap_or_default()),
        ),
        (
            "storage_encrypted".to_owned(),
            J::from(db.storage_encrypted().unwrap_or(false)),
        ),
        (
            "backup_retention_period".to_owned(),
            J::from(db.backup_retention_period().unwrap_or_default()),
        ),
        (
            "publicly_accessible".to_owned(),
            J::from(db.publicly_accessible().unwrap_or(false)),
        ),
        ("vpc_security_group_ids".to_owned(), string_set(groups)),
        (
            "db_subnet_group_name".to_owned(),
            db.db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map_or(J::Null, J::from),
        ),
        ("db_name".to_owned(), db.db_name().map_or(J::Null, J::from)),
        (
            "username".to_owned(),
            db.master_username().map_or(J::Null, J::from),
        ),
        (
            "status".to_owned(),
            J::from(db.db_instance_status().unwrap_or_default()),
        ),
        ("tags".to_owned(), tags.to_json()),
    ]);
    for key in CARRIED {
        if let Some(v) = prior.get(*key) {
            attrs.insert((*key).to_owned(), v.clone());
        }
    }
    // The endpoint exists only once the instance is available.
    if let Some(address) = db.endpoint().and_then(|e| e.address()) {
        let port = db
            .endpoint()
            .and_then(|e| e.port())
            .or(db.db_instance_port().filter(|p| *p > 0));
        attrs.insert("address".to_owned(), J::from(address));
        if let Some(port) = port {
            attrs.insert("port".to_owned(), J::from(port));
            attrs.insert("endpoint".to_owned(), J::from(format!("{address}:{port}")));
        }
    }
    Instance::new(id, attrs)
}

fn to_i32(v: &Values, key: &str) -> Result<i32, ResourceError> {
    let n = v.get_i64(key)?;
    i32::try_from(n).map_err(|_| {
        ResourceError::new("stackctl", format!("`{key}` = {n} is out of range"))
            .with_hint("use a value AWS accepts for it")
    })
}

fn rds_tags(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

async fn list_tags(rds: &Client, arn: &str) -> Result<Tags, ResourceError> {
    let out = rds
        .list_tags_for_resource()
        .resource_name(arn)
        .send()
        .await
        .map_err(|e| aws_error("ListTagsForResource", e))?;
    Ok(Tags::from_pairs(out.tag_list().iter().map(|t| {
        (
            t.key().unwrap_or_default().to_owned(),
            t.value().unwrap_or_default().to_owned(),
        )
    })))
}

/// Set and remove tags on an RDS resource to go from the prior tags to the desired ones.
async fn sync_tags(
    rds: &Client,
    arn: &str,
    prior: &Instance,
    desired: &Values,
) -> Result<(), ResourceError> {
    let have = Tags::from_json(prior.attrs.get("tags"));
    let (set, remove) = have.delta(&Tags::from_json(desired.get("tags")));
    if !set.is_empty() {
        rds.add_tags_to_resource()
            .resource_name(arn)
            .set_tags(Some(rds_tags(&set)))
            .send()
            .await
            .map_err(|e| aws_error("AddTagsToResource", e))?;
    }
    if !remove.is_empty() {
        rds.remove_tags_from_resource()
            .resource_name(arn)
            .set_tag_keys(Some(remove))
            .send()
            .await
            .map_err(|e| aws_error("RemoveTagsFromResource", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stackctl_contract::Resolve;

    struct Fake;
    impl Resolve for Fake {
        fn get(&self, address: &str, attr: &str) -> Val {
            Val::from(format!("{address}.{attr}"))
        }
    }

    fn sdk() -> aws_types::SdkConfig {
        aws_types::SdkConfig::builder()
            .behavior_version(aws_sdk_rds::config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("eu-west-3"))
            .build()
    }

    fn inputs(environment: &str) -> Inputs {
        Inputs {
            name_prefix: "Shop-dev".into(),
            environment: environment.into(),
            engine_version: "8.0".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            db_name: "prestashop".into(),
            username: "admin".into(),
            password: "pw".into(),
            subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
            security_group: Ref::new("module.security.aws_security_group.rds", "id"),
            tags: Tags::stack("Shop", environment),
        }
    }

    #[test]
    fn specs_wire_the_group_and_the_security_group() {
        let specs = specs(&sdk(), &inputs("dev"));
        assert_eq!(specs[0].address, SUBNET_GROUP);
        assert_eq!(specs[1].address, INSTANCE);
        let group = specs[0].desired(&Fake);
        assert_eq!(group["name"], Val::from("shop-dev-db-subnet-group"));
        assert_eq!(
            group["subnet_ids"],
            Val::from(json!(["subnet-a", "subnet-b"]))
        );
        let db = specs[1].desired(&Fake);
        assert_eq!(db["identifier"], Val::from("shop-dev-db"));
        assert_eq!(
            db["vpc_security_group_ids"],
            Val::from(json!(["module.security.aws_security_group.rds.id"]))
        );
        assert_eq!(
            db["db_subnet_group_name"],
            Val::from(format!("{SUBNET_GROUP}.name"))
        );
        assert_eq!(db["skip_final_snapshot"], Val::from(true));
        assert_eq!(db["final_snapshot_identifier"], Val::Known(J::Null));
        let deps = specs[1].dependencies();
        assert!(deps.contains(SUBNET_GROUP), "{deps:?}");
        assert!(
            deps.contains("module.security.aws_security_group.rds"),
            "{deps:?}"
        );
    }

    #[test]
    fn prod_keeps_a_final_snapshot() {
        let db = specs(&sdk(), &inputs("prod"))[1].desired(&Fake);
        assert_eq!(db["skip_final_snapshot"], Val::from(false));
        assert_eq!(
            db["final_snapshot_identifier"],
            Val::from("shop-dev-db-final")
        );
    }

    #[test]
    fn major_versions() {
        assert_eq!(major_version("mysql", "8.0.35"), "8.0");
        assert_eq!(major_version("mysql", "8.0"), "8.0");
        assert_eq!(major_version("mysql", "8"), "8");
        assert_eq!(major_version("postgres", "16.4"), "16");
    }

    #[test]
    fn final_snapshot_only_when_asked() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_313_610);
        let mut prior = Instance::new(
            "p-db",
            Values::from([
                ("skip_final_snapshot".to_owned(), json!(true)),
                ("final_snapshot_identifier".to_owned(), J::Null),
            ]),
        );
        assert_eq!(final_snapshot_name(&prior, now, 7), None);
        prior
            .attrs
            .insert("skip_final_snapshot".into(), json!(false));
        prior
            .attrs
            .insert("final_snapshot_identifier".into(), json!("p-db-final"));
        assert_eq!(
            final_snapshot_name(&prior, now, 0xbeef).as_deref(),
            Some("p-db-final-20261122-021330-beef")
        );
        // Two destroys in the same second still differ.
        assert_ne!(
            final_snapshot_name(&prior, now, 1),
            final_snapshot_name(&prior, now, 2)
        );
    }

    #[test]
    fn engine_version_keeps_the_prior_prefix() {
        let db = DbInstance::builder()
            .db_instance_identifier("p-db")
            .engine("mysql")
            .engine_version("8.0.35")
            .build();
        let prior = Values::from([
            ("engine_version".to_owned(), json!("8.0")),
            ("password".to_owned(), json!("secret")),
        ]);
        let i = db_instance(&db, &prior);
        assert_eq!(i.attrs["engine_version"], json!("8.0"));
        assert_eq!(i.attrs["password"], json!("secret"));
        let prior = Values::from([("engine_version".to_owned(), json!("8.0.3"))]);
        assert_eq!(
            db_instance(&db, &prior).attrs["engine_version"],
            json!("8.0.35")
        );
    }
}
