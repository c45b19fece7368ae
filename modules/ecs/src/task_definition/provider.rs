//! `aws_ecs_task_definition` as the AWS provider has it: stackctl's flat attributes of the one
//! container folded back into `container_definitions` (the JSON text of the container
//! definitions RegisterTaskDefinition is sent, in ECS's camelCase, as Terraform writes it) and
//! the EFS `volume` block.

use std::collections::BTreeMap;

use serde_json::{json, Value as J};
use stackctl_contract::provider::{self, Object};

use super::{LOG_GROUP, LOG_REGION, LOG_STREAM_PREFIX, VOLUME};

/// The provider's attributes of a revision from stackctl's (see [`Kind::provider_values`]).
///
/// [`Kind::provider_values`]: stackctl_contract::Kind::provider_values
pub(super) fn values(attrs: &Object) -> Object {
    let mut out = Object::new();
    provider::copy(
        attrs,
        &mut out,
        &[
            "family",
            "cpu",
            "memory",
            "network_mode",
            "requires_compatibilities",
            "execution_role_arn",
            "task_role_arn",
            "arn",
            "revision",
            "tags",
        ],
    );
    // The provider's id of a task definition is its family, not the revision's ARN.
    if attrs.contains_key("id") {
        if let Some(family) = attrs.get("family").filter(|f| f.is_string()) {
            out.insert("id".into(), family.clone());
        }
    }
    if let Some(arn) = attrs.get("arn").and_then(J::as_str) {
        if let Some(base) = without_revision(arn) {
            out.insert("arn_without_revision".into(), J::from(base));
        }
    }
    // One container, or none for a revision that has none (read back from elsewhere).
    let containers = match container(attrs) {
        Some(c) => vec![c],
        None => Vec::new(),
    };
    out.insert(
        "container_definitions".into(),
        provider::json_string(Some(&J::Array(containers))),
    );
    if let Some(v) = volume(attrs) {
        out.insert("volume".into(), v);
    }
    // What stackctl leaves at AWS's default or does as the provider's defaults do: no fault
    // injection; destroy deregisters every revision (a replacement keeps the old one, which
    // the plan says in its own words); the state's revision is the one read, not the family's
    // latest.
    out.insert("enable_fault_injection".into(), J::Bool(false));
    out.insert("skip_destroy".into(), J::Bool(false));
    out.insert("track_latest".into(), J::Bool(false));
    out
}

/// `arn:...:task-definition/<family>` of a revision's ARN; `None` for anything else (a
/// marker).
fn without_revision(arn: &str) -> Option<&str> {
    let (base, revision) = arn.rsplit_once(':')?;
    (base.contains(":task-definition/") && revision.parse::<u32>().is_ok()).then_some(base)
}

/// A present value: neither missing nor null.
fn present<'a>(attrs: &'a Object, key: &str) -> Option<&'a J> {
    attrs.get(key).filter(|v| !v.is_null())
}

/// The container definition stackctl registers (`TaskDefinitionKind::container`), keys in
/// ECS's spelling. A value not known yet stays a marker inside it, which makes the whole
/// document unknown ([`provider::json_string`]).
fn container(attrs: &Object) -> Option<J> {
    let name = present(attrs, "container_name");
    let image = present(attrs, "image");
    if name.is_none() && image.is_none() {
        return None;
    }
    let mut c = Object::new();
    if let Some(n) = name {
        c.insert("name".into(), n.clone());
    }
    if let Some(i) = image {
        c.insert("image".into(), i.clone());
    }
    c.insert("essential".into(), J::Bool(true));
    if let Some(port) = present(attrs, "container_port") {
        c.insert(
            "portMappings".into(),
            json!([{ "containerPort": port, "hostPort": port, "protocol": "tcp" }]),
        );
    }
    c.insert(
        "environment".into(),
        pairs(attrs.get("environment"), "value"),
    );
    c.insert("secrets".into(), pairs(attrs.get("secrets"), "valueFrom"));
    if let Some(path) = present(attrs, "mount_path") {
        c.insert(
            "mountPoints".into(),
            json!([{ "sourceVolume": VOLUME, "containerPath": path }]),
        );
    }
    // ECS answers every container with it, and Terraform's state shows it so.
    c.insert("volumesFrom".into(), json!([]));
    let options: Object = [
        (LOG_GROUP, "log_group"),
        (LOG_REGION, "log_region"),
        (LOG_STREAM_PREFIX, "log_stream_prefix"),
    ]
    .into_iter()
    .filter_map(|(option, key)| present(attrs, key).map(|v| (option.to_owned(), v.clone())))
    .collect();
    if !options.is_empty() {
        c.insert(
            "logConfiguration".into(),
            json!({ "logDriver": "awslogs", "options": options }),
        );
    }
    Some(J::Object(c))
}

