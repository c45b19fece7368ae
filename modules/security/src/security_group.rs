//! `aws_security_group`: a security group with its inline ingress and egress rules.
//!
//! Rules are kept as a sorted list of atomic rules (one protocol, port range and source each),
//! the form in which AWS's grouped `IpPermissions` can be compared and changed one by one.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, ResourceType, SecurityGroup, Tag, TagSpecification,
    UserIdGroupPair,
};
use aws_sdk_ec2::Client;
use serde_json::{json, Value as J};
use stackctl_contract::wait::{self, Backoff};
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Field, Instance, Kind, Prior, ResourceError,
    TagApi, Tags, Values,
};

use crate::{allow_all, merge};

args! {
    /// `aws_security_group`'s arguments.
    pub struct SecurityGroupArgs {
        [ForceNew] name: String,
        [ForceNew] description: String,
        [ForceNew] vpc_id: String,
        /// Atomic rules, sorted: `{protocol, from_port, to_port}` (no ports for protocol `-1`)
        /// with one `cidr` or `source_security_group_id`.
        ingress: Vec<J>,
        egress: Vec<J>,
        tags: Tags,
    }
}

/// `aws_security_group`: a group with inline ingress and egress rules.
pub struct SecurityGroupKind {
    ec2: Client,
}

impl SecurityGroupKind {
    pub fn new(ec2: Client) -> Self {
        SecurityGroupKind { ec2 }
    }
}

#[async_trait]
impl Kind for SecurityGroupKind {
    fn type_name(&self) -> &'static str {
        "aws_security_group"
    }

    fn fields(&self) -> &'static [Field] {
        SecurityGroupArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::security_group(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self.describe(&[prior.id.as_str()]).await?.remove(&prior.id))
    }

    /// All the groups in one request.
    async fn read_many(
        &self,
        priors: &[Prior<'_>],
    ) -> Result<Vec<Option<Instance>>, ResourceError> {
        let ids: Vec<&str> = priors.iter().map(|p| p.instance.id.as_str()).collect();
        let mut found = self.describe(&ids).await?;
        Ok(priors
            .iter()
            .map(|p| found.remove(&p.instance.id))
            .collect())
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = SecurityGroupArgs::from_values(desired)?;
        let out = self
            .ec2
            .describe_security_groups()
            .filters(Filter::builder().name("group-name").values(d.name).build())
            .filters(Filter::builder().name("vpc-id").values(d.vpc_id).build())
            .send()
            .await
            .map_err(|e| aws_error("DescribeSecurityGroups", e))?;
        Ok(out.security_groups().first().map(to_instance))
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = SecurityGroupArgs::from_values(desired)?;
        let out = self
            .ec2
            .create_security_group()
            .group_name(&d.name)
            .description(&d.description)
            .vpc_id(&d.vpc_id)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(ec2_tags(&d.tags)))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("CreateSecurityGroup", e))?;
        let id = out.group_id().unwrap_or_default().to_owned();
        // AWS gives every new group an allow-all egress rule; sync_rules removes it where the
        // desired egress does not include it, so start from what AWS actually made.
        self.sync_rules(&id, (&[], &[allow_all()]), &d).await?;
        self.read_back(&id).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = SecurityGroupArgs::from_values(desired)?;
        if SecurityGroupArgs::<Changed>::from_names(changed).tags {
            Ec2Tagging(&self.ec2)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
        }
        let have = SecurityGroupArgs::from_values(&prior.attrs)?;
        self.sync_rules(&prior.id, (&have.ingress, &have.egress), &d)
            .await?;
        self.read_back(&prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // A group stays referenced for a while after the tasks, mount targets or database that
        // used it are gone (their network interfaces drain): DependencyViolation means wait.
        wait::delete_when_released_with(
            &format!("security group {} to be released", prior.id),
            // A deleted service's task interfaces go 1 to 5 minutes after it.
            Backoff::expecting(Duration::from_secs(120), Duration::from_secs(900)),
            &["DependencyViolation"],
            &["InvalidGroup.NotFound", "InvalidGroupId.NotFound"],
            || async {
                self.ec2
                    .delete_security_group()
                    .group_id(&prior.id)
                    .send()
                    .await
                    .map(drop)
                    .map_err(|e| aws_error("DeleteSecurityGroup", e))
            },
        )
        .await
    }
}

