//! RDS under the lifecycle layer: a database `creating` (without an endpoint), `backing-up`,
//! `modifying` or `deleting` for as long as AWS shows it, a deleted one still listed, and the
//! calls AWS refuses meanwhile (a modify while not available, its subnet group's delete), and
//! the Performance Insights setting moto drops.

use std::collections::HashSet;

use super::call::{refuse, Call, Refusal};
use super::profile::Profile;
use super::world::{Db, World};
use super::xml::{element, element_range, items, remove_element, set_tag_text, tag_text};

/// Before forwarding an RDS call: what AWS refuses while a database is busy or deleting.
pub(super) fn decide(profile: &Profile, w: &mut World, call: &Call, now: f64) -> Option<Refusal> {
    match call.operation.as_str() {
        "DeleteDBSubnetGroup" => {
            let name = call.param("DBSubnetGroupName")?;
            let (id, _) = w.dbs.iter().find(|(_, db)| {
                db.subnet_group == name
                    && db
                        .deleted
                        .is_some_and(|d| now - d < profile.seconds("rds_delete"))
            })?;
            refuse(
                400,
                "InvalidDBSubnetGroupStateFault",
                format!("Cannot delete the subnet group '{name}' because at least one database instance: {id} is still using it."),
            )
        }
        "ModifyDBInstance" => {
            let id = call.param("DBInstanceIdentifier")?;
            let db = w.dbs.get(id)?;
            let status = db_status(profile, db, now)?;
            (status != "available").then(|| Refusal {
                status: 400,
                code: "InvalidDBInstanceState".into(),
                message: format!("Database instance is not in available state (it is {status})."),
                body: None,
            })
        }
        _ => None,
    }
}

/// After moto answered an RDS call: record databases, show them as AWS would.
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
        "CreateDBInstance" if ok => {
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
                performance_insights: call.param("EnablePerformanceInsights") == Some("true"),
                ..Db::default()
            };
            w.dbs.insert(id, db);
            db_answer(profile, w, call, text, now)
        }
        "ModifyDBInstance" if ok => {
            let id = call.param("DBInstanceIdentifier")?;
            if let (Some(pi), Some(db)) =
                (call.param("EnablePerformanceInsights"), w.dbs.get_mut(id))
            {
                db.performance_insights = pi == "true";
            }
            let reboots =
                call.param("DBInstanceClass").is_some() || call.param("AllocatedStorage").is_some();
            if call.param("ApplyImmediately") == Some("true") && reboots {
                if let Some(db) = w.dbs.get_mut(id) {
                    db.modified = Some(now);
                }
            }
            db_answer(profile, w, call, text, now)
        }
        "DeleteDBInstance" if ok => {
            let id = call.param("DBInstanceIdentifier")?;
            if let Some(db) = w.dbs.get_mut(id) {
                db.deleted = Some(now);
                if let Some(block) = element(text, "DBInstance") {
                    db.block = block.to_owned();
                }
            }
            db_answer(profile, w, call, text, now)
        }
        "DescribeDBInstances" => db_answer(profile, w, call, text, now),
        _ => None,
    }
}

/// The status AWS shows for a database `now`; `None` once it is gone.
fn db_status(profile: &Profile, db: &Db, now: f64) -> Option<&'static str> {
    if let Some(d) = db.deleted {
        return (now - d < profile.seconds("rds_delete")).then_some("deleting");
    }
    let age = now - db.created;
    if age < profile.seconds("rds_create") - profile.seconds("rds_backing_up") {
        return Some("creating");
    }
    if age < profile.seconds("rds_create") {
        return Some("backing-up");
    }
    if db
        .modified
        .is_some_and(|m| now - m < profile.seconds("rds_modify"))
    {
        return Some("modifying");
    }
    // The nightly backup or a maintenance action, as the test set it.
    Some(profile.db_busy.get().unwrap_or("available"))
}

/// DescribeDBInstances (and the single-instance answers): the status AWS would show, no
/// endpoint while creating, and an instance being deleted still listed.
fn db_answer(
    profile: &Profile,
    w: &mut World,
    call: &Call,
    text: &str,
    now: f64,
) -> Option<(u16, String)> {
    let wanted = call.param("DBInstanceIdentifier");
    let describe = call.operation == "DescribeDBInstances";
    if describe && text.contains("DBInstanceNotFound") {
        // Moto forgot it at once; AWS lists it as `deleting` for minutes.
        let id = wanted?;
        let db = w.dbs.get(id)?;
        if db_status(profile, db, now) != Some("deleting") {
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
        let Some(status) = db_status(profile, db, now) else {
            continue;
        };
        let mut new = set_tag_text(block, "DBInstanceStatus", status);
        new = remove_element(&new, "PerformanceInsightsEnabled");
        new.push_str(&format!(
            "<PerformanceInsightsEnabled>{}</PerformanceInsightsEnabled>",
            db.performance_insights
        ));
        if status == "creating" {
            new = remove_element(&new, "Endpoint");
        }
        out.replace_range(start..end, &new);
    }
    if describe && wanted.is_none() {
        // Instances being deleted are still listed.
        let mut ghosts = String::new();
        for (id, db) in &w.dbs {
            if !seen.contains(id) && db_status(profile, db, now) == Some("deleting") {
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
