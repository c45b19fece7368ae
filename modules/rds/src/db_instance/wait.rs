//! The waits for the database: through the states RDS passes on its own until it takes
//! connections and what was asked of it is done.

use std::time::Duration;

use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::ResourceError;

use super::read::describe;

/// Creating, modifying or deleting a database takes minutes, sometimes well over half an hour
/// (a Multi-AZ conversion, a large storage change).
pub(super) const DB_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// Wait until the database takes connections and what was asked of it is done (see
/// [`Awaited`]).
pub(super) async fn available(
    rds: &Client,
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
            let db = describe(rds, id).await?.ok_or_else(|| {
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

/// What a wait for the database must see before it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Awaited {
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::types::PendingModifiedValues;

    use super::super::read::tests::pending_db;

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
}
