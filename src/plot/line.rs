//! The line chart behind the pLDDT, MSA-depth and training figures: named series over a shared
//! x axis, optional shaded horizontal bands, an optional log-scale y axis, and a legend.
use anyhow::{bail, ensure, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{font, tick_label, Draw, LABEL_FONT_SIZE, TICK_FONT_SIZE, TITLE_FONT_SIZE};

const SIZE: (u32, u32) = (800, 420);

/// Series colours in order (matplotlib's `tab10`), so plots with several series match what
/// readers of ColabFold and training dashboards are used to.
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0xe3, 0x77, 0xc2),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x17, 0xbe, 0xcf),
];

/// One named line: `(x, y)` points in drawing order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub(crate) fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points,
        }
    }
}

/// A horizontal stripe `[from, to)` of the y axis, shaded and listed in the legend.
pub(crate) struct Band {
    pub from: f64,
    pub to: f64,
    pub colour: RGBColor,
    pub label: &'static str,
}

pub(crate) struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Fixed y range; `None` fits the data (with 5 % headroom).
    pub y_range: Option<(f64, f64)>,
    pub log_y: bool,
    pub bands: Vec<Band>,
    /// Series drawn in one colour each from [`PALETTE`]; `Some` draws them all in this colour.
    pub line_colour: Option<RGBColor>,
}

impl LineChart {
    /// A chart of `series` with no bands, fixed range or log scale; errors on empty or
    /// non-finite input so that a bad series is reported rather than drawn as nothing.
    pub fn new(title: &str, (x_label, y_label): (&str, &str), series: Vec<Series>) -> Result<Self> {
        ensure!(!series.is_empty(), "{title}: no series to plot");
        for s in &series {
            ensure!(
                !s.points.is_empty(),
                "{title}: series '{}' has no points",
                s.name
            );
            if let Some((x, y)) = s
                .points
                .iter()
                .find(|(x, y)| !x.is_finite() || !y.is_finite())
            {
                bail!(
                    "{title}: series '{}' has a non-finite point ({x}, {y})",
                    s.name
                );
            }
        }
        Ok(LineChart {
            title: title.to_string(),
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            series,
            y_range: None,
            log_y: false,
            bands: Vec::new(),
            line_colour: None,
        })
    }

    /// Switches the y axis to log₁₀ scale; every y value must be positive.
    pub fn with_log_y(mut self) -> Result<Self> {
        for s in &self.series {
            if let Some((x, y)) = s.points.iter().find(|(_, y)| *y <= 0.0) {
                bail!(
                    "{}: series '{}' has y = {y} at x = {x}; a log scale needs positive values",
                    self.title,
                    s.name
                );
            }
        }
        self.log_y = true;
        Ok(self)
    }

    /// y as drawn: log₁₀ y on a log scale (plotters' log axes are a different coordinate type,
    /// so the chart stays linear in log space and the tick labels undo the log).
    fn plotted_y(&self, y: f64) -> f64 {
        if self.log_y {
            y.log10()
        } else {
            y
        }
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let x_min = points().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let x_max = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        let x = if x_max > x_min {
            (x_min, x_max)
        } else {
            (x_min - 0.5, x_min + 0.5)
        };
        let y = match self.y_range {
            Some(range) => range,
            None => {
                let y_min = points()
                    .map(|p| self.plotted_y(p.1))
                    .fold(f64::INFINITY, f64::min);
                let y_max = points()
                    .map(|p| self.plotted_y(p.1))
                    .fold(f64::NEG_INFINITY, f64::max);
                let pad = if y_max > y_min {
                    0.05 * (y_max - y_min)
                } else {
                    0.5
                };
                (y_min - pad, y_max + pad)
            }
        };
        (x, y)
    }
}

/// The value at log₁₀ position `exponent`, to two significant digits.
fn format_log_tick(exponent: f64) -> String {
    let rounded: f64 = format!("{:.1e}", 10f64.powf(exponent))
        .parse()
        .unwrap_or(f64::NAN);
    tick_label(rounded)
}

impl Draw for LineChart {
    fn title(&self) -> String {
        self.title.clone()
    }

    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let ((x_min, x_max), (y_min, y_max)) = self.ranges();
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, font(TITLE_FONT_SIZE))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_min..x_max, y_min..y_max)?;
        let log_y = self.log_y;
        let y_formatter = move |v: &f64| {
            if log_y {
                format_log_tick(*v)
            } else {
                tick_label(*v)
            }
        };
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style(font(LABEL_FONT_SIZE))
            .label_style(font(TICK_FONT_SIZE))
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&y_formatter)
            .draw()?;

        for band in &self.bands {
            let fill = band.colour.mix(0.3).filled();
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x_min, band.from.max(y_min)), (x_max, band.to.min(y_max))],
                    fill,
                )))?
                .label(band.label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], fill));
        }
        for (index, series) in self.series.iter().enumerate() {
            let colour = self.line_colour.unwrap_or(PALETTE[index % PALETTE.len()]);
            let drawn = chart.draw_series(LineSeries::new(
                series.points.iter().map(|&(x, y)| (x, self.plotted_y(y))),
                colour.stroke_width(2),
            ))?;
            if self.series.len() > 1 {
                drawn.label(series.name.as_str()).legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 16, y)], colour.stroke_width(2))
                });
            }
        }
        if self.series.len() > 1 || !self.bands.is_empty() {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(font(TICK_FONT_SIZE))
                .draw()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_and_non_finite_series() {
        assert!(LineChart::new("t", ("x", "y"), vec![]).is_err());
        assert!(LineChart::new("t", ("x", "y"), vec![Series::new("a", vec![])]).is_err());
        let err = LineChart::new(
            "t",
            ("x", "y"),
            vec![Series::new("a", vec![(1.0, f64::NAN)])],
        )
        .err()
        .unwrap();
        assert!(
            err.to_string().contains("non-finite point (1, NaN)"),
            "{err}"
        );
    }

    #[test]
    fn log_scale_needs_positive_values_and_labels_powers_of_ten() {
        let zero = vec![Series::new("loss", vec![(0.0, 1.0), (1.0, 0.0)])];
        let err = LineChart::new("t", ("x", "y"), zero)
            .unwrap()
            .with_log_y()
            .err()
            .unwrap();
        assert!(err.to_string().contains("y = 0 at x = 1"), "{err}");
        assert_eq!(format_log_tick(-3.0), "0.001");
        assert_eq!(format_log_tick(0.5), "3.2");
        assert_eq!(format_log_tick(-5.5), "3.2e-6");
    }

    #[test]
    fn ranges_pad_the_data_and_widen_a_single_point() {
        let chart = LineChart::new(
            "t",
            ("x", "y"),
            vec![Series::new("a", vec![(2.0, 0.0), (4.0, 10.0)])],
        )
        .unwrap();
        assert_eq!(chart.ranges(), ((2.0, 4.0), (-0.5, 10.5)));
        let single =
            LineChart::new("t", ("x", "y"), vec![Series::new("a", vec![(3.0, 1.0)])]).unwrap();
        assert_eq!(single.ranges(), ((2.5, 3.5), (0.5, 1.5)));
    }
}
