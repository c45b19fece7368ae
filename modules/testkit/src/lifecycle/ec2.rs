//! EC2 under the lifecycle layer: a new security group that a describe cannot see yet, an
//! ingress rule naming one that fails once, and a group still held by the network interfaces
//! of what used it.

use super::call::{refuse, Call, Refusal};
use super::profile::Profile;
use super::world::World;
use super::xml::{items, tag_text};

/// Before forwarding an EC2 call: what AWS refuses while a group is new or still held.
pub(super) fn decide(profile: &Profile, w: &mut World, call: &Call, now: f64) -> Option<Refusal> {
    match call.operation.as_str() {
        "DescribeSecurityGroups" => {
            // Named by id, AWS answers NotFound; through a filter, it leaves the group out
            // (see `rewrite`).
            let ids = call.params_like("GroupId", "");
            let fresh = ids.into_iter().find(|id| {
                w.security_groups
                    .get(*id)
                    .is_some_and(|t| now - t < profile.seconds("ec2_consistency"))
            })?;
            refuse(
                400,
                "InvalidGroup.NotFound",
                format!("The security group '{fresh}' does not exist"),
            )
        }
        "AuthorizeSecurityGroupIngress" | "AuthorizeSecurityGroupEgress" => {
            let group = call.param("GroupId").unwrap_or_default().to_owned();
            let sources = call.params_like("IpPermissions", ".GroupId");
            // A describe can already see the group while a rule naming it still fails
            // once: the rule's check lags further (observed up to ten times the describe's
            // window).
            let fresh = sources.into_iter().find(|s| {
                w.security_groups
                    .get(*s)
                    .is_some_and(|t| now - t < 10.0 * profile.seconds("ec2_consistency"))
                    && !w.ingress_failed.contains(&(group.clone(), s.to_string()))
            })?;
            w.ingress_failed.insert((group, fresh.to_owned()));
            refuse(
                400,
                "InvalidGroup.NotFound",
                format!("The security group '{fresh}' does not exist"),
            )
        }
        "DeleteSecurityGroup" => {
            let id = call.param("GroupId")?;
            let holder = holder_of_group(profile, w, id, now)?;
            refuse(
                400,
                "DependencyViolation",
                format!("resource {id} has a dependent object ({holder})"),
            )
        }
        _ => None,
    }
}

/// After moto answered an EC2 call: record new groups, hide them from describes for a while.
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
        "CreateSecurityGroup" if ok => {
            let id = tag_text(text, "groupId")?;
            w.security_groups.insert(id.to_owned(), now);
            None
        }
        "DescribeSecurityGroups" if ok => {
            let mut out = text.to_owned();
            for (start, end) in items(text, "securityGroupInfo", "item").into_iter().rev() {
                let block = &text[start..end];
                let fresh = tag_text(block, "groupId")
                    .and_then(|id| w.security_groups.get(id))
                    .is_some_and(|t| now - t < profile.seconds("ec2_consistency"));
                if fresh {
                    out.replace_range(start - "<item>".len()..end + "</item>".len(), "");
                }
            }
            Some((status, out))
        }
        _ => None,
    }
}

/// What still holds a security group: the tasks of a service (until their network
/// interfaces are released), a mount target, a database.
fn holder_of_group(profile: &Profile, w: &World, id: &str, now: f64) -> Option<String> {
    for s in w.services.values() {
        let held = match s.deleted {
            None => true,
            Some(d) => {
                now - d < profile.seconds("ecs_service_drain") + profile.seconds("eni_release")
            }
        };
        if held && s.security_groups.iter().any(|g| g == id) {
            return Some(format!("network interfaces of ECS service {}", s.name));
        }
    }
    for (mid, mt) in &w.mount_targets {
        let held = mt
            .deleted
            .is_none_or(|d| now - d < profile.seconds("mount_target_delete"));
        if held && mt.security_groups.iter().any(|g| g == id) {
            return Some(format!("network interface of EFS mount target {mid}"));
        }
    }
    for (did, db) in &w.dbs {
        let held = db
            .deleted
            .is_none_or(|d| now - d < profile.seconds("rds_delete"));
        if held && db.security_groups.iter().any(|g| g == id) {
            return Some(format!("network interface of database {did}"));
        }
    }
    None
}
