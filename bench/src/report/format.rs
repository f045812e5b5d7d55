//! How the reports write numbers and tables: thousands separators, milliseconds with
//! the precision their size deserves, a dash for what was not measured, Markdown
//! tables built row by row.

/// `13242.4` → `13,242`.
pub fn thousands(value: f64) -> String {
    if !value.is_finite() {
        return "—".to_owned();
    }
    let rounded = value.round().abs() as u64;
    let digits = rounded.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0.0 && rounded > 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// A latency: two decimals under 10 ms, one above (`3.58 ms`, `36.6 ms`).
pub fn ms(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.2} ms")
    } else {
        format!("{value:.1} ms")
    }
}

/// A value with `decimals` decimals.
pub fn fixed(value: f64, decimals: usize) -> String {
    format!("{value:.decimals$}")
}

/// `format(value)` or a dash when not measured.
pub fn or_dash(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "—".to_owned(), format)
}

/// A share as a percentage with one decimal (`0.0123` → `1.2%`).
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// A Markdown table.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|title| (*title).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are left empty, extra ones dropped).
    pub fn row(&mut self, cells: Vec<String>) -> &mut Self {
        self.rows.push(cells);
        self
    }

    /// The table as Markdown, ending with a newline.
    pub fn render(&self) -> String {
        let width = self.header.len();
        let line = |cells: &[String]| {
            let mut padded: Vec<String> = cells
                .iter()
                .take(width)
                .map(|cell| cell.replace('|', "\\|").replace('\n', " "))
                .collect();
            padded.resize(width, String::new());
            format!("| {} |\n", padded.join(" | "))
        };
        let mut text = line(&self.header);
        text.push_str(&format!("|{}\n", "---|".repeat(width)));
        for row in &self.rows {
            text.push_str(&line(row));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_old_reports() {
        assert_eq!(thousands(13_242.4), "13,242");
        assert_eq!(thousands(999.6), "1,000");
        assert_eq!(thousands(86_400_000.0), "86,400,000");
        assert_eq!(thousands(-1234.0), "-1,234");
        assert_eq!(thousands(f64::NAN), "—");
        assert_eq!(ms(3.581), "3.58 ms");
        assert_eq!(ms(36.58), "36.6 ms");
        assert_eq!(or_dash(None, ms), "—");
        assert_eq!(percent(0.0123), "1.2%");
        assert_eq!(fixed(1.234, 1), "1.2");
    }

    #[test]
    fn tables_render_as_markdown() {
        let mut table = Table::new(&["a", "b"]);
        table.row(vec!["1".to_owned(), "x|y".to_owned()]);
        table.row(vec!["2".to_owned()]);
        assert_eq!(
            table.render(),
            "| a | b |\n|---|---|\n| 1 | x\\|y |\n| 2 |  |\n"
        );
    }
}
