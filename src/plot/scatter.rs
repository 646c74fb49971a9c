//! The x–y chart behind the structure figures: polylines and points that each carry their own
//! colour (a Cα trace coloured by pLDDT, one trace per structure-module layer), an optional
//! `y = x` reference line, equal units on both axes when the coordinates are lengths, and a
//! colour bar saying what the colours mean.
use anyhow::{bail, ensure, Result};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::figure::{font, tick_label, Draw, LABEL_FONT_SIZE, TICK_FONT_SIZE, TITLE_FONT_SIZE};
use super::heatmap::ColourBar;

const SIZE: (u32, u32) = (700, 600);
const COLOUR_BAR_WIDTH: u32 = 130;

/// A polyline through `points`, in one colour.
pub(crate) struct Trace {
    pub points: Vec<(f64, f64)>,
    pub colour: RGBColor,
    pub width: u32,
}

/// A filled circle.
pub(crate) struct Point {
    pub at: (f64, f64),
    pub colour: RGBColor,
}

pub(crate) struct PointChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub traces: Vec<Trace>,
    pub points: Vec<Point>,
    pub point_radius: u32,
    /// Draw the `y = x` diagonal (predicted vs native).
    pub diagonal: bool,
    /// One unit spans as many pixels on x as on y (projected coordinates in Å).
    pub equal_axes: bool,
    pub colour_bar: Option<ColourBar>,
}

impl PointChart {
    /// Checks that there is something finite to draw.
    pub fn validated(self) -> Result<Self> {
        let coordinates = || self.traces.iter().flat_map(|t| t.points.iter()).chain(self.points.iter().map(|p| &p.at));
        ensure!(coordinates().next().is_some(), "{}: nothing to plot", self.title);
        if let Some((x, y)) = coordinates().find(|(x, y)| !x.is_finite() || !y.is_finite()) {
            bail!("{}: a non-finite point ({x}, {y})", self.title);
        }
        Ok(self)
    }

    /// The x and y ranges with 5 % padding (equal spans for equal axes, widened around a point).
    fn ranges(&self, plot_pixels: (u32, u32)) -> ((f64, f64), (f64, f64)) {
        let coordinates = || self.traces.iter().flat_map(|t| t.points.iter()).chain(self.points.iter().map(|p| &p.at));
        let bounds = |pick: fn(&(f64, f64)) -> f64| {
            let min = coordinates().map(pick).fold(f64::INFINITY, f64::min);
            let max = coordinates().map(pick).fold(f64::NEG_INFINITY, f64::max);
            let pad = if max > min { 0.05 * (max - min) } else { 0.5 };
            (min - pad, max + pad)
        };
        let (mut x, mut y) = (bounds(|p| p.0), bounds(|p| p.1));
        if self.diagonal {
            let joint = (x.0.min(y.0), x.1.max(y.1));
            (x, y) = (joint, joint);
        }
        if self.equal_axes {
            // Grow the narrower span so that units per pixel match.
            let per_pixel = ((x.1 - x.0) / plot_pixels.0 as f64).max((y.1 - y.0) / plot_pixels.1 as f64);
            let widen = |(lo, hi): (f64, f64), pixels: u32| {
                let half = per_pixel * pixels as f64 / 2.0;
                let centre = (lo + hi) / 2.0;
                (centre - half, centre + half)
            };
            (x, y) = (widen(x, plot_pixels.0), widen(y, plot_pixels.1));
        }
        (x, y)
    }
}

impl Draw for PointChart {
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
        let body = root.titled(&self.title, font(TITLE_FONT_SIZE))?;
        let (main, bar) = match &self.colour_bar {
            Some(_) => {
                let (main, bar) = body.split_horizontally(SIZE.0 - COLOUR_BAR_WIDTH);
                (main, Some(bar))
            }
            None => (body, None),
        };
        let (margin, x_area, y_area) = (10, 45, 60);
        let (width, height) = main.dim_in_pixel();
        let plot_pixels = (
            width.saturating_sub(2 * margin + y_area).max(1),
            height.saturating_sub(2 * margin + x_area).max(1),
        );
        let ((x0, x1), (y0, y1)) = self.ranges(plot_pixels);
        let mut chart = ChartBuilder::on(&main)
            .margin(margin)
            .x_label_area_size(x_area)
            .y_label_area_size(y_area)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style(font(LABEL_FONT_SIZE))
            .label_style(font(TICK_FONT_SIZE))
            .x_label_formatter(&|v| tick_label(*v))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()?;
        if self.diagonal {
            let (lo, hi) = (x0.max(y0), x1.min(y1));
            chart.draw_series(LineSeries::new([(lo, lo), (hi, hi)], BLACK.mix(0.5).stroke_width(1)))?;
        }
        for trace in &self.traces {
            chart.draw_series(LineSeries::new(trace.points.iter().copied(), trace.colour.stroke_width(trace.width)))?;
        }
        chart.draw_series(self.points.iter().map(|p| Circle::new(p.at, self.point_radius, p.colour.filled())))?;
        if let (Some(colour_bar), Some(bar)) = (&self.colour_bar, bar) {
            colour_bar.draw(&bar)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart(points: Vec<(f64, f64)>, equal_axes: bool, diagonal: bool) -> PointChart {
        PointChart {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            traces: vec![Trace { points, colour: BLACK, width: 1 }],
            points: vec![],
            point_radius: 2,
            diagonal,
            equal_axes,
            colour_bar: None,
        }
    }

    #[test]
    fn equal_axes_give_equal_units_per_pixel() {
        let c = chart(vec![(0.0, 0.0), (10.0, 2.0)], true, false);
        let ((x0, x1), (y0, y1)) = c.ranges((200, 100));
        assert!(((x1 - x0) / 200.0 - (y1 - y0) / 100.0).abs() < 1e-9);
        assert!(x0 <= 0.0 && x1 >= 10.0 && y0 <= 0.0 && y1 >= 2.0);
    }

    #[test]
    fn diagonal_charts_share_one_range_and_bad_points_are_errors() {
        let c = chart(vec![(1.0, 5.0), (3.0, 9.0)], false, true);
        let (x, y) = c.ranges((100, 100));
        assert_eq!(x, y);
        assert!(chart(vec![], false, false).validated().is_err());
        let err = chart(vec![(f64::NAN, 1.0)], false, false).validated().err().unwrap();
        assert!(err.to_string().contains("non-finite"), "{err}");
    }
}