/// A name -> value map as ECS's list of `{name, <value_key>}`, sorted by name as Terraform
/// sorts them; a marker stays as it is.
fn pairs(v: Option<&J>, value_key: &str) -> J {
    match v {
        None | Some(J::Null) => json!([]),
        Some(J::Object(m)) => {
            let sorted: BTreeMap<&String, &J> = m.iter().collect();
            J::Array(
                sorted
                    .into_iter()
                    .map(|(k, v)| json!({ "name": k, value_key: v }))
                    .collect(),
            )
        }
        Some(other) => other.clone(),
    }
}

/// The EFS volume the container mounts, with AWS's defaults where stackctl sets nothing (the
/// file system's root, not configured at launch); none for a revision without one.
fn volume(attrs: &Object) -> Option<J> {
    let fs = present(attrs, "efs_file_system_id")?;
    let mut efs = Object::new();
    efs.insert("file_system_id".into(), fs.clone());
    efs.insert("root_directory".into(), J::from("/"));
    if let Some(t) = present(attrs, "transit_encryption") {
        efs.insert("transit_encryption".into(), t.clone());
    }
    efs.insert("authorization_config".into(), json!([]));
    Some(json!([{
        "name": VOLUME,
        "configure_at_launch": false,
        "efs_volume_configuration": [efs],
        "docker_volume_configuration": [],
        "fsx_windows_file_server_volume_configuration": [],
    }]))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{
        Compatibility, ContainerDefinition, EfsTransitEncryption, EfsVolumeConfiguration,
        KeyValuePair, LogConfiguration, LogDriver, MountPoint, NetworkMode, PortMapping, Secret,
        TaskDefinition, TransportProtocol, Volume,
    };
    use serde_json::json;
    use stackctl_contract::provider::{check, SENSITIVE, UNKNOWN};

    use super::*;
    use crate::testing::{assert_covers, known_object, planned, resolved};
    use crate::TASK_DEFINITION;

    const TYPE: &str = "aws_ecs_task_definition";
    const ARN: &str = "arn:aws:ecs:eu-west-3:123456789012:task-definition/shop-dev:4";
    const SECRET: &str = "arn:aws:secretsmanager:eu-west-3:123456789012:secret:shop-dev-db-AbCdEf";

    /// A revision as DescribeTaskDefinition answers the one stackctl registers.
    fn described(transit: EfsTransitEncryption) -> TaskDefinition {
        let container = ContainerDefinition::builder()
            .name("prestashop")
            .image("prestashop/prestashop:8")
            .essential(true)
            .port_mappings(
                PortMapping::builder()
                    .container_port(80)
                    .host_port(80)
                    .protocol(TransportProtocol::Tcp)
                    .build(),
            )
            .environment(
                KeyValuePair::builder()
                    .name("PS_DOMAIN")
                    .value("a.elb")
                    .build(),
            )
            .environment(
                KeyValuePair::builder()
                    .name("DB_NAME")
                    .value("shop")
                    .build(),
            )
            .secrets(
                Secret::builder()
                    .name("DB_PASSWD")
                    .value_from(SECRET)
                    .build()
                    .unwrap(),
            )
            .mount_points(
                MountPoint::builder()
                    .source_volume("efs")
                    .container_path("/var/www/html")
                    .build(),
            )
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", "/ecs/shop-dev")
                    .options("awslogs-region", "eu-west-3")
                    .options("awslogs-stream-prefix", "ecs")
                    .build()
                    .unwrap(),
            )
            .build();
        TaskDefinition::builder()
            .task_definition_arn(ARN)
            .family("shop-dev")
            .revision(4)
            .cpu("256")
            .memory("512")
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .execution_role_arn("arn:aws:iam::123456789012:role/shop-dev-exec")
            .task_role_arn("arn:aws:iam::123456789012:role/shop-dev-task")
            .container_definitions(container)
            .volumes(
                Volume::builder()
                    .name("efs")
                    .efs_volume_configuration(
                        EfsVolumeConfiguration::builder()
                            .file_system_id("fs-12345678")
                            .transit_encryption(transit)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            )
            .build()
    }

    fn read_back(transit: EfsTransitEncryption) -> Object {
        let inst = super::super::to_instance(&described(transit), &[], None);
        known_object(&inst)
    }

    fn containers(out: &Object) -> J {
        let text = out["container_definitions"]
            .as_str()
            .expect("a JSON string");
        serde_json::from_str(text).expect("container definitions parse")
    }

    #[test]
    fn a_read_revision_has_its_container_as_json_text_and_its_volume_as_a_block() {
        let out = values(&read_back(EfsTransitEncryption::Enabled));
        check(TYPE, &out).unwrap();
        assert_eq!(
            containers(&out),
            json!([{
                "name": "prestashop",
                "image": "prestashop/prestashop:8",
                "essential": true,
                "portMappings": [{ "containerPort": 80, "hostPort": 80, "protocol": "tcp" }],
                "environment": [
                    { "name": "DB_NAME", "value": "shop" },
                    { "name": "PS_DOMAIN", "value": "a.elb" },
                ],
                "secrets": [{ "name": "DB_PASSWD", "valueFrom": SECRET }],
                "mountPoints": [{ "sourceVolume": "efs", "containerPath": "/var/www/html" }],
                "volumesFrom": [],
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": "/ecs/shop-dev",
                        "awslogs-region": "eu-west-3",
                        "awslogs-stream-prefix": "ecs",
                    },
                },
            }])
        );
        let efs = &out["volume"][0]["efs_volume_configuration"][0];
        assert_eq!(out["volume"][0]["name"], json!("efs"));
        assert_eq!(efs["file_system_id"], json!("fs-12345678"));
        assert_eq!(efs["transit_encryption"], json!("ENABLED"));
        assert_eq!(efs["root_directory"], json!("/"));
        assert_eq!(out["id"], json!("shop-dev"));
        assert_eq!(out["arn"], json!(ARN));
        assert_eq!(
            out["arn_without_revision"],
            json!("arn:aws:ecs:eu-west-3:123456789012:task-definition/shop-dev")
        );
        assert_eq!(out["revision"], json!(4));
        assert_eq!(out["requires_compatibilities"], json!(["FARGATE"]));
        assert_eq!(out["cpu"], json!("256"));
        assert_ne!(out["execution_role_arn"], out["task_role_arn"]);
        for gone in [
            "container_name",
            "image",
            "environment",
            "secrets",
            "log_group",
        ] {
            assert!(!out.contains_key(gone), "{gone}");
        }
    }

    #[test]
    fn transit_encryption_as_aws_reports_it() {
        // A volume without transit encryption reads back as DISABLED (AWS's default), which
        // checkov's CKV_AWS_97 must see as such.
        let out = values(&read_back(EfsTransitEncryption::Disabled));
        assert_eq!(
            out["volume"][0]["efs_volume_configuration"][0]["transit_encryption"],
            json!("DISABLED")
        );
    }

    #[test]
    fn the_planned_revision_with_unknown_references() {
        // Before anything exists: roles, secrets, the database, the file system and the log
        // group are all unknown, so is the whole container document, as in Terraform's plan.
        let out = values(&planned(TASK_DEFINITION, &resolved(&[])));
        check(TYPE, &out).unwrap();
        assert_eq!(out["container_definitions"], json!(UNKNOWN));
        assert_eq!(out["execution_role_arn"], json!(UNKNOWN));
        assert_eq!(
            out["volume"][0]["efs_volume_configuration"][0]["file_system_id"],
            json!(UNKNOWN)
        );
        assert_eq!(
            out["volume"][0]["efs_volume_configuration"][0]["transit_encryption"],
            json!("ENABLED")
        );
        assert_eq!(out["family"], json!("shop-dev"));
        assert_eq!(out["network_mode"], json!("awsvpc"));
        for computed in ["id", "arn", "arn_without_revision", "revision"] {
            assert!(!out.contains_key(computed), "{computed}");
        }
    }

    #[test]
    fn only_an_unknown_secret_arn_makes_the_document_unknown() {
        let everything = [
            (
                "module.rds.aws_db_instance.main",
                "address",
                json!("db.host"),
            ),
            ("module.alb.aws_lb.main", "dns_name", json!("shop.elb")),
            ("module.secrets.a", "arn", json!(SECRET)),
            ("module.secrets.b", "arn", json!("arn:admin")),
            ("module.efs.aws_efs_file_system.main", "id", json!("fs-1")),
            (crate::LOG_GROUP, "name", json!("/ecs/shop-dev")),
        ];
        let out = values(&planned(TASK_DEFINITION, &resolved(&everything)));
        let doc = containers(&out);
        assert_eq!(
            doc[0]["secrets"],
            json!([
                { "name": "ADMIN_MAIL", "valueFrom": "arn:admin:admin_email::" },
                { "name": "ADMIN_PASSWD", "valueFrom": "arn:admin:admin_password::" },
                { "name": "DB_PASSWD", "valueFrom": SECRET },
            ])
        );
        assert_eq!(
            doc[0]["environment"][0],
            json!({"name": "DB_NAME", "value": "prestashop"})
        );
        assert_eq!(doc[0]["image"], json!("prestashop/prestashop:8"));

        let without_secret: Vec<_> = everything
            .iter()
            .filter(|(address, _, _)| *address != "module.secrets.a")
            .cloned()
            .collect();
        let out = values(&planned(TASK_DEFINITION, &resolved(&without_secret)));
        assert_eq!(out["container_definitions"], json!(UNKNOWN));
    }

    #[test]
    fn a_secret_inside_the_container_is_never_written() {
        let mut attrs = read_back(EfsTransitEncryption::Enabled);
        attrs["environment"]["DB_PASSWORD"] = json!(SENSITIVE);
        let out = values(&attrs);
        assert_eq!(out["container_definitions"], json!(SENSITIVE));
    }

    #[test]
    fn a_revision_without_container_or_volume_is_still_the_providers_shape() {
        let bare = TaskDefinition::builder()
            .task_definition_arn(ARN)
            .family("shop-dev")
            .revision(4)
            .build();
        let inst = super::super::to_instance(&bare, &[], None);
        let out = values(&known_object(&inst));
        check(TYPE, &out).unwrap();
        assert_eq!(out["container_definitions"], json!("[]"));
        assert!(!out.contains_key("volume"));
    }

    /// The attributes Terraform's plan of this stack gives `aws_ecs_task_definition.main`
    /// that are neither null nor `[]`: `after` in
    /// `../shared/reference/terraform/plan-from-empty.json` (and its `volume[0]`'s and
    /// `efs_volume_configuration[0]`'s keys).
    const TERRAFORM: &[&str] = &[
        "cpu",
        "family",
        "memory",
        "network_mode",
        "requires_compatibilities",
        "skip_destroy",
        "track_latest",
        "volume",
    ];
    const TERRAFORM_VOLUME: &[&str] = &[
        "docker_volume_configuration",
        "efs_volume_configuration",
        "fsx_windows_file_server_volume_configuration",
        "host_path",
        "name",
    ];
    const TERRAFORM_EFS: &[&str] = &[
        "authorization_config",
        "root_directory",
        "transit_encryption",
        "transit_encryption_port",
    ];

    #[test]
    fn every_attribute_terraform_plans_is_there() {
        let out = values(&planned(TASK_DEFINITION, &resolved(&[])));
        assert_covers(&out, TERRAFORM, &[]);
        let J::Object(volume) = &out["volume"][0] else {
            panic!("no volume in {out:?}")
        };
        // `host_path`: a host volume's path, "" in Terraform's plan as Go's zero value; an
        // EFS volume has none.
        assert_covers(volume, TERRAFORM_VOLUME, &["host_path"]);
        let J::Object(efs) = &volume["efs_volume_configuration"][0] else {
            panic!("no EFS configuration in {volume:?}")
        };
        // `transit_encryption_port`: 0 in Terraform's plan, Go's zero value; stackctl sets no
        // port (EFS's mount helper picks one), and AWS reports none.
        assert_covers(efs, TERRAFORM_EFS, &["transit_encryption_port"]);
    }
}
