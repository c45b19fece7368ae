//! The efs module: the encrypted EFS file system PrestaShop keeps its files on, and one mount
//! target per availability zone so every task can reach it over NFS.

mod file_system;
mod mount_target;
mod provider;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_efs::Client;
use serde_json::Value as J;
use stackctl_contract::{Kind, Planned, Ref, ResourceSpec, Tags, Val};

pub use file_system::{FileSystemArgs, FileSystemKind};
pub use mount_target::{MountTargetArgs, MountTargetKind};

pub const FILE_SYSTEM: &str = "module.efs.aws_efs_file_system.main";

/// How long EFS may take to create, change or delete a file system or a mount target: usually
/// seconds to a couple of minutes.
const EFS_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// `module.efs.aws_efs_mount_target.main["eu-west-3a"]`: one mount target per availability zone
/// (EFS allows one per AZ).
pub fn mount_target_address(availability_zone: &str) -> String {
    format!("module.efs.aws_efs_mount_target.main[\"{availability_zone}\"]")
}

/// What the module needs from the root: Terraform's module variables.
pub struct Inputs {
    /// `{project_name}-{environment}`: every AWS name starts with it, so two environments or
    /// projects in one account never share a name.
    pub name_prefix: String,
    /// (availability zone, subnet id) pairs: one mount target is made in each.
    pub subnets: Vec<(String, String)>,
    /// The EFS security group's `id`.
    pub security_group: Ref,
    pub tags: Tags,
}

/// The module's kinds, built here only so that `kinds` and `specs` hand out the same.
struct Kinds {
    file_system: Arc<dyn Kind>,
    mount_target: Arc<dyn Kind>,
}

impl Kinds {
    fn new(sdk: &aws_types::SdkConfig) -> Self {
        Kinds {
            file_system: Arc::new(FileSystemKind::new(Client::new(sdk))),
            mount_target: Arc::new(MountTargetKind::new(sdk)),
        }
    }
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    let k = Kinds::new(sdk);
    vec![k.file_system, k.mount_target]
}

/// The file system, then one mount target per subnet, guarded by the EFS security group.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let k = Kinds::new(sdk);
    let name = format!("{}-efs", inputs.name_prefix);
    let tags = inputs.tags.clone().with("Name", name.clone());
    let mut specs = vec![ResourceSpec::new(FILE_SYSTEM, k.file_system, move |_r| {
        FileSystemArgs::<Planned> {
            creation_token: name.clone().into(),
            encrypted: true.into(),
            performance_mode: "generalPurpose".into(),
            throughput_mode: "bursting".into(),
            tags: tags.to_json().into(),
        }
        .into()
    })];
    for (az, subnet_id) in &inputs.subnets {
        let subnet_id = subnet_id.clone();
        let sg = inputs.security_group.clone();
        let fs = Ref::new(FILE_SYSTEM, "id");
        specs.push(ResourceSpec::new(
            mount_target_address(az),
            k.mount_target.clone(),
            move |r| {
                MountTargetArgs::<Planned> {
                    file_system_id: fs.get(r),
                    subnet_id: subnet_id.clone().into(),
                    security_groups: Val::all([&sg.get(r)], |[id]| J::Array(vec![id.clone()])),
                }
                .into()
            },
        ));
    }
    specs
}

/// Whether a file system or mount target in this life-cycle state is gone, or going.
fn is_gone(state: &str) -> bool {
    matches!(state, "deleting" | "deleted")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stackctl_contract::Resolve;

    struct Fake;
    impl Resolve for Fake {
        fn get(&self, address: &str, attr: &str) -> Val {
            Val::from(format!("{address}.{attr}"))
        }
    }

    #[test]
    fn specs_make_one_mount_target_per_zone() {
        let sdk = aws_types::SdkConfig::builder()
            .behavior_version(aws_sdk_efs::config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("eu-west-3"))
            .build();
        let inputs = Inputs {
            name_prefix: "shop-dev".into(),
            subnets: vec![
                ("eu-west-3a".into(), "subnet-a".into()),
                ("eu-west-3b".into(), "subnet-b".into()),
            ],
            security_group: Ref::new("module.security.aws_security_group.efs", "id"),
            tags: Tags::stack("shop", "dev"),
        };
        let specs = specs(&sdk, &inputs);
        assert_eq!(specs.len(), 3);
        assert_eq!(specs[0].address, FILE_SYSTEM);
        let fs = specs[0].desired(&Fake);
        assert_eq!(fs["creation_token"], Val::from("shop-dev-efs"));
        assert_eq!(
            fs["tags"].known().and_then(|t| t.get("Name")),
            Some(&json!("shop-dev-efs"))
        );
        assert_eq!(specs[2].address, mount_target_address("eu-west-3b"));
        let mt = specs[2].desired(&Fake);
        assert_eq!(mt["subnet_id"], Val::from("subnet-b"));
        assert_eq!(mt["file_system_id"], Val::from(format!("{FILE_SYSTEM}.id")));
        assert_eq!(
            mt["security_groups"],
            Val::from(json!(["module.security.aws_security_group.efs.id"]))
        );
        let deps = specs[1].dependencies();
        assert!(deps.contains(FILE_SYSTEM), "{deps:?}");
        assert!(
            deps.contains("module.security.aws_security_group.efs"),
            "{deps:?}"
        );
    }

    #[test]
    fn mount_target_addresses_are_keyed_by_zone() {
        assert_eq!(
            mount_target_address("eu-west-3a"),
            r#"module.efs.aws_efs_mount_target.main["eu-west-3a"]"#
        );
    }
}
