//! The engine: configuration, refresh and diff (plan), the graph walk (apply) and rendering.

pub mod apply;
pub mod backend;
#[cfg(test)]
pub mod fake;
pub mod graph;
pub mod interrupt;
pub mod json_plan;
pub mod lock;
pub mod plan;
pub mod render;
pub mod state;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as J;
use sha2::{Digest, Sha256};
use stackctl_contract::{tags, Attrs, Instance, Kind, Resolve, ResourceSpec, Val, ValueFn, Values};

/// What the engine has to tell the user besides its results (a stale lock taken over, a lock it
/// could not remove, a test hook firing): it reports, and the command layer prints. The
/// engine never writes to stdout or stderr itself.
pub trait Report: Send + Sync {
    /// Something the user should act on or know about.
    fn warn(&self, text: &str);
    /// A note about the run rather than its result.
    // Only the test hooks' fail point says something outside a resource's lines.
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    fn notice(&self, text: &str);
}

/// A [`Report`] that can be kept by what outlives the call that took it (a lock, which warns
/// when it is dropped).
pub type Reporter = Arc<dyn Report>;

/// A [`Report`] that says nothing, for the engine's own tests.
#[cfg(test)]
pub struct Silent;

#[cfg(test)]
impl Report for Silent {
    fn warn(&self, _: &str) {}
    fn notice(&self, _: &str) {}
}

/// The whole stack as the variables describe it: its resources and its outputs.
pub struct Config {
    pub specs: Vec<ResourceSpec>,
    pub outputs: Vec<OutputDef>,
}

/// One output, like Terraform's `output` block.
pub struct OutputDef {
    pub name: &'static str,
    pub sensitive: bool,
    pub value: Box<ValueFn>,
}

/// Every resource kind, by Terraform type name, so the engine can read and delete whatever the
/// state holds.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: HashMap<&'static str, Arc<dyn Kind>>,
}

impl Registry {
    pub fn new(kinds: impl IntoIterator<Item = Arc<dyn Kind>>) -> Self {
        Registry {
            kinds: kinds.into_iter().map(|k| (k.type_name(), k)).collect(),
        }
    }

    pub fn get(&self, type_name: &str) -> Option<&Arc<dyn Kind>> {
        self.kinds.get(type_name)
    }
}

/// Prefix of every fingerprint; a value with it is never fingerprinted twice.
pub(crate) const FINGERPRINT_PREFIX: &str = "fingerprint:sha256:";

/// The stand-in for a secret value in the state and in plans: a salted SHA-256, enough to tell
/// that a password changed, useless to recover it.
pub fn fingerprint(salt: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(value.as_bytes());
    format!("{FINGERPRINT_PREFIX}{}", state::hex(&h.finalize()))
}

/// Replace the clear value of every sensitive attribute with its fingerprint.
pub fn scrub_values(values: &mut Values, sensitive: &[&str], salt: &str) {
    for key in sensitive {
        if let Some(J::String(s)) = values.get(*key) {
            if !s.starts_with(FINGERPRINT_PREFIX) {
                let fp = fingerprint(salt, s);
                values.insert((*key).to_owned(), J::String(fp));
            }
        }
    }
}

pub fn scrub_instance(mut inst: Instance, sensitive: &[&str], salt: &str) -> Instance {
    scrub_values(&mut inst.attrs, sensitive, salt);
    inst
}

/// Resolves references against known attribute values (the state during apply).
pub struct KnownResolver<'a>(pub &'a HashMap<String, Values>);

impl Resolve for KnownResolver<'_> {
    fn get(&self, address: &str, attr: &str) -> Val {
        match self.0.get(address).and_then(|v| v.get(attr)) {
            Some(v) if !v.is_null() => Val::Known(v.clone()),
            _ => Val::Unknown,
        }
    }
}

/// Desired attributes as plain values, if every one is known.
pub fn all_known(desired: &Attrs) -> Option<Values> {
    desired
        .iter()
        .map(|(k, v)| v.known().map(|v| (k.clone(), v.clone())))
        .collect()
}

/// Whether a resource found in AWS by its unique name belongs to this stack, so it may be
/// adopted. Kinds without tags (mount targets, policy attachments) are identified by what they
/// attach to, which is ours; tagged ones must carry this stack's three tags, so a same-named
/// resource someone else made is never taken over.
pub fn owned(found: &Instance, desired: &Values) -> bool {
    let Some(want) = desired.get("tags").and_then(J::as_object) else {
        return true;
    };
    let have = found.attrs.get("tags").and_then(J::as_object);
    [tags::MANAGED_BY, tags::PROJECT, tags::ENVIRONMENT]
        .iter()
        .all(|k| have.and_then(|h| h.get(*k)) == want.get(*k))
}

/// Test hook for the kill-point tests: `STACKCTL_FAIL_AFTER=N` aborts the process right after
/// the N-th AWS operation succeeds and before its result is written to the state (the worst
/// moment: AWS has the resource, the state does not know it). Abort, like SIGKILL, runs no
/// destructor, so the lock file is left behind as well. Only a build with the `test-hooks`
/// feature (`scripts/test.sh`) has it: in a user's binary the variable does nothing.
#[cfg(not(feature = "test-hooks"))]
pub fn fail_point(_report: &dyn Report) {}

/// See the hook-less [`fail_point`] above.
#[cfg(feature = "test-hooks")]
pub fn fail_point(report: &dyn Report) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    static LIMIT: OnceLock<Option<usize>> = OnceLock::new();
    static DONE: AtomicUsize = AtomicUsize::new(0);
    let limit = LIMIT.get_or_init(|| {
        std::env::var("STACKCTL_FAIL_AFTER")
            .ok()
            .and_then(|v| v.parse().ok())
    });
    if let Some(limit) = limit {
        if DONE.fetch_add(1, Ordering::SeqCst) + 1 >= *limit {
            report.notice(&format!(
                "STACKCTL_FAIL_AFTER={limit}: aborting after operation {limit}"
            ));
            std::process::abort();
        }
    }
}
