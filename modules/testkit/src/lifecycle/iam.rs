//! IAM under the lifecycle layer: when each role was created, for ECS to refuse a role it
//! cannot assume yet (IAM's propagation delay).

use super::call::Call;
use super::world::World;
use super::xml::tag_text;

/// After moto answered an IAM call: record when a role was created.
pub(super) fn rewrite(
    w: &mut World,
    call: &Call,
    status: u16,
    text: &str,
    now: f64,
) -> Option<(u16, String)> {
    let ok = (200..300).contains(&status);
    match call.operation.as_str() {
        "CreateRole" if ok => {
            let arn = tag_text(text, "Arn")?;
            w.roles.insert(arn.to_owned(), now);
            None
        }
        _ => None,
    }
}
