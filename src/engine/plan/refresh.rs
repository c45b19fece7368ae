//! Refresh: read back from AWS every resource the state holds, batched by kind, and say what
//! changed outside stackctl (`-refresh-only`).

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use stackctl_contract::{Instance, Kind, Prior};

use super::types::PlanError;
use crate::engine::state::{ResourceState, State};
use crate::engine::{scrub_instance, Registry};

/// Read every resource the state holds from AWS, `parallelism` batches at once (all of them
/// unless -parallelism says otherwise). `None`: it is gone.
///
/// Resources are handed to their kinds by batch group, so that a kind can describe all of
/// its resources in one request (the four security groups in one `DescribeSecurityGroups`):
/// plan's cost in requests is then close to one per resource, not one per attribute source.
pub async fn refresh(
    state: &State,
    registry: &Registry,
    parallelism: usize,
) -> Result<BTreeMap<String, Option<Instance>>, PlanError> {
    // batch group -> (a kind of the group, the resources of the group)
    type Members<'a> = Vec<(&'a String, &'a ResourceState, Instance)>;
    let mut groups: BTreeMap<&str, (Arc<dyn Kind>, Members)> = BTreeMap::new();
    for (address, rs) in &state.resources {
        let kind = registry
            .get(&rs.type_name)
            .ok_or_else(|| PlanError::UnknownType {
                address: address.clone(),
                type_name: rs.type_name.clone(),
            })?;
        groups
            .entry(kind.batch_group())
            .or_insert_with(|| (kind.clone(), Vec::new()))
            .1
            .push((address, rs, rs.instance()));
    }
    let salt = &state.fingerprint_salt;
    let reads = groups.into_values().map(|(kind, members)| async move {
        let priors: Vec<Prior<'_>> = members
            .iter()
            .map(|(_, rs, instance)| Prior {
                type_name: &rs.type_name,
                instance,
            })
            .collect();
        let live = kind
            .read_many(&priors)
            .await
            .map_err(|source| PlanError::Refresh {
                address: members
                    .iter()
                    .map(|(a, _, _)| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                source,
            })?;
        if live.len() != members.len() {
            return Err(PlanError::Internal(format!(
                "{} answered {} reads for {} resources",
                kind.batch_group(),
                live.len(),
                members.len()
            )));
        }
        let mut out = Vec::new();
        for ((address, rs, _), live) in members.iter().zip(live) {
            tracing::debug!(%address, exists = live.is_some(), "refreshed");
            // Scrub with the resource's own kind: a batch can mix types.
            let sensitive = registry
                .get(&rs.type_name)
                .map_or(Vec::new(), |k| k.sensitive());
            out.push((
                (*address).clone(),
                live.map(|i| scrub_instance(i, &sensitive, salt)),
            ));
        }
        Ok::<_, PlanError>(out)
    });
    let mut refreshed = BTreeMap::new();
    let batches: Vec<_> = stream::iter(reads)
        .buffer_unordered(parallelism.max(1))
        .collect()
        .await;
    for batch in batches {
        refreshed.extend(batch?);
    }
    Ok(refreshed)
}

/// `state` as AWS has it now: ids and attributes read back, vanished resources dropped.
pub(super) fn refreshed_state(
    state: &State,
    refreshed: &BTreeMap<String, Option<Instance>>,
) -> State {
    let mut prior = state.clone();
    for (address, live) in refreshed {
        match live {
            Some(inst) => {
                if let Some(rs) = prior.resources.get_mut(address) {
                    rs.id = inst.id.clone();
                    rs.attrs = inst.attrs.clone();
                }
            }
            None => {
                prior.resources.remove(address);
            }
        }
    }
    prior
}

/// One resource that changed outside stackctl: as the state had it, and as AWS has it now
/// (None: deleted).
pub struct Drift {
    pub address: String,
    pub kind: Arc<dyn Kind>,
    pub before: Instance,
    pub after: Option<Instance>,
}

/// `-refresh-only`: read every resource of the state and say what changed outside stackctl;
/// the state as it should then be recorded comes with it. Nothing is planned, nothing changes.
pub async fn refresh_only(
    state: &State,
    registry: &Registry,
    parallelism: usize,
) -> Result<(State, Vec<Drift>), PlanError> {
    let refreshed = refresh(state, registry, parallelism.max(1)).await?;
    let mut drift = Vec::new();
    for (address, live) in &refreshed {
        let rs = &state.resources[address];
        let kind = registry
            .get(&rs.type_name)
            .ok_or_else(|| PlanError::UnknownType {
                address: address.clone(),
                type_name: rs.type_name.clone(),
            })?
            .clone();
        // What AWS changes by itself (a database backing up) is compared, shown and saved
        // in a plan file without it: it is recorded, but never drift.
        let settled = |i: &Instance| {
            let mut i = i.clone();
            for attr in kind.transient() {
                i.attrs.remove(*attr);
            }
            i
        };
        let before = settled(&rs.instance());
        let after = live.as_ref().map(settled);
        let same = after
            .as_ref()
            .is_some_and(|l| l.id == before.id && l.attrs == before.attrs);
        if !same {
            drift.push(Drift {
                address: address.clone(),
                kind,
                before,
                after,
            });
        }
    }
    Ok((refreshed_state(state, &refreshed), drift))
}
