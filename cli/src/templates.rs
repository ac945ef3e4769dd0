//! Handlebars templates shipped in `templates/` and compiled into the binary.

use handlebars::Handlebars;
use serde::Serialize;
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    (
        "glue/batch_ingest.py",
        include_str!("../../templates/glue/batch_ingest.py.hbs"),
    ),
    (
        "glue/transform.py",
        include_str!("../../templates/glue/transform.py.hbs"),
    ),
    (
        "ci/github.yml",
        include_str!("../../templates/ci/github.yml.hbs"),
    ),
    (
        "ci/gitlab.yml",
        include_str!("../../templates/ci/gitlab.yml.hbs"),
    ),
    ("graph.dot", include_str!("../../templates/graph.dot.hbs")),
    (
        "graph.mermaid",
        include_str!("../../templates/graph.mermaid.hbs"),
    ),
];

fn registry() -> &'static Handlebars<'static> {
    static REG: OnceLock<Handlebars<'static>> = OnceLock::new();
    REG.get_or_init(|| {
        let mut h = Handlebars::new();
        h.set_strict_mode(true);
        // Scripts and graphs are code, not HTML.
        h.register_escape_fn(handlebars::no_escape);
        for (name, text) in TEMPLATES {
            h.register_template_string(name, text)
                .unwrap_or_else(|e| panic!("template {name} is invalid: {e}"));
        }
        h
    })
}

/// Render a bundled template. The templates are tested, so a failure is a dekit bug.
pub fn render(name: &str, data: &impl Serialize) -> String {
    registry()
        .render(name, data)
        .unwrap_or_else(|e| panic!("template {name} failed to render: {e}"))
}

/// Render a bundled template given as text (the `dekit init` stacks, listed beside their data
/// files in `crate::init`), with the registry's settings. `name` is for the panic message.
pub fn render_text(name: &str, text: &str, data: &impl Serialize) -> String {
    registry()
        .render_template(text, data)
        .unwrap_or_else(|e| panic!("template {name} failed to render: {e}"))
}
