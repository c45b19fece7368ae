//! `aws_db_instance`: the MySQL database, its waits through RDS's states, the changes
//! ModifyDBInstance defers to the maintenance window, and the storage changes AWS refuses.
//! This file holds the kind; its attributes and read are in `read`, its waits in `wait`, the
//! ModifyDBInstance request and what AWS defers in `modify`, the storage rules in `storage`, its
//! translation to the AWS provider's attributes in `provider`.

mod modify;
mod provider;
mod read;
mod storage;
mod wait;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_rds::primitives::{DateTime, DateTimeFormat};
use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use serde_json::Value as J;
use stackctl_contract::args::required;
use stackctl_contract::value::to_i32;
use stackctl_contract::wait::{Backoff, Poll};
use stackctl_contract::{
    aws_error, Args, Attrs, Changed, Field, Instance, Kind, ResourceError, TagApi, Val, Values,
    PENDING,
};

use crate::{rds_tags, RdsTagging};
use modify::{change_notes, modify_request, to_send};
use read::db_instance;
pub use read::DbInstanceArgs;
pub use storage::{check_storage_change, StorageRefusal};
use storage::{format_time, parse_time, storage_optimizing, STORAGE_MODIFIED_AT, STORAGE_VARIABLE};
use wait::{Awaited, DB_TIMEOUT};

/// `aws_db_instance`, identified by its identifier.
pub struct DbInstanceKind {
    rds: Client,
}

impl DbInstanceKind {
    pub fn new(rds: Client) -> Self {
        DbInstanceKind { rds }
    }

    async fn describe(&self, id: &str) -> Result<Option<DbInstance>, ResourceError> {
        read::describe(&self.rds, id).await
    }

    /// Wait until the database takes connections and what was asked of it is done (see
    /// [`Awaited`]).
    async fn wait_available(
        &self,
        id: &str,
        awaited: Awaited,
    ) -> Result<DbInstance, ResourceError> {
        wait::available(&self.rds, id, awaited).await
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

    fn transient(&self) -> &'static [&'static str] {
        read::TRANSIENT
    }

    fn config_only(&self) -> &'static [&'static str] {
        read::CONFIG_ONLY
    }

    fn provider_values(
        &self,
        _type_name: &str,
        attrs: &stackctl_contract::provider::Object,
    ) -> stackctl_contract::provider::Object {
        provider::db_instance(attrs)
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
            .set_max_allocated_storage(
                (d.max_allocated_storage > 0)
                    .then(|| to_i32("max_allocated_storage", d.max_allocated_storage))
                    .transpose()?,
            )
            .storage_encrypted(d.storage_encrypted)
            .backup_retention_period(to_i32(
                "backup_retention_period",
                d.backup_retention_period,
            )?)
            .multi_az(d.multi_az)
            .publicly_accessible(d.publicly_accessible)
            .deletion_protection(d.deletion_protection)
            .enable_performance_insights(d.performance_insights_enabled)
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

    fn delete_refused(&self, live: &Instance) -> Option<String> {
        (live.attrs.get("deletion_protection") == Some(&J::Bool(true))).then(|| {
            "it has deletion protection on, and RDS refuses to delete it\n  hint: set db_deletion_protection = false (in the var file or with -var db_deletion_protection=false), run apply to turn the protection off, then run this again".to_owned()
        })
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
            // What AWS has: autoscaling may have grown it past the size asked for.
            let current = live
                .attrs
                .get(read::STORAGE_AUTOSCALED)
                .or_else(|| live.attrs.get("allocated_storage"))
                .and_then(J::as_i64);
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
        stackctl_contract::wait::until(
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::tests::sdk;

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
}
