//! How a variable is declared once, with [`variables!`]: the table entry ([`Def`]), the value
//! types a variable may have and the macro that builds the table, the typed struct and the
//! per-variable rules from one list.

use std::fmt;

/// A variable's type, for parsing `-var` strings and checking TOML values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    String,
    Number,
    /// `true` or `false`: a TOML boolean, or those words from `-var` and the environment.
    Bool,
}

/// One entry of the variable table (the seed's `variables.tf`), built by [`variables!`].
pub struct Def {
    pub name: &'static str,
    pub ty: Type,
    pub default: Option<&'static str>,
    /// Its value must never appear in a message, a log or the state.
    pub sensitive: bool,
    /// The declaration's doc comment, one line each: README's notes for the variable.
    #[cfg_attr(not(test), allow(dead_code))] // read by the README test (readme.rs) only
    pub help: &'static [&'static str],
}

/// A variable value that must never be printed or stored: Debug and Display show a mask.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<sensitive>")
    }
}

/// Where typed values come from (src/vars/check.rs): a missing or mistyped value gives a
/// stand-in and records its error, so that one run reports every bad variable.
pub trait Reader {
    fn string(&mut self, key: &str) -> String;
    fn number(&mut self, key: &str) -> i64;
    fn boolean(&mut self, key: &str) -> bool;
}

/// A Rust type a variable may be declared with: its [`Type`], whether it is sensitive, and how
/// it is read.
pub trait Value: Sized {
    const TYPE: Type;
    const SENSITIVE: bool = false;
    fn read(from: &mut impl Reader, key: &str) -> Self;
}

impl Value for String {
    const TYPE: Type = Type::String;
    fn read(from: &mut impl Reader, key: &str) -> Self {
        from.string(key)
    }
}

/// A sensitive string (a password): it is a string to every source, masked everywhere else.
impl Value for Secret {
    const TYPE: Type = Type::String;
    const SENSITIVE: bool = true;
    fn read(from: &mut impl Reader, key: &str) -> Self {
        Secret(from.string(key))
    }
}

/// A whole number.
impl Value for i64 {
    const TYPE: Type = Type::Number;
    fn read(from: &mut impl Reader, key: &str) -> Self {
        from.number(key)
    }
}

impl Value for bool {
    const TYPE: Type = Type::Bool;
    fn read(from: &mut impl Reader, key: &str) -> Self {
        from.boolean(key)
    }
}

/// The default of a declaration: its one literal, if it has one.
pub const fn first(defaults: &[&'static str]) -> Option<&'static str> {
    match defaults {
        [d, ..] => Some(d),
        [] => None,
    }
}

/// What a variable's rule returns: each rule its value breaks, empty when all hold.
pub type Rule<T, V> = fn(&T, &V) -> Vec<String>;

/// Declares the stack's variables, each once: its doc comment (README's notes), name, type
/// ([`Value`]: `String`, `Secret`, `i64` or `bool`), default if it has one (written as in a
/// var file; none makes it required) and rule if it has one (a function of its value and of
/// all the values, returning what it breaks). From them come the typed struct, [`Def`] table
/// `DEFS` (in declaration order, which is also the order errors are reported in), the reading
/// of the struct and its checks.
///
/// ```ignore
/// variables! {
///     pub struct Vars {
///         /// README's notes.
///         desired_count: i64 = 2 => |n, _| unless((0..=5000).contains(n), "must be ..."),
///         db_password: Secret => |p, _| password(p.expose()),
///     }
/// }
/// ```
macro_rules! variables {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty $(= $default:literal)? $(=> $rule:expr)?
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        /// Every variable stackctl knows, with the seed's defaults, in declaration order.
        pub const DEFS: &[$crate::vars::declare::Def] = &[
            $(
                $crate::vars::declare::Def {
                    name: stringify!($field),
                    ty: <$ty as $crate::vars::declare::Value>::TYPE,
                    default: $crate::vars::declare::first(&[$(concat!($default))?]),
                    sensitive: <$ty as $crate::vars::declare::Value>::SENSITIVE,
                    help: &[$($doc),*],
                },
            )*
        ];

        impl $name {
            /// Every variable, typed, in declaration order.
            pub(super) fn read(from: &mut impl $crate::vars::declare::Reader) -> Self {
                $name {
                    $($field: <$ty as $crate::vars::declare::Value>::read(from, stringify!($field)),)*
                }
            }

            /// Each variable with the rules its value breaks, in declaration order.
            pub(super) fn broken(&self) -> Vec<(&'static str, Vec<String>)> {
                vec![
                    $({
                        let rules: &[$crate::vars::declare::Rule<$ty, Self>] = &[$($rule)?];
                        let broken = rules.iter().flat_map(|rule| rule(&self.$field, self));
                        (stringify!($field), broken.collect())
                    },)*
                ]
            }
        }
    };
}

pub(super) use variables;
