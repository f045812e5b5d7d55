//! Line charts as PNG files (plotters, bitmap backend), for the soak's report: one chart
//! per file, the x axis in minutes, one line per series, a legend. Text is drawn with
//! DejaVu Sans embedded in the binary (the `dejavu` crate, registered with plotters'
//! `ab_glyph` font support), so charts render the same on a machine without fonts or
//! fontconfig.

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("drawing {path}: {detail}")]
pub struct PlotError {
    /// The file.
    pub path: String,
    /// What plotters said.
    pub detail: String,
}

/// One line: a name for the legend and its points (x in minutes; `None` breaks the line).
#[derive(Debug, Clone)]
pub struct Series {
    /// The legend's label.
    pub name: String,
    /// (x, y) points.
    pub points: Vec<(f64, Option<f64>)>,
}

/// A chart.
#[derive(Debug, Clone)]
pub struct Chart<'a> {
    /// Above the chart.
    pub title: &'a str,
    /// Under the x axis.
    pub x_label: &'a str,
    /// Beside the y axis.
    pub y_label: &'a str,
    /// The lines.
    pub series: Vec<Series>,
    /// A horizontal line drawn dashed-grey with its label (a limit), if any.
    pub limit: Option<(f64, &'a str)>,
}

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (1000, 420);
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn register_fonts() {
    static FONTS: Once = Once::new();
    FONTS.call_once(|| {
        // The font is a valid TTF compiled into the binary; registering cannot fail
        // on its content, and a failure would only leave text out of the charts.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

/// Draws `chart` into the PNG file `path`.
pub fn draw(chart: &Chart<'_>, path: &Path) -> Result<(), PlotError> {
    let error = |detail: String| PlotError {
        path: path.display().to_string(),
        detail,
    };
    register_fonts();
    let points = chart
        .series
        .iter()
        .flat_map(|series| series.points.iter())
        .filter_map(|(x, y)| Some((*x, (*y)?)));
    // The x axis spans the points (from 0 for a run's minutes); the y axis starts at 0,
    // or below it for negative values (logarithms).
    let (mut x_min, mut x_max, mut y_min, mut y_max) = (f64::MAX, 1.0_f64, 0.0_f64, 0.0_f64);
    for (x, y) in points {
        x_min = x_min.min(x);
        x_max = x_max.max(x);
        y_min = y_min.min(y);
        y_max = y_max.max(y);
    }
    let x_min = if x_min < x_max { x_min } else { 0.0 };
    if let Some((limit, _)) = chart.limit {
        y_max = y_max.max(limit);
    }
    let y_max = if y_max > 0.0 { y_max * 1.1 } else { 1.0 };

    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| error(e.to_string()))?;
    let mut context = ChartBuilder::on(&root)
        .caption(chart.title, (FONT, 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(x_min..x_max, y_min * 1.1..y_max)
        .map_err(|e| error(e.to_string()))?;
    context
        .configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 15))
        .draw()
        .map_err(|e| error(e.to_string()))?;
    if let Some((limit, label)) = chart.limit {
        let grey = RGBColor(120, 120, 120);
        context
            .draw_series(DashedLineSeries::new(
                [(x_min, limit), (x_max, limit)],
                6,
                4,
                grey.stroke_width(1),
            ))
            .map_err(|e| error(e.to_string()))?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey));
    }
    for (index, series) in chart.series.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        // A missing point breaks the line: each run of present points is its own path.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (x, y) in &series.points {
            match y {
                Some(y) => runs.last_mut().map_or((), |run| run.push((*x, *y))),
                None => runs.push(Vec::new()),
            }
        }
        let mut labelled = false;
        for run in runs.into_iter().filter(|run| !run.is_empty()) {
            let drawn = context
                .draw_series(LineSeries::new(run, colour.stroke_width(2)))
                .map_err(|e| error(e.to_string()))?;
            if !labelled {
                labelled = true;
                drawn.label(series.name.as_str()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
            }
        }
    }
    context
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| error(e.to_string()))?;
    root.present().map_err(|e| error(e.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_with_a_gap_and_a_limit_is_written_as_a_png() {
        let dir = std::env::temp_dir().join(format!("bench-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("chart.png");
        let chart = Chart {
            title: "latency",
            x_label: "minutes",
            y_label: "ms",
            series: vec![
                Series {
                    name: "p99".to_owned(),
                    points: vec![
                        (0.0, Some(5.0)),
                        (1.0, None),
                        (2.0, Some(7.0)),
                        (3.0, Some(6.0)),
                    ],
                },
                Series {
                    name: "empty".to_owned(),
                    points: Vec::new(),
                },
            ],
            limit: Some((20.0, "limit")),
        };
        draw(&chart, &path).expect("drawn");
        let bytes = std::fs::read(&path).expect("written");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 5_000, "a real picture, not an empty file");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
