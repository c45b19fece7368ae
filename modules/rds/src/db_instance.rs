//! `aws_db_instance`: the MySQL database, its waits through RDS's states, the changes
//! ModifyDBInstance defers to the maintenance window, and the storage changes AWS refuses.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder;
use aws_sdk_rds::primitives::{DateTime, DateTimeFormat};
use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use serde_json::Value as J;
use stackctl_contract::args::required;
use stackctl_contract::value::to_i32;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, Absent, Args, Attrs, Changed, Field, Instance, Kind, ResourceError, TagApi,
    Tags, Val, Values, PENDING,
};

use crate::{rds_tags, rds_tags_of, RdsTagging};

/// Creating, modifying or deleting a database takes minutes, sometimes well over half an hour
/// (a Multi-AZ conversion, a large storage change).
const DB_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Attributes AWS never returns: `read` carries them over from the prior instance.
const CARRIED: &[&str] = &[
    "password",
    "skip_final_snapshot",
    "final_snapshot_identifier",
    "apply_immediately",
    STORAGE_MODIFIED_AT,
];

/// When stackctl last saw the storage change (RFC 3339), kept in the state: AWS refuses another
/// storage change within [`STORAGE_COOLDOWN`] of one and has no field that says when that was.
const STORAGE_MODIFIED_AT: &str = "storage_modified_at";

/// How long after a storage change AWS refuses the next one (or longer, while the change is
/// still being optimized).
const STORAGE_COOLDOWN: Duration = Duration::from_secs(6 * 60 * 60);

/// The root variable that sets `allocated_storage`. A refusal names it, since that is what the
/// user changes; this module serves this one stack, as the seed's `modules/rds` does.
const STORAGE_VARIABLE: &str = "db_allocated_storage";

/// What ModifyDBInstance changes only in the maintenance window without ApplyImmediately, as
/// PendingModifiedValues reports them. A backup retention change is deferred too when it
/// turns backups on or off (from or to 0): see [`deferred`].
const DEFERRED: &[&str] = &[
    "instance_class",
    "allocated_storage",
    "engine_version",
    "db_subnet_group_name",
];

/// The deferred changes that take the database down while they are applied (a new host, an
/// engine upgrade, a move to other subnets); a storage change keeps it up.
const OUTAGE: &[&str] = &["instance_class", "engine_version", "db_subnet_group_name"];

args! {
    /// `aws_db_instance`'s arguments.
    pub struct DbInstanceArgs {
        [ForceNew] identifier: String,
        [ForceNew] engine: String,
        /// As it was asked for (`8.0`), which AWS answers in full (`8.0.35`): see
        /// `version_as_asked`.
        engine_version: String,
        instance_class: String,
        allocated_storage: i64,
        [ForceNew] storage_encrypted: bool,
        backup_retention_period: i64,
        publicly_accessible: bool,
        /// Sorted: the order AWS answers in is not a change.
        vpc_security_group_ids: Vec<String>,
        /// Null in a read-back of a database AWS reports no subnet group for.
        db_subnet_group_name: Option<String>,
        /// Null in a read-back of a database created without one.
        [ForceNew] db_name: Option<String>,
        [ForceNew] username: Option<String>,
        [Sensitive] password: String,
        /// Terraform's `apply_immediately`. Absent from states written before the setting,
        /// which had Terraform's default (false).
        apply_immediately: Option<bool>,
        skip_final_snapshot: bool,
        /// Null: no name asked for (`{identifier}-final` when a snapshot is kept).
        final_snapshot_identifier: Option<String>,
        tags: Tags,
    }
}

/// `aws_db_instance`, identified by its identifier.
pub struct DbInstanceKind {
    rds: Client,
}

impl DbInstanceKind {
    pub fn new(rds: Client) -> Self {
        DbInstanceKind { rds }
    }

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