impl SecurityGroupKind {
    /// The groups with these ids that exist. A `group-id` filter, unlike `GroupIds`, does not
    /// fail the whole request when one of them is gone.
    async fn describe(&self, ids: &[&str]) -> Result<HashMap<String, Instance>, ResourceError> {
        let mut found = HashMap::new();
        if ids.is_empty() {
            return Ok(found);
        }
        let filter = Filter::builder()
            .name("group-id")
            .set_values(Some(ids.iter().map(|id| (*id).to_owned()).collect()))
            .build();
        let mut pages = self
            .ec2
            .describe_security_groups()
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("DescribeSecurityGroups", e))?;
            for g in page.security_groups() {
                let inst = to_instance(g);
                found.insert(inst.id.clone(), inst);
            }
        }
        Ok(found)
    }

    /// The group as AWS has it now, waiting out EC2's eventual consistency right after a create.
    async fn read_back(&self, id: &str) -> Result<Instance, ResourceError> {
        wait::eventually(&format!("security group {id}"), || async {
            self.read(&Instance::new(id, Values::new()))
                .await?
                .ok_or_else(|| {
                    ResourceError::vanished(
                        "DescribeSecurityGroups",
                        &format!("security group {id}"),
                    )
                })
        })
        .await
    }

    /// Authorize the rules `want` has that the group's rules `have` (ingress, egress) lack and
    /// revoke the ones it no longer has.
    async fn sync_rules(
        &self,
        id: &str,
        have: (&[J], &[J]),
        want: &SecurityGroupArgs,
    ) -> Result<(), ResourceError> {
        for (egress, have, want) in [
            (false, have.0, &want.ingress[..]),
            (true, have.1, &want.egress[..]),
        ] {
            let have = rule_set(have);
            let want = rule_set(want);
            let add: Vec<IpPermission> = want.difference(&have).map(|r| permission(r)).collect();
            let remove: Vec<IpPermission> = have.difference(&want).map(|r| permission(r)).collect();
            if !remove.is_empty() {
                let res = if egress {
                    self.ec2
                        .revoke_security_group_egress()
                        .group_id(id)
                        .set_ip_permissions(Some(remove))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| aws_error("RevokeSecurityGroupEgress", e))
                } else {
                    self.ec2
                        .revoke_security_group_ingress()
                        .group_id(id)
                        .set_ip_permissions(Some(remove))
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|e| aws_error("RevokeSecurityGroupIngress", e))
                };
                // A rule already gone is what we wanted: a retried revoke whose first answer
                // was lost, or a rule removed by hand meanwhile.
                res.absent_if(&["InvalidPermission.NotFound"])?;
            }
            if !add.is_empty() {
                let res = if egress {
                    wait::eventually(&format!("security group {id}"), || async {
                        self.ec2
                            .authorize_security_group_egress()
                            .group_id(id)
                            .set_ip_permissions(Some(add.clone()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| fresh_group(aws_error("AuthorizeSecurityGroupEgress", e)))
                    })
                    .await
                } else {
                    wait::eventually(&format!("security group {id}"), || async {
                        self.ec2
                            .authorize_security_group_ingress()
                            .group_id(id)
                            .set_ip_permissions(Some(add.clone()))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| fresh_group(aws_error("AuthorizeSecurityGroupIngress", e)))
                    })
                    .await
                };
                // A rule that already exists (added by hand, or by an interrupted run) is fine.
                if let Err(e) = res {
                    if !e.is(&["InvalidPermission.Duplicate"]) {
                        return Err(e);
                    }
                }
            }
        }
        Ok(())
    }
}

/// EC2 is eventually consistent: a rule naming a group created a moment ago (or on a group
/// created a moment ago) can be refused as `InvalidGroup.NotFound` for a few seconds.
fn fresh_group(e: ResourceError) -> ResourceError {
    if e.is(&["InvalidGroup.NotFound", "InvalidGroupId.NotFound"]) {
        e.retryable()
    } else {
        e
    }
}

