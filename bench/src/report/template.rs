//! The reports' prose: Markdown templates under `bench/templates/`, compiled into the
//! binary with `include_str!` and rendered with minijinja. A report module computes its
//! figures and tables in Rust and hands them to its template as a serializable context;
//! the sentences around them live in the template, where they read as the Markdown they
//! become.
//!
//! Every template renders with the same environment: no escaping (the output is
//! Markdown, not HTML), a block tag's own line and indentation dropped, the final
//! newline kept, and an undefined variable an error, never an empty string, so a
//! figure renamed in Rust cannot silently vanish from a report.

use crate::error::BenchError;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// Renders the template `source` (named `name` in errors) with `context`.
pub fn render(name: &str, source: &str, context: impl Serialize) -> Result<String, BenchError> {
    let mut environment = Environment::new();
    environment.set_undefined_behavior(UndefinedBehavior::Strict);
    environment.set_keep_trailing_newline(true);
    environment.set_trim_blocks(true);
    environment.set_lstrip_blocks(true);
    environment
        .render_named_str(name, source, context)
        .map_err(|source| BenchError::Template {
            name: name.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn figures_are_placed_in_the_prose_unescaped() {
        let text = render(
            "t.md",
            "# Title\n\n{% if shown %}\n{{ value }} < *limit*\n{% endif %}\n",
            context! { shown => true, value => "1,000 µs & more" },
        )
        .expect("rendered");
        assert_eq!(text, "# Title\n\n1,000 µs & more < *limit*\n");
    }

    #[test]
    fn an_undefined_figure_is_an_error_naming_the_template() {
        let error = render("t.md", "{{ missing }}", context! {}).expect_err("strict");
        assert!(error.to_string().contains("t.md"), "{error}");
    }
}
