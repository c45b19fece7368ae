//! The ecs module against moto: the eight resources created from the module's own specs, read
//! back, adopted, changed in place, the task definition replaced, then all deleted.

use serde_json::{json, Value as J};
use stackctl_contract::{Instance, Kind, Ref, ResourceSpec, Tags, Values};
use stackctl_ecs::*;
use stackctl_testkit::{desired, security_group, Known, Moto, REGION};

const RDS: &str = "module.rds.aws_db_instance.main";
const ALB: &str = "module.alb.aws_lb.main";
const TARGET_GROUP: &str = "module.alb.aws_lb_target_group.main";
const LISTENER: &str = "module.alb.aws_lb_listener.http";
const DB_SECRET: &str = "module.secrets.aws_secretsmanager_secret.db_password";
const ADMIN_SECRET: &str = "module.secrets.aws_secretsmanager_secret.admin";
const EFS: &str = "module.efs.aws_efs_file_system.main";
const ECS_SG: &str = "module.security.aws_security_group.ecs";

/// The desired keys whose live value differs: what a plan would show.
fn diff(desired: &Values, live: &Instance) -> Vec<String> {
    desired
        .iter()
        .filter(|(k, v)| live.attrs.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

fn inputs(subnets: Vec<String>) -> Inputs {
    Inputs {
        name_prefix: "t-dev".into(),
        region: REGION.into(),
        account_id: "123456789012".into(),
        partition: "aws".into(),
        tags: Tags::stack("t", "test"),
        log_retention_days: 7,
        cpu: "512".into(),
        memory: "1024".into(),
        desired_count: 2,
        image: "prestashop/prestashop:8.1".into(),
        db_name: "prestashop".into(),
        db_user: "admin".into(),
        db_host: Ref::new(RDS, "address"),
        alb_dns_name: Ref::new(ALB, "dns_name"),
        db_password_secret_arn: Ref::new(DB_SECRET, "arn"),
        admin_credentials_secret_arn: Ref::new(ADMIN_SECRET, "arn"),
        efs_file_system_id: Ref::new(EFS, "id"),
        subnet_ids: subnets,
        security_group: Ref::new(ECS_SG, "id"),
        target_group_arn: Ref::new(TARGET_GROUP, "arn"),
        wait_for: vec![LISTENER.into()],
        wait: DeployWait::default(),
        targets: None,
    }
}

fn spec<'a>(specs: &'a [ResourceSpec], address: &str) -> &'a ResourceSpec {
    specs.iter().find(|s| s.address == address).unwrap()
}

/// Plan one resource against the live state and apply an in-place change; returns the keys
/// that changed.
async fn apply_update(spec: &ResourceSpec, state: &mut Known) -> Vec<String> {
    let want = desired(spec, state);
    let prior = state.0[&spec.address].clone();
    let live = spec.kind.read(&prior).await.unwrap().unwrap();
    let changed = diff(&want, &live);
    for c in &changed {
        assert!(
            !spec.kind.force_new(c),
            "{}: `{c}` would force a replacement",
            spec.address
        );
    }
    if !changed.is_empty() {
        let updated = spec.kind.update(&live, &want, &changed).await.unwrap();
        assert_eq!(
            diff(&want, &updated),
            Vec::<String>::new(),
            "{}",
            spec.address
        );
        state.0.insert(spec.address.clone(), updated);
    }
    changed
}

/// Every resource reads back equal to its desired attributes.
async fn assert_no_changes(specs: &[ResourceSpec], state: &Known) {
    for s in specs {
        let want = desired(s, state);
        let live = s.kind.read(&state.0[&s.address]).await.unwrap();
        let live = live.unwrap_or_else(|| panic!("{} is gone", s.address));
        assert_eq!(diff(&want, &live), Vec::<String>::new(), "{}", s.address);
    }
}

/// What each created resource reads back as fits the AWS provider's schema once translated,
/// as `show -json` writes the state, with the values checkov reads where they read them.
fn assert_provider_shapes(specs: &[ResourceSpec], state: &Known) {
    use stackctl_contract::provider::{self, Object};
    let mut by_type = std::collections::BTreeMap::new();
    for s in specs {
        let inst = &state.0[&s.address];
        let mut attrs: Object = inst.attrs.clone().into_iter().collect();
        attrs.insert("id".into(), json!(inst.id));
        let type_name = s.kind.type_name();
        let out = s.kind.provider_values(type_name, &attrs);
        provider::check(type_name, &out).unwrap_or_else(|e| panic!("{}: {e}", s.address));
        assert!(
            !provider::holds(&J::Object(out.clone()), provider::UNKNOWN),
            "{}",
            s.address
        );
        by_type.insert(type_name, out);
    }
    let service = &by_type["aws_ecs_service"];
    assert_eq!(
        service["network_configuration"][0]["assign_public_ip"],
        json!(true)
    );
    assert_eq!(
        service["load_balancer"][0]["container_name"],
        json!(CONTAINER_NAME)
    );
    let td = &by_type["aws_ecs_task_definition"];
    let containers: J =
        serde_json::from_str(td["container_definitions"].as_str().expect("JSON text")).unwrap();
    assert_eq!(containers[0]["image"], json!("prestashop/prestashop:8.1"));
    assert_eq!(
        containers[0]["portMappings"][0]["containerPort"],
        json!(CONTAINER_PORT)
    );
    assert_eq!(
        td["volume"][0]["efs_volume_configuration"][0]["transit_encryption"],
        json!("ENABLED")
    );
    assert_eq!(td["id"], json!("t-dev"));
    assert_eq!(
        by_type["aws_ecs_cluster"]["setting"],
        json!([{ "name": "containerInsights", "value": "enabled" }])
    );
    let policy: J = serde_json::from_str(
        by_type["aws_iam_role_policy"]["policy"]
            .as_str()
            .expect("JSON text"),
    )
    .unwrap();
    assert_eq!(policy["Version"], json!("2012-10-17"));
}

