//! Adoption: a resource the state lacks is looked up in AWS by its unique name before its
//! create is planned (a run killed before it wrote the id left it there). One of this stack's
//! is recorded instead of created; a same-named one without this stack's tags is refused.

use std::collections::HashMap;
use std::sync::Arc;

use futures::stream::{self, StreamExt};
use stackctl_contract::{Instance, Kind, ResourceError, Values};

use super::types::PlanError;
use crate::engine::{owned, scrub_instance};

/// A look-up by unique name: the values it was made with, and what AWS answered.
pub(super) type Answer = (Values, Result<Option<Instance>, ResourceError>);

/// What a look-up found under a resource's name (None: nothing), with the values looked up.
pub(super) type Found = (Option<Instance>, Values);

/// Send every look-up (address, kind, values) at once, at most `parallelism` in flight; the
/// answers by address.
pub(super) async fn look_up_all(
    lookups: Vec<(&str, Arc<dyn Kind>, Values)>,
    parallelism: usize,
) -> HashMap<&str, Answer> {
    let results: Vec<_> = stream::iter(
        lookups
            .iter()
            .map(|(_, kind, values)| async move { kind.adopt(values).await }),
    )
    .buffered(parallelism)
    .collect()
    .await;
    lookups
        .into_iter()
        .zip(results)
        .map(|((address, _, values), found)| (address, (values, found)))
        .collect()
}

/// The look-ups of one dependency level, at most `parallelism` in flight. Each resource comes
/// with the values to look it up by: None when AWS has it already or they are not all known,
/// and then it is not looked up (None). An `early` answer is taken (and removed) when it was
/// made with the same values; otherwise the look-up is sent now.
pub(super) async fn look_up_level(
    wanted: Vec<(&String, &dyn Kind, Option<Values>)>,
    early: &mut HashMap<&str, Answer>,
    parallelism: usize,
) -> Vec<Result<Option<Found>, PlanError>> {
    stream::iter(wanted.into_iter().map(|(address, kind, values)| {
        let guessed = early.remove(address.as_str());
        async move {
            let Some(values) = values else {
                return Ok(None);
            };
            let found = match guessed {
                Some((guess, found)) if guess == values => found,
                _ => kind.adopt(&values).await,
            };
            let found = found.map_err(|source| PlanError::Refresh {
                address: address.clone(),
                source,
            })?;
            Ok::<_, PlanError>(Some((found, values)))
        }
    }))
    .buffered(parallelism)
    .collect()
    .await
}

/// What a look-up means for the plan.
#[derive(Default)]
pub(super) struct Adoption {
    /// Found, and this stack's: apply records it instead of creating it.
    pub adopt: bool,
    /// The plan looked (apply need not look again before creating).
    pub checked: bool,
    /// Found with this resource's name but without this stack's tags: its id.
    pub foreign: Option<String>,
}

/// Judge what `lookup` found; a resource of this stack's becomes `live`, its secrets
/// fingerprinted as a refreshed one's are.
pub(super) fn judge(
    lookup: Option<Found>,
    kind: &dyn Kind,
    salt: &str,
    live: &mut Option<Instance>,
) -> Adoption {
    let mut adoption = Adoption::default();
    if let Some((found, values)) = lookup {
        adoption.checked = true;
        match found {
            Some(found) if owned(&found, &values) => {
                adoption.adopt = true;
                *live = Some(scrub_instance(found, &kind.sensitive(), salt));
            }
            Some(found) => adoption.foreign = Some(found.id),
            None => {}
        }
    }
    adoption
}
