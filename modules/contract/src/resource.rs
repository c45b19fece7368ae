//! Resource kinds (the operations on an AWS type) and resource specs (one resource of the stack).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::args::Field;
use crate::error::ResourceError;
use crate::tags::Tags;
use crate::value::{Attrs, Val, Values};

/// What the state remembers of one existing resource: its AWS id and its last known attributes
/// (the managed ones the engine diffs, plus computed ones such as ARNs and DNS names).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    #[serde(default)]
    pub attrs: Values,
}

impl Instance {
    pub fn new(id: impl Into<String>, attrs: Values) -> Self {
        Instance {
            id: id.into(),
            attrs,
        }
    }

    /// The tags the resource had when last read (none if it had no `tags` attribute).
    pub fn tags(&self) -> Tags {
        Tags::from_json(self.attrs.get("tags"))
    }
}

/// One resource handed to [`Kind::read_many`]: its type and what the state holds of it.
#[derive(Clone, Copy, Debug)]
pub struct Prior<'a> {
    pub type_name: &'a str,
    pub instance: &'a Instance,
}

/// The operations on one AWS resource type. Everything a kind needs comes from its arguments
/// and the SDK client it holds, never from the configuration, so the engine can refresh and
/// delete a resource the configuration no longer has (a mount target in a removed subnet, or
/// everything on `destroy`).
#[async_trait]
pub trait Kind: Send + Sync {
    /// Terraform's name for the type, such as `aws_security_group`: users know these.
    fn type_name(&self) -> &'static str;

    /// The kind's arguments, declared once with [`args!`](crate::args!): `<XArgs as
    /// Args>::FIELDS`. Whether a change replaces the resource and whether a value is a secret
    /// follow from their flags. Required, so that a new kind cannot forget its replacements.
    fn fields(&self) -> &'static [Field];

    /// Whether a change of `attr` replaces the resource.
    fn force_new(&self, attr: &str) -> bool {
        self.fields()
            .iter()
            .any(|f| f.name == attr && f.force_new())
    }

    /// The attributes whose values are secrets. The engine stores and shows only a salted
    /// fingerprint of them; a kind may see either the clear value or the prior fingerprint.
    fn sensitive(&self) -> Vec<&'static str> {
        self.fields()
            .iter()
            .filter(|f| f.sensitive())
            .map(|f| f.name)
            .collect()
    }

    /// Attributes the kind reads for its own decisions that AWS changes by itself, such as a
    /// database's `status` during its nightly backup. They are recorded in the state (and
    /// shown by `show -json`, as Terraform's computed attributes are) but never count as
    /// drift: a transient status is not configuration.
    fn transient(&self) -> &'static [&'static str] {
        &[]
    }

    /// Arguments AWS never reports (how to delete the resource, when to apply a change): only
    /// the state knows them. `import` takes them from the configuration, as the next apply
    /// would set them, so an imported resource is deleted as the stack's own would be.
    fn config_only(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether a replacement creates the new resource before deleting the old one (for
    /// immutable, unnamed things such as task definition revisions).
    fn create_before_destroy(&self) -> bool {
        false
    }

    /// `Some(why)` when a create-before-destroy replacement keeps the replaced resource instead
    /// of deleting it; `why` is shown in the plan. Task definition revisions are kept: the
    /// service still runs the old one until it moves, and a rollback needs it. The kind then
    /// retires old ones itself once nothing needs them, and deletes them all in `delete`.
    fn keeps_replaced(&self) -> Option<&'static str> {
        None
    }

    /// Further provider resource types this kind manages in the same calls, each owning some
    /// of its attributes (a secret's value: `aws_secretsmanager_secret_version`). Terraform's
    /// JSON lists each as a resource of its own; the plan counts them so.
    fn parts(&self) -> &'static [crate::provider::Part] {
        &[]
    }

    /// `attrs` as the AWS provider has `type_name` (this kind's own type, or one of its
    /// [`parts`](Kind::parts)): its attribute names and value shapes, blocks as lists of
    /// objects, documents as JSON strings. `attrs` holds `id` when the resource exists, and
    /// [`provider::UNKNOWN`](crate::provider::UNKNOWN) or
    /// [`provider::SENSITIVE`](crate::provider::SENSITIVE) for values not known yet or secret,
    /// which the answer carries over as they are. Attributes the provider does not have (a
    /// bookkeeping status) are left out; the engine fills in the provider's others. The
    /// default keeps every attribute as it is.
    fn provider_values(
        &self,
        _type_name: &str,
        attrs: &crate::provider::Object,
    ) -> crate::provider::Object {
        attrs.clone()
    }

    /// The live resource, or `None` when it no longer exists.
    async fn read(&self, prior: &Instance) -> Result<Option<Instance>, ResourceError>;

    /// Kinds with the same batch group are refreshed together, by one `read_many` call on any
    /// of them. A group other than the type name lets kinds that share an API batch across
    /// types (the load balancer, target group and listener share one `DescribeTags`).
    fn batch_group(&self) -> &'static str {
        self.type_name()
    }

    /// The live form of each of `priors` (`None`: gone), in their order. Plan's refresh hands
    /// every resource of a batch group to one call, so a kind whose API describes many
    /// resources in one request makes that one request instead of one per resource. The
    /// default reads each resource, all at once; a kind that overrides `batch_group` must
    /// override this too, since it then gets resources of other types.
    async fn read_many(
        &self,
        priors: &[Prior<'_>],
    ) -> Result<Vec<Option<Instance>>, ResourceError> {
        futures::future::try_join_all(priors.iter().map(|p| self.read(p.instance))).await
    }

    /// Find a live resource matching `desired` that the state does not know, such as one created
    /// by a run that was killed before it could record the id. `None` when there is none.
    async fn adopt(&self, _desired: &Values) -> Result<Option<Instance>, ResourceError> {
        Ok(None)
    }

    /// Wait until a resource [`adopt`](Kind::adopt) found mid-creation (a run killed during
    /// its wait) is usable, as [`create`](Kind::create) waits for a new one, and return it as
    /// read then. `adopt` itself never waits, so that `plan` never holds the lock for the
    /// minutes a database takes: `apply` calls this before its dependents start.
    async fn settle(&self, found: Instance) -> Result<Instance, ResourceError> {
        Ok(found)
    }

    async fn create(&self, desired: &Values) -> Result<Instance, ResourceError>;

    /// Check a planned in-place update before anything is sent, against `live` as the plan's
    /// refresh just read it. An error refuses the plan: it is for what AWS would refuse only
    /// midway through an apply (RDS storage that shrinks, or grows too little or too soon), so
    /// the user hears it before any change. The answer notes what the user should know of a
    /// changed attribute (deferred to a maintenance window, an outage), shown next to it.
    fn review_update(
        &self,
        _live: &Instance,
        _desired: &Attrs,
        _changed: &[String],
    ) -> Result<BTreeMap<String, String>, ResourceError> {
        Ok(BTreeMap::new())
    }

    /// Why AWS would refuse to delete `live` as it is now (a database with deletion protection
    /// on), with what to do. A plan that deletes or replaces it is refused whole, before any
    /// change, as Terraform's `prevent_destroy` refuses a plan: an apply or a destroy must not
    /// stop halfway with the rest of the stack already gone. `None`: nothing stands in the way.
    fn delete_refused(&self, _live: &Instance) -> Option<String> {
        None
    }

    /// Change `changed` attributes in place; only called with attributes that are not
    /// [`force_new`](Kind::force_new).
    async fn update(
        &self,
        prior: &Instance,
        desired: &Values,
        changed: &[String],
    ) -> Result<Instance, ResourceError>;

    /// Delete the resource and return once AWS no longer needs it gone any further for its
    /// dependencies to be deleted (a mount target's network interface released, for example).
    async fn delete(&self, prior: &Instance) -> Result<(), ResourceError>;
}