#[tokio::test]
async fn ecs_module_lifecycle_against_moto() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let net = stackctl_networking::lookup(&sdk).await.unwrap();
    // moto checks the service's subnets and security groups exist; the rest of the other
    // modules' values may be fakes.
    let sg = security_group(&sdk, &net.vpc_id, "t-ecs-sg").await;

    let mut state = Known::default();
    let secret =
        |name: &str| format!("arn:aws:secretsmanager:{REGION}:123456789012:secret:t-{name}-AbCdEf");
    state.fake(
        RDS,
        json!({ "address": "t-db.abc.eu-west-3.rds.amazonaws.com" }),
    );
    state.fake(
        ALB,
        json!({ "dns_name": "t-alb-1.eu-west-3.elb.amazonaws.com" }),
    );
    state.fake(DB_SECRET, json!({ "arn": secret("db-password") }));
    state.fake(ADMIN_SECRET, json!({ "arn": secret("admin") }));
    state.fake(EFS, json!({ "id": "fs-12345678" }));
    state.fake(ECS_SG, json!({ "id": sg }));
    state.fake(
        TARGET_GROUP,
        json!({ "arn": format!("arn:aws:elasticloadbalancing:{REGION}:123456789012:targetgroup/t-tg/0123456789abcdef") }),
    );

    let mut inputs = inputs(net.subnet_ids());
    let specs = stackctl_ecs::specs(&sdk, &inputs);
    assert_eq!(specs.len(), 8);
    assert!(spec(&specs, SERVICE).dependencies().contains(LISTENER));

    // Create in the order of the specs, which is a dependency order.
    for s in &specs {
        let want = desired(s, &state);
        assert!(
            s.kind.adopt(&want).await.unwrap().is_none(),
            "{}",
            s.address
        );
        let created = s.kind.create(&want).await.unwrap();
        assert_eq!(diff(&want, &created), Vec::<String>::new(), "{}", s.address);
        assert!(created.attrs.contains_key("id"), "{}", s.address);
        state.0.insert(s.address.clone(), created);
    }
    assert_no_changes(&specs, &state).await;
    assert_provider_shapes(&specs, &state);

    let td = &state.0[TASK_DEFINITION];
    assert_eq!(td.attrs["revision"], json!(1));
    assert_eq!(
        td.attrs["environment"]["PS_DOMAIN"],
        json!("t-alb-1.eu-west-3.elb.amazonaws.com")
    );
    assert_eq!(
        td.attrs["secrets"]["ADMIN_PASSWD"],
        json!(format!("{}:admin_password::", secret("admin")))
    );
    assert_eq!(
        state.0[EXECUTION_ROLE].attrs["assume_role_policy"]["Statement"][0]["Principal"]["Service"],
        json!("ecs-tasks.amazonaws.com")
    );
    assert!(state.0[LOG_GROUP].attrs["arn"]
        .as_str()
        .unwrap()
        .ends_with(":log-group:/ecs/t-dev"));

    // Adopting finds what exists: by unique name, and for the unnamed task definition revision,
    // the ACTIVE revision of the family with the same content.
    for s in &specs {
        let adopted = s.kind.adopt(&desired(s, &state)).await.unwrap();
        let adopted = adopted.unwrap_or_else(|| panic!("{} not adopted", s.address));
        assert_eq!(adopted.id, state.0[&s.address].id, "{}", s.address);
    }
    // A revision that says something else is not ours to adopt.
    let td_spec = specs.iter().find(|s| s.address == TASK_DEFINITION).unwrap();
    let mut other = desired(td_spec, &state);
    other.insert("image".into(), json!("nginx:other"));
    assert!(td_spec.kind.adopt(&other).await.unwrap().is_none());

    // In-place changes: the service's count and subnets and the log retention, nothing else.
    inputs.desired_count = 3;
    inputs.log_retention_days = 30;
    let fewer: Vec<String> = net.subnet_ids().into_iter().take(2).collect();
    assert!(fewer.len() < net.subnet_ids().len());
    inputs.subnet_ids = fewer.clone();
    let specs = stackctl_ecs::specs(&sdk, &inputs);
    for s in &specs {
        let changed = apply_update(s, &mut state).await;
        let expect: &[&str] = match s.address.as_str() {
            SERVICE => &["desired_count", "subnets"],
            LOG_GROUP => &["retention_in_days"],
            _ => &[],
        };
        assert_eq!(changed, expect, "{}", s.address);
    }
    assert_eq!(state.0[SERVICE].attrs["desired_count"], json!(3));
    assert_eq!(
        state.0[SERVICE].attrs["subnets"],
        stackctl_contract::value::string_set(fewer)
    );
    assert_eq!(state.0[LOG_GROUP].attrs["retention_in_days"], json!(30));

    // A tag change reaches every taggable resource, adding and removing keys.
    let mut tags = Tags::stack("t", "test").with("Owner", "shop-team");
    tags.0.remove(stackctl_contract::tags::ENVIRONMENT);
    inputs.tags = tags.clone();
    let specs = stackctl_ecs::specs(&sdk, &inputs);
    for s in &specs {
        let changed = apply_update(s, &mut state).await;
        if s.desired(&state).contains_key("tags") {
            assert_eq!(changed, ["tags"], "{}", s.address);
            assert_eq!(
                state.0[&s.address].attrs["tags"],
                tags.to_json(),
                "{}",
                s.address
            );
        } else {
            assert!(changed.is_empty(), "{}", s.address);
        }
    }

    // Container Insights can be switched in place.
    let cluster = spec(&specs, CLUSTER);
    let mut want = desired(cluster, &state);
    want.insert("container_insights".into(), json!("disabled"));
    let off = cluster
        .kind
        .update(&state.0[CLUSTER], &want, &["container_insights".into()])
        .await
        .unwrap();
    assert_eq!(off.attrs["container_insights"], json!("disabled"));
    state.0.insert(CLUSTER.into(), off);
    assert_eq!(
        apply_update(cluster, &mut state).await,
        ["container_insights"]
    );

    // A new image replaces the task definition: create before destroy, then the service
    // moves to the new revision. The old one is kept ACTIVE for a rollback, not deleted.
    inputs.image = "prestashop/prestashop:8.2".into();
    let specs = stackctl_ecs::specs(&sdk, &inputs);
    let tds = spec(&specs, TASK_DEFINITION);
    assert!(tds.kind.create_before_destroy());
    assert!(tds.kind.keeps_replaced().is_some());
    let want = desired(tds, &state);
    let old = state.0[TASK_DEFINITION].clone();
    assert_eq!(diff(&want, &old), ["image"]);
    assert!(tds.kind.force_new("image"));
    let new = tds.kind.create(&want).await.unwrap();
    assert_eq!(diff(&want, &new), Vec::<String>::new());
    assert_eq!(new.attrs["revision"], json!(2));
    assert_ne!(new.id, old.id);
    state.0.insert(TASK_DEFINITION.into(), new.clone());
    assert_eq!(
        apply_update(spec(&specs, SERVICE), &mut state).await,
        ["task_definition"]
    );
    assert_eq!(state.0[SERVICE].attrs["task_definition"], json!(new.id));
    assert!(tds.kind.read(&old).await.unwrap().is_some());
    assert_no_changes(&specs, &state).await;

    // Destroy in reverse order; each is gone, and deleting again is fine.
    for s in specs.iter().rev() {
        let inst = state.0[&s.address].clone();
        s.kind.delete(&inst).await.unwrap();
        assert!(s.kind.read(&inst).await.unwrap().is_none(), "{}", s.address);
        s.kind.delete(&inst).await.unwrap();
    }
}

