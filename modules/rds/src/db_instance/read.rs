//! The database's attributes, and how a read fills them from DescribeDBInstances: what AWS
//! never returns carried over from the prior state, what it holds for the maintenance window
//! under `pending`, the engine version as it was asked for.

use std::time::SystemTime;

use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use serde_json::Value as J;
use stackctl_contract::{
    args, aws_error, Absent, Args, Instance, ResourceError, Tags, Values, PENDING,
};

use super::storage::{format_time, STORAGE_MODIFIED_AT};
use crate::rds_tags_of;

/// What AWS shows of the instance's own work (a backup, a maintenance action, a storage
/// optimization, the CA certificate AWS rotates): read for the kind's decisions (a full disk, a
/// storage change too soon) or for policy checks of `show -json`, never drift.
pub(super) const TRANSIENT: &[&str] = &[
    "status",
    "storage_operation_status",
    "ca_cert_identifier",
    STORAGE_AUTOSCALED,
];

/// The size storage autoscaling grew the database to, above the one asked for: the storage
/// checks count from it, since RDS never shrinks it.
pub(super) const STORAGE_AUTOSCALED: &str = "storage_autoscaled_to";

/// The stack's settings for how the instance is deleted and changed, which AWS never returns:
/// an import takes them from the configuration. (Not the password: AWS's may differ from the
/// configuration's, and only an apply that sets it makes them agree.)
pub(super) const CONFIG_ONLY: &[&str] = &[
    "skip_final_snapshot",
    "final_snapshot_identifier",
    "apply_immediately",
];

/// Attributes AWS never returns: `read` carries them over from the prior instance.
const CARRIED: &[&str] = &[
    "password",
    "skip_final_snapshot",
    "final_snapshot_identifier",
    "apply_immediately",
    STORAGE_MODIFIED_AT,
];

args! {
    /// `aws_db_instance`'s arguments.
    pub struct DbInstanceArgs {
        [ForceNew] identifier: String,
        [ForceNew] engine: String,
        /// As it was asked for (`8.0`), which AWS answers in full (`8.0.35`): see
        /// `version_as_asked`.
        engine_version: String,
        instance_class: String,
        /// As asked: a size storage autoscaling grew it to, within `max_allocated_storage`, is
        /// no change (the real one is under `STORAGE_AUTOSCALED`).
        allocated_storage: i64,
        /// Storage autoscaling's ceiling; 0 is off (AWS reports none, or one at the size).
        max_allocated_storage: i64,
        [ForceNew] storage_encrypted: bool,
        backup_retention_period: i64,
        /// A standby in a second zone.
        multi_az: bool,
        publicly_accessible: bool,
        /// RDS refuses DeleteDBInstance while it is on; destroy checks it first.
        deletion_protection: bool,
        performance_insights_enabled: bool,
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

/// The database `id`, if it exists.
pub(super) async fn describe(rds: &Client, id: &str) -> Result<Option<DbInstance>, ResourceError> {
    rds.describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeDBInstances", e))
        .absent_if(&["DBInstanceNotFound"])
        .map(|o| o.and_then(|out| out.db_instances().first().cloned()))
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
    if let Some(v) = p.multi_az() {
        out.insert("multi_az".into(), J::from(v));
    }
    if let Some(v) = p.db_subnet_group_name() {
        out.insert("db_subnet_group_name".into(), J::from(v));
    }
    out
}

/// The size as asked for (`prior`'s) when storage autoscaling is on and grew it from there
/// within its ceiling: RDS did what was asked, and a plan must not try to shrink it.
fn as_asked(real: i64, max: i64, prior: &Values) -> i64 {
    let asked = prior.get("allocated_storage").and_then(J::as_i64);
    match asked {
        Some(asked) if max > 0 && asked < real && real <= max => asked,
        _ => real,
    }
}

pub(super) fn db_instance(db: &DbInstance, prior: &Values) -> Instance {
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
    let real_storage = i64::from(db.allocated_storage().unwrap_or_default());
    let max_storage = db
        .max_allocated_storage()
        .map(i64::from)
        .filter(|m| *m > real_storage)
        .unwrap_or(0);
    let mut attrs = DbInstanceArgs {
        identifier: id.to_owned(),
        engine: db.engine().unwrap_or_default().to_owned(),
        engine_version: version_as_asked(db.engine_version().unwrap_or_default(), prior),
        instance_class: db.db_instance_class().unwrap_or_default().to_owned(),
        allocated_storage: as_asked(real_storage, max_storage, prior),
        max_allocated_storage: max_storage,
        storage_encrypted: db.storage_encrypted().unwrap_or(false),
        backup_retention_period: i64::from(db.backup_retention_period().unwrap_or_default()),
        multi_az: db.multi_az().unwrap_or(false),
        publicly_accessible: db.publicly_accessible().unwrap_or(false),
        deletion_protection: db.deletion_protection().unwrap_or(false),
        performance_insights_enabled: db.performance_insights_enabled().unwrap_or(false),
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
    if attrs.get("allocated_storage").and_then(J::as_i64) != Some(real_storage) {
        attrs.insert(STORAGE_AUTOSCALED.to_owned(), J::from(real_storage));
    }
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
    // Which CA signs the server certificate: policy checks (checkov's CKV_AWS_211) read it.
    if let Some(ca) = db.ca_certificate_identifier() {
        attrs.insert("ca_cert_identifier".to_owned(), J::from(ca));
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
pub(super) mod tests {
    use super::*;
    use aws_sdk_rds::types::PendingModifiedValues;
    use serde_json::json;

    use super::super::storage::tests::at;

    pub(crate) fn pending_db(storage: i32, pending: Option<PendingModifiedValues>) -> DbInstance {
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
    fn storage_autoscaling_grew_is_read_as_asked_within_the_ceiling() {
        let read = |real: i32, max: Option<i32>, asked: i64| {
            let db = DbInstance::builder()
                .db_instance_identifier("p-db")
                .engine("mysql")
                .allocated_storage(real)
                .set_max_allocated_storage(max)
                .db_instance_status("available")
                .build();
            let prior = Values::from([("allocated_storage".to_owned(), json!(asked))]);
            db_instance(&db, &prior).attrs
        };
        // Grown from 20 to 30 under a ceiling of 40: as asked, the real size kept aside.
        let a = read(30, Some(40), 20);
        assert_eq!(a["allocated_storage"], json!(20));
        assert_eq!(a["max_allocated_storage"], json!(40));
        assert_eq!(a[STORAGE_AUTOSCALED], json!(30));
        // Without autoscaling, or past its ceiling (a change made by hand): AWS's size.
        for (max, want_max) in [(None, 0), (Some(30), 0), (Some(25), 0)] {
            let a = read(30, max, 20);
            assert_eq!(a["allocated_storage"], json!(30), "{max:?}");
            assert_eq!(a["max_allocated_storage"], json!(want_max), "{max:?}");
            assert!(!a.contains_key(STORAGE_AUTOSCALED), "{max:?}");
        }
        // Asked for more than it has (a pending growth): AWS's size, not the wish.
        assert_eq!(read(30, Some(40), 35)["allocated_storage"], json!(30));
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