/// Rules as canonical JSON strings, so sets compare whatever the key order.
fn rule_set(rules: &[J]) -> BTreeSet<String> {
    rules.iter().map(|r| r.to_string()).collect()
}

fn permission(rule: &str) -> IpPermission {
    let r: J = serde_json::from_str(rule).unwrap_or(J::Null);
    let protocol = r["protocol"].as_str().unwrap_or("-1");
    let mut p = IpPermission::builder().ip_protocol(protocol);
    if protocol != "-1" {
        p = p
            .from_port(r["from_port"].as_i64().unwrap_or(0) as i32)
            .to_port(r["to_port"].as_i64().unwrap_or(0) as i32);
    }
    if let Some(cidr) = r["cidr"].as_str() {
        p = p.ip_ranges(IpRange::builder().cidr_ip(cidr).build());
    }
    if let Some(g) = r["source_security_group_id"].as_str() {
        p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build());
    }
    p.build()
}

/// Split AWS's grouped permissions into atomic, sorted rules.
fn atomic_rules(perms: &[IpPermission]) -> Vec<J> {
    let mut rules = BTreeSet::new();
    for p in perms {
        let protocol = p.ip_protocol().unwrap_or("-1");
        let base = if protocol == "-1" {
            json!({ "protocol": "-1" })
        } else {
            json!({ "protocol": protocol, "from_port": p.from_port().unwrap_or(0), "to_port": p.to_port().unwrap_or(0) })
        };
        for range in p.ip_ranges() {
            let mut r = base.clone();
            merge(
                &mut r,
                &json!({ "cidr": range.cidr_ip().unwrap_or_default() }),
            );
            rules.insert(r.to_string());
        }
        for pair in p.user_id_group_pairs() {
            let mut r = base.clone();
            merge(
                &mut r,
                &json!({ "source_security_group_id": pair.group_id().unwrap_or_default() }),
            );
            rules.insert(r.to_string());
        }
    }
    rules
        .iter()
        .filter_map(|s| serde_json::from_str(s).ok())
        .collect()
}

pub(crate) fn to_instance(g: &SecurityGroup) -> Instance {
    let id = g.group_id().unwrap_or_default();
    let mut attrs = SecurityGroupArgs {
        name: g.group_name().unwrap_or_default().to_owned(),
        description: g.description().unwrap_or_default().to_owned(),
        vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
        ingress: atomic_rules(g.ip_permissions()),
        egress: atomic_rules(g.ip_permissions_egress()),
        tags: Tags::from_sdk(g.tags().iter().map(|t| (t.key(), t.value()))),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(id));
    attrs.insert(
        "arn".to_owned(),
        J::from(g.security_group_arn().unwrap_or_default()),
    );
    Instance::new(id, attrs)
}

/// EC2's tag calls, for the security group (named by id).
struct Ec2Tagging<'a>(&'a Client);

impl TagApi for Ec2Tagging<'_> {
    async fn tag(&self, id: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(&Tags(set))))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("CreateTags", e))
    }

    async fn untag(&self, id: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
        self.0
            .delete_tags()
            .resources(id)
            .set_tags(Some(tags))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("DeleteTags", e))
    }
}

fn ec2_tags(tags: &Tags) -> Vec<Tag> {
    tags.0
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_permissions_split_into_sorted_atomic_rules() {
        let p = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(80)
            .to_port(80)
            .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let all = IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build();
        let rules = atomic_rules(&[p, all]);
        assert_eq!(
            J::from(rules),
            json!([
                { "cidr": "0.0.0.0/0", "from_port": 80, "protocol": "tcp", "to_port": 80 },
                { "cidr": "0.0.0.0/0", "protocol": "-1" },
                { "cidr": "10.0.0.0/8", "from_port": 80, "protocol": "tcp", "to_port": 80 },
            ])
        );
    }

    #[test]
    fn rule_round_trips_through_permission() {
        let rule = json!({ "protocol": "tcp", "from_port": 3306, "to_port": 3306, "source_security_group_id": "sg-1" });
        let p = permission(&rule.to_string());
        assert_eq!(atomic_rules(&[p]), vec![rule]);
    }
}
