//! `aws_security_group` as the AWS provider has it: stackctl's atomic rules (one source each)
//! grouped back into the provider's rule objects, each with every field the provider writes.

use std::collections::BTreeMap;

use serde_json::{json, Value as J};
use stackctl_contract::provider::{self, Object, UNKNOWN};

/// The provider's view of a security group, from stackctl's attributes (see
/// [`Kind::provider_values`](stackctl_contract::Kind::provider_values)).
pub(crate) fn security_group(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &["id", "arn", "name", "description", "vpc_id", "tags"],
    );
    let own_id = attrs.get("id").and_then(J::as_str);
    for direction in ["ingress", "egress"] {
        if let Some(rules) = attrs.get(direction) {
            out.insert(direction.to_owned(), provider_rules(rules, own_id));
        }
    }
    if let Some(owner) = provider::arn_account(attrs.get("arn")) {
        out.insert("owner_id".to_owned(), owner);
    }
    // stackctl deletes a group without revoking its rules first, as the provider's default.
    provider::defaults(&mut out, &[("revoke_rules_on_delete", J::Bool(false))]);
    out
}

/// The sources of the atomic rules that share a protocol, port range and description: the
/// provider writes them as one rule object, as AWS groups them in one `IpPermission`.
#[derive(Default)]
struct Sources {
    cidr_blocks: Vec<J>,
    security_groups: Vec<J>,
    /// A source group not known yet: the provider's set is unknown as a whole.
    groups_unknown: bool,
    /// The group itself as a source, which the provider writes as `self`.
    own: bool,
}

