//! `stackctl graph`: the configuration's dependency graph in DOT, as `terraform graph` prints
//! it (one node per resource, grouped by module; an edge from each resource to what it needs).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use crate::cli::args::{EndpointArgs, VarArgs};
use crate::engine::graph::Graph;
use crate::engine::plan::config_graph;
use crate::ops::{self, Options};
use crate::ui::Printer;

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub endpoint: EndpointArgs,
}

pub async fn exec(args: GraphArgs, ui: Printer) -> Result<ExitCode> {
    // The graph needs no state and no lock, but the variables and the default VPC: the EFS
    // mount targets are one per subnet, so their addresses come from the account.
    let opts = Options {
        var_files: args.vars.var_files.clone(),
        vars: args.vars.vars.clone(),
        state: None,
        lock_timeout: Default::default(),
        endpoint_url: args.endpoint.endpoint_url.clone(),
        needs_vars: true,
        lock: false,
        parallelism: None,
    };
    let config = ops::session::config_only(&opts).await?;
    ui.value(dot(&config_graph(&config)).trim_end());
    Ok(ExitCode::SUCCESS)
}

/// A string as a DOT quoted id: mount target addresses hold quotes (`main["eu-west-3a"]`).
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `module.alb.aws_lb.main` -> (`module.alb`, `aws_lb.main`); a root resource has no module.
fn split_module(address: &str) -> (Option<&str>, &str) {
    match address.strip_prefix("module.") {
        Some(rest) => match rest.find('.') {
            Some(i) => (Some(&address[..7 + i]), &rest[i + 1..]),
            None => (None, address),
        },
        None => (None, address),
    }
}

/// The graph in Terraform's DOT layout (right to left, rectangles, one cluster per module),
/// nodes and edges sorted so the output is stable.
pub fn dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph G {\n  rankdir = \"RL\";\n  node [shape = rect, fontname = \"sans-serif\"];\n",
    );
    let mut modules: BTreeMap<Option<&str>, Vec<(&str, &str)>> = BTreeMap::new();
    for address in graph.needs.keys() {
        let (module, local) = split_module(address);
        modules.entry(module).or_default().push((address, local));
    }
    for (module, nodes) in &modules {
        let indent = match module {
            Some(m) => {
                let _ = writeln!(
                    out,
                    "  subgraph {} {{\n    label = {};\n    fontname = \"sans-serif\";",
                    quoted(&format!("cluster_{m}")),
                    quoted(m)
                );
                "    "
            }
            None => "  ",
        };
        for (address, local) in nodes {
            let _ = writeln!(
                out,
                "{indent}{} [label={}];",
                quoted(address),
                quoted(local)
            );
        }
        if module.is_some() {
            out.push_str("  }\n");
        }
    }
    for (address, needs) in &graph.needs {
        for need in needs.iter().filter(|n| graph.needs.contains_key(*n)) {
            let _ = writeln!(out, "  {} -> {};", quoted(address), quoted(need));
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_has_a_node_per_resource_and_an_edge_per_dependency() {
        let mut g = Graph::default();
        g.add("module.alb.aws_lb.main", []);
        g.add(
            "module.efs.aws_efs_mount_target.main[\"eu-west-3a\"]",
            ["module.efs.aws_efs_file_system.main".to_owned()],
        );
        g.add(
            "module.efs.aws_efs_file_system.main",
            ["data.outside".to_owned()],
        );
        let text = dot(&g);
        assert!(text.starts_with("digraph G {\n"), "{text}");
        assert!(text.contains(
            "    \"module.efs.aws_efs_mount_target.main[\\\"eu-west-3a\\\"]\" [label=\"aws_efs_mount_target.main[\\\"eu-west-3a\\\"]\"];"
        ), "{text}");
        assert!(text.contains("  subgraph \"cluster_module.alb\" {\n    label = \"module.alb\";"));
        assert!(text.contains(
            "  \"module.efs.aws_efs_mount_target.main[\\\"eu-west-3a\\\"]\" -> \"module.efs.aws_efs_file_system.main\";"
        ));
        assert!(!text.contains("data.outside"), "{text}");
        assert!(text.ends_with("}\n"));
    }
}
