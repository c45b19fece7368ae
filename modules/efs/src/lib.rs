//! The efs module: the encrypted EFS file system PrestaShop keeps its files on, and one mount
//! target per availability zone so every task can reach it over NFS.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_efs::types::{
    FileSystemDescription, MountTargetDescription, PerformanceMode, Tag, ThroughputMode,
};
use aws_sdk_efs::Client;
use serde_json::Value as J;
use stackctl_contract::value::string_set;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    aws_error, Absent, Attrs, Field, Flag, Instance, Kind, Prior, Ref, ResourceError, ResourceSpec,
    Tags, Val, Values, ValuesExt,
};

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

/// The kinds this module implements, for the engine's registry.
pub fn kinds(sdk: &aws_types::SdkConfig) -> Vec<Arc<dyn Kind>> {
    vec![
        Arc::new(FileSystemKind {
            efs: Client::new(sdk),
        }),
        Arc::new(MountTargetKind::new(sdk)),
    ]
}

/// The file system, then one mount target per subnet, guarded by the EFS security group.
pub fn specs(sdk: &aws_types::SdkConfig, inputs: &Inputs) -> Vec<ResourceSpec> {
    let fs_kind: Arc<dyn Kind> = Arc::new(FileSystemKind {
        efs: Client::new(sdk),
    });
    let mt_kind: Arc<dyn Kind> = Arc::new(MountTargetKind::new(sdk));
    let name = format!("{}-efs", inputs.name_prefix);
    let tags = inputs.tags.clone().with("Name", name.clone());
    let mut specs = vec![ResourceSpec::new(FILE_SYSTEM, fs_kind, move |_r| {
        Attrs::from([
            ("creation_token".to_owned(), Val::from(name.clone())),
            ("encrypted".to_owned(), Val::from(true)),
            ("performance_mode".to_owned(), Val::from("generalPurpose")),
            ("throughput_mode".to_owned(), Val::from("bursting")),
            ("tags".to_owned(), Val::from(tags.to_json())),
        ])
    })];
    for (az, subnet_id) in &inputs.subnets {
        let subnet_id = subnet_id.clone();
        let sg = inputs.security_group.clone();
        let fs = Ref::new(FILE_SYSTEM, "id");
        specs.push(ResourceSpec::new(
            mount_target_address(az),
            mt_kind.clone(),
            move |r| {
                Attrs::from([
                    ("file_system_id".to_owned(), fs.get(r)),
                    ("subnet_id".to_owned(), Val::from(subnet_id.clone())),
                    (
                        "security_groups".to_owned(),
                        Val::all([&sg.get(r)], |[id]| J::Array(vec![id.clone()])),
                    ),
                ])
            },
        ));
    }
    specs
}

/// `aws_efs_file_system`: the file system itself, found again by its creation token.
pub struct FileSystemKind {
    efs: Client,
}

