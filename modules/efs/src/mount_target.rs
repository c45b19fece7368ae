//! `aws_efs_mount_target`: the NFS endpoint of the file system in one subnet, one per
//! availability zone, guarded by the EFS security group.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_efs::types::MountTargetDescription;
use aws_sdk_efs::Client;
use serde_json::Value as J;
use stackctl_contract::wait::{self, Backoff, Poll};
use stackctl_contract::{
    args, aws_error, provider, Absent, Args, Changed, Field, Instance, Kind, Prior, ResourceError,
    Values,
};

use crate::{is_gone, EFS_TIMEOUT};

args! {
    /// `aws_efs_mount_target`'s arguments.
    pub struct MountTargetArgs {
        [ForceNew] file_system_id: String,
        [ForceNew] subnet_id: String,
        /// Sorted: the order AWS answers in is not a change.
        security_groups: Vec<String>,
    }
}

/// `aws_efs_mount_target`, identified by its id (`fsmt-...`). Mount targets take no tags.
pub struct MountTargetKind {
    efs: Client,
    /// A mount target's security groups are those of its network interface: one EC2
    /// `DescribeNetworkInterfaces` answers for every mount target, where EFS needs a
    /// `DescribeMountTargetSecurityGroups` call per mount target.
    ec2: aws_sdk_ec2::Client,
    /// The last list of each file system's mount targets and when it was asked for: see
    /// [`MountTargetKind::describe_shared`].
    recent: tokio::sync::Mutex<HashMap<String, (Instant, Vec<MountTargetDescription>)>>,
}

/// How old a file system's list of mount targets may be and still answer a wait's check: far
/// below the first interval of a wait (1 s), so a shared answer is as fresh as the check's own.
const SHARED_FOR: Duration = Duration::from_millis(500);

impl MountTargetKind {
    pub fn new(sdk: &aws_types::SdkConfig) -> Self {
        MountTargetKind {
            efs: Client::new(sdk),
            ec2: aws_sdk_ec2::Client::new(sdk),
            recent: Default::default(),
        }
    }

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

    /// The mount target `id` of file system `fs`, for a wait's check. A file system's mount
    /// targets are created and deleted together, one per zone, and their waits poll on the
    /// same schedule: one `DescribeMountTargets` of the file system, asked for at most
    /// [`SHARED_FOR`] ago, answers every one of them (the others wait for it), instead of one
    /// request each per check. Without `fs` (a state written without it), by id. `new`: the
    /// mount target was just created, so a shared list without it may be from before.
    async fn describe_shared(
        &self,
        fs: Option<&str>,
        id: &str,
        new: bool,
    ) -> Result<Option<MountTargetDescription>, ResourceError> {
        let Some(fs) = fs else {
            return self.describe(id).await;
        };
        let find = |list: &[MountTargetDescription]| {
            list.iter().find(|mt| mt.mount_target_id() == id).cloned()
        };
        let mut recent = self.recent.lock().await;
        if let Some((at, list)) = recent.get(fs) {
            let mt = find(list);
            if at.elapsed() < wait::scaled(SHARED_FOR) && (mt.is_some() || !new) {
                return Ok(mt);
            }
        }
        let asked = Instant::now();
        let list = self.list(Some(fs), None).await?;
        let mt = find(&list);
        recent.insert(fs.to_owned(), (asked, list));
        Ok(mt)
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

    async fn wait_available(&self, fs: Option<&str>, id: &str) -> Result<Instance, ResourceError> {
        let mt = wait::until(
            &format!("EFS mount target {id} to be available"),
            // A mount target takes 60 to 90 s.
            Backoff::expecting(Duration::from_secs(75), EFS_TIMEOUT),
            || async {
                let mt = self.describe_shared(fs, id, true).await?.ok_or_else(|| {
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
            ResourceError::vanished(
                "DescribeMountTargetSecurityGroups",
                &format!("EFS mount target {id}"),
            )
        })
    }
}

#[async_trait]
impl Kind for MountTargetKind {
    fn type_name(&self) -> &'static str {
        "aws_efs_mount_target"
    }

    fn fields(&self) -> &'static [Field] {
        MountTargetArgs::FIELDS
    }

    fn provider_values(&self, _type_name: &str, attrs: &provider::Object) -> provider::Object {
        crate::provider::mount_target(attrs)
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
        let d = MountTargetArgs::from_values(desired)?;
        let Some(out) = self
            .efs
            .describe_mount_targets()
            .file_system_id(&d.file_system_id)
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
            .find(|mt| mt.subnet_id() == d.subnet_id && !is_gone(mt.life_cycle_state().as_str()))
            .cloned();
        // Found mid-creation (a run killed while waiting), it is returned as it is: `settle`
        // waits, in apply only.
        match found {
            Some(mt) => self.with_groups(&mt).await,
            None => Ok(None),
        }
    }

    async fn settle(&self, found: Instance) -> Result<Instance, ResourceError> {
        self.wait_available(file_system(&found), &found.id).await
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        let d = MountTargetArgs::from_values(desired)?;
        let out = self
            .efs
            .create_mount_target()
            .file_system_id(&d.file_system_id)
            .subnet_id(d.subnet_id)
            .set_security_groups(Some(d.security_groups))
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
        self.wait_available(Some(&d.file_system_id), &id).await
    }

    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError> {
        let d = MountTargetArgs::from_values(desired)?;
        if MountTargetArgs::<Changed>::from_names(changed).security_groups {
            self.efs
                .modify_mount_target_security_groups()
                .mount_target_id(&prior.id)
                .set_security_groups(Some(d.security_groups))
                .send()
                .await
                .map_err(|e| aws_error("ModifyMountTargetSecurityGroups", e))?;
        }
        self.wait_available(file_system(prior), &prior.id).await
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
                Ok(
                    match self
                        .describe_shared(file_system(prior), &prior.id, false)
                        .await?
                    {
                        Some(mt) if mt.life_cycle_state().as_str() != "deleted" => {
                            Poll::Pending(mt.life_cycle_state().as_str().to_owned())
                        }
                        _ => Poll::Ready(()),
                    },
                )
            },
        )
        .await
    }
}

/// The file system a mount target belongs to, as recorded.
fn file_system(mt: &Instance) -> Option<&str> {
    mt.attrs.get("file_system_id").and_then(J::as_str)
}

pub(crate) fn mt_instance(mt: &MountTargetDescription, groups: &[String]) -> Instance {
    let mut security_groups = groups.to_vec();
    security_groups.sort();
    security_groups.dedup();
    let mut attrs = MountTargetArgs {
        file_system_id: mt.file_system_id().to_owned(),
        subnet_id: mt.subnet_id().to_owned(),
        security_groups,
    }
    .to_values();
    attrs.insert("id".to_owned(), J::from(mt.mount_target_id()));
    if let Some(ip) = mt.ip_address() {
        attrs.insert("ip_address".to_owned(), J::from(ip));
    }
    if let Some(az) = mt.availability_zone_name() {
        attrs.insert("availability_zone_name".to_owned(), J::from(az));
    }
    Instance::new(mt.mount_target_id(), attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
