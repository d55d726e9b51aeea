//! Drawing dependency graphs: Graphviz dot, Mermaid, and a text chart of an apply's timeline.
//! Critical steps and the edges between them are drawn bold and red.

use std::fmt::Write;

use crate::apply::Timeline;
use crate::ops::Diagram;

/// Graphviz: `deployer graph staging | dot -Tsvg > staging.svg`.
pub fn dot(diagram: &Diagram) -> String {
    let mut out =
        String::from("digraph deployer {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n");
    let _ = writeln!(
        out,
        "  label=\"{}\\n{}\";",
        escape(&diagram.title),
        escape(&diagram.summary)
    );
    for node in &diagram.nodes {
        let style = match (node.critical, node.failed) {
            (_, true) => ", color=red, style=filled, fillcolor=\"#ffdddd\"",
            (true, false) => ", color=red, penwidth=2",
            _ => "",
        };
        let _ = writeln!(
            out,
            "  \"{}\" [label=\"{}\\n{}\"{style}];",
            escape(&node.name),
            escape(&node.label),
            escape(&node.detail)
        );
    }
    for (from, to) in &diagram.edges {
        let style = if diagram.is_critical_edge(from, to) {
            " [color=red, penwidth=2]"
        } else {
            ""
        };
        let _ = writeln!(out, "  \"{}\" -> \"{}\"{style};", escape(from), escape(to));
    }
    out.push_str("}\n");
    out
}

/// Mermaid, which GitHub renders in Markdown.
pub fn mermaid(diagram: &Diagram) -> String {
    let mut out = format!("---\ntitle: {}\n---\nflowchart LR\n", diagram.title);
    let key = |name: &str| name.replace([' ', '-'], "_");
    for node in &diagram.nodes {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{}\"]",
            key(&node.name),
            node.label.replace('"', "'"),
            node.detail.replace('"', "'")
        );
    }
    let mut critical_links = Vec::new();
    for (index, (from, to)) in diagram.edges.iter().enumerate() {
        let _ = writeln!(out, "  {} --> {}", key(from), key(to));
        if diagram.is_critical_edge(from, to) {
            critical_links.push(index.to_string());
        }
    }
    out.push_str("  classDef critical stroke:#d00,stroke-width:3px\n");
    out.push_str("  classDef failed fill:#fdd,stroke:#d00\n");
    let critical: Vec<String> = diagram
        .nodes
        .iter()
        .filter(|n| n.critical)
        .map(|n| key(&n.name))
        .collect();
    if !critical.is_empty() {
        let _ = writeln!(out, "  class {} critical", critical.join(","));
    }
    let failed: Vec<String> = diagram
        .nodes
        .iter()
        .filter(|n| n.failed)
        .map(|n| key(&n.name))
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(out, "  class {} failed", failed.join(","));
    }
    if !critical_links.is_empty() {
        let _ = writeln!(
            out,
            "  linkStyle {} stroke:#d00,stroke-width:3px",
            critical_links.join(",")
        );
    }
    let _ = writeln!(out, "%% {}", diagram.summary);
    out
}

/// A chart of when each step ran, in start order; `*` marks the critical path.
pub fn timeline_text(timeline: &Timeline) -> String {
    const WIDTH: f64 = 50.0;
    let path = timeline.critical_path();
    let critical: Vec<&str> = path.iter().map(|s| s.name.as_str()).collect();
    let scale = WIDTH / timeline.total.max(0.001);
    let name_width = timeline.steps.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut steps: Vec<_> = timeline.steps.iter().collect();
    steps.sort_by(|a, b| a.start.total_cmp(&b.start).then(a.name.cmp(&b.name)));
    let mut out = format!("{}: apply took {:.1} s\n", timeline.environment, timeline.total);
    for step in steps {
        let begin = (step.start * scale).round() as usize;
        let length = (((step.end - step.start) * scale).round() as usize).max(1);
        let mark = if critical.contains(&step.name.as_str()) {
            '*'
        } else {
            ' '
        };
        let bar = if step.failed { 'x' } else { '█' };
        let _ = writeln!(
            out,
            "{mark} {:<name_width$}  {:>6.1} s {:>6.1} s  {}{}",
            step.name,
            step.start,
            step.end,
            " ".repeat(begin),
            bar.to_string().repeat(length)
        );
    }
    let path_end = path.last().map_or(0.0, |s| s.end);
    let _ = writeln!(
        out,
        "* critical path: {} ({path_end:.1} s of {:.1} s)",
        critical.join(" → "),
        timeline.total
    );
    out
}

fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
