//! The efs module: the encrypted EFS file system PrestaShop keeps its files on, and one mount
//! target per availability zone so every task can reach it over NFS, and, when `efs_backup` is
//! on, its automatic backup policy.

mod backup_policy;
mod file_system;
mod mount_target;
mod provider;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_efs::Client;
use serde_json::Value as J;
use stackctl_contract::{Kind, Planned, Ref, ResourceSpec, Tags, Val};

pub use backup_policy::{BackupPolicyArgs, BackupPolicyKind};
pub use file_system::{FileSystemArgs, FileSystemKind};
pub use mount_target::{MountTargetArgs, MountTargetKind};

pub const FILE_SYSTEM: &str = "module.efs.aws_efs_file_system.main";
/// Present only while `efs_backup` is true: turning it off deletes it, which disables the
/// backups in AWS.
pub const BACKUP_POLICY: &str = "module.efs.aws_efs_backup_policy.main";

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
    /// `efs_backup`: AWS Backup's automatic daily backups of the file system.
    pub backup: bool,
}

/// The module's kinds, built here only so that `kinds` and `specs` hand out the same.
struct Kinds {
    file_system: Arc<dyn Kind>,
    mount_target: Arc<dyn Kind>,
    backup_policy: Arc<dyn Kind>,
}

impl Kinds {
    fn new(sdk: &aws_types::SdkConfig) -> Self {
        Kinds {
            file_system: Arc::new(FileSystemKind::new(Client::new(sdk))),
            mount_target: Arc::new(MountTargetKind::new(sdk)),
            backup_policy: Arc::new(BackupPolicyKind::new(Client::new(sdk))),
        }
    }
}

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    let k = Kinds::new(sdk);
    vec![k.file_system, k.mount_target, k.backup_policy]
}

/// The file system, then one mount target per subnet, guarded by the EFS security group, then
/// the backup policy when `backup` is on.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let k = Kinds::new(sdk);
    let name = format!("{}-efs", inputs.name_prefix);
    let stack_tags = inputs.tags.clone();
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
    if inputs.backup {
        let fs = Ref::new(FILE_SYSTEM, "id");
        specs.push(ResourceSpec::new(
            BACKUP_POLICY,
            k.backup_policy.clone(),
            move |r| {
                BackupPolicyArgs::<Planned> {
                    file_system_id: fs.get(r),
                    status: "ENABLED".into(),
                    stack_tags: stack_tags.to_json().into(),
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
            backup: false,
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
    fn the_backup_policy_is_planned_only_when_backup_is_on() {
        let sdk = stackctl_testkit::offline_sdk();
        let mut inputs = Inputs {
            name_prefix: "shop-prod".into(),
            subnets: vec![("eu-west-3a".into(), "subnet-a".into())],
            security_group: Ref::new("module.security.aws_security_group.efs", "id"),
            tags: Tags::stack("shop", "prod"),
            backup: false,
        };
        assert!(specs(&sdk, &inputs)
            .iter()
            .all(|s| s.address != BACKUP_POLICY));
        inputs.backup = true;
        let all = specs(&sdk, &inputs);
        let policy = all.last().unwrap();
        assert_eq!(policy.address, BACKUP_POLICY);
        let d = policy.desired(&Fake);
        assert_eq!(d["status"], Val::from("ENABLED"));
        assert_eq!(d["file_system_id"], Val::from(format!("{FILE_SYSTEM}.id")));
        // The stack's tags, without the file system's `Name`: what the file system must carry.
        assert_eq!(
            d["stack_tags"],
            Val::from(Tags::stack("shop", "prod").to_json())
        );
        assert!(policy.dependencies().contains(FILE_SYSTEM));
    }

    #[test]
    fn mount_target_addresses_are_keyed_by_zone() {
        assert_eq!(
            mount_target_address("eu-west-3a"),
            r#"module.efs.aws_efs_mount_target.main["eu-west-3a"]"#
        );
    }
}
