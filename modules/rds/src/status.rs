//! The database for `stackctl status`: its state and what it runs on.

use aws_sdk_rds::Client;
use stackctl_contract::{aws_error, Absent, ResourceError};

#[derive(Clone, Debug, Default)]
pub struct DbStatus {
    /// available, backing-up, modifying, storage-optimization...
    pub status: String,
    pub class: String,
    pub storage_gib: i32,
    pub engine_version: String,
    pub multi_az: bool,
}

impl DbStatus {
    /// Serving: `available`, or busy with something that keeps it serving (a backup, storage
    /// optimisation after a resize).
    pub fn serving(&self) -> bool {
        matches!(
            self.status.as_str(),
            "available" | "backing-up" | "storage-optimization" | "modifying"
        )
    }
}

/// The instance `identifier`; `None` when it is gone.
pub async fn db_status(
    sdk: &aws_types::SdkConfig,
    identifier: &str,
) -> Result<Option<DbStatus>, ResourceError> {
    let out = Client::new(sdk)
        .describe_db_instances()
        .db_instance_identifier(identifier)
        .send()
        .await
        .map_err(|e| aws_error("DescribeDBInstances", e))
        .absent_if(&["DBInstanceNotFound", "DBInstanceNotFoundFault"])?;
    Ok(out.and_then(|o| {
        o.db_instances().first().map(|d| DbStatus {
            status: d.db_instance_status().unwrap_or_default().to_owned(),
            class: d.db_instance_class().unwrap_or_default().to_owned(),
            storage_gib: d.allocated_storage().unwrap_or_default(),
            engine_version: d.engine_version().unwrap_or_default().to_owned(),
            multi_az: d.multi_az().unwrap_or_default(),
        })
    }))
}
