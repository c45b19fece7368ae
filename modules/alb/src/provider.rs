//! The load balancer, target group and listener as the AWS provider has them: blocks as lists
//! of objects, the deregistration delay as a string, and the settings AWS applies to what
//! stackctl creates without setting them (no access logs, no deletion protection, invalid
//! headers kept), so that a policy checker reads what is really there.

use serde_json::{json, Value as J};
use stackctl_contract::provider::{self, Object};

/// `aws_lb`, from stackctl's attributes.
pub(crate) fn load_balancer(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &[
            "id",
            "arn",
            "arn_suffix",
            "name",
            "internal",
            "load_balancer_type",
            "subnets",
            "security_groups",
            "ip_address_type",
            "dns_name",
            "zone_id",
            "vpc_id",
            "tags",
        ],
    );
    // The provider reads the subnets back as mappings too (no Elastic IP or fixed address).
    if let Some(J::Array(subnets)) = attrs.get("subnets") {
        let mappings = subnets
            .iter()
            .map(|s| {
                json!({
                    "allocation_id": "",
                    "ipv6_address": "",
                    "outpost_id": "",
                    "private_ipv4_address": "",
                    "subnet_id": s,
                })
            })
            .collect();
        out.insert("subnet_mapping".to_owned(), J::Array(mappings));
    }
    // stackctl sets none of the load balancer's attributes: these are AWS's defaults for an
    // application load balancer (DescribeLoadBalancerAttributes of a new one), written as the
    // provider reads them back.
    let no_logs = json!([{ "bucket": "", "enabled": false, "prefix": "" }]);
    provider::defaults(
        &mut out,
        &[
            ("access_logs", no_logs.clone()),
            ("connection_logs", no_logs),
            ("client_keep_alive", json!(3600)),
            ("desync_mitigation_mode", json!("defensive")),
            ("drop_invalid_header_fields", json!(false)),
            ("enable_deletion_protection", json!(false)),
            ("enable_http2", json!(true)),
            ("enable_tls_version_and_cipher_suite_headers", json!(false)),
            ("enable_waf_fail_open", json!(false)),
            ("enable_xff_client_port", json!(false)),
            ("enable_zonal_shift", json!(false)),
            ("idle_timeout", json!(60)),
            ("preserve_host_header", json!(false)),
            ("xff_header_processing_mode", json!("append")),
        ],
    );
    out
}

/// `aws_lb_target_group`, from stackctl's attributes.
pub(crate) fn target_group(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &[
            "id",
            "arn",
            "arn_suffix",
            "name",
            "port",
            "protocol",
            "vpc_id",
            "target_type",
            "tags",
        ],
    );
    // One object in stackctl (HealthCheckArgs, the provider's own field names); a block of one
    // in the provider.
    if let Some(hc) = attrs.get("health_check") {
        out.insert("health_check".to_owned(), provider::block(Some(hc)));
    }
    if let Some(delay) = attrs.get("deregistration_delay") {
        out.insert(
            "deregistration_delay".to_owned(),
            provider::number_string(Some(delay)),
        );
    }
    // AWS's defaults for an HTTP target group of IP targets, which stackctl does not change.
    provider::defaults(
        &mut out,
        &[
            ("ip_address_type", json!("ipv4")),
            ("lambda_multi_value_headers_enabled", json!(false)),
            ("load_balancing_algorithm_type", json!("round_robin")),
            (
                "load_balancing_cross_zone_enabled",
                json!("use_load_balancer_configuration"),
            ),
            ("protocol_version", json!("HTTP1")),
            ("proxy_protocol_v2", json!(false)),
            ("slow_start", json!(0)),
            // Stickiness off, with AWS's default cookie lifetime (one day).
            (
                "stickiness",
                json!([{ "cookie_duration": 86400, "cookie_name": "", "enabled": false, "type": "lb_cookie" }]),
            ),
        ],
    );
    out
}

