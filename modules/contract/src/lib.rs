//! The contract between the stackctl engine and its modules: values, resources, errors and waits.
//!
//! A module crate owns one slice of the stack (security groups, the load balancer, ...). It
//! exposes two things, mirroring Terraform's split between a provider and a configuration:
//!
//! - [`Kind`]s: the operations on one AWS resource type (read, create, update, delete). They are
//!   driven only by attribute values and the [`Instance`] the state holds, so the engine can
//!   refresh or delete anything in the state even when the configuration no longer names it.
//! - [`ResourceSpec`]s: one resource of the configuration: its address, its kind, and a function
//!   from the other resources' attributes to the attributes it should have.
//!
//! The engine (the `stackctl` binary) builds the dependency graph from the specs, diffs desired
//! against live attributes, and walks the graph.

pub mod address;
pub mod args;
pub mod error;
pub mod interrupt;
pub mod provider;
pub mod resource;
pub mod tags;
pub mod target_health;
pub mod value;
pub mod wait;

pub use address::Address;
pub use args::{Args, Changed, Field, Flag, Known, Planned};
pub use error::{aws_error, root_cause, Absent, ResourceError};
pub use resource::{Instance, Kind, Prior, Ref, Resolve, ResourceSpec, ValueFn};
pub use tags::{TagApi, Tags};
pub use value::{effective, Attrs, Val, Values, ValuesExt, PENDING};
