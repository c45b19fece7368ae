//! EFS under the lifecycle layer: file systems and mount targets `creating` and `deleting`
//! for as long as AWS shows them, the calls AWS refuses meanwhile, UpdateFileSystem, which
//! moto does not implement, and PutBackupPolicy/DescribeBackupPolicy (moto sets a backup policy
//! only at creation).

use std::collections::HashSet;

use serde_json::{json, Value};

use super::call::{refuse, strings, Call, Refusal};
use super::profile::Profile;
use super::world::{Efs, MountTarget, World};

/// Before forwarding an EFS call: what AWS refuses while a file system or mount target is
/// busy, and its answer to UpdateFileSystem.
pub(super) fn decide(profile: &Profile, w: &mut World, call: &Call, now: f64) -> Option<Refusal> {
    match call.operation.as_str() {
        "POST /2015-02-01/mount-targets" => {
            let fs = call.str("FileSystemId")?;
            let created = w.file_systems.get(fs)?.created;
            (now - created < profile.seconds("efs_create")).then(|| Refusal {
                status: 409,
                code: "IncorrectFileSystemLifeCycleState".into(),
                message: format!("File system '{fs}' is in the creating state; mount targets can only be created on an available file system."),
                body: None,
            })
        }
        "DELETE /2015-02-01/file-systems/{id}" => {
            let fs = call.path_id();
            let busy = w.mount_targets.values().any(|mt| {
                mt.fs == fs
                    && mt
                        .deleted
                        .is_some_and(|d| now - d < profile.seconds("mount_target_delete"))
            });
            busy.then(|| Refusal {
                status: 409,
                code: "FileSystemInUse".into(),
                message: format!("File system '{fs}' has mount targets being deleted."),
                body: None,
            })
        }
        "PUT /2015-02-01/file-systems/{id}" => {
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
        "PUT /2015-02-01/file-systems/{id}/backup-policy" => {
            let fs = file_system_of(call)?;
            let Some(known) = w.file_systems.get_mut(&fs).filter(|f| f.deleted.is_none()) else {
                return refuse(
                    404,
                    "FileSystemNotFound",
                    format!("File system '{fs}' does not exist."),
                );
            };
            let status = call
                .json
                .pointer("/BackupPolicy/Status")
                .and_then(Value::as_str)?
                .to_owned();
            if !matches!(status.as_str(), "ENABLED" | "DISABLED") {
                return refuse(
                    400,
                    "ValidationException",
                    format!("1 validation error detected: Value '{status}' at 'backupPolicy.status' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]"),
                );
            }
            // AWS answers with the step it takes first, and shows it on the next read.
            let answer = json!({ "BackupPolicy": { "Status": step(&status) } });
            known.backup = Some((status, false));
            Some(Refusal {
                status: 200,
                code: String::new(),
                message: String::new(),
                body: Some(answer.to_string()),
            })
        }
        "GET /2015-02-01/file-systems/{id}/backup-policy" => {
            let fs = file_system_of(call)?;
            let known = w.file_systems.get_mut(&fs)?;
            if known.deleted.is_some() {
                // Moto fails with a 500 on a file system it no longer has.
                return refuse(
                    404,
                    "FileSystemNotFound",
                    format!("File system '{fs}' does not exist."),
                );
            }
            let (status, shown) = known.backup.as_mut()?;
            let now = if *shown {
                status.clone()
            } else {
                *shown = true;
                step(status).to_owned()
            };
            Some(Refusal {
                status: 200,
                code: String::new(),
                message: String::new(),
                body: Some(json!({ "BackupPolicy": { "Status": now } }).to_string()),
            })
        }
        _ => None,
    }
}

/// The file system id of `/2015-02-01/file-systems/{id}/backup-policy`.
fn file_system_of(call: &Call) -> Option<String> {
    call.path.rsplit('/').nth(1).map(str::to_owned)
}

/// The status AWS shows while it moves a backup policy to `status`.
fn step(status: &str) -> &'static str {
    match status {
        "ENABLED" => "ENABLING",
        _ => "DISABLING",
    }
}

/// After moto answered an EFS call: record file systems and mount targets, show them as AWS
/// would.
pub(super) fn rewrite(
    profile: &Profile,
    w: &mut World,
    call: &Call,
    status: u16,
    text: &str,
    now: f64,
) -> Option<(u16, String)> {
    let ok = (200..300).contains(&status);
    match call.operation.as_str() {
        "POST /2015-02-01/file-systems" if ok => {
            let v: Value = serde_json::from_str(text).ok()?;
            let id = v.get("FileSystemId")?.as_str()?.to_owned();
            w.file_systems.insert(
                id,
                Efs {
                    created: now,
                    deleted: None,
                    last: v.clone(),
                    throughput: Default::default(),
                    backup: None,
                },
            );
            creating(status, v)
        }
        "DELETE /2015-02-01/file-systems/{id}" if ok => {
            if let Some(fs) = w.file_systems.get_mut(call.path_id()) {
                fs.deleted = Some(now);
            }
            None
        }
        "GET /2015-02-01/file-systems" => fs_answer(profile, w, call, status, text, now),
        "POST /2015-02-01/mount-targets" if ok => {
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
        "DELETE /2015-02-01/mount-targets/{id}" if ok => {
            if let Some(mt) = w.mount_targets.get_mut(call.path_id()) {
                mt.deleted = Some(now);
            }
            None
        }
        "GET /2015-02-01/mount-targets" => mt_answer(profile, w, call, status, text, now),
        _ => None,
    }
}

/// DescribeFileSystems: a new file system `creating`, a deleted one still listed `deleting`,
/// and the throughput UpdateFileSystem set.
fn fs_answer(
    profile: &Profile,
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
            .is_some_and(|d| now - d < profile.seconds("efs_delete"));
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
        if now - known.created < profile.seconds("efs_create") {
            fs["LifeCycleState"] = json!("creating");
        }
    }
    Some((status, v.to_string()))
}

/// DescribeMountTargets: a new mount target `creating`, a deleted one still listed
/// `deleting`.
fn mt_answer(
    profile: &Profile,
    w: &mut World,
    call: &Call,
    status: u16,
    text: &str,
    now: f64,
) -> Option<(u16, String)> {
    let deleting = |mt: &MountTarget| {
        mt.deleted
            .is_some_and(|d| now - d < profile.seconds("mount_target_delete"))
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
        if now - known.created < profile.seconds("mount_target_create") {
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

/// A create's answer as AWS gives it: the resource still `creating`.
fn creating(status: u16, mut v: Value) -> Option<(u16, String)> {
    v["LifeCycleState"] = json!("creating");
    Some((status, v.to_string()))
}
