//! `aws_efs_backup_policy`: the file system's automatic daily backups (AWS Backup's default
//! plan, kept 35 days). It has no id, name or tags of its own: it is a setting of the file
//! system, identified by the file system's id, and the file system carries the stack's tags.
//! Deleting it sets it `DISABLED`, as the AWS provider does: a file system always has one.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_efs::types::{BackupPolicy, Status};
use aws_sdk_efs::Client;
use serde_json::Value as J;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Field, Instance, Kind, ResourceError, Tags, Values,
};

use crate::EFS_TIMEOUT;

/// What `DescribeBackupPolicy` answers for a file system without a policy, or one AWS no
/// longer knows.
const ABSENT: &[&str] = &["PolicyNotFound", "FileSystemNotFound"];

args! {
    /// `aws_efs_backup_policy`'s arguments.
    pub struct BackupPolicyArgs {
        [ForceNew] file_system_id: String,
        /// `ENABLED` (the only value stackctl plans: no policy is planned while `efs_backup`
        /// is false) or, read back after someone turned it off, `DISABLED`.
        status: String,
        /// The stack's tags, which the file system must carry for stackctl to touch its
        /// policy (the policy has no tags of its own); read back from the file system.
        stack_tags: Tags,
    }
}

/// `aws_efs_backup_policy`, identified by its file system's id (`fs-...`), as in the provider.
pub struct BackupPolicyKind {
    efs: Client,
}

impl BackupPolicyKind {
    pub fn new(efs: Client) -> Self {
        BackupPolicyKind { efs }
    }

    /// The policy's status (`ENABLED`, `ENABLING`, `DISABLED`, `DISABLING`), `None` when the
    /// file system has none or is gone.
    async fn status(&self, fs: &str) -> Result<Option<String>, ResourceError> {
        Ok(self
            .efs
            .describe_backup_policy()
            .file_system_id(fs)
            .send()
            .await
            .map_err(|e| aws_error("DescribeBackupPolicy", e))
            .absent_if(ABSENT)?
            .and_then(|out| out.backup_policy().map(|p| p.status().as_str().to_owned())))
    }

    /// The file system's tags among the stack's keys (`ManagedBy`, project, environment),
    /// `None` when the file system is gone.
    async fn owner_tags(&self, fs: &str) -> Result<Option<Tags>, ResourceError> {
        let Some(out) = self
            .efs
            .describe_file_systems()
            .file_system_id(fs)
            .send()
            .await
            .map_err(|e| aws_error("DescribeFileSystems", e))
            .absent_if(&["FileSystemNotFound"])?
        else {
            return Ok(None);
        };
        let Some(found) = out.file_systems().first() else {
            return Ok(None);
        };
        let keys = Tags::stack("", "");
        Ok(Some(Tags::from_sdk(
            found
                .tags()
                .iter()
                .filter(|t| keys.0.contains_key(t.key()))
                .map(|t| (Some(t.key()), Some(t.value()))),
        )))
    }

    /// Refuses to change the policy of a file system that does not carry `want` (the
    /// stack's tags): it is not this stack's.
    async fn check_owner(&self, fs: &str, want: &Tags) -> Result<Option<Tags>, ResourceError> {
        let Some(have) = self.owner_tags(fs).await? else {
            return Ok(None);
        };
        let foreign = want
            .0
            .iter()
            .any(|(k, v)| have.0.get(k).map(String::as_str) != Some(v.as_str()));
        if foreign {
            return Err(ResourceError::new(
                "DescribeFileSystems",
                format!(
                    "EFS file system {fs} does not carry this stack's tags {:?} (it has {:?}): \
                     stackctl leaves its backup policy alone",
                    want.0, have.0
                ),
            )
            .with_hint(
                "the state points at another stack's file system: check `state list` and the \
                 file system's tags",
            ));
        }
        Ok(Some(have))
    }

