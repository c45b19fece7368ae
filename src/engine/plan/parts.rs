//! The plan as the AWS provider's resources: one change per provider resource, with Terraform's
//! actions. A kind that manages several provider types in one (a secret and its value) shows as
//! several; a task definition's new revision, which keeps the old one, is Terraform's
//! create-then-forget. Every count and every listing of a plan (text, JSON events, `show`,
//! `show -json`) comes from here, so they agree.

use stackctl_contract::provider::Part;
use stackctl_contract::Address;

use super::types::{Action, Change, Plan};

/// Terraform's action on one provider resource (`plans.Action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TfAction {
    NoOp,
    Create,
    Update,
    Delete,
    DeleteThenCreate,
    CreateThenDelete,
    /// A replacement that keeps the replaced object (a task definition revision, kept for the
    /// running service and for rollback): nothing is destroyed.
    CreateThenForget,
}

impl TfAction {
    /// `change.actions` in Terraform's JSON plan.
    pub fn json(self) -> &'static [&'static str] {
        match self {
            TfAction::NoOp => &["no-op"],
            TfAction::Create => &["create"],
            TfAction::Update => &["update"],
            TfAction::Delete => &["delete"],
            TfAction::DeleteThenCreate => &["delete", "create"],
            TfAction::CreateThenDelete => &["create", "delete"],
            TfAction::CreateThenForget => &["create", "forget"],
        }
    }

    /// Terraform's plan symbol, three columns wide.
    pub fn symbol(self) -> &'static str {
        match self {
            TfAction::NoOp => "   ",
            TfAction::Create => "  +",
            TfAction::Update => "  ~",
            TfAction::Delete => "  -",
            TfAction::DeleteThenCreate => "-/+",
            TfAction::CreateThenDelete => "+/-",
            TfAction::CreateThenForget => "+/.",
        }
    }

    /// (added, changed, destroyed), as Terraform's summary counts this action.
    pub fn counts(self) -> (usize, usize, usize) {
        match self {
            TfAction::NoOp => (0, 0, 0),
            TfAction::Create | TfAction::CreateThenForget => (1, 0, 0),
            TfAction::Update => (0, 1, 0),
            TfAction::Delete => (0, 0, 1),
            TfAction::DeleteThenCreate | TfAction::CreateThenDelete => (1, 0, 1),
        }
    }

    pub fn is_replace(self) -> bool {
        matches!(
            self,
            TfAction::DeleteThenCreate | TfAction::CreateThenDelete | TfAction::CreateThenForget
        )
    }
}

/// One provider resource's share of a change.
#[derive(Clone, Copy)]
pub struct ProviderChange<'a> {
    pub change: &'a Change,
    /// `None`: the kind's own type; else the part, whose attributes it owns.
    pub part: Option<&'static Part>,
    pub action: TfAction,
}

impl ProviderChange<'_> {
    pub fn type_name(&self) -> &'static str {
        self.part
            .map(|p| p.type_name)
            .unwrap_or_else(|| self.change.kind.type_name())
    }

    /// The change's address, with the part's type for a part.
    pub fn address(&self) -> String {
        part_address(&self.change.address, self.part)
    }

    /// Whether `attr` belongs to this provider resource.
    pub fn owns(&self, attr: &str) -> bool {
        owner(self.change.kind.parts(), attr) == self.part.map(|p| p.type_name)
    }

    /// Whether apply does something here (an action, or recording an adoption).
    pub fn does_something(&self) -> bool {
        self.action != TfAction::NoOp || self.change.adopt
    }
}

/// The part that owns `attr`, `None` for the kind's own type.
fn owner(parts: &'static [Part], attr: &str) -> Option<&'static str> {
    parts
        .iter()
        .find(|p| p.owns.contains(&attr))
        .map(|p| p.type_name)
}

/// `address` with `part`'s type: `module.secrets.aws_secretsmanager_secret_version.db_password`.
pub fn part_address(address: &str, part: Option<&Part>) -> String {
    match (part, Address::parse(address)) {
        (Some(p), Ok(mut a)) => {
            a.type_name = p.type_name.to_owned();
            a.to_string()
        }
        _ => address.to_owned(),
    }
}

impl Change {
    /// The kind's own type first, then its parts.
    pub fn provider_changes(&self) -> Vec<ProviderChange<'_>> {
        let parts = self.kind.parts();
        let own = std::iter::once(None).chain(parts.iter().map(Some));
        own.map(|part| {
            let owner_name = part.map(|p| p.type_name);
            let touched = self.changed.iter().any(|a| owner(parts, a) == owner_name);
            let action = match self.action {
                Action::NoOp => TfAction::NoOp,
                Action::Create => TfAction::Create,
                Action::Delete => TfAction::Delete,
                Action::Update if touched => TfAction::Update,
                Action::Update => TfAction::NoOp,
                Action::Replace if self.kind.keeps_replaced().is_some() => {
                    TfAction::CreateThenForget
                }
                Action::Replace if self.kind.create_before_destroy() => TfAction::CreateThenDelete,
                Action::Replace => TfAction::DeleteThenCreate,
            };
            ProviderChange {
                change: self,
                part,
                action,
            }
        })
        .collect()
    }
}

impl Plan {
    /// Every change as the provider's resources, in plan order.
    pub fn provider_changes(&self) -> Vec<ProviderChange<'_>> {
        self.changes
            .iter()
            .flat_map(Change::provider_changes)
            .collect()
    }
}
