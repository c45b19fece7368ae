//! `aws_efs_file_system`: the encrypted file system PrestaShop keeps its files on, found again
//! by its creation token.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_efs::types::{FileSystemDescription, PerformanceMode, Tag, ThroughputMode};
use aws_sdk_efs::Client;
use serde_json::Value as J;
use stackctl_contract::args::required;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Field, Instance, Kind, ResourceError, TagApi,
    Tags, Values,
};

use crate::{is_gone, EFS_TIMEOUT};

args! {
    /// `aws_efs_file_system`'s arguments.
    pub struct FileSystemArgs {
        [ForceNew] creation_token: String,
        [ForceNew] encrypted: bool,
        /// `generalPurpose` or `maxIO`.
        [ForceNew] performance_mode: String,
        /// `bursting`, `provisioned` or `elastic`; null in a read-back AWS says none for.
        throughput_mode: Option<String>,
        tags: Tags,
    }
}

/// `aws_efs_file_system`, identified by its id (`fs-...`).
pub struct FileSystemKind {
    efs: Client,
}

impl FileSystemKind {
    pub fn new(efs: Client) -> Self {
        FileSystemKind { efs }
    }

    /// The file system with this id, `None` when AWS does not know it.
    async fn describe(&self, id: &str) -> Result<Option<FileSystemDescription>, ResourceError> {
        self.efs
            .describe_file_systems()
            .file_system_id(id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeFileSystems", e))
            .absent_if(&["FileSystemNotFound"])
            .map(|o| o.and_then(|out| out.file_systems().first().cloned()))
    }

    async fn find_by_token(
        &self,
        token: &str,
    ) -> Result<Option<FileSystemDescription>, ResourceError> {
        let out = self
            .efs
            .describe_file_systems()
            .creation_token(token)
            .send()
            .await
            .map_err(|e| aws_error("DescribeFileSystems", e))?;
        Ok(out.file_systems().first().cloned())
    }

    async fn wait_available(&self, id: &str) -> Result<Instance, ResourceError> {
        wait::until(
            &format!("EFS file system {id} to be available"),
            // 5 to 30 s.
            Backoff::expecting(Duration::from_secs(10), EFS_TIMEOUT),
            || async {
                let fs = self.describe(id).await?.ok_or_else(|| {
                    ResourceError::new(
                        "DescribeFileSystems",
                        format!("EFS file system {id} vanished while it was being set up"),
                    )
                    .retryable()
                })?;
                match fs.life_cycle_state().as_str() {
                    "available" => Ok(Poll::Ready(fs_instance(&fs))),
                    "error" => Err(ResourceError::new(
                        "CreateFileSystem",
                        format!("EFS file system {id} is in the `error` state"),
                    )
                    .with_hint("delete it in the console (or run destroy), then apply again")),
                    s if is_gone(s) => Err(ResourceError::new(
                        "DescribeFileSystems",
                        format!("EFS file system {id} is being deleted"),
                    )),
                    s => Ok(Poll::Pending(s.to_owned())),
                }
            },
        )
        .await
    }
}

#[async_trait]
impl Kind for FileSystemKind {
    fn type_name(&self) -> &'static str {
        "aws_efs_file_system"
    }

    fn fields(&self) -> &'static [Field] {
        FileSystemArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::file_system(attrs)
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self
            .describe(&prior.id)
            .await?
            .filter(|fs| !is_gone(fs.life_cycle_state().as_str()))
            .map(|fs| fs_instance(&fs)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let d = FileSystemArgs::from_values(desired)?;
        let Some(fs) = self
            .find_by_token(&d.creation_token)
            .await?
            .filter(|fs| !is_gone(fs.life_cycle_state().as_str()))
        else {
            return Ok(None);
        };
        // Found mid-creation (a run killed while waiting), it is returned as it is: `settle`
        // waits, in apply only.
        Ok(Some(fs_instance(&fs)))
    }