#[async_trait]
impl Kind for FileSystemKind {
    fn type_name(&self) -> &'static str {
        "aws_efs_file_system"
    }

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "creation_token",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "encrypted",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "performance_mode",
                flags: &[Flag::ForceNew],
            },
        ]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(self
            .describe(&prior.id)
            .await?
            .filter(|fs| !is_gone(fs.life_cycle_state().as_str()))
            .map(|fs| fs_instance(&fs)))
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let token = desired.get_str("creation_token")?;
        let Some(fs) = self
            .find_by_token(token)
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
        let token = desired.get_str("creation_token")?;
        let tags = Tags::from_json(desired.get("tags"));
        let out = self
            .efs
            .create_file_system()
            .creation_token(token)
            .encrypted(desired.get_bool("encrypted")?)
            .performance_mode(PerformanceMode::from(desired.get_str("performance_mode")?))
            .throughput_mode(ThroughputMode::from(desired.get_str("throughput_mode")?))
            .set_tags(Some(efs_tags(&tags.0)?))
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
        if changed.iter().any(|c| c == "throughput_mode") {
            self.efs
                .update_file_system()
                .file_system_id(&prior.id)
                .throughput_mode(ThroughputMode::from(desired.get_str("throughput_mode")?))
                .send()
                .await
                .map_err(|e| aws_error("UpdateFileSystem", e))?;
        }
        if changed.iter().any(|c| c == "tags") {
            let have = Tags::from_json(prior.attrs.get("tags"));
            let (set, remove) = have.delta(&Tags::from_json(desired.get("tags")));
            if !set.is_empty() {
                self.efs
                    .tag_resource()
                    .resource_id(&prior.id)
                    .set_tags(Some(efs_tags(&set)?))
                    .send()
                    .await
                    .map_err(|e| aws_error("TagResource", e))?;
            }
            if !remove.is_empty() {
                self.efs
                    .untag_resource()
                    .resource_id(&prior.id)
                    .set_tag_keys(Some(remove))
                    .send()
                    .await
                    .map_err(|e| aws_error("UntagResource", e))?;
            }
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

impl FileSystemKind {
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

/// `aws_efs_mount_target`: the NFS endpoint of the file system in one subnet. Mount targets
/// take no tags.
pub struct MountTargetKind {
    efs: Client,
    /// A mount target's security groups are those of its network interface: one EC2
    /// `DescribeNetworkInterfaces` answers for every mount target, where EFS needs a
    /// `DescribeMountTargetSecurityGroups` call per mount target.
    ec2: aws_sdk_ec2::Client,
}

impl MountTargetKind {
    fn new(sdk: &aws_types::SdkConfig) -> Self {
        MountTargetKind {
            efs: Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
        }
    }
}

#[async_trait]
impl Kind for MountTargetKind {
    fn type_name(&self) -> &'static str {
        "aws_efs_mount_target"
    }

    fn fields(&self) -> &'static [Field] {
        &[
            Field {
                name: "file_system_id",
                flags: &[Flag::ForceNew],
            },
            Field {
                name: "subnet_id",
                flags: &[Flag::ForceNew],
            },
        ]
    }

    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError> {
        let prior = Prior {
            type_name: self.type_name(),
            instance: prior,
        };
        Ok(self.read_many(&[prior]).await?.pop().flatten())
    }

    /// One `DescribeMountTargets` per file system (it lists all of its mount targets), then one
    /// `DescribeNetworkInterfaces` for all their security groups: two requests in all.
    async fn read_many(
        &self,
        priors: &[Prior<'_>],
    ) -> Result<Vec<Option<Instance>>, ResourceError> {
        let mut by_fs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut lone = Vec::new();
        for p in priors {
            match p.instance.attrs.get("file_system_id").and_then(J::as_str) {
                Some(fs) => by_fs.entry(fs).or_default().push(&p.instance.id),
                // A state written without the attribute: look the mount target up by id.
                None => lone.push(p.instance.id.as_str()),
            }
        }
        let lists = futures::future::try_join_all(
            by_fs
                .keys()
                .map(|fs| self.list(Some(*fs), None))
                .chain(lone.iter().map(|id| self.list(None, Some(*id)))),
        )
        .await?;
        let live: Vec<MountTargetDescription> = lists
            .into_iter()
            .flatten()
            .filter(|mt| !is_gone(mt.life_cycle_state().as_str()))
            .filter(|mt| priors.iter().any(|p| p.instance.id == mt.mount_target_id()))
            .collect();
        let mut found = self.with_groups_many(&live).await?;
        Ok(priors
            .iter()
            .map(|p| found.remove(&p.instance.id))
            .collect())
    }

    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        let Some(fs_id) = desired.get("file_system_id").and_then(J::as_str) else {
            return Ok(None);
        };
        let subnet_id = desired.get_str("subnet_id")?;
        let Some(out) = self
            .efs
            .describe_mount_targets()
            .file_system_id(fs_id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeMountTargets", e))
            .absent_if(&["FileSystemNotFound"])?
        else {
            return Ok(None);
        };
        let found = out
            .mount_targets()
            .iter()
            .find(|mt| mt.subnet_id() == subnet_id && !is_gone(mt.life_cycle_state().as_str()))
            .cloned();
        // Found mid-creation (a run killed while waiting), it is returned as it is: `settle`
        // waits, in apply only.
        match found {
            Some(mt) => self.with_groups(&mt).await,
            None => Ok(None),
        }
    }

    async fn settle(&self, found: Instance) -> Result<Instance, ResourceError> {
        self.wait_available(&found.id).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let out = self
            .efs
            .create_mount_target()
            .file_system_id(desired.get_str("file_system_id")?)
            .subnet_id(desired.get_str("subnet_id")?)
            .set_security_groups(Some(desired.get_strs("security_groups")?))
            .send()
            .await
            .map_err(|e| {
                let e = aws_error("CreateMountTarget", e);
                if e.is(&["MountTargetConflict"]) {
                    e.with_hint("the file system already has a mount target in this availability zone: import it by running apply again, or delete it")
                } else {
                    e
                }
            })?;
        let id = out.mount_target_id().to_owned();
        self.wait_available(&id).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        if changed.iter().any(|c| c == "security_groups") {
            self.efs
                .modify_mount_target_security_groups()
                .mount_target_id(&prior.id)
                .set_security_groups(Some(desired.get_strs("security_groups")?))
                .send()
                .await
                .map_err(|e| aws_error("ModifyMountTargetSecurityGroups", e))?;
        }
        self.wait_available(&prior.id).await
    }

    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError> {
        let deleted = self
            .efs
            .delete_mount_target()
            .mount_target_id(&prior.id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteMountTarget", e))
            .absent_if(&["MountTargetNotFound"])?;
        if deleted.is_none() {
            // Already gone: nothing to wait for.
            return Ok(());
        }
        // The file system and the security group can only go once the mount target's network
        // interface is released, which is when AWS stops knowing the mount target.
        wait::until(
            &format!("EFS mount target {} to be deleted", prior.id),
            // Its network interface takes about a minute to go.
            Backoff::expecting(Duration::from_secs(60), EFS_TIMEOUT),
            || async {
                Ok(match self.describe(&prior.id).await? {
                    Some(mt) if mt.life_cycle_state().as_str() != "deleted" => {
                        Poll::Pending(mt.life_cycle_state().as_str().to_owned())
                    }
                    _ => Poll::Ready(()),
                })
            },
        )
        .await
    }
}

impl MountTargetKind {
    async fn describe(&self, id: &str) -> Result<Option<MountTargetDescription>, ResourceError> {
        self.efs
            .describe_mount_targets()
            .mount_target_id(id)
            .send()
            .await
            .map_err(|e| aws_error("DescribeMountTargets", e))
            .absent_if(&["MountTargetNotFound"])
            .map(|o| o.and_then(|out| out.mount_targets().first().cloned()))
    }

    /// The mount targets of a file system (`fs`), or the one with an id; empty when AWS no
    /// longer knows the file system or the mount target.
    async fn list(
        &self,
        fs: Option<&str>,
        id: Option<&str>,
    ) -> Result<Vec<MountTargetDescription>, ResourceError> {
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let out = self
                .efs
                .describe_mount_targets()
                .set_file_system_id(fs.map(str::to_owned))
                .set_mount_target_id(id.map(str::to_owned))
                .set_marker(marker.take())
                .send()
                .await
                .map_err(|e| aws_error("DescribeMountTargets", e))
                .absent_if(&["FileSystemNotFound", "MountTargetNotFound"])?;
            let Some(out) = out else {
                return Ok(all);
            };
            all.extend(out.mount_targets().iter().cloned());
            match out.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_owned()),
                _ => return Ok(all),
            }
        }
    }

    /// The mount target with its security groups, which DescribeMountTargets does not return.
    async fn with_groups(
        &self,
        mt: &MountTargetDescription,
    ) -> Result<Option<Instance>, ResourceError> {
        let mut found = self.with_groups_many(std::slice::from_ref(mt)).await?;
        Ok(found.remove(mt.mount_target_id()))
    }

    /// The mount targets with their security groups, by mount target id. The groups come from
    /// their network interfaces, all in one request; a mount target whose interface is not
    /// (or no longer) visible is asked about on its own, and left out if AWS no longer knows it.
    async fn with_groups_many(
        &self,
        mts: &[MountTargetDescription],
    ) -> Result<HashMap<String, Instance>, ResourceError> {
        let mut out = HashMap::new();
        let enis: Vec<String> = mts
            .iter()
            .filter_map(|mt| mt.network_interface_id().map(str::to_owned))
            .collect();
        let mut groups: HashMap<String, Vec<String>> = HashMap::new();
        if !enis.is_empty() {
            let mut pages = self
                .ec2
                .describe_network_interfaces()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("network-interface-id")
                        .set_values(Some(enis))
                        .build(),
                )
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| aws_error("DescribeNetworkInterfaces", e))?;
                for eni in page.network_interfaces() {
                    if let Some(id) = eni.network_interface_id() {
                        let ids = eni
                            .groups()
                            .iter()
                            .filter_map(|g| g.group_id().map(str::to_owned))
                            .collect();
                        groups.insert(id.to_owned(), ids);
                    }
                }
            }
        }
        for mt in mts {
            let from_eni = mt.network_interface_id().and_then(|eni| groups.get(eni));
            let sgs = match from_eni {
                Some(sgs) => sgs.clone(),
                None => match self
                    .efs
                    .describe_mount_target_security_groups()
                    .mount_target_id(mt.mount_target_id())
                    .send()
                    .await
                    .map_err(|e| aws_error("DescribeMountTargetSecurityGroups", e))
                    .absent_if(&["MountTargetNotFound"])?
                {
                    Some(o) => o.security_groups().to_vec(),
                    None => continue,
                },
            };
            out.insert(mt.mount_target_id().to_owned(), mt_instance(mt, &sgs));
        }
        Ok(out)
    }

    async fn wait_available(&self, id: &str) -> Result<Instance, ResourceError> {
        let mt = wait::until(
            &format!("EFS mount target {id} to be available"),
            // A mount target takes 60 to 90 s.
            Backoff::expecting(Duration::from_secs(75), EFS_TIMEOUT),
            || async {
                let mt = self.describe(id).await?.ok_or_else(|| {
                    ResourceError::new(
                        "DescribeMountTargets",
                        format!("EFS mount target {id} vanished while it was being set up"),
                    )
                    .retryable()
                })?;
                match mt.life_cycle_state().as_str() {
                    "available" => Ok(Poll::Ready(mt)),
                    "error" => Err(ResourceError::new(
                        "CreateMountTarget",
                        format!("EFS mount target {id} is in the `error` state"),
                    )
                    .with_hint("delete it in the console (or run destroy), then apply again")),
                    s if is_gone(s) => Err(ResourceError::new(
                        "DescribeMountTargets",
                        format!("EFS mount target {id} is being deleted"),
                    )),
                    s => Ok(Poll::Pending(s.to_owned())),
                }
            },
        )
        .await?;
        self.with_groups(&mt).await?.ok_or_else(|| {
            ResourceError::new(
                "DescribeMountTargetSecurityGroups",
                format!("EFS mount target {id} vanished right after it was changed"),
            )
            .retryable()
        })
    }
}

