//! The file system for `stackctl status`: its state and each mount target's.

use aws_sdk_efs::Client;
use stackctl_contract::{aws_error, Absent, ResourceError};

#[derive(Clone, Debug, Default)]
pub struct FsStatus {
    /// creating, available, updating, deleting...
    pub state: String,
    /// (availability zone, state) of each mount target.
    pub mount_targets: Vec<(String, String)>,
}

impl FsStatus {
    pub fn available(&self) -> bool {
        self.state == "available" && self.mount_targets.iter().all(|(_, s)| s == "available")
    }
}

/// The file system `id` and its mount targets; `None` when it is gone.
pub async fn fs_status(
    sdk: &aws_types::SdkConfig,
    id: &str,
) -> Result<Option<FsStatus>, ResourceError> {
    let efs = Client::new(sdk);
    let gone = &["FileSystemNotFound"];
    let Some(out) = efs
        .describe_file_systems()
        .file_system_id(id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeFileSystems", e))
        .absent_if(gone)?
    else {
        return Ok(None);
    };
    let Some(fs) = out.file_systems().first() else {
        return Ok(None);
    };
    let targets = efs
        .describe_mount_targets()
        .file_system_id(id)
        .send()
        .await
        .map_err(|e| aws_error("DescribeMountTargets", e))
        .absent_if(gone)?;
    let mut mount_targets: Vec<(String, String)> = targets
        .map(|t| {
            t.mount_targets()
                .iter()
                .map(|m| {
                    (
                        m.availability_zone_name().unwrap_or_default().to_owned(),
                        m.life_cycle_state().as_str().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    mount_targets.sort();
    Ok(Some(FsStatus {
        state: fs.life_cycle_state().as_str().to_owned(),
        mount_targets,
    }))
}
