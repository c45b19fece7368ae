//! `aws_ecs_service` as the AWS provider has it: the network, load balancer and circuit
//! breaker as blocks (lists of one object), and the values AWS applies where stackctl's
//! CreateService sets nothing, so that a policy checker sees the service that really runs.

use serde_json::{json, Value as J};
use stackctl_contract::provider::{self, Object, UNKNOWN};

use crate::{CONTAINER_NAME, CONTAINER_PORT};

/// The provider's attributes of a service from stackctl's (see [`Kind::provider_values`]);
/// `waits`: whether apply waits for a healthy deployment (`-wait`), the provider's
/// `wait_for_steady_state`. The install bookkeeping (`installing`) is not the provider's.
///
/// [`Kind::provider_values`]: stackctl_contract::Kind::provider_values
pub(super) fn values(attrs: &Object, waits: bool) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &[
            // The service's ARN, as the provider's id is.
            "id",
            "name",
            "cluster",
            "task_definition",
            "desired_count",
            "launch_type",
            "health_check_grace_period_seconds",
            "tags",
        ],
    );
    if let Some(network) = network(attrs) {
        out.insert("network_configuration".into(), network);
    }
    if let Some(lb) = load_balancer(attrs.get("load_balancer")) {
        out.insert("load_balancer".into(), lb);
    }
    if let Some(b) = attrs.get("deployment_circuit_breaker") {
        out.insert(
            "deployment_circuit_breaker".into(),
            provider::block(Some(b)),
        );
    }
    // stackctl's CreateService and UpdateService never set these: they are what AWS applies,
    // the rolling ECS deployment of a replica service within 100 % and 200 % of its count, no
    // ECS-managed or propagated tags, no ECS Exec.
    out.insert("scheduling_strategy".into(), J::from("REPLICA"));
    out.insert("deployment_controller".into(), json!([{ "type": "ECS" }]));
    out.insert("deployment_maximum_percent".into(), J::from(200));
    out.insert("deployment_minimum_healthy_percent".into(), J::from(100));
    out.insert("enable_ecs_managed_tags".into(), J::Bool(false));
    out.insert("propagate_tags".into(), J::from("NONE"));
    out.insert("enable_execute_command".into(), J::Bool(false));
    if attrs.get("launch_type").and_then(J::as_str) == Some("FARGATE") {
        out.insert("platform_version".into(), J::from("LATEST"));
    }
    // What CreateService defaults to (ENABLED since AWS changed it); an existing service's is
    // not read, so only a service about to be created claims it.
    if !attrs.contains_key("id") {
        out.insert("availability_zone_rebalancing".into(), J::from("ENABLED"));
    }
    // Destroy deletes the service with `force` (after scaling it to 0).
    out.insert("force_delete".into(), J::Bool(true));
    out.insert("wait_for_steady_state".into(), J::Bool(waits));
    out
}

/// `network_configuration`: the awsvpc subnets, security groups and public IP; none for a
/// service AWS reports without subnets.
fn network(attrs: &Object) -> Option<J> {
    let subnets = attrs.get("subnets")?;
    if subnets.as_array().is_some_and(Vec::is_empty) || subnets.is_null() {
        return None;
    }
    let mut n = Object::new();
    n.insert("subnets".into(), subnets.clone());
    provider::copy(attrs, &mut n, &["security_groups", "assign_public_ip"]);
    Some(J::Array(vec![J::Object(n)]))
}