fn is_gone(state: &str) -> bool {
    matches!(state, "deleting" | "deleted")
}

fn fs_instance(fs: &FileSystemDescription) -> Instance {
    let id = fs.file_system_id();
    let tags = Tags::from_pairs(
        fs.tags()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned())),
    );
    let mut attrs = Values::from([
        ("id".to_owned(), J::from(id)),
        ("creation_token".to_owned(), J::from(fs.creation_token())),
        (
            "encrypted".to_owned(),
            J::from(fs.encrypted().unwrap_or(false)),
        ),
        (
            "performance_mode".to_owned(),
            J::from(fs.performance_mode().as_str()),
        ),
        (
            "throughput_mode".to_owned(),
            fs.throughput_mode()
                .map_or(J::Null, |m| J::from(m.as_str())),
        ),
        ("tags".to_owned(), tags.to_json()),
    ]);
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

fn mt_instance(mt: &MountTargetDescription, groups: &[String]) -> Instance {
    let mut attrs = Values::from([
        ("id".to_owned(), J::from(mt.mount_target_id())),
        ("file_system_id".to_owned(), J::from(mt.file_system_id())),
        ("subnet_id".to_owned(), J::from(mt.subnet_id())),
        (
            "security_groups".to_owned(),
            string_set(groups.iter().cloned()),
        ),
    ]);
    if let Some(ip) = mt.ip_address() {
        attrs.insert("ip_address".to_owned(), J::from(ip));
    }
    if let Some(az) = mt.availability_zone_name() {
        attrs.insert("availability_zone_name".to_owned(), J::from(az));
    }
    Instance::new(mt.mount_target_id(), attrs)
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

    #[test]
    fn mount_target_groups_are_sorted() {
        let mt = MountTargetDescription::builder()
            .mount_target_id("fsmt-1")
            .file_system_id("fs-1")
            .subnet_id("subnet-1")
            .life_cycle_state(aws_sdk_efs::types::LifeCycleState::Available)
            .build();
        let Ok(mt) = mt else {
            panic!("builder needs more fields");
        };
        let i = mt_instance(&mt, &["sg-b".into(), "sg-a".into()]);
        assert_eq!(i.attrs["security_groups"], json!(["sg-a", "sg-b"]));
    }
}