/// stackctl's atomic rules as the provider's rule objects. A marker (the rules not known until
/// another group exists) stays as it is.
fn provider_rules(rules: &J, own_id: Option<&str>) -> J {
    let J::Array(rules) = rules else {
        return rules.clone();
    };
    let mut grouped: BTreeMap<(String, i64, i64, String), Sources> = BTreeMap::new();
    for rule in rules {
        let protocol = rule["protocol"].as_str().unwrap_or("-1").to_owned();
        // stackctl keeps no ports for all protocols; the provider writes 0 and 0, as AWS takes
        // them.
        let (from, to) = if protocol == "-1" {
            (0, 0)
        } else {
            (
                rule["from_port"].as_i64().unwrap_or(0),
                rule["to_port"].as_i64().unwrap_or(0),
            )
        };
        let description = rule["description"].as_str().unwrap_or("").to_owned();
        let sources = grouped
            .entry((protocol, from, to, description))
            .or_default();
        if let Some(cidr) = rule.get("cidr") {
            sources.cidr_blocks.push(cidr.clone());
        }
        match rule.get("source_security_group_id") {
            Some(J::String(g)) if g == UNKNOWN => sources.groups_unknown = true,
            Some(J::String(g)) if Some(g.as_str()) == own_id => sources.own = true,
            Some(g) => sources.security_groups.push(g.clone()),
            None => {}
        }
    }
    J::Array(
        grouped
            .into_iter()
            .map(|((protocol, from, to, description), s)| {
                let groups = if s.groups_unknown {
                    J::from(UNKNOWN)
                } else {
                    J::Array(s.security_groups)
                };
                json!({
                    "cidr_blocks": s.cidr_blocks,
                    "description": description,
                    "from_port": from,
                    "ipv6_cidr_blocks": [],
                    "prefix_list_ids": [],
                    "protocol": protocol,
                    "security_groups": groups,
                    "self": s.own,
                    "to_port": to,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{IpPermission, IpRange, SecurityGroup, Tag, UserIdGroupPair};
    use stackctl_contract::Tags;

    use super::*;
    use crate::security_group::to_instance;

    const TYPE: &str = "aws_security_group";

    fn translate(attrs: &Object) -> Object {
        let kind = crate::kinds(&stackctl_testkit::offline_sdk()).remove(0);
        stackctl_testkit::translated(&*kind, TYPE, attrs)
    }

    fn tcp(port: i32) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
    }

    /// The ALB group as a refresh reads it: HTTP from anywhere, all egress.
    fn alb_group() -> SecurityGroup {
        SecurityGroup::builder()
            .group_id("sg-alb")
            .group_name("shop-dev-alb-sg")
            .description("HTTP from the internet to the load balancer")
            .vpc_id("vpc-1")
            .security_group_arn("arn:aws:ec2:eu-west-3:123456789012:security-group/sg-alb")
            .ip_permissions(
                tcp(80)
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .ip_permissions_egress(
                IpPermission::builder()
                    .ip_protocol("-1")
                    .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                    .build(),
            )
            .tags(Tag::builder().key("Name").value("shop-dev-alb-sg").build())
            .build()
    }

    #[test]
    fn a_read_group_has_the_providers_rule_objects() {
        let attrs: Object = to_instance(&alb_group()).attrs.into_iter().collect();
        let out = translate(&attrs);
        assert_eq!(
            out["ingress"],
            json!([{
                "cidr_blocks": ["0.0.0.0/0"], "description": "", "from_port": 80,
                "ipv6_cidr_blocks": [], "prefix_list_ids": [], "protocol": "tcp",
                "security_groups": [], "self": false, "to_port": 80,
            }])
        );
        // All protocols: ports 0 and 0, as Terraform writes them (stackctl keeps none).
        assert_eq!(out["egress"][0]["protocol"], json!("-1"));
        assert_eq!(out["egress"][0]["from_port"], json!(0));
        assert_eq!(out["egress"][0]["to_port"], json!(0));
        assert_eq!(out["egress"][0]["cidr_blocks"], json!(["0.0.0.0/0"]));
        assert_eq!(out["owner_id"], json!("123456789012"));
        assert_eq!(out["id"], json!("sg-alb"));
        assert_eq!(out["revoke_rules_on_delete"], json!(false));
        assert_eq!(out["tags"], json!({"Name": "shop-dev-alb-sg"}));
        // stackctl's own rule fields are gone.
        assert!(!out["ingress"].to_string().contains("\"cidr\""));
    }

    #[test]
    fn rules_sharing_a_port_are_one_rule_and_the_group_itself_is_self() {
        let g = SecurityGroup::builder()
            .group_id("sg-ecs")
            .group_name("shop-dev-ecs-sg")
            .description("d")
            .vpc_id("vpc-1")
            .ip_permissions(
                tcp(80)
                    .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                    .ip_ranges(IpRange::builder().cidr_ip("192.168.0.0/16").build())
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-alb").build())
                    .build(),
            )
            .ip_permissions(
                tcp(8080)
                    .user_id_group_pairs(UserIdGroupPair::builder().group_id("sg-ecs").build())
                    .build(),
            )
            .build();
        let attrs: Object = to_instance(&g).attrs.into_iter().collect();
        let out = translate(&attrs);
        let ingress = out["ingress"].as_array().unwrap();
        assert_eq!(ingress.len(), 2, "{ingress:?}");
        assert_eq!(
            ingress[0]["cidr_blocks"],
            json!(["10.0.0.0/8", "192.168.0.0/16"])
        );
        assert_eq!(ingress[0]["security_groups"], json!(["sg-alb"]));
        assert_eq!(ingress[0]["self"], json!(false));
        assert_eq!(ingress[1]["from_port"], json!(8080));
        assert_eq!(ingress[1]["self"], json!(true));
        assert_eq!(ingress[1]["security_groups"], json!([]));
        assert_eq!(ingress[1]["cidr_blocks"], json!([]));
        assert_eq!(out["egress"], json!([]));
        // No ARN read: no owner to tell.
        assert!(!out.contains_key("owner_id"));
    }

    fn planned_groups() -> Vec<Object> {
        let inputs = crate::Inputs {
            name_prefix: "shop-dev".into(),
            vpc_id: "vpc-1".into(),
            tags: Tags::stack("shop", "dev"),
        };
        crate::specs(&stackctl_testkit::offline_sdk(), &inputs)
            .iter()
            .map(|s| {
                stackctl_testkit::provider_object(s.desired(&stackctl_testkit::Known::default()))
            })
            .collect()
    }

    #[test]
    fn a_planned_group_shows_rules_it_knows_and_marks_the_others_unknown() {
        let groups = planned_groups();
        let alb = translate(&groups[0]);
        assert_eq!(alb["ingress"][0]["cidr_blocks"], json!(["0.0.0.0/0"]));
        assert_eq!(alb["ingress"][0]["from_port"], json!(80));
        assert_eq!(alb["egress"][0]["cidr_blocks"], json!(["0.0.0.0/0"]));
        assert!(!alb.contains_key("id") && !alb.contains_key("owner_id"));
        // The ECS group takes HTTP from the ALB group, which does not exist yet.
        let ecs = translate(&groups[1]);
        assert_eq!(ecs["ingress"], json!(UNKNOWN));
        assert_eq!(ecs["egress"][0]["protocol"], json!("-1"));
        // The database's group has no egress at all: AWS's default rule is removed.
        let rds = translate(&groups[2]);
        assert_eq!(rds["egress"], json!([]));
        assert_eq!(rds["name"], json!("shop-dev-rds-sg"));
    }

    #[test]
    fn a_source_group_not_known_yet_makes_its_set_unknown() {
        let rules = json!([
            {"protocol": "tcp", "from_port": 3306, "to_port": 3306, "source_security_group_id": UNKNOWN},
        ]);
        let out = provider_rules(&rules, None);
        assert_eq!(out[0]["security_groups"], json!(UNKNOWN));
        assert_eq!(out[0]["from_port"], json!(3306));
    }

    /// Attributes that are neither null nor `[]` in Terraform's `after` for
    /// `aws_security_group.alb` in `shared/reference/terraform/plan-from-empty.json` (Terraform
    /// 1.11.4, AWS provider 5.100.0, the stack from an empty account).
    const TERRAFORM_AFTER: &[&str] = &[
        "description",
        "egress",
        "ingress",
        "name",
        "revoke_rules_on_delete",
        "vpc_id",
    ];

    #[test]
    fn a_planned_group_has_every_attribute_terraform_plans() {
        let alb = translate(&planned_groups()[0]);
        let missing: Vec<&&str> = TERRAFORM_AFTER
            .iter()
            .filter(|k| !alb.contains_key(**k))
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
    }
}