/// `load_balancer`: stackctl's object as the provider's block. Its target group is unknown
/// until the group exists, which makes the whole desired object unknown; the container it
/// names is the module's own ([`CONTAINER_NAME`], [`CONTAINER_PORT`]), so the block shows
/// them and only the target group as unknown, as Terraform's plan does.
fn load_balancer(v: Option<&J>) -> Option<J> {
    match v? {
        J::Null => None,
        J::Object(lb) => {
            let mut b = Object::new();
            provider::copy(
                lb,
                &mut b,
                &["container_name", "container_port", "target_group_arn"],
            );
            Some(J::Array(vec![J::Object(b)]))
        }
        J::String(s) if s == UNKNOWN => Some(json!([{
            "container_name": CONTAINER_NAME,
            "container_port": CONTAINER_PORT,
            "target_group_arn": UNKNOWN,
        }])),
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{
        AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
        LaunchType, LoadBalancer, NetworkConfiguration, Service, Tag,
    };
    use stackctl_contract::provider::check;

    use super::*;
    use crate::testing::{assert_covers, known_object, planned, resolved};
    use crate::SERVICE;

    const TYPE: &str = "aws_ecs_service";
    const ARN: &str =
        "arn:aws:ecs:eu-west-3:123456789012:service/shop-dev-cluster/shop-dev-service";
    const TG: &str =
        "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/shop-dev-tg/0123456789abcdef";

    /// A service as DescribeServices answers the one stackctl creates, still installing (no
    /// deployment healthy yet), with `public_ip`.
    fn described(public_ip: AssignPublicIp) -> Service {
        Service::builder()
            .service_arn(ARN)
            .service_name("shop-dev-service")
            .cluster_arn("arn:aws:ecs:eu-west-3:123456789012:cluster/shop-dev-cluster")
            .task_definition("arn:aws:ecs:eu-west-3:123456789012:task-definition/shop-dev:3")
            .desired_count(1)
            .launch_type(LaunchType::Fargate)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets("subnet-b")
                            .subnets("subnet-a")
                            .security_groups("sg-1")
                            .assign_public_ip(public_ip)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(TG)
                    .container_name("prestashop")
                    .container_port(80)
                    .build(),
            )
            .health_check_grace_period_seconds(480)
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .deployment_circuit_breaker(
                        DeploymentCircuitBreaker::builder()
                            .enable(true)
                            .rollback(true)
                            .build(),
                    )
                    .build(),
            )
            .tags(Tag::builder().key("Project").value("shop").build())
            .build()
    }

    fn read_back(public_ip: AssignPublicIp) -> Object {
        known_object(&super::super::to_instance(&described(public_ip)))
    }

    #[test]
    fn a_read_service_has_its_blocks_as_lists_and_no_bookkeeping() {
        let attrs = read_back(AssignPublicIp::Enabled);
        assert_eq!(
            attrs["installing"],
            json!(true),
            "the fixture is installing"
        );
        let out = values(&attrs, true);
        check(TYPE, &out).unwrap();
        // checkov's CKV_AWS_333 reads exactly this path.
        assert_eq!(
            out["network_configuration"][0]["assign_public_ip"],
            json!(true)
        );
        assert_eq!(
            out["network_configuration"],
            json!([{
                "subnets": ["subnet-a", "subnet-b"],
                "security_groups": ["sg-1"],
                "assign_public_ip": true,
            }])
        );
        assert_eq!(
            out["load_balancer"],
            json!([{ "container_name": "prestashop", "container_port": 80, "target_group_arn": TG }])
        );
        assert_eq!(
            out["deployment_circuit_breaker"],
            json!([{ "enable": true, "rollback": true }])
        );
        assert_eq!(out["id"], json!(ARN));
        assert_eq!(out["health_check_grace_period_seconds"], json!(480));
        assert_eq!(out["launch_type"], json!("FARGATE"));
        assert_eq!(out["platform_version"], json!("LATEST"));
        assert_eq!(out["wait_for_steady_state"], json!(true));
        assert_eq!(out["tags"], json!({ "Project": "shop" }));
        // An existing service's rebalancing is not read: not claimed.
        assert!(!out.contains_key("availability_zone_rebalancing"));
        for gone in [
            "installing",
            "arn",
            "subnets",
            "security_groups",
            "assign_public_ip",
        ] {
            assert!(!out.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn a_private_service_reads_as_such() {
        let out = values(&read_back(AssignPublicIp::Disabled), false);
        assert_eq!(
            out["network_configuration"][0]["assign_public_ip"],
            json!(false)
        );
        assert_eq!(out["wait_for_steady_state"], json!(false));
    }

    #[test]
    fn the_planned_service_before_its_references_exist() {
        let out = values(&planned(SERVICE, &resolved(&[])), true);
        check(TYPE, &out).unwrap();
        assert_eq!(out["cluster"], json!(UNKNOWN));
        assert_eq!(out["task_definition"], json!(UNKNOWN));
        assert_eq!(
            out["network_configuration"],
            json!([{
                "subnets": ["subnet-a", "subnet-b"],
                "security_groups": UNKNOWN,
                "assign_public_ip": true,
            }])
        );
        assert_eq!(out["availability_zone_rebalancing"], json!("ENABLED"));
        assert_eq!(out["desired_count"], json!(2));
        assert_eq!(out["health_check_grace_period_seconds"], json!(120));
        assert!(!out.contains_key("id"));
    }

    #[test]
    fn an_unknown_target_group_leaves_the_rest_of_the_load_balancer_known() {
        // The block built for the unknown target group must be the spec's own with the group
        // filled in: the same container the spec names once the group is known.
        let unknown = values(&planned(SERVICE, &resolved(&[])), true);
        let known = values(
            &planned(
                SERVICE,
                &resolved(&[("module.alb.aws_lb_target_group.main", "arn", json!(TG))]),
            ),
            true,
        );
        let mut expected = known["load_balancer"].clone();
        assert_eq!(expected[0]["target_group_arn"], json!(TG));
        expected[0]["target_group_arn"] = json!(UNKNOWN);
        assert_eq!(unknown["load_balancer"], expected);
    }

    /// The attributes Terraform's plan of this stack gives `aws_ecs_service.main` that are
    /// neither null nor `[]`: `after` in `../shared/reference/terraform/plan-from-empty.json`.
    const TERRAFORM: &[&str] = &[
        "availability_zone_rebalancing",
        "deployment_maximum_percent",
        "deployment_minimum_healthy_percent",
        "desired_count",
        "enable_ecs_managed_tags",
        "enable_execute_command",
        "health_check_grace_period_seconds",
        "launch_type",
        "load_balancer",
        "name",
        "network_configuration",
        "scheduling_strategy",
        "wait_for_steady_state",
    ];

    #[test]
    fn every_attribute_terraform_plans_is_there() {
        let out = values(&planned(SERVICE, &resolved(&[])), true);
        assert_covers(&out, TERRAFORM, &[]);
    }
}