/// `aws_lb_listener`, from stackctl's attributes.
pub(crate) fn listener(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &["id", "arn", "load_balancer_arn", "port", "protocol", "tags"],
    );
    if let Some(action) = attrs.get("default_action") {
        out.insert("default_action".to_owned(), default_action(action));
    }
    // Without TLS (stackctl's listener is plain HTTP) a listener has no certificate or security
    // policy: known to be none, not unknown.
    let plain = matches!(
        attrs.get("protocol").and_then(J::as_str),
        Some("HTTP" | "TCP" | "UDP" | "TCP_UDP")
    );
    if plain {
        out.insert("certificate_arn".to_owned(), J::Null);
        out.insert("ssl_policy".to_owned(), J::Null);
    }
    out
}

/// The listener's one default action (stackctl's object `{type, target_group_arn}`) as the
/// provider's block: a list, with the action's order (AWS numbers a lone action 1) and the
/// nested blocks of the other action types empty. A marker (the target group not created yet)
/// stays as it is: stackctl knows the action only as a whole. Null (a listener read back
/// without actions) is no block.
fn default_action(action: &J) -> J {
    let a = match action {
        J::Object(a) => a,
        J::String(_) => return action.clone(),
        _ => return provider::block(Some(action)),
    };
    let mut out = json!({
        "authenticate_cognito": [],
        "authenticate_oidc": [],
        "fixed_response": [],
        "forward": [],
        "order": 1,
        "redirect": [],
    });
    for (k, v) in a {
        out[k] = v.clone();
    }
    J::Array(vec![out])
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, AvailabilityZone, IpAddressType, Listener, LoadBalancer,
        LoadBalancerSchemeEnum, LoadBalancerTypeEnum, Matcher, ProtocolEnum, TargetGroup,
        TargetTypeEnum,
    };
    use stackctl_contract::provider::UNKNOWN;
    use stackctl_contract::{Ref, Tags};

    use super::*;

    const LB_ARN: &str =
        "arn:aws:elasticloadbalancing:eu-west-3:123456789012:loadbalancer/app/shop-dev-alb/50dc6c495c0c9188";
    const TG_ARN: &str =
        "arn:aws:elasticloadbalancing:eu-west-3:123456789012:targetgroup/shop-dev-tg/73e2d6bc24d8a067";
    const LISTENER_ARN: &str = "arn:aws:elasticloadbalancing:eu-west-3:123456789012:listener/app/shop-dev-alb/50dc6c495c0c9188/f2f7dc8efc522ab2";

    /// The kind of `type_name`'s translation of `attrs`, checked against the provider's schema.
    fn translate(type_name: &str, attrs: &Object) -> Object {
        let kinds = crate::kinds(&stackctl_testkit::offline_sdk());
        let kind = kinds.iter().find(|k| k.type_name() == type_name).unwrap();
        stackctl_testkit::translated(&**kind, type_name, attrs)
    }

    fn read(attrs: stackctl_contract::Values) -> Object {
        attrs.into_iter().collect()
    }

    /// The module's three resources as a plan from an empty account has them.
    fn planned_all() -> Vec<Object> {
        let inputs = crate::Inputs {
            name_prefix: "shop-dev".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-b".into(), "subnet-a".into()],
            security_group: Ref::new("module.security.aws_security_group.alb", "id"),
            tags: Tags::stack("shop", "dev"),
        };
        crate::specs(&stackctl_testkit::offline_sdk(), &inputs)
            .iter()
            .map(|s| {
                stackctl_testkit::provider_object(s.desired(&stackctl_testkit::Known::default()))
            })
            .collect()
    }

    fn missing<'a>(out: &Object, expected: &[&'a str]) -> Vec<&'a str> {
        expected
            .iter()
            .copied()
            .filter(|k| !out.contains_key(*k))
            .collect()
    }

    #[test]
    fn a_read_load_balancer_shows_its_computed_values_and_awss_defaults() {
        let lb = LoadBalancer::builder()
            .load_balancer_arn(LB_ARN)
            .load_balancer_name("shop-dev-alb")
            .scheme(LoadBalancerSchemeEnum::InternetFacing)
            .r#type(LoadBalancerTypeEnum::Application)
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-b").build())
            .availability_zones(AvailabilityZone::builder().subnet_id("subnet-a").build())
            .security_groups("sg-alb")
            .ip_address_type(IpAddressType::Ipv4)
            .dns_name("shop-dev-alb-1.eu-west-3.elb.amazonaws.com")
            .canonical_hosted_zone_id("Z3Q77PNBQS71R4")
            .vpc_id("vpc-1")
            .build();
        let attrs = read(crate::load_balancer::to_instance(&lb, Tags::stack("shop", "dev")).attrs);
        let out = translate("aws_lb", &attrs);
        assert_eq!(out["subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(out["subnet_mapping"][1]["subnet_id"], json!("subnet-b"));
        assert_eq!(out["security_groups"], json!(["sg-alb"]));
        assert_eq!(out["internal"], json!(false));
        assert_eq!(out["load_balancer_type"], json!("application"));
        assert_eq!(out["ip_address_type"], json!("ipv4"));
        assert_eq!(
            out["dns_name"],
            json!("shop-dev-alb-1.eu-west-3.elb.amazonaws.com")
        );
        assert_eq!(out["zone_id"], json!("Z3Q77PNBQS71R4"));
        assert_eq!(out["arn"], json!(LB_ARN));
        assert_eq!(
            out["arn_suffix"],
            json!("app/shop-dev-alb/50dc6c495c0c9188")
        );
        // What checkov's CKV_AWS_91, 131 and 150 read: as AWS has them for this load balancer.
        assert_eq!(out["access_logs"][0]["enabled"], json!(false));
        assert_eq!(out["drop_invalid_header_fields"], json!(false));
        assert_eq!(out["enable_deletion_protection"], json!(false));
        assert_eq!(out["idle_timeout"], json!(60));
        assert_eq!(out["desync_mitigation_mode"], json!("defensive"));
    }

    #[test]
    fn a_read_target_group_has_a_health_check_block_and_a_delay_string() {
        let tg = TargetGroup::builder()
            .target_group_arn(TG_ARN)
            .target_group_name("shop-dev-tg")
            .port(80)
            .protocol(ProtocolEnum::Http)
            .vpc_id("vpc-1")
            .target_type(TargetTypeEnum::Ip)
            .health_check_enabled(true)
            .health_check_path("/")
            .health_check_protocol(ProtocolEnum::Http)
            .health_check_port("traffic-port")
            .health_check_interval_seconds(10)
            .health_check_timeout_seconds(5)
            .healthy_threshold_count(2)
            .unhealthy_threshold_count(3)
            .matcher(Matcher::builder().http_code("200-399").build())
            .build();
        let attrs =
            read(crate::target_group::to_instance(&tg, Tags::stack("shop", "dev"), Some(30)).attrs);
        let out = translate("aws_lb_target_group", &attrs);
        assert_eq!(out["health_check"][0]["path"], json!("/"));
        assert_eq!(out["health_check"][0]["port"], json!("traffic-port"));
        assert_eq!(out["health_check"][0]["interval"], json!(10));
        assert_eq!(out["health_check"][0]["matcher"], json!("200-399"));
        assert_eq!(out["health_check"].as_array().map(Vec::len), Some(1));
        assert_eq!(out["deregistration_delay"], json!("30"));
        assert_eq!(out["target_type"], json!("ip"));
        assert_eq!(
            out["arn_suffix"],
            json!("targetgroup/shop-dev-tg/73e2d6bc24d8a067")
        );
        assert_eq!(out["stickiness"][0]["enabled"], json!(false));
        // AWS not saying the delay: no value, not a made-up one.
        let attrs = read(crate::target_group::to_instance(&tg, Tags::default(), None).attrs);
        assert_eq!(
            translate("aws_lb_target_group", &attrs)["deregistration_delay"],
            J::Null
        );
    }

    #[test]
    fn a_read_listener_has_a_default_action_block_and_no_tls() {
        let l = Listener::builder()
            .listener_arn(LISTENER_ARN)
            .load_balancer_arn(LB_ARN)
            .port(80)
            .protocol(ProtocolEnum::Http)
            .default_actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(TG_ARN)
                    .order(1)
                    .build(),
            )
            .build();
        let attrs = read(crate::listener::to_instance(&l, Tags::default()).attrs);
        let out = translate("aws_lb_listener", &attrs);
        assert_eq!(out["default_action"][0]["type"], json!("forward"));
        assert_eq!(out["default_action"][0]["target_group_arn"], json!(TG_ARN));
        assert_eq!(out["default_action"][0]["order"], json!(1));
        assert_eq!(out["default_action"][0]["redirect"], json!([]));
        assert_eq!(out["port"], json!(80));
        assert_eq!(out["protocol"], json!("HTTP"));
        assert_eq!(out["load_balancer_arn"], json!(LB_ARN));
        // Plain HTTP: no certificate and no TLS policy (checkov's CKV_AWS_2 and 103 read them).
        assert_eq!(out.get("certificate_arn"), Some(&J::Null));
        assert_eq!(out.get("ssl_policy"), Some(&J::Null));
        // A listener AWS answers without actions: no block.
        let bare = Listener::builder().listener_arn(LISTENER_ARN).build();
        let attrs = read(crate::listener::to_instance(&bare, Tags::default()).attrs);
        assert_eq!(
            translate("aws_lb_listener", &attrs)["default_action"],
            json!([])
        );
    }

    #[test]
    fn a_plan_from_empty_marks_what_waits_for_other_resources() {
        let all = planned_all();
        let lb = translate("aws_lb", &all[0]);
        assert_eq!(lb["security_groups"], json!(UNKNOWN));
        assert_eq!(lb["subnets"], json!(["subnet-a", "subnet-b"]));
        assert!(!lb.contains_key("arn") && !lb.contains_key("dns_name"));
        let tg = translate("aws_lb_target_group", &all[1]);
        assert_eq!(tg["deregistration_delay"], json!("30"));
        assert_eq!(tg["health_check"][0]["healthy_threshold"], json!(2));
        let listener = translate("aws_lb_listener", &all[2]);
        assert_eq!(listener["load_balancer_arn"], json!(UNKNOWN));
        // The action names the target group, which does not exist yet.
        assert_eq!(listener["default_action"], json!(UNKNOWN));
    }

    /// Attributes that are neither null nor `[]` in Terraform's `after` for each type in
    /// `shared/reference/terraform/plan-from-empty.json` (Terraform 1.11.4, AWS provider
    /// 5.100.0, the stack from an empty account).
    const TERRAFORM_AFTER_LB: &[&str] = &[
        "client_keep_alive",
        "desync_mitigation_mode",
        "drop_invalid_header_fields",
        "enable_deletion_protection",
        "enable_http2",
        "enable_tls_version_and_cipher_suite_headers",
        "enable_waf_fail_open",
        "enable_xff_client_port",
        "enable_zonal_shift",
        "idle_timeout",
        "load_balancer_type",
        "name",
        "preserve_host_header",
        "subnets",
        "xff_header_processing_mode",
    ];
    const TERRAFORM_AFTER_TARGET_GROUP: &[&str] = &[
        "deregistration_delay",
        "health_check",
        "lambda_multi_value_headers_enabled",
        "name",
        "port",
        "protocol",
        "proxy_protocol_v2",
        "slow_start",
        "target_type",
        "vpc_id",
    ];
    const TERRAFORM_AFTER_LISTENER: &[&str] = &["default_action", "port", "protocol"];

    #[test]
    fn a_plan_from_empty_has_every_attribute_terraform_plans() {
        let all = planned_all();
        for (type_name, attrs, expected) in [
            ("aws_lb", &all[0], TERRAFORM_AFTER_LB),
            ("aws_lb_target_group", &all[1], TERRAFORM_AFTER_TARGET_GROUP),
            ("aws_lb_listener", &all[2], TERRAFORM_AFTER_LISTENER),
        ] {
            let out = translate(type_name, attrs);
            assert_eq!(missing(&out, expected), Vec::<&str>::new(), "{type_name}");
        }
    }
}