    async fn settle(&self, found: Instance) -> Result<Instance, ResourceError> {
        self.wait_available(&found.id).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = FileSystemArgs::from_values(desired)?;
        let token = &d.creation_token;
        let out = self
            .efs
            .create_file_system()
            .creation_token(token)
            .encrypted(d.encrypted)
            .performance_mode(PerformanceMode::from(d.performance_mode.as_str()))
            .throughput_mode(ThroughputMode::from(
                required("throughput_mode", &d.throughput_mode)?.as_str(),
            ))
            .set_tags(Some(efs_tags(&d.tags.0)?))
            .send()
            .await;
        let id = match out {
            Ok(fs) => fs.file_system_id().to_owned(),
            Err(e) => {
                let e = aws_error("CreateFileSystem", e);
                // The creation token makes the call idempotent: a retried create (an earlier
                // attempt timed out after AWS took it) lands on the file system it made.
                if !e.is(&["FileSystemAlreadyExists"]) {
                    return Err(e);
                }
                match self.find_by_token(token).await? {
                    Some(fs) => fs.file_system_id().to_owned(),
                    None => return Err(e),
                }
            }
        };
        self.wait_available(&id).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = FileSystemArgs::from_values(desired)?;
        let changed = FileSystemArgs::<Changed>::from_names(changed);
        if changed.throughput_mode {
            self.efs
                .update_file_system()
                .file_system_id(&prior.id)
                .throughput_mode(ThroughputMode::from(
                    required("throughput_mode", &d.throughput_mode)?.as_str(),
                ))
                .send()
                .await
                .map_err(|e| aws_error("UpdateFileSystem", e))?;
        }
        if changed.tags {
            EfsTagging(&self.efs)
                .sync_tags(&prior.id, &prior.tags(), &d.tags)
                .await?;
        }
        // A throughput change passes through `updating`; wait so dependents see a usable system.
        self.wait_available(&prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        // Mount targets being deleted still count against the file system for a while:
        // FileSystemInUse means wait for them, not fail.
        // Set once AWS accepts the delete; stays unset when the file system was already gone.
        let requested = AtomicBool::new(false);
        wait::delete_when_released_with(
            &format!("EFS file system {} to have no mount targets", prior.id),
            // Its mount targets' deletion (waited for already) lets go within about a minute.
            Backoff::expecting(Duration::from_secs(60), EFS_TIMEOUT),
            &["FileSystemInUse"],
            &["FileSystemNotFound"],
            || async {
                self.efs
                    .delete_file_system()
                    .file_system_id(&prior.id)
                    .send()
                    .await
                    .map_err(|e| aws_error("DeleteFileSystem", e))?;
                requested.store(true, Ordering::SeqCst);
                Ok(())
            },
        )
        .await?;
        if !requested.load(Ordering::SeqCst) {
            return Ok(());
        }
        wait::until(
            &format!("EFS file system {} to be deleted", prior.id),
            // 5 to 30 s.
            Backoff::expecting(Duration::from_secs(10), EFS_TIMEOUT),
            || async {
                Ok(match self.describe(&prior.id).await? {
                    Some(fs) if !is_gone(fs.life_cycle_state().as_str()) => {
                        Poll::Pending(fs.life_cycle_state().as_str().to_owned())
                    }
                    _ => Poll::Ready(()),
                })
            },
        )
        .await
    }
}

pub(crate) fn fs_instance(fs: &FileSystemDescription) -> Instance {
    let id = fs.file_system_id();
    let mut attrs = FileSystemArgs {
        creation_token: fs.creation_token().to_owned(),
        encrypted: fs.encrypted().unwrap_or(false),
        performance_mode: fs.performance_mode().as_str().to_owned(),
        throughput_mode: fs.throughput_mode().map(|m| m.as_str().to_owned()),
        tags: Tags::from_sdk(fs.tags().iter().map(|t| (Some(t.key()), Some(t.value())))),
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(id));
    if let Some(arn) = fs.file_system_arn() {
        attrs.insert("arn".to_owned(), J::from(arn));
        if let Some(dns) = dns_name(id, arn) {
            attrs.insert("dns_name".to_owned(), J::from(dns));
        }
    }
    Instance::new(id, attrs)
}

/// EFS's DNS name, `fs-123.efs.eu-west-3.amazonaws.com`, from the region and partition in the
/// ARN (AWS does not return it).
fn dns_name(id: &str, arn: &str) -> Option<String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let (partition, region) = (parts.get(1)?, parts.get(3)?);
    if region.is_empty() {
        return None;
    }
    let suffix = match *partition {
        "aws-cn" => "amazonaws.com.cn",
        _ => "amazonaws.com",
    };
    Some(format!("{id}.efs.{region}.{suffix}"))
}

/// EFS's tag calls, for the file system (named by id).
struct EfsTagging<'a>(&'a Client);

impl TagApi for EfsTagging<'_> {
    async fn tag(&self, id: &str, set: BTreeMap<String, String>) -> Result<(), ResourceError> {
        self.0
            .tag_resource()
            .resource_id(id)
            .set_tags(Some(efs_tags(&set)?))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("TagResource", e))
    }

    async fn untag(&self, id: &str, keys: Vec<String>) -> Result<(), ResourceError> {
        self.0
            .untag_resource()
            .resource_id(id)
            .set_tag_keys(Some(keys))
            .send()
            .await
            .map(drop)
            .map_err(|e| aws_error("UntagResource", e))
    }
}

fn efs_tags(tags: &BTreeMap<String, String>) -> Result<Vec<Tag>, ResourceError> {
    tags.iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| ResourceError::internal(format!("EFS tag {k}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_name_follows_the_arn() {
        assert_eq!(
            dns_name(
                "fs-1",
                "arn:aws:elasticfilesystem:eu-west-3:123:file-system/fs-1"
            )
            .as_deref(),
            Some("fs-1.efs.eu-west-3.amazonaws.com")
        );
        assert_eq!(
            dns_name(
                "fs-1",
                "arn:aws-cn:elasticfilesystem:cn-north-1:123:file-system/fs-1"
            )
            .as_deref(),
            Some("fs-1.efs.cn-north-1.amazonaws.com.cn")
        );
    }
}
