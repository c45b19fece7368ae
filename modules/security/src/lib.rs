//! The security module: the four security groups (ALB, ECS, RDS, EFS) and their rules.

mod provider;
mod security_group;

use std::sync::Arc;

use aws_sdk_ec2::Client;
use serde_json::{json, Value as J};
use stackctl_contract::{Kind, Planned, Ref, ResourceSpec, Tags, Val};

pub use security_group::{SecurityGroupArgs, SecurityGroupKind};

pub const ALB: &str = "module.security.aws_security_group.alb";
pub const ECS: &str = "module.security.aws_security_group.ecs";
pub const RDS: &str = "module.security.aws_security_group.rds";
pub const EFS: &str = "module.security.aws_security_group.efs";

/// What the module needs from the root: Terraform's module variables.
pub struct Inputs {
    /// `{project_name}-{environment}`: every AWS name starts with it, so two environments or
    /// projects in one account never share a name.
    pub name_prefix: String,
    pub vpc_id: String,
    pub tags: Tags,
}

/// The module's one kind, built here only so that `kinds` and `specs` hand out the same.
fn module_kind(sdk: &aws_types::SdkConfig) -> Arc<dyn Kind> {
    Arc::new(SecurityGroupKind::new(Client::new(sdk)))
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    vec![module_kind(sdk)]
}

/// The four groups. ALB takes HTTP from anywhere; each next tier takes its port only from the
/// tier in front of it; RDS and EFS get no egress rule (AWS's default allow-all is removed).
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let kind = module_kind(sdk);
    let group = |address: &str,
                 short: &str,
                 description: &str,
                 ingress: Ingress,
                 egress_all: bool| {
        let name = format!("{}-{short}-sg", inputs.name_prefix);
        let vpc_id = inputs.vpc_id.clone();
        let tags = inputs.tags.clone().with("Name", name.clone());
        let description = description.to_owned();
        ResourceSpec::new(address, kind.clone(), move |r| {
            let source = match &ingress.from {
                Source::Cidr(c) => Val::from(json!({ "cidr": c })),
                Source::Group(g) => Val::all(
                    [&g.get(r)],
                    |[id]| json!({ "source_security_group_id": id }),
                ),
            };
            let ingress = Val::all([&source], |[src]| {
                let mut rule = json!({ "protocol": "tcp", "from_port": ingress.port, "to_port": ingress.port });
                merge(&mut rule, src);
                J::Array(vec![rule])
            });
            let egress = if egress_all {
                J::Array(vec![allow_all()])
            } else {
                json!([])
            };
            SecurityGroupArgs::<Planned> {
                name: name.clone().into(),
                description: description.clone().into(),
                vpc_id: vpc_id.clone().into(),
                ingress,
                egress: egress.into(),
                tags: tags.to_json().into(),
            }
            .into()
        })
    };
    vec![
        group(
            ALB,
            "alb",
            "HTTP from the internet to the load balancer",
            Ingress::cidr(80, "0.0.0.0/0"),
            true,
        ),
        group(
            ECS,
            "ecs",
            "HTTP from the load balancer to the PrestaShop tasks",
            Ingress::group(80, ALB),
            true,
        ),
        group(
            RDS,
            "rds",
            "MySQL from the PrestaShop tasks",
            Ingress::group(3306, ECS),
            false,
        ),
        group(
            EFS,
            "efs",
            "NFS from the PrestaShop tasks",
            Ingress::group(2049, ECS),
            false,
        ),
    ]
}

enum Source {
    Cidr(String),
    Group(Ref),
}

struct Ingress {
    port: i64,
    from: Source,
}

impl Ingress {
    fn cidr(port: i64, cidr: &str) -> Self {
        Ingress {
            port,
            from: Source::Cidr(cidr.to_owned()),
        }
    }
    fn group(port: i64, address: &str) -> Self {
        Ingress {
            port,
            from: Source::Group(Ref::new(address, "id")),
        }
    }
}

/// The egress rule that allows everything, the one AWS gives every new group.
fn allow_all() -> J {
    json!({ "protocol": "-1", "cidr": "0.0.0.0/0" })
}

/// Add `from`'s keys to the rule `into`.
fn merge(into: &mut J, from: &J) {
    if let (Some(a), Some(b)) = (into.as_object_mut(), from.as_object()) {
        a.extend(b.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}
