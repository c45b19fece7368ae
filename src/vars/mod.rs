//! Input variables: declared once (declarations.rs), loaded from TOML var files, `-var` and the
//! environment with their origins (load.rs, origin.rs), and checked (check.rs, rules.rs,
//! regions.rs) so that a bad value is caught before any AWS request is made (errors.rs).

mod check;
mod declarations;
mod declare;
mod errors;
mod load;
mod origin;
mod regions;
mod rules;

#[cfg(test)]
mod readme;
#[cfg(test)]
mod tests;

// The names the rest of stackctl uses.
pub use declarations::{Vars, DEFS};
pub use load::Raw;
pub use regions::partition_of;