    async fn put(&self, fs: &str, status: &str) -> Result<(), ResourceError> {
        let policy = BackupPolicy::builder()
            .status(Status::from(status))
            .build()
            .map_err(|e| ResourceError::internal(format!("EFS backup policy: {e}")))?;
        self.efs
            .put_backup_policy()
            .file_system_id(fs)
            .backup_policy(policy)
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("PutBackupPolicy", e))
    }

    /// Waits until the policy of `fs` reads `status` (AWS passes through `ENABLING` or
    /// `DISABLING`, and a read right after the put may still show the old status), and
    /// returns it as read then. A policy that reads absent counts as `DISABLED`.
    async fn wait_for(
        &self,
        fs: &str,
        status: &str,
        stack_tags: &Tags,
    ) -> Result<Instance, ResourceError> {
        wait::until(
            &format!("EFS file system {fs}'s backup policy to be {status}"),
            // Seconds: the policy is a flag AWS Backup picks up.
            Backoff::expecting(Duration::from_secs(5), EFS_TIMEOUT),
            || async {
                let now = self.status(fs).await?;
                let now = now.as_deref().unwrap_or("DISABLED");
                Ok(if now == status {
                    Poll::Ready(instance(fs, now, stack_tags))
                } else {
                    Poll::Pending(now.to_owned())
                })
            },
        )
        .await
    }
}

#[async_trait]
impl Kind for BackupPolicyKind {
    fn type_name(&self) -> &'static str {
        "aws_efs_backup_policy"
    }

    fn fields(&self) -> &'static [Field] {
        BackupPolicyArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::backup_policy(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let fs = prior.id.as_str();
        let Some(status) = self.status(fs).await? else {
            return Ok(None);
        };
        let Some(tags) = self.owner_tags(fs).await? else {
            return Ok(None);
        };
        // `DISABLED` (turned off by hand) is read as it is: the plan shows the status it
        // sets back, as Terraform's does.
        Ok(Some(instance(fs, &status, &tags)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = BackupPolicyArgs::from_values(desired)?;
        // A disabled or missing policy is nothing to adopt: create enables it.
        let status = match self.status(&d.file_system_id).await? {
            None => return Ok(None),
            Some(s) if matches!(s.as_str(), "DISABLED" | "DISABLING") => return Ok(None),
            Some(s) => s,
        };
        let Some(tags) = self.check_owner(&d.file_system_id, &d.stack_tags).await? else {
            return Ok(None);
        };
        // Found `ENABLING` (a run killed while waiting), it is returned as it is: `settle`
        // waits, in apply only.
        Ok(Some(instance(&d.file_system_id, &status, &tags)))
    }

    async fn settle(&self, found: Instance) -> Result<Instance, ResourceError> {
        let tags = Tags::from_json(found.attrs.get("stack_tags"));
        self.wait_for(&found.id, "ENABLED", &tags).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = BackupPolicyArgs::from_values(desired)?;
        let fs = d.file_system_id.as_str();
        let Some(tags) = self.check_owner(fs, &d.stack_tags).await? else {
            return Err(ResourceError::new(
                "DescribeFileSystems",
                format!("EFS file system {fs} does not exist: its backup policy cannot be set"),
            )
            .retryable());
        };
        self.put(fs, &d.status).await?;
        self.wait_for(fs, &d.status, &tags).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        _changed: &[String],
    ) -> Result<Instance, ResourceError> {
        // `status` is the only setting; `stack_tags` follow the file system's own tags,
        // which its kind updates.
        let d = BackupPolicyArgs::from_values(desired)?;
        let Some(tags) = self.check_owner(&prior.id, &d.stack_tags).await? else {
            return Err(ResourceError::new(
                "DescribeFileSystems",
                format!("EFS file system {} vanished", prior.id),
            )
            .with_hint("run plan again: it plans the file system and its policy anew"));
        };
        self.put(&prior.id, &d.status).await?;
        self.wait_for(&prior.id, &d.status, &tags).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let want = Tags::from_json(prior.attrs.get("stack_tags"));
        // A file system already gone took its policy with it.
        if self.check_owner(&prior.id, &want).await?.is_none() {
            return Ok(());
        }
        match self.put(&prior.id, "DISABLED").await {
            Err(e) if e.is(&["FileSystemNotFound"]) => return Ok(()),
            r => r?,
        }
        self.wait_for(&prior.id, "DISABLED", &want).await.map(drop)
    }
}

/// The policy of file system `fs` as stackctl records it.
fn instance(fs: &str, status: &str, stack_tags: &Tags) -> Instance {
    let mut attrs = BackupPolicyArgs {
        file_system_id: fs.to_owned(),
        status: status.to_owned(),
        stack_tags: stack_tags.clone(),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(fs));
    Instance::new(fs, attrs)
}
