//! Typed arguments: a kind declares its arguments once, as a struct, with [`args!`](crate::args!).
//!
//! One declaration serves the three places an argument appears, so its name is written once
//! and a typo does not compile:
//!
//! - `Args<Planned>`: what a spec builds, each field a [`Val`] (it may be known only after
//!   apply). It turns into the engine's generic [`Attrs`], which the engine diffs, renders and
//!   stores without knowing the kind.
//! - `Args` (`Args<Known>`): the values a kind's create or update reads, each field its own
//!   Rust type, parsed from [`Values`] with an error naming the attribute.
//! - `Args<Changed>`: which fields an update changes, one `bool` each.
//!
//! Whether a change replaces the resource, and whether a value is a secret, is a flag on the
//! field (`[ForceNew] name: String`), so [`Kind::fields`](crate::Kind::fields) answers both
//! from the type.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as J;

use crate::error::ResourceError;
use crate::value::{Val, Values};

/// How an arguments struct holds each field: see the module documentation.
pub trait Form {
    type Of<T>;
}

/// Each field is its value: what create and update read.
pub enum Known {}
/// Each field is a desired value that may be unknown until apply: what a spec builds.
pub enum Planned {}
/// Each field says whether an update changes it.
pub enum Changed {}

impl Form for Known {
    type Of<T> = T;
}
impl Form for Planned {
    type Of<T> = Val;
}
impl Form for Changed {
    type Of<T> = bool;
}

/// What is true of one argument besides its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// A change cannot be made in place: the resource is replaced.
    ForceNew,
    /// A secret: the engine stores and shows only a salted fingerprint of it, and the kind may
    /// see either the clear value or the prior fingerprint.
    Sensitive,
}

/// One argument of a kind, as the engine sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub flags: &'static [Flag],
}

impl Field {
    pub fn force_new(&self) -> bool {
        self.flags.contains(&Flag::ForceNew)
    }

    pub fn sensitive(&self) -> bool {
        self.flags.contains(&Flag::Sensitive)
    }
}

/// Implemented by [`args!`](crate::args!) for the `Known` form of an arguments struct.
pub trait Args: Sized {
    /// Every argument, in declaration order.
    const FIELDS: &'static [Field];

    /// Parse the arguments from known values (desired ones, or what the state holds).
    fn from_values(values: &Values) -> Result<Self, ResourceError>;

    /// The arguments as values, the form a read-back reports them in.
    fn to_values(&self) -> Values;
}

/// One field of [`Args::from_values`]: a missing attribute reads as JSON `null`, so an
/// `Option` field may be absent; anything else that does not parse is a bug in the module,
/// reported with the attribute's name rather than a panic.
pub fn field<T: DeserializeOwned>(values: &Values, name: &str) -> Result<T, ResourceError> {
    let v = values.get(name).cloned().unwrap_or(J::Null);
    serde_json::from_value(v).map_err(|e| {
        ResourceError::internal(format!(
            "attribute `{name}` is missing or not what it should be: {e}"
        ))
    })
}

/// An optional argument (one a read-back may lack) that a create or update needs: missing, it
/// is a bug in the module's spec, reported with the attribute's name.
pub fn required<'a, T>(name: &str, v: &'a Option<T>) -> Result<&'a T, ResourceError> {
    v.as_ref().ok_or_else(|| {
        ResourceError::internal(format!(
            "attribute `{name}` is missing or not what it should be"
        ))
    })
}

/// One field of [`Args::to_values`]. Every argument type is plain data (strings, numbers,
/// lists, maps), which always serializes.
pub fn value<T: Serialize>(v: &T) -> J {
    serde_json::to_value(v).unwrap_or(J::Null)
}