    /// Wait until the database takes connections and what was asked of it is done (see
    /// [`Awaited`]).
    async fn wait_available(
        &self,
        id: &str,
        awaited: Awaited,
    ) -> Result<DbInstance, ResourceError> {
        // A create takes about 5 minutes, a modification applied at once about 4; anything
        // else is usually done already.
        let backoff = match &awaited {
            Awaited::Created => Backoff::expecting(Duration::from_secs(300), DB_TIMEOUT),
            Awaited::Modified {
                immediate: true, ..
            } => Backoff::expecting(Duration::from_secs(240), DB_TIMEOUT),
            _ => Backoff::standard(DB_TIMEOUT),
        };
        wait::until(
            &format!("database {id} to be available"),
            backoff,
            || async {
                let db = self.describe(id).await?.ok_or_else(|| {
                    ResourceError::new(
                        "DescribeDBInstances",
                        format!("database {id} vanished while it was being set up"),
                    )
                    .retryable()
                })?;
                let status = db.db_instance_status().unwrap_or_default();
                match classify(status, awaited, outstanding(&db, awaited)) {
                    Step::Ready => Ok(Poll::Ready(db)),
                    Step::Pending(what) => Ok(Poll::Pending(what)),
                    Step::Failed => Err(ResourceError::new(
                        "DescribeDBInstances",
                        format!("database {id} is in the `{status}` state"),
                    )
                    .with_hint("see the database's events in the RDS console; fix the cause, or destroy it and apply again")),
                    Step::Deleting => Err(ResourceError::new(
                        "DescribeDBInstances",
                        format!("database {id} is being deleted"),
                    )),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Kind for DbInstanceKind {
    fn type_name(&self) -> &'static str {
        "aws_db_instance"
    }

    fn fields(&self) -> &'static [Field] {
        DbInstanceArgs::FIELDS
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self
            .describe(&prior.id)
            .await?
            .map(|db| db_instance(&db, &prior.attrs)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = DbInstanceArgs::from_values(desired)?;
        let Some(db) = self.describe(&d.identifier).await? else {
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
        let db = self.wait_available(&found.id, Awaited::Created).await?;
        Ok(db_instance(&db, &found.attrs))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = DbInstanceArgs::from_values(desired)?;
        let id = &d.identifier;
        self.rds
            .create_db_instance()
            .db_instance_identifier(id)
            .engine(&d.engine)
            .engine_version(&d.engine_version)
            .db_instance_class(&d.instance_class)
            .allocated_storage(to_i32("allocated_storage", d.allocated_storage)?)
            .storage_encrypted(d.storage_encrypted)
            .backup_retention_period(to_i32(
                "backup_retention_period",
                d.backup_retention_period,
            )?)
            .publicly_accessible(d.publicly_accessible)
            .set_vpc_security_group_ids(Some(d.vpc_security_group_ids.clone()))
            .db_subnet_group_name(required(
                "db_subnet_group_name",
                &d.db_subnet_group_name,
            )?)
            .db_name(required("db_name", &d.db_name)?)
            .master_username(required("username", &d.username)?)
            .master_user_password(&d.password)
            .set_tags(Some(rds_tags(&d.tags.0)))
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
        let db = self.wait_available(id, Awaited::Created).await?;
        Ok(db_instance(&db, desired))
    }

    fn review_update(
        &self,
        live: &Instance,
        desired: &Attrs,
        changed: &[String],
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        let want = |k: &str| desired.get(k).and_then(Val::known);
        let immediate = want("apply_immediately")
            .and_then(J::as_bool)
            .unwrap_or(false);
        // Applying at once also sends a pending storage change (see `to_send`).
        let pending_storage = live
            .attrs
            .get(PENDING)
            .and_then(|p| p.get("allocated_storage"));
        let sends_storage = DbInstanceArgs::<Changed>::from_names(changed).allocated_storage
            || (immediate
                && pending_storage.is_some()
                && pending_storage == want("allocated_storage"));
        if sends_storage {
            let current = live.attrs.get("allocated_storage").and_then(J::as_i64);
            if let (Some(current), Some(wanted)) =
                (current, want("allocated_storage").and_then(J::as_i64))
            {
                let last = live
                    .attrs
                    .get(STORAGE_MODIFIED_AT)
                    .and_then(J::as_str)
                    .and_then(parse_time);
                check_storage_change(
                    current,
                    wanted,
                    storage_optimizing(&live.attrs),
                    last,
                    SystemTime::now(),
                )
                .map_err(|r| {
                    ResourceError::new("ModifyDBInstance", r.to_string()).with_hint(r.hint())
                })?;
            }
        }
        Ok(change_notes(&live.attrs, desired, changed, immediate))
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = DbInstanceArgs::from_values(desired)?;
        let immediate = d.apply_immediately.unwrap_or(false);
        let send = to_send(prior, desired, changed, immediate);
        let sent = DbInstanceArgs::<Changed>::from_names(&send);
        let modified = match modify_request(&self.rds, prior, &d, &sent, immediate)? {
            Some(modify) => {
                modify.send().await.map_err(|e| {
                    let e = aws_error("ModifyDBInstance", e);
                    if sent.allocated_storage && e.is(&["InvalidParameterCombination", "InvalidParameterValue"]) {
                        // A storage change made outside stackctl starts AWS's clock too.
                        e.with_hint(format!("RDS storage only grows, by at least 10 %, and not within 6 hours of the last storage change or while it is being optimized, including one made outside stackctl: keep {STORAGE_VARIABLE} at its current size and apply again later"))
                    } else {
                        e
                    }
                })?;
                true
            }
            None => false,
        };
        if DbInstanceArgs::<Changed>::from_names(changed).tags {
            let arn = match prior.attrs.get("arn").and_then(J::as_str) {
                Some(arn) => arn.to_owned(),
                None => self
                    .describe(&prior.id)
                    .await?
                    .and_then(|db| db.db_instance_arn().map(str::to_owned))
                    .unwrap_or_default(),
            };
            RdsTagging(&self.rds)
                .sync_tags(&arn, &prior.tags(), &d.tags)
                .await?;
        }
        let storage_now = immediate && sent.allocated_storage;
        let awaited = if !modified {
            Awaited::Untouched
        } else {
            Awaited::Modified {
                immediate,
                storage: storage_now.then_some(d.allocated_storage),
            }
        };
        let db = self.wait_available(&prior.id, awaited).await?;
        let mut inst = db_instance(&db, desired);
        // The 6-hour clock of the next storage change starts now; a deferred change starts it
        // in the maintenance window, which `read` notices when the pending value lands.
        let stamp = if storage_now {
            Some(J::from(format_time(SystemTime::now())))
        } else {
            prior.attrs.get(STORAGE_MODIFIED_AT).cloned()
        };
        if let Some(stamp) = stamp {
            inst.attrs.insert(STORAGE_MODIFIED_AT.to_owned(), stamp);
        }
        Ok(inst)
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

/// What a wait for the database must see before it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Awaited {
    /// A new database (or one a killed run left being created): available.
    Created,
    /// Nothing was asked of ModifyDBInstance (a tag change): available, or full (the update
    /// is done; growing the storage is the user's next step).
    Untouched,
    /// ModifyDBInstance was called. With `immediate`, AWS may still say `available` for a
    /// moment before it starts: wait for the pending changes to be applied and, when the
    /// storage was to grow to `storage` GB, for that size, through `storage-full` (the reason
    /// to grow it, often). Without, the changes wait for the maintenance window: do not.
    Modified {
        immediate: bool,
        storage: Option<i64>,
    },
}

/// One look at the database during a wait.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Ready,
    /// Not yet, with what AWS says, for the timeout message.
    Pending(String),
    /// A state it does not leave by itself.
    Failed,
    Deleting,
}

/// What `status` means for a wait for `awaited`, given whether something asked is still
/// `outstanding`. Statuses RDS passes through on its own (`modifying`, `backing-up`,
/// `configuring-enhanced-monitoring`, `rebooting`, `upgrading`, ...) are waited through;
/// `storage-optimization` takes connections and lasts hours, so it counts as available.
fn classify(status: &str, awaited: Awaited, outstanding: bool) -> Step {
    match status {
        "available" | "storage-optimization" if outstanding => {
            Step::Pending(format!("{status}, changes pending"))
        }
        "available" | "storage-optimization" => Step::Ready,
        // A full database is the usual reason to grow it: after a modification it is a state
        // to wait through until the change is in, not a failure.
        "storage-full" => match awaited {
            Awaited::Created => Step::Failed,
            _ if outstanding => Step::Pending(format!("{status}, changes pending")),
            _ => Step::Ready,
        },
        "failed"
        | "incompatible-parameters"
        | "incompatible-network"
        | "incompatible-option-group"
        | "incompatible-restore"
        | "inaccessible-encryption-credentials" => Step::Failed,
        "deleting" => Step::Deleting,
        s => Step::Pending(s.to_owned()),
    }
}

/// Whether something this wait asked for is not in yet.
fn outstanding(db: &DbInstance, awaited: Awaited) -> bool {
    match awaited {
        Awaited::Created | Awaited::Untouched => false,
        Awaited::Modified {
            immediate: true,
            storage,
        } => {
            has_pending_changes(db)
                || storage.is_some_and(|want| i64::from(db.allocated_storage().unwrap_or(0)) < want)
        }
        // Only the password ignores ApplyImmediately: AWS changes it as soon as it can.
        Awaited::Modified {
            immediate: false, ..
        } => db
            .pending_modified_values()
            .is_some_and(|p| p.master_user_password().is_some()),
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

/// Whether AWS leaves a change of `key` from `live` to `desired` for the maintenance window
/// unless it is asked to apply it at once.
fn deferred(key: &str, live: &Values, desired: &Attrs) -> bool {
    if key == "backup_retention_period" {
        // Turning automated backups on or off needs a restart; 7 to 14 does not.
        let off = |v: Option<&J>| v.and_then(J::as_i64) == Some(0);
        return off(live.get(key)) || off(desired.get(key).and_then(Val::known));
    }
    DEFERRED.contains(&key)
}

/// What the plan says next to the changed attributes of an update: when each one happens.
fn change_notes(
    live: &Values,
    desired: &Attrs,
    changed: &[String],
    immediate: bool,
) -> BTreeMap<String, String> {
    let window = live
        .get("maintenance_window")
        .and_then(J::as_str)
        .map(|w| format!(", {w} UTC"))
        .unwrap_or_default();
    let full = live.get("status").and_then(J::as_str) == Some("storage-full");
    let mut notes = BTreeMap::new();
    for key in changed {
        let note = if key == "apply_immediately" && immediate {
            let pending = live
                .get(PENDING)
                .and_then(J::as_object)
                .is_some_and(|p| !p.is_empty());
            if !pending {
                continue;
            }
            "also applies what is pending now".to_owned()
        } else if !deferred(key, live, desired) {
            continue;
        } else if !immediate {
            let mut n = format!(
                "deferred to the next maintenance window{window} (apply_immediately = false)"
            );
            if key == "allocated_storage" && full {
                n.push_str("; the database is full now: apply_immediately = true grows it at once");
            }
            n
        } else if OUTAGE.contains(&key.as_str()) {
            "applied now: the database restarts (apply_immediately = true)".to_owned()
        } else {
            continue;
        };
        notes.insert(key.clone(), note);
    }
    notes
}

/// What ModifyDBInstance is to set: the changed attributes and, when applying at once, what
/// AWS still holds for the maintenance window (so `apply_immediately = true` applies it now).
fn to_send(prior: &Instance, desired: &Values, changed: &[String], immediate: bool) -> Vec<String> {
    let mut send: Vec<String> = changed.to_vec();
    if immediate {
        if let Some(pending) = prior.attrs.get(PENDING).and_then(J::as_object) {
            for (k, v) in pending {
                if desired.get(k) == Some(v) && !send.contains(k) {
                    send.push(k.clone());
                }
            }
        }
    }
    send
}

/// The ModifyDBInstance request for `send`, with ApplyImmediately as asked; `None` when none
/// of them is set through it (tags have their own calls; the deletion settings and
/// `apply_immediately` live only in the state).
fn modify_request(
    rds: &Client,
    prior: &Instance,
    d: &DbInstanceArgs,
    send: &DbInstanceArgs<Changed>,
    immediate: bool,
) -> Result<Option<ModifyDBInstanceFluentBuilder>, ResourceError> {
    let any = send.instance_class
        || send.allocated_storage
        || send.backup_retention_period
        || send.publicly_accessible
        || send.vpc_security_group_ids
        || send.db_subnet_group_name
        || send.password
        || send.engine_version;
    if !any {
        return Ok(None);
    }
    let mut modify = rds
        .modify_db_instance()
        .db_instance_identifier(&prior.id)
        .apply_immediately(immediate);
    if send.instance_class {
        modify = modify.db_instance_class(&d.instance_class);
    }
    if send.allocated_storage {
        modify = modify.allocated_storage(to_i32("allocated_storage", d.allocated_storage)?);
    }
    if send.backup_retention_period {
        modify = modify.backup_retention_period(to_i32(
            "backup_retention_period",
            d.backup_retention_period,
        )?);
    }
    if send.publicly_accessible {
        modify = modify.publicly_accessible(d.publicly_accessible);
    }
    if send.vpc_security_group_ids {
        modify = modify.set_vpc_security_group_ids(Some(d.vpc_security_group_ids.clone()));
    }
    if send.db_subnet_group_name {
        modify =
            modify.db_subnet_group_name(required("db_subnet_group_name", &d.db_subnet_group_name)?);
    }
    if send.password {
        modify = modify.master_user_password(&d.password);
    }
    if send.engine_version {
        let have = prior
            .attrs
            .get("engine_version")
            .and_then(J::as_str)
            .unwrap_or_default();
        let major = major_version(&d.engine, have) != major_version(&d.engine, &d.engine_version);
        modify = modify
            .engine_version(&d.engine_version)
            .allow_major_version_upgrade(major);
    }
    Ok(Some(modify))
}

/// Why the plan refuses a storage change AWS would refuse halfway through the apply. Each
/// names the variable, the current and wanted sizes; [`StorageRefusal::hint`] says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageRefusal {
    #[error("variable `{STORAGE_VARIABLE}` = {wanted} would shrink the database from {current} GB to {wanted} GB; RDS storage can only grow")]
    Decrease { current: i64, wanted: i64 },
    #[error("variable `{STORAGE_VARIABLE}` = {wanted} grows the database's {current} GB by less than the 10 % RDS requires (at least {least} GB)")]
    TooSmall {
        current: i64,
        wanted: i64,
        least: i64,
    },
    #[error("variable `{STORAGE_VARIABLE}` = {wanted}: the database's {current} GB are still being optimized after the last storage change (status storage-optimization), and RDS refuses another until that ends, up to 6 hours or more")]
    Optimizing { current: i64, wanted: i64 },
    #[error("variable `{STORAGE_VARIABLE}` = {wanted}: the database's storage became {current} GB at {at}, and RDS refuses another storage change within 6 hours of one")]
    TooSoon {
        current: i64,
        wanted: i64,
        at: String,
        until: String,
    },
}

impl StorageRefusal {
    /// What to do, in one line.
    pub fn hint(&self) -> String {
        match self {
            StorageRefusal::Decrease { current, .. } => format!("set {STORAGE_VARIABLE} to {current} or more; a smaller database means a new one restored from a dump"),
            StorageRefusal::TooSmall { current, least, .. } => format!("set {STORAGE_VARIABLE} to {least} or more, or leave it at {current}"),
            StorageRefusal::Optimizing { current, .. } => format!("leave {STORAGE_VARIABLE} at {current} for now and apply again once the database's status is `available` (aws rds describe-db-instances)"),
            StorageRefusal::TooSoon { current, until, .. } => format!("leave {STORAGE_VARIABLE} at {current} until {until}, then apply again"),
        }
    }
}

/// Whether AWS would take a storage change from `current` to `wanted` GB `now`: never smaller,
/// at least 10 % larger, not while the last change is `optimizing`, and not within
/// [`STORAGE_COOLDOWN`] of `last_change`. Asking for the size the database has is always fine:
/// it only replaces a pending change.
pub fn check_storage_change(
    current: i64,
    wanted: i64,
    optimizing: bool,
    last_change: Option<SystemTime>,
    now: SystemTime,
) -> Result<(), StorageRefusal> {
    if wanted == current {
        return Ok(());
    }
    if wanted < current {
        return Err(StorageRefusal::Decrease { current, wanted });
    }
    // 10 % more, rounded up to a whole GB: 20 -> 22, 25 -> 28.
    let least = (current * 11 + 9) / 10;
    if wanted < least {
        return Err(StorageRefusal::TooSmall {
            current,
            wanted,
            least,
        });
    }
    if optimizing {
        return Err(StorageRefusal::Optimizing { current, wanted });
    }
    if let Some(at) = last_change {
        let until = at + STORAGE_COOLDOWN;
        if now < until {
            return Err(StorageRefusal::TooSoon {
                current,
                wanted,
                at: format_time(at),
                until: format_time(until),
            });
        }
    }
    Ok(())
}

/// Whether the last storage change is still being optimized (RDS then refuses another).
fn storage_optimizing(live: &Values) -> bool {
    live.get("status").and_then(J::as_str) == Some("storage-optimization")
        || live.get("storage_operation_status").and_then(J::as_str) == Some("Optimizing")
}

/// `2026-11-22T02:13:45Z`, rounded up to the second: a stored time is a lower bound of when
/// AWS lets the next storage change in, so it must never be earlier than the real one.
fn format_time(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
    DateTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}

fn parse_time(s: &str) -> Option<SystemTime> {
    DateTime::from_str(s, DateTimeFormat::DateTime)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
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

/// `version` as it was asked for: AWS answers with the full version (8.0.35) for the one asked
/// (8.0), which is either the one the state holds or the one it holds as pending.
fn version_as_asked(version: &str, prior: &Values) -> String {
    let asked = [
        prior.get("engine_version"),
        prior.get(PENDING).and_then(|p| p.get("engine_version")),
    ];
    asked
        .into_iter()
        .flatten()
        .filter_map(J::as_str)
        .find(|p| version == *p || version.starts_with(&format!("{p}.")))
        .unwrap_or(version)
        .to_owned()
}

/// What AWS holds for the maintenance window, by attribute, in the form the attributes take.
/// A pending password is left out: it is secret, and AWS applies it without waiting.
fn pending_values(db: &DbInstance, prior: &Values) -> serde_json::Map<String, J> {
    let mut out = serde_json::Map::new();
    let Some(p) = db.pending_modified_values() else {
        return out;
    };
    if let Some(v) = p.db_instance_class() {
        out.insert("instance_class".into(), J::from(v));
    }
    if let Some(v) = p.allocated_storage() {
        out.insert("allocated_storage".into(), J::from(v));
    }
    if let Some(v) = p.engine_version() {
        out.insert("engine_version".into(), J::from(version_as_asked(v, prior)));
    }
    if let Some(v) = p.backup_retention_period() {
        out.insert("backup_retention_period".into(), J::from(v));
    }
    if let Some(v) = p.db_subnet_group_name() {
        out.insert("db_subnet_group_name".into(), J::from(v));
    }
    out
}

fn db_instance(db: &DbInstance, prior: &Values) -> Instance {
    db_instance_at(db, prior, SystemTime::now())
}

/// The instance as the state keeps it, read at `now`.
fn db_instance_at(db: &DbInstance, prior: &Values, now: SystemTime) -> Instance {
    let id = db.db_instance_identifier().unwrap_or_default();
    let mut groups: Vec<String> = db
        .vpc_security_groups()
        .iter()
        .filter(|g| g.status() != Some("removing"))
        .filter_map(|g| g.vpc_security_group_id())
        .map(str::to_owned)
        .collect();
    groups.sort();
    groups.dedup();
    let mut attrs = DbInstanceArgs {
        identifier: id.to_owned(),
        engine: db.engine().unwrap_or_default().to_owned(),
        engine_version: version_as_asked(db.engine_version().unwrap_or_default(), prior),
        instance_class: db.db_instance_class().unwrap_or_default().to_owned(),
        allocated_storage: i64::from(db.allocated_storage().unwrap_or_default()),
        storage_encrypted: db.storage_encrypted().unwrap_or(false),
        backup_retention_period: i64::from(db.backup_retention_period().unwrap_or_default()),
        publicly_accessible: db.publicly_accessible().unwrap_or(false),
        vpc_security_group_ids: groups,
        db_subnet_group_name: db
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_owned),
        db_name: db.db_name().map(str::to_owned),
        username: db.master_username().map(str::to_owned),
        // AWS never returns these: the loop below puts in what `prior` holds (see CARRIED).
        password: String::new(),
        skip_final_snapshot: false,
        final_snapshot_identifier: None,
        // A state from before the setting had Terraform's default, which stackctl applied.
        apply_immediately: Some(false),
        tags: rds_tags_of(db.tag_list()),
    }
    .to_values();
    for key in CARRIED {
        match prior.get(*key) {
            Some(v) => {
                attrs.insert((*key).to_owned(), v.clone());
            }
            // Nothing to carry over: no value at all, rather than one AWS did not say.
            None if *key != "apply_immediately" => {
                attrs.remove(*key);
            }
            None => {}
        }
    }
    attrs.insert("id".to_owned(), J::from(id));
    attrs.insert(
        "arn".to_owned(),
        J::from(db.db_instance_arn().unwrap_or_default()),
    );
    attrs.insert(
        "status".to_owned(),
        J::from(db.db_instance_status().unwrap_or_default()),
    );
    let pending = pending_values(db, prior);
    // A storage change that was pending when the state last looked has landed since, in a
    // maintenance window: AWS's 6-hour clock started then, which `now` bounds from above.
    let was_pending = prior
        .get(PENDING)
        .and_then(|p| p.get("allocated_storage"))
        .and_then(J::as_i64);
    if was_pending.is_some()
        && !pending.contains_key("allocated_storage")
        && was_pending == db.allocated_storage().map(i64::from)
    {
        attrs.insert(STORAGE_MODIFIED_AT.to_owned(), J::from(format_time(now)));
    }
    if !pending.is_empty() {
        attrs.insert(PENDING.to_owned(), J::Object(pending));
    }
    if let Some(w) = db.preferred_maintenance_window() {
        attrs.insert("maintenance_window".to_owned(), J::from(w));
    }
    if let Some(s) = db.storage_operation_status() {
        attrs.insert("storage_operation_status".to_owned(), J::from(s));
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::types::PendingModifiedValues;
    use serde_json::json;

    use crate::tests::sdk;

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

    const H: u64 = 60 * 60;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_313_610 + secs)
    }

    #[test]
    fn storage_never_shrinks() {
        let err = check_storage_change(30, 25, false, None, at(0)).unwrap_err();
        assert_eq!(
            err,
            StorageRefusal::Decrease {
                current: 30,
                wanted: 25
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("`db_allocated_storage` = 25"), "{msg}");
        assert!(msg.contains("from 30 GB to 25 GB"), "{msg}");
        assert!(
            err.hint().contains("db_allocated_storage to 30 or more"),
            "{}",
            err.hint()
        );
    }

    #[test]
    fn storage_grows_by_ten_percent_at_least() {
        // 10 % of 20 is 2: 22 is the least, 21 is refused.
        assert_eq!(check_storage_change(20, 22, false, None, at(0)), Ok(()));
        let err = check_storage_change(20, 21, false, None, at(0)).unwrap_err();
        assert_eq!(
            err,
            StorageRefusal::TooSmall {
                current: 20,
                wanted: 21,
                least: 22
            }
        );
        assert!(err.to_string().contains("by less than the 10 %"), "{err}");
        assert!(err.to_string().contains("= 21"), "{err}");
        assert!(
            err.hint().contains("22 or more, or leave it at 20"),
            "{}",
            err.hint()
        );
        // Rounded up to a whole GB: 10 % of 25 is 2.5.
        assert!(check_storage_change(25, 27, false, None, at(0)).is_err());
        assert_eq!(check_storage_change(25, 28, false, None, at(0)), Ok(()));
        assert_eq!(check_storage_change(1000, 1100, false, None, at(0)), Ok(()));
        assert!(check_storage_change(1000, 1099, false, None, at(0)).is_err());
    }

    #[test]
    fn storage_waits_six_hours_and_for_the_optimization() {
        let last = Some(at(0));
        let err = check_storage_change(20, 30, false, last, at(5 * H)).unwrap_err();
        let StorageRefusal::TooSoon { ref until, .. } = err else {
            panic!("{err:?}");
        };
        assert_eq!(until, "2026-11-22T08:13:30Z");
        assert!(
            err.to_string()
                .contains("became 20 GB at 2026-11-22T02:13:30Z"),
            "{err}"
        );
        assert!(err.to_string().contains("within 6 hours"), "{err}");
        assert!(
            err.hint().contains("at 20 until 2026-11-22T08:13:30Z"),
            "{}",
            err.hint()
        );
        assert_eq!(check_storage_change(20, 30, false, last, at(6 * H)), Ok(()));
        // Still optimizing after 6 hours: refused for that reason.
        let err = check_storage_change(20, 30, true, last, at(7 * H)).unwrap_err();
        assert_eq!(
            err,
            StorageRefusal::Optimizing {
                current: 20,
                wanted: 30
            }
        );
        assert!(err.to_string().contains("storage-optimization"), "{err}");
        // No change of size is never refused: it only replaces a pending one.
        assert_eq!(check_storage_change(20, 20, true, last, at(1)), Ok(()));
        // The worst rule first: a decrease is a decrease, whenever it is asked.
        assert!(matches!(
            check_storage_change(20, 10, true, last, at(1)),
            Err(StorageRefusal::Decrease { .. })
        ));
    }

    #[test]
    fn times_round_trip_through_the_state() {
        assert_eq!(format_time(at(0)), "2026-11-22T02:13:30Z");
        // Never earlier than the real time.
        let later = at(0) + Duration::from_millis(1);
        assert_eq!(format_time(later), "2026-11-22T02:13:31Z");
        assert_eq!(parse_time("2026-11-22T02:13:30Z"), Some(at(0)));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn the_optimizing_flag_comes_from_either_field() {
        let v = |k: &str, s: &str| Values::from([(k.to_owned(), json!(s))]);
        assert!(storage_optimizing(&v("status", "storage-optimization")));
        assert!(storage_optimizing(&v(
            "storage_operation_status",
            "Optimizing"
        )));
        assert!(!storage_optimizing(&v("status", "available")));
    }

    #[test]
    fn waits_go_through_the_states_rds_passes_on_its_own() {
        let immediate = Awaited::Modified {
            immediate: true,
            storage: Some(30),
        };
        let deferred = Awaited::Modified {
            immediate: false,
            storage: None,
        };
        for status in [
            "modifying",
            "backing-up",
            "configuring-enhanced-monitoring",
            "rebooting",
            "upgrading",
            "creating",
        ] {
            for awaited in [Awaited::Created, Awaited::Untouched, immediate, deferred] {
                assert_eq!(
                    classify(status, awaited, false),
                    Step::Pending(status.to_owned()),
                    "{status} {awaited:?}"
                );
            }
        }
        // storage-full during a modification is waited through while the change is not in.
        assert!(matches!(
            classify("storage-full", immediate, true),
            Step::Pending(_)
        ));
        assert_eq!(classify("storage-full", immediate, false), Step::Ready);
        assert_eq!(classify("storage-full", deferred, false), Step::Ready);
        assert_eq!(
            classify("storage-full", Awaited::Untouched, false),
            Step::Ready
        );
        assert_eq!(
            classify("storage-full", Awaited::Created, false),
            Step::Failed
        );
        // Optimization lasts hours and the database serves meanwhile.
        assert_eq!(
            classify("storage-optimization", immediate, false),
            Step::Ready
        );
        assert!(matches!(
            classify("available", immediate, true),
            Step::Pending(_)
        ));
        assert_eq!(classify("available", Awaited::Created, false), Step::Ready);
        assert_eq!(classify("failed", immediate, true), Step::Failed);
        assert_eq!(
            classify("incompatible-parameters", deferred, false),
            Step::Failed
        );
        assert_eq!(classify("deleting", immediate, false), Step::Deleting);
    }

    fn pending_db(storage: i32, pending: Option<PendingModifiedValues>) -> DbInstance {
        DbInstance::builder()
            .db_instance_identifier("p-db")
            .engine("mysql")
            .engine_version("8.0.39")
            .db_instance_class("db.t3.micro")
            .allocated_storage(storage)
            .db_instance_status("available")
            .preferred_maintenance_window("wed:06:38-wed:07:08")
            .set_pending_modified_values(pending)
            .build()
    }

    #[test]
    fn outstanding_changes_depend_on_apply_immediately() {
        let class = PendingModifiedValues::builder()
            .db_instance_class("db.t3.small")
            .build();
        let db = pending_db(20, Some(class));
        let deferred = Awaited::Modified {
            immediate: false,
            storage: None,
        };
        // Deferred to the window: nothing to wait for (waiting would last days).
        assert!(!outstanding(&db, deferred));
        let immediate = Awaited::Modified {
            immediate: true,
            storage: None,
        };
        assert!(outstanding(&db, immediate));
        // Storage asked at once and not reached yet, even before AWS shows it as pending.
        let grow = Awaited::Modified {
            immediate: true,
            storage: Some(30),
        };
        assert!(outstanding(&pending_db(20, None), grow));
        assert!(!outstanding(&pending_db(30, None), grow));
        // The password does not wait for the window.
        let pw = PendingModifiedValues::builder()
            .master_user_password("****")
            .build();
        assert!(outstanding(&pending_db(20, Some(pw)), deferred));
    }

    #[test]
    fn pending_values_read_as_the_attributes_they_will_become() {
        let p = PendingModifiedValues::builder()
            .db_instance_class("db.t3.small")
            .allocated_storage(30)
            .engine_version("8.4.3")
            .master_user_password("****")
            .build();
        let prior = Values::from([
            ("engine_version".to_owned(), json!("8.0")),
            ("password".to_owned(), json!("fingerprint:x")),
            (PENDING.to_owned(), json!({ "engine_version": "8.4" })),
        ]);
        let i = db_instance_at(&pending_db(20, Some(p)), &prior, at(0));
        assert_eq!(
            i.attrs[PENDING],
            json!({ "instance_class": "db.t3.small", "allocated_storage": 30, "engine_version": "8.4" })
        );
        assert_eq!(i.attrs["instance_class"], json!("db.t3.micro"));
        assert_eq!(i.attrs["engine_version"], json!("8.0"));
        assert_eq!(i.attrs["maintenance_window"], json!("wed:06:38-wed:07:08"));
        // A state written before the setting existed had Terraform's default.
        assert_eq!(i.attrs["apply_immediately"], json!(false));
        assert!(!i.attrs.contains_key(STORAGE_MODIFIED_AT));
        // Nothing pending: no `pending` attribute at all, so older states read the same.
        let i = db_instance_at(&pending_db(20, None), &Values::new(), at(0));
        assert!(!i.attrs.contains_key(PENDING));
    }

    #[test]
    fn a_pending_storage_change_that_landed_starts_the_six_hours() {
        let prior = Values::from([
            (PENDING.to_owned(), json!({ "allocated_storage": 30 })),
            (
                STORAGE_MODIFIED_AT.to_owned(),
                json!("2026-01-01T00:00:00Z"),
            ),
        ]);
        let landed = db_instance_at(&pending_db(30, None), &prior, at(0));
        assert_eq!(
            landed.attrs[STORAGE_MODIFIED_AT],
            json!("2026-11-22T02:13:30Z")
        );
        // Still pending: the earlier stamp stays.
        let still = PendingModifiedValues::builder()
            .allocated_storage(30)
            .build();
        let waiting = db_instance_at(&pending_db(20, Some(still)), &prior, at(0));
        assert_eq!(
            waiting.attrs[STORAGE_MODIFIED_AT],
            json!("2026-01-01T00:00:00Z")
        );
    }

    fn attrs(pairs: &[(&str, J)]) -> Attrs {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Val::Known(v.clone())))
            .collect()
    }

    #[test]
    fn the_plan_says_when_each_change_happens() {
        let live = Values::from([
            ("instance_class".to_owned(), json!("db.t3.micro")),
            ("allocated_storage".to_owned(), json!(20)),
            ("backup_retention_period".to_owned(), json!(7)),
            (
                "maintenance_window".to_owned(),
                json!("wed:06:38-wed:07:08"),
            ),
        ]);
        let desired = attrs(&[
            ("instance_class", json!("db.t3.small")),
            ("allocated_storage", json!(30)),
            ("backup_retention_period", json!(14)),
            ("publicly_accessible", json!(false)),
        ]);
        let changed: Vec<String> = [
            "instance_class",
            "allocated_storage",
            "backup_retention_period",
            "publicly_accessible",
        ]
        .map(String::from)
        .to_vec();
        let notes = change_notes(&live, &desired, &changed, false);
        let deferred = "deferred to the next maintenance window, wed:06:38-wed:07:08 UTC (apply_immediately = false)";
        assert_eq!(notes["instance_class"], deferred);
        assert_eq!(notes["allocated_storage"], deferred);
        // Applied at once whatever the setting: no note.
        assert!(!notes.contains_key("backup_retention_period"), "{notes:?}");
        assert!(!notes.contains_key("publicly_accessible"), "{notes:?}");
        let notes = change_notes(&live, &desired, &changed, true);
        assert_eq!(
            notes["instance_class"],
            "applied now: the database restarts (apply_immediately = true)"
        );
        assert!(!notes.contains_key("allocated_storage"), "{notes:?}");
        // Turning backups on or off waits for the window too.
        let off = attrs(&[("backup_retention_period", json!(0))]);
        let notes = change_notes(&live, &off, &["backup_retention_period".into()], false);
        assert!(
            notes["backup_retention_period"].starts_with("deferred"),
            "{notes:?}"
        );
    }

    #[test]
    fn apply_immediately_sends_what_is_pending_too() {
        let prior = Instance::new(
            "p-db",
            Values::from([
                ("instance_class".to_owned(), json!("db.t3.micro")),
                (
                    PENDING.to_owned(),
                    json!({ "instance_class": "db.t3.small" }),
                ),
            ]),
        );
        let desired = Values::from([
            ("instance_class".to_owned(), json!("db.t3.small")),
            ("apply_immediately".to_owned(), json!(true)),
        ]);
        let changed = vec!["apply_immediately".to_owned()];
        assert_eq!(
            to_send(&prior, &desired, &changed, true),
            vec!["apply_immediately", "instance_class"]
        );
        assert_eq!(to_send(&prior, &desired, &changed, false), changed);
    }

    #[test]
    fn modify_db_instance_carries_apply_immediately() {
        let rds = Client::new(&sdk());
        let prior = Instance::new("p-db", Values::new());
        let desired = DbInstanceArgs {
            instance_class: "db.t3.small".into(),
            allocated_storage: 30,
            ..known()
        };
        let send = DbInstanceArgs::<Changed>::from_names(&[
            "instance_class".to_owned(),
            "allocated_storage".to_owned(),
        ]);
        for immediate in [false, true] {
            let m = modify_request(&rds, &prior, &desired, &send, immediate)
                .unwrap()
                .unwrap();
            let input = m.as_input();
            assert_eq!(input.get_apply_immediately(), &Some(immediate));
            assert_eq!(
                input.get_db_instance_class().as_deref(),
                Some("db.t3.small")
            );
            assert_eq!(input.get_allocated_storage(), &Some(30));
            // Only what is sent.
            assert_eq!(input.get_engine_version(), &None);
            assert_eq!(input.get_allow_major_version_upgrade(), &None);
            assert_eq!(input.get_master_user_password(), &None);
        }
        // Only settings that live in the state: no request at all.
        let only = DbInstanceArgs::<Changed>::from_names(&[
            "apply_immediately".to_owned(),
            "skip_final_snapshot".to_owned(),
        ]);
        assert!(modify_request(&rds, &prior, &desired, &only, false)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_major_engine_upgrade_is_allowed_only_when_it_is_one() {
        let rds = Client::new(&sdk());
        let prior = Instance::new(
            "p-db",
            Values::from([("engine_version".to_owned(), json!("8.0"))]),
        );
        let send = DbInstanceArgs::<Changed>::from_names(&["engine_version".to_owned()]);
        for (want, major) in [("8.4", true), ("8.0.39", false)] {
            let desired = DbInstanceArgs {
                engine_version: want.into(),
                ..known()
            };
            let m = modify_request(&rds, &prior, &desired, &send, false)
                .unwrap()
                .unwrap();
            let input = m.as_input();
            assert_eq!(input.get_engine_version().as_deref(), Some(want));
            assert_eq!(input.get_allow_major_version_upgrade(), &Some(major));
        }
    }

    #[test]
    fn flags_are_those_of_terraform() {
        let kind = DbInstanceKind::new(Client::new(&sdk()));
        let forces: Vec<&str> = DbInstanceArgs::FIELDS
            .iter()
            .filter(|f| kind.force_new(f.name))
            .map(|f| f.name)
            .collect();
        assert_eq!(
            forces,
            [
                "identifier",
                "engine",
                "storage_encrypted",
                "db_name",
                "username"
            ]
        );
        assert_eq!(kind.sensitive(), ["password"]);
    }

    #[test]
    fn what_aws_never_returns_is_carried_over_or_left_out() {
        let db = pending_db(20, None);
        // Nothing in the prior: none of them, but `apply_immediately` at its default.
        let i = db_instance_at(&db, &Values::new(), at(0));
        for key in [
            "password",
            "skip_final_snapshot",
            "final_snapshot_identifier",
        ] {
            assert!(!i.attrs.contains_key(key), "{key}: {:?}", i.attrs);
        }
        assert_eq!(i.attrs["apply_immediately"], json!(false));
        // All of them in the prior: as they are there, nulls and fingerprints included.
        let prior = Values::from([
            ("password".to_owned(), json!("fingerprint:x")),
            ("skip_final_snapshot".to_owned(), json!(true)),
            ("final_snapshot_identifier".to_owned(), J::Null),
            ("apply_immediately".to_owned(), json!(true)),
        ]);
        let i = db_instance_at(&db, &prior, at(0));
        for (k, v) in &prior {
            assert_eq!(i.attrs.get(k), Some(v), "{k}");
        }
        // What AWS says, in the shapes the state has always had.
        assert_eq!(i.attrs["id"], json!("p-db"));
        assert_eq!(i.attrs["identifier"], json!("p-db"));
        assert_eq!(i.attrs["allocated_storage"], json!(20));
        assert_eq!(i.attrs["vpc_security_group_ids"], json!([]));
        assert_eq!(i.attrs["db_subnet_group_name"], J::Null);
        assert_eq!(i.attrs["db_name"], J::Null);
        assert_eq!(i.attrs["tags"], json!({}));
        assert_eq!(i.attrs["status"], json!("available"));
    }

    /// Desired values as a spec gives them.
    fn known() -> DbInstanceArgs {
        DbInstanceArgs {
            identifier: "p-db".into(),
            engine: "mysql".into(),
            engine_version: "8.0".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            storage_encrypted: true,
            backup_retention_period: 7,
            publicly_accessible: false,
            vpc_security_group_ids: vec!["sg-1".into()],
            db_subnet_group_name: Some("p-db-subnet-group".into()),
            db_name: Some("prestashop".into()),
            username: Some("admin".into()),
            password: "pw".into(),
            apply_immediately: Some(false),
            skip_final_snapshot: true,
            final_snapshot_identifier: None,
            tags: Tags::stack("p", "dev"),
        }
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
