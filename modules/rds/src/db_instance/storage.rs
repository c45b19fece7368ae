//! The storage changes AWS refuses (smaller, less than 10 % more, within 6 hours of the last
//! one or while it is being optimized), checked at plan time, and the time of the last change
//! the state keeps for that.

use std::time::{Duration, SystemTime};

use aws_sdk_rds::primitives::{DateTime, DateTimeFormat};
use serde_json::Value as J;
use stackctl_contract::Values;

/// When stackctl last saw the storage change (RFC 3339), kept in the state: AWS refuses another
/// storage change within [`STORAGE_COOLDOWN`] of one and has no field that says when that was.
pub(super) const STORAGE_MODIFIED_AT: &str = "storage_modified_at";

/// How long after a storage change AWS refuses the next one (or longer, while the change is
/// still being optimized).
const STORAGE_COOLDOWN: Duration = Duration::from_secs(6 * 60 * 60);

/// The root variable that sets `allocated_storage`. A refusal names it, since that is what the
/// user changes; this module serves this one stack, as the seed's `modules/rds` does.
pub(super) const STORAGE_VARIABLE: &str = "db_allocated_storage";

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
pub(super) fn storage_optimizing(live: &Values) -> bool {
    live.get("status").and_then(J::as_str) == Some("storage-optimization")
        || live.get("storage_operation_status").and_then(J::as_str) == Some("Optimizing")
}

/// `2026-11-22T02:13:45Z`, rounded up to the second: a stored time is a lower bound of when
/// AWS lets the next storage change in, so it must never be earlier than the real one.
pub(super) fn format_time(t: SystemTime) -> String {
    let since = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
    DateTime::from_secs(i64::try_from(secs).unwrap_or(i64::MAX))
        .fmt(DateTimeFormat::DateTime)
        .unwrap_or_default()
}

pub(super) fn parse_time(s: &str) -> Option<SystemTime> {
    DateTime::from_str(s, DateTimeFormat::DateTime)
        .ok()
        .and_then(|d| SystemTime::try_from(d).ok())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use serde_json::json;

    const H: u64 = 60 * 60;

    pub(crate) fn at(secs: u64) -> SystemTime {
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
}