/// Declares a kind's arguments: a struct generic over [`Form`], with the [`Args`] impl, the
/// conversion of its `Planned` form into the engine's attributes and its `Changed` form from
/// the engine's list of changed names.
///
/// ```
/// stackctl_contract::args! {
///     /// `aws_ecs_cluster`'s arguments.
///     pub struct ClusterArgs {
///         /// The cluster's name.
///         [ForceNew] name: String,
///         container_insights: String,
///     }
/// }
/// ```
#[macro_export]
macro_rules! args {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $([$($flag:ident),+])?
                $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name<F: $crate::args::Form = $crate::args::Known> {
            $(
                $(#[doc = $doc])*
                pub $field: F::Of<$ty>,
            )*
        }

        impl $crate::args::Args for $name {
            const FIELDS: &'static [$crate::args::Field] = &[
                $(
                    $crate::args::Field {
                        name: stringify!($field),
                        flags: &[$($($crate::args::Flag::$flag),+)?],
                    },
                )*
            ];

            fn from_values(values: &$crate::Values) -> Result<Self, $crate::ResourceError> {
                Ok($name {
                    $($field: $crate::args::field(values, stringify!($field))?,)*
                })
            }

            fn to_values(&self) -> $crate::Values {
                $crate::Values::from([
                    $((stringify!($field).to_owned(), $crate::args::value(&self.$field)),)*
                ])
            }
        }

        impl From<$name<$crate::args::Planned>> for $crate::Attrs {
            fn from(a: $name<$crate::args::Planned>) -> $crate::Attrs {
                $crate::Attrs::from([
                    $((stringify!($field).to_owned(), a.$field),)*
                ])
            }
        }

        impl $name<$crate::args::Changed> {
            /// Which fields are among the engine's changed attribute names.
            pub fn from_names(changed: &[String]) -> Self {
                $name {
                    $($field: changed.iter().any(|c| c == stringify!($field)),)*
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Attrs, Tags};

    crate::args! {
        /// A kind with one of each.
        struct Sample {
            /// Replaces the resource.
            [ForceNew] name: String,
            [Sensitive] password: String,
            size: i64,
            subnets: Vec<String>,
            comment: Option<String>,
            tags: Tags,
        }
    }

    #[test]
    fn flags_follow_from_the_declaration() {
        let f = <Sample as Args>::FIELDS;
        let names: Vec<&str> = f.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            ["name", "password", "size", "subnets", "comment", "tags"]
        );
        assert!(f[0].force_new() && !f[0].sensitive());
        assert!(f[1].sensitive() && !f[1].force_new());
        assert!(f[2..].iter().all(|f| f.flags.is_empty()));
    }

    #[test]
    fn planned_becomes_attrs_and_known_round_trips() {
        let planned = Sample::<Planned> {
            name: "a".into(),
            password: Val::Unknown,
            size: 20.into(),
            subnets: serde_json::json!(["s-1"]).into(),
            comment: J::Null.into(),
            tags: Tags::stack("p", "dev").to_json().into(),
        };
        let attrs = Attrs::from(planned);
        assert_eq!(attrs.len(), 6);
        assert_eq!(attrs["password"], Val::Unknown);

        let values: Values = attrs
            .into_iter()
            .map(|(k, v)| (k, v.known().cloned().unwrap_or(J::from("secret"))))
            .collect();
        let known = Sample::from_values(&values).unwrap();
        assert_eq!(known.size, 20);
        assert_eq!(known.comment, None);
        assert_eq!(known.tags, Tags::stack("p", "dev"));
        assert_eq!(known.to_values(), values);
    }

    #[test]
    fn a_missing_or_mistyped_attribute_is_named() {
        let values = Values::from([("name".to_owned(), J::from(3))]);
        let err = Sample::from_values(&values).err().unwrap().to_string();
        assert!(err.contains("`name`"), "{err}");
    }

    #[test]
    fn changed_reads_the_engine_names() {
        let c = Sample::<Changed>::from_names(&["size".to_owned(), "tags".to_owned()]);
        assert!(c.size && c.tags && !c.name && !c.subnets);
    }
}
