//! ModifyDBInstance: what it is to send, with `apply_immediately` as asked, and which changes
//! AWS defers to the maintenance window unless asked to apply them at once (what the plan
//! says about each).

use std::collections::BTreeMap;

use aws_sdk_rds::operation::modify_db_instance::builders::ModifyDBInstanceFluentBuilder;
use aws_sdk_rds::Client;
use serde_json::Value as J;
use stackctl_contract::args::required;
use stackctl_contract::value::to_i32;
use stackctl_contract::{Attrs, Changed, Instance, ResourceError, Val, Values, PENDING};

use super::read::DbInstanceArgs;

/// What ModifyDBInstance changes only in the maintenance window without ApplyImmediately, as
/// PendingModifiedValues reports them. A backup retention change is deferred too when it
/// turns backups on or off (from or to 0): see [`deferred`].
const DEFERRED: &[&str] = &[
    "instance_class",
    "allocated_storage",
    "engine_version",
    "db_subnet_group_name",
    "multi_az",
];

/// The deferred changes that take the database down while they are applied (a new host, an
/// engine upgrade, a move to other subnets); a storage change keeps it up.
const OUTAGE: &[&str] = &["instance_class", "engine_version", "db_subnet_group_name"];

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
pub(super) fn change_notes(
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
pub(super) fn to_send(
    prior: &Instance,
    desired: &Values,
    changed: &[String],
    immediate: bool,
) -> Vec<String> {
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
pub(super) fn modify_request(
    rds: &Client,
    prior: &Instance,
    d: &DbInstanceArgs,
    send: &DbInstanceArgs<Changed>,
    immediate: bool,
) -> Result<Option<ModifyDBInstanceFluentBuilder>, ResourceError> {
    let any = send.instance_class
        || send.allocated_storage
        || send.max_allocated_storage
        || send.backup_retention_period
        || send.multi_az
        || send.publicly_accessible
        || send.deletion_protection
        || send.performance_insights_enabled
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
    if send.max_allocated_storage {
        // RDS turns storage autoscaling off when the ceiling is the size itself (as the AWS
        // provider sends it), which is the size autoscaling grew it to if it did (RDS refuses
        // a ceiling below it); read reports that as 0 again.
        let grown = prior
            .attrs
            .get(super::read::STORAGE_AUTOSCALED)
            .and_then(J::as_i64)
            .unwrap_or(0);
        let max = if d.max_allocated_storage > 0 {
            d.max_allocated_storage
        } else {
            d.allocated_storage.max(grown)
        };
        modify = modify.max_allocated_storage(to_i32("max_allocated_storage", max)?);
    }
    if send.backup_retention_period {
        modify = modify.backup_retention_period(to_i32(
            "backup_retention_period",
            d.backup_retention_period,
        )?);
    }
    if send.multi_az {
        modify = modify.multi_az(d.multi_az);
    }
    if send.publicly_accessible {
        modify = modify.publicly_accessible(d.publicly_accessible);
    }
    // Applied at once whatever ApplyImmediately says, so turning it off before a destroy
    // works in one apply.
    if send.deletion_protection {
        modify = modify.deletion_protection(d.deletion_protection);
    }
    if send.performance_insights_enabled {
        modify = modify.enable_performance_insights(d.performance_insights_enabled);
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

/// The engine's major version: `8.0` for MySQL 8.0.35, `16` for PostgreSQL 16.4.
fn major_version<'a>(engine: &str, version: &'a str) -> &'a str {
    let parts = if engine.starts_with("postgres") { 1 } else { 2 };
    match version.match_indices('.').nth(parts - 1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stackctl_contract::Tags;

    use crate::tests::sdk;

    #[test]
    fn major_versions() {
        assert_eq!(major_version("mysql", "8.0.35"), "8.0");
        assert_eq!(major_version("mysql", "8.0"), "8.0");
        assert_eq!(major_version("mysql", "8"), "8");
        assert_eq!(major_version("postgres", "16.4"), "16");
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
    fn the_protections_go_through_modify_and_only_multi_az_waits_for_the_window() {
        let rds = Client::new(&sdk());
        let prior = Instance::new("p-db", Values::new());
        let desired = DbInstanceArgs {
            multi_az: true,
            deletion_protection: true,
            performance_insights_enabled: true,
            backup_retention_period: 14,
            ..known()
        };
        let names: Vec<String> = [
            "multi_az",
            "deletion_protection",
            "performance_insights_enabled",
            "backup_retention_period",
        ]
        .map(str::to_owned)
        .to_vec();
        let send = DbInstanceArgs::<Changed>::from_names(&names);
        let m = modify_request(&rds, &prior, &desired, &send, false)
            .unwrap()
            .unwrap();
        let input = m.as_input();
        assert_eq!(input.get_multi_az(), &Some(true));
        assert_eq!(input.get_deletion_protection(), &Some(true));
        assert_eq!(input.get_enable_performance_insights(), &Some(true));
        assert_eq!(input.get_backup_retention_period(), &Some(14));
        assert_eq!(input.get_db_instance_class(), &None);

        let live = Values::from([
            ("multi_az".to_owned(), json!(false)),
            ("backup_retention_period".to_owned(), json!(7)),
        ]);
        let want = attrs(&[
            ("multi_az", json!(true)),
            ("backup_retention_period", json!(14)),
        ]);
        let notes = change_notes(&live, &want, &names, false);
        assert_eq!(notes.keys().collect::<Vec<_>>(), ["multi_az"], "{notes:?}");
        assert!(notes["multi_az"].starts_with("deferred to the next maintenance window"));
        assert!(change_notes(&live, &want, &names, true).is_empty());
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

    /// Desired values as a spec gives them.
    fn known() -> DbInstanceArgs {
        DbInstanceArgs {
            identifier: "p-db".into(),
            engine: "mysql".into(),
            engine_version: "8.0".into(),
            instance_class: "db.t3.micro".into(),
            allocated_storage: 20,
            max_allocated_storage: 0,
            storage_encrypted: true,
            backup_retention_period: 7,
            multi_az: false,
            publicly_accessible: false,
            deletion_protection: false,
            performance_insights_enabled: false,
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
}
