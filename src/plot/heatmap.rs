//! The matrix plot behind PAE, distogram, contact and MSA-coverage figures: a raster of cell
//! colours with axes, an optional line overlay and a colour bar; and [`HeatmapGrid`], several
//! such matrices side by side on one colour scale (small multiples: pair representation per
//! block, two PAE maps compared).
//!
//! The matrix is resampled (nearest cell) to the plotting area's pixel size and drawn as one
//! bitmap, so a 1,000 × 1,000 matrix costs one embedded PNG in the SVG rather than 10⁶ `<rect>`s.
use std::ops::Range;

use anyhow::{ensure, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::colour::Colormap;
use super::figure::{font, tick_label, Draw, LABEL_FONT_SIZE, TICK_FONT_SIZE, TITLE_FONT_SIZE};

const SIZE: (u32, u32) = (650, 540);
const COLOUR_BAR_WIDTH: u32 = 130;
/// Colour of cells with no value (NaN), e.g. gaps in an MSA.
const EMPTY: RGBColor = WHITE;

/// A `[rows, cols]` matrix already turned into colours, plus how to annotate it.
pub(crate) struct Heatmap {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub rows: usize,
    pub cols: usize,
    /// Row-major `[rows, cols]` colours.
    pub cells: Vec<RGBColor>,
    /// Row 0 at the top (image convention, as AlphaFold's PAE plots) or at the bottom.
    pub rows_top_down: bool,
    /// A black line drawn over the matrix: one y value (in row units) per column.
    pub overlay: Option<Vec<f64>>,
    pub colour_bar: ColourBar,
}

/// What the colours mean: the map, the value range it spans and the label with units.
pub(crate) struct ColourBar {
    pub colormap: Colormap,
    pub range: (f64, f64),
    pub label: String,
}

impl Heatmap {
    /// Colours each value of the row-major `[rows, cols]` `values` through `colour_bar`
    /// (NaN stays empty).
    pub fn from_values(
        title: String,
        (x_label, y_label): (&str, &str),
        (rows, cols): (usize, usize),
        values: &[f32],
        colour_bar: ColourBar,
    ) -> Result<Self> {
        ensure!(
            rows > 0 && cols > 0,
            "{title}: nothing to plot (a {rows} × {cols} matrix)"
        );
        ensure!(
            values.len() == rows * cols,
            "{title}: {} values for a {rows} × {cols} matrix",
            values.len()
        );
        let cells = values
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    EMPTY
                } else {
                    colour_bar.colormap.scaled(v as f64, colour_bar.range)
                }
            })
            .collect();
        Ok(Heatmap {
            title,
            x_label: x_label.to_string(),
            y_label: y_label.to_string(),
            rows,
            cols,
            cells,
            rows_top_down: true,
            overlay: None,
            colour_bar,
        })
    }
}

/// Rows of a square `[n][n]` matrix flattened row-major, checking every row has length `n`.
pub(crate) fn flatten_square(what: &str, matrix: &[Vec<f32>]) -> Result<Vec<f32>> {
    let n = matrix.len();
    ensure!(n > 0, "{what}: the matrix is empty");
    for (i, row) in matrix.iter().enumerate() {
        ensure!(
            row.len() == n,
            "{what}: row {i} has {} values, expected {n}",
            row.len()
        );
    }
    Ok(matrix.concat())
}

impl Draw for Heatmap {
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
        let (main, bar) = body.split_horizontally(SIZE.0 - COLOUR_BAR_WIDTH);
        self.draw_matrix(&main)?;
        self.colour_bar.draw(&bar)
    }
}

/// Matrices drawn side by side (at most [`GRID_COLUMNS`] per row), each under its own caption
/// (its `title`), sharing the first panel's colour bar: panels must use one colour scale.
pub(crate) struct HeatmapGrid {
    pub title: String,
    pub panels: Vec<Heatmap>,
}

const GRID_COLUMNS: usize = 4;
const PANEL_SIZE: (u32, u32) = (330, 310);
const GRID_TITLE_HEIGHT: u32 = 40;

impl HeatmapGrid {
    pub fn new(title: String, panels: Vec<Heatmap>) -> Result<Self> {
        ensure!(!panels.is_empty(), "{title}: no panels to draw");
        let first = &panels[0].colour_bar;
        for panel in &panels {
            let bar = &panel.colour_bar;
            ensure!(
                bar.colormap == first.colormap && bar.range == first.range,
                "{title}: panel '{}' uses another colour scale",
                panel.title
            );
        }
        Ok(HeatmapGrid { title, panels })
    }

    fn shape(&self) -> (usize, usize) {
        let columns = self.panels.len().min(GRID_COLUMNS);
        (self.panels.len().div_ceil(columns), columns)
    }
}

impl Draw for HeatmapGrid {
    fn title(&self) -> String {
        self.title.clone()
    }

    fn size(&self) -> (u32, u32) {
        let (rows, columns) = self.shape();
        (
            columns as u32 * PANEL_SIZE.0 + COLOUR_BAR_WIDTH,
            rows as u32 * PANEL_SIZE.1 + GRID_TITLE_HEIGHT,
        )
    }