/// Looks up an attribute of another resource while desired attributes are computed.
pub trait Resolve {
    /// The attribute, `Val::Unknown` if that resource does not exist yet or will be replaced.
    fn get(&self, address: &str, attr: &str) -> Val;
}

type DesiredFn = dyn Fn(&dyn Resolve) -> Attrs + Send + Sync;

/// One value computed from other resources' attributes: an output, or a secret's content.
pub type ValueFn = dyn Fn(&dyn Resolve) -> Val + Send + Sync;

/// One resource of the stack: an address such as `module.security.aws_security_group.alb`, its
/// kind, and how its desired attributes follow from the variables and other resources.
#[derive(Clone)]
pub struct ResourceSpec {
    pub address: String,
    pub kind: Arc<dyn Kind>,
    desired: Arc<DesiredFn>,
    extra_deps: Vec<String>,
}

impl ResourceSpec {
    pub fn new(
        address: impl Into<String>,
        kind: Arc<dyn Kind>,
        desired: impl Fn(&dyn Resolve) -> Attrs + Send + Sync + 'static,
    ) -> Self {
        let address = address.into();
        debug_assert!(
            crate::Address::parse(&address).is_ok(),
            "{address} is not an address"
        );
        ResourceSpec {
            address,
            kind,
            desired: Arc::new(desired),
            extra_deps: Vec::new(),
        }
    }

    /// An ordering dependency that no attribute shows, like Terraform's `depends_on` (the ECS
    /// service must wait for the listener that attaches its target group to the load balancer).
    pub fn depends_on(mut self, address: impl Into<String>) -> Self {
        self.extra_deps.push(address.into());
        self
    }

    pub fn desired(&self, r: &dyn Resolve) -> Attrs {
        (self.desired)(r)
    }

    /// Every address this resource needs: the ones its desired attributes read, found by
    /// computing them once against a recording resolver, plus the explicit ones. Deriving the
    /// edges from the same code that uses the values means they can never disagree.
    pub fn dependencies(&self) -> BTreeSet<String> {
        struct Recorder(RefCell<BTreeSet<String>>);
        impl Resolve for Recorder {
            fn get(&self, address: &str, _attr: &str) -> Val {
                self.0.borrow_mut().insert(address.to_owned());
                Val::Unknown
            }
        }
        let rec = Recorder(RefCell::new(BTreeSet::new()));
        let _ = (self.desired)(&rec);
        let mut deps = rec.0.into_inner();
        deps.extend(self.extra_deps.iter().cloned());
        deps.remove(&self.address);
        deps
    }
}

impl std::fmt::Debug for ResourceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceSpec")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// A reference to an attribute of another resource, as a module input (Terraform's
/// `module.security.alb_security_group_id` wired into the alb module).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ref {
    pub address: String,
    pub attr: String,
}

impl Ref {
    pub fn new(address: impl Into<String>, attr: impl Into<String>) -> Self {
        Ref {
            address: address.into(),
            attr: attr.into(),
        }
    }

    pub fn get(&self, r: &dyn Resolve) -> Val {
        r.get(&self.address, &self.attr)
    }
}
