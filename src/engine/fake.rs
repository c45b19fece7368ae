//! A resource kind for the engine's unit tests, built fluently (`FakeKind::new("aws_ecs_cluster")
//! .on_create(..)`), and a planned change of it: each test says only what it is about.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use stackctl_contract::provider::Part;
use stackctl_contract::{Attrs, Field, Instance, Kind, ResourceError, Values};

use super::plan::{Action, Change};

type Answer<T> = Box<dyn Fn(&Values) -> T + Send + Sync>;

/// A kind whose operations answer what the test set, and count the creates and deletes it saw.
/// An operation the test did not set fails with "not expected".
pub struct FakeKind {
    type_name: &'static str,
    fields: &'static [Field],
    create: Option<Answer<Instance>>,
    adopt: Option<Answer<Option<Instance>>>,
    keeps_replaced: Option<&'static str>,
    parts: &'static [Part],
    pub creates: AtomicUsize,
    pub deletes: AtomicUsize,
}

impl FakeKind {
    pub fn new(type_name: &'static str) -> FakeKind {
        FakeKind {
            type_name,
            fields: &[],
            create: None,
            adopt: None,
            keeps_replaced: None,
            parts: &[],
            creates: AtomicUsize::new(0),
            deletes: AtomicUsize::new(0),
        }
    }

    pub fn fields(mut self, fields: &'static [Field]) -> Self {
        self.fields = fields;
        self
    }

    pub fn on_create(mut self, f: impl Fn(&Values) -> Instance + Send + Sync + 'static) -> Self {
        self.create = Some(Box::new(f));
        self
    }

    pub fn on_adopt(
        mut self,
        f: impl Fn(&Values) -> Option<Instance> + Send + Sync + 'static,
    ) -> Self {
        self.adopt = Some(Box::new(f));
        self
    }

    /// Replaced create-before-destroy, keeping the replaced one (a task definition revision).
    pub fn keeps_replaced(mut self, why: &'static str) -> Self {
        self.keeps_replaced = Some(why);
        self
    }

    /// Provider resources it manages with its own (a secret's version).
    pub fn parts(mut self, parts: &'static [Part]) -> Self {
        self.parts = parts;
        self
    }

    pub fn created(&self) -> usize {
        self.creates.load(Ordering::SeqCst)
    }

    pub fn deleted(&self) -> usize {
        self.deletes.load(Ordering::SeqCst)
    }
}

fn not_expected<T>() -> Result<T, ResourceError> {
    Err(ResourceError::internal("not expected"))
}

#[async_trait::async_trait]
impl Kind for FakeKind {
    fn type_name(&self) -> &'static str {
        self.type_name
    }
    fn fields(&self) -> &'static [Field] {
        self.fields
    }
    fn create_before_destroy(&self) -> bool {
        self.keeps_replaced.is_some()
    }
    fn keeps_replaced(&self) -> Option<&'static str> {
        self.keeps_replaced
    }
    fn parts(&self) -> &'static [Part] {
        self.parts
    }
    async fn read(&self, _: &Instance) -> Result<Option<Instance>, ResourceError> {
        Ok(None)
    }
    async fn adopt(&self, desired: &Values) -> Result<Option<Instance>, ResourceError> {
        Ok(self.adopt.as_ref().and_then(|f| f(desired)))
    }
    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError> {
        self.creates.fetch_add(1, Ordering::SeqCst);
        match &self.create {
            Some(f) => Ok(f(desired)),
            None => not_expected(),
        }
    }
    async fn update(
        &self,
        _: &Instance,
        _: &Values,
        _: &[String],
    ) -> Result<Instance, ResourceError> {
        not_expected()
    }
    async fn delete(&self, _: &Instance) -> Result<(), ResourceError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        if self.keeps_replaced.is_some() {
            return Ok(());
        }
        not_expected()
    }
}

/// A planned change of `address` (nothing noted, no dependency, adoption already checked).
pub fn change(
    address: &str,
    kind: Arc<dyn Kind>,
    action: Action,
    live: Option<Instance>,
    desired: Attrs,
    changed: &[&str],
) -> Change {
    Change {
        address: address.to_owned(),
        kind,
        action,
        live,
        desired,
        changed: changed.iter().map(|s| s.to_string()).collect(),
        note: None,
        notes: Default::default(),
        depends_on: Vec::new(),
        adopt: false,
        adopt_checked: true,
        foreign: None,
        forced: false,
    }
}

/// A change of a `kind` resource; one that exists already (all but a create) has the id and
/// ARN `arn:secret`.
pub fn change_of(kind: FakeKind, address: &str, action: Action, changed: &[&str]) -> Change {
    let live = (action != Action::Create).then(|| {
        Instance::new(
            "arn:secret",
            Values::from([("arn".to_owned(), serde_json::json!("arn:secret"))]),
        )
    });
    change(address, Arc::new(kind), action, live, Attrs::new(), changed)
}

/// A plan of `changes` from an empty state.
pub fn plan(mode: super::plan::Mode, changes: Vec<Change>) -> super::plan::Plan {
    super::plan::Plan {
        mode,
        prior: super::state::State::new(),
        changes,
    }
}