    fn draw<DB>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let body = root.titled(&self.title, font(TITLE_FONT_SIZE))?;
        let (rows, columns) = self.shape();
        let (main, bar) = body.split_horizontally(columns as u32 * PANEL_SIZE.0);
        for (panel, area) in self.panels.iter().zip(main.split_evenly((rows, columns))) {
            let inner = area.titled(&panel.title, font(LABEL_FONT_SIZE))?;
            panel.draw_matrix(&inner)?;
        }
        self.panels[0].colour_bar.draw(&bar)
    }
}

impl Heatmap {
    fn draw_matrix<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let x_axis = MatrixAxis {
            range: 0.0..self.cols as f64,
            flipped: false,
        };
        let y_axis = MatrixAxis {
            range: 0.0..self.rows as f64,
            flipped: self.rows_top_down,
        };
        let mut chart = ChartBuilder::on(area)
            .margin(10)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(x_axis, y_axis)?;
        fill_pixels(
            &chart.plotting_area().strip_coord_spec(),
            |(px, py), (width, height)| {
                let from_top = py * self.rows / height;
                let row = if self.rows_top_down {
                    from_top
                } else {
                    self.rows - 1 - from_top
                };
                self.cells[row * self.cols + px * self.cols / width]
            },
        )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .axis_desc_style(font(LABEL_FONT_SIZE))
            .label_style(font(TICK_FONT_SIZE))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        if let Some(line) = &self.overlay {
            chart.draw_series(LineSeries::new(
                line.iter()
                    .enumerate()
                    .map(|(col, &y)| (col as f64 + 0.5, y)),
                BLACK.stroke_width(2),
            ))?;
        }
        Ok(())
    }
}

impl ColourBar {
    /// A vertical gradient with ticks and the label on its right, as matplotlib draws colour bars.
    pub(crate) fn draw<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let (min, max) = self.range;
        let mut chart = ChartBuilder::on(area)
            .margin_top(10)
            .margin_bottom(55)
            .margin_left(20)
            .margin_right(15)
            .set_label_area_size(LabelAreaPosition::Right, 70)
            .build_cartesian_2d(0.0..1.0, min..max)?;
        fill_pixels(
            &chart.plotting_area().strip_coord_spec(),
            |(_, py), (_, height)| {
                self.colormap
                    .at(1.0 - py as f64 / (height.max(2) - 1) as f64)
            },
        )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .disable_y_mesh()
            .disable_x_axis()
            .set_tick_mark_size(LabelAreaPosition::Right, 6)
            .y_desc(self.label.as_str())
            .axis_desc_style(font(LABEL_FONT_SIZE))
            .label_style(font(TICK_FONT_SIZE))
            .y_label_formatter(&|v| tick_label(*v))
            .draw()?;
        Ok(())
    }
}

/// Fills `area` with one bitmap whose pixel `(x, y)` (of `(width, height)`) is `colour_at`.
fn fill_pixels<DB>(
    area: &DrawingArea<DB, Shift>,
    colour_at: impl Fn((usize, usize), (usize, usize)) -> RGBColor,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    let (width, height) = area.dim_in_pixel();
    let (width, height) = (width as usize, height as usize);
    let mut raster = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let RGBColor(r, g, b) = colour_at((x, y), (width, height));
            raster.extend_from_slice(&[r, g, b]);
        }
    }
    let bitmap = BitMapElement::<(i32, i32)>::with_owned_buffer(
        (0, 0),
        (width as u32, height as u32),
        raster,
    )
    .context("heatmap raster smaller than its area")?;
    area.draw(&bitmap)?;
    Ok(())
}

/// A linear `f64` axis that can run top-down, which plotters' own axes cannot.
#[derive(Clone)]
struct MatrixAxis {
    range: Range<f64>,
    flipped: bool,
}

impl Ranged for MatrixAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let mut fraction = (value - self.range.start) / span;
        if self.flipped {
            fraction = 1.0 - fraction;
        }
        limit.0 + ((limit.1 - limit.0) as f64 * fraction + 1e-3).floor() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Whole numbers only: ticks are residue and sequence indices.
        let mut points: Vec<f64> = plotters::coord::types::RangedCoordf64::from(self.range.clone())
            .key_points(hint)
            .into_iter()
            .filter(|v| v.fract() == 0.0)
            .collect();
        points.dedup();
        points
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flipped_axis_puts_the_start_at_the_far_end() {
        let axis = MatrixAxis {
            range: 0.0..10.0,
            flipped: true,
        };
        // For a y axis plotters passes (bottom, top) pixel limits; row 0 must land on the top.
        assert_eq!(axis.map(&0.0, (100, 0)), 0);
        assert_eq!(axis.map(&10.0, (100, 0)), 100);
        let plain = MatrixAxis {
            range: 0.0..10.0,
            flipped: false,
        };
        assert_eq!(plain.map(&0.0, (100, 0)), 100);
    }

    #[test]
    fn flatten_square_rejects_ragged_and_empty_matrices() {
        assert!(flatten_square("x", &[]).is_err());
        let err = flatten_square("x", &[vec![1.0, 2.0], vec![3.0]]).unwrap_err();
        assert!(err.to_string().contains("row 1 has 1 values"), "{err}");
        assert_eq!(
            flatten_square("x", &[vec![1.0, 2.0], vec![3.0, 4.0]])
                .unwrap()
                .len(),
            4
        );
    }
}