/// A role is deleted even with policies attached outside the stack (no DeleteConflict).
#[tokio::test]
async fn role_delete_strips_policies() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let kinds = stackctl_ecs::kinds(&sdk);
    let by = |t: &str| -> &dyn Kind {
        kinds
            .iter()
            .find(|k| k.type_name() == t)
            .map(|k| k.as_ref())
            .unwrap()
    };
    let role = by("aws_iam_role");
    let desired_role = Values::from([
        ("name".to_owned(), json!("t-role")),
        (
            "assume_role_policy".to_owned(),
            json!({
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Principal": { "Service": "ecs-tasks.amazonaws.com" }, "Action": "sts:AssumeRole" }]
            }),
        ),
        ("tags".to_owned(), json!({})),
    ]);
    let r = role.create(&desired_role).await.unwrap();
    let attach = by("aws_iam_role_policy_attachment");
    attach
        .create(&Values::from([
            ("role".to_owned(), json!("t-role")),
            ("policy_arn".to_owned(), json!(execution_policy_arn("aws"))),
        ]))
        .await
        .unwrap();
    let inline = by("aws_iam_role_policy");
    let p = inline
        .create(&Values::from([
            ("role".to_owned(), json!("t-role")),
            ("name".to_owned(), json!("p")),
            (
                "policy".to_owned(),
                json!({ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*" }] }),
            ),
        ]))
        .await
        .unwrap();
    assert_eq!(p.id, "t-role:p");
    role.delete(&r).await.unwrap();
    assert!(role.read(&r).await.unwrap().is_none());
    assert!(inline.read(&p).await.unwrap().is_none());
}
