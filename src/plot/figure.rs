//! A rendered figure and the one drawing path that produces both its SVG and its PNG.
//!
//! Every plot implements [`Draw`] once, generically over plotters' `DrawingBackend`; [`render`]
//! runs it on the SVG backend (for Jupyter) and on the bitmap backend (for PNG files and
//! terminals), so the two renderings cannot drift apart. Text is laid out with the embedded
//! DejaVu Sans (see `fonts/LICENSE-DejaVu.txt`) through plotters' `ab_glyph` feature, so nothing
//! depends on the system's fontconfig.
use std::io::Cursor;
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use image::{codecs::png::PngEncoder, ColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::*;

/// DejaVu Sans 2.37 from Debian's `fonts-dejavu-core` (provenance in `fonts/LICENSE-DejaVu.txt`).
const DEJAVU_SANS: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");

/// The font family name every plot asks for; it resolves to the embedded DejaVu Sans.
pub(crate) const FONT: &str = "sans-serif";
pub(crate) const TITLE_FONT_SIZE: f64 = 20.0;
pub(crate) const LABEL_FONT_SIZE: f64 = 15.0;
pub(crate) const TICK_FONT_SIZE: f64 = 12.0;

/// A finished plot: the SVG text (for notebooks) and PNG bytes (for files and terminals) of the
/// same drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub title: String,
    pub svg: String,
    pub png: Vec<u8>,
    /// Pixel size of both renderings, `(width, height)`.
    pub size: (u32, u32),
}

/// A plot that can draw itself onto any plotters backend.
pub(crate) trait Draw {
    fn title(&self) -> String;
    fn size(&self) -> (u32, u32);
    fn draw<DB>(&self, area: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static;
}

/// Draws `plot` on both backends and encodes the bitmap as PNG.
pub(crate) fn render(plot: &impl Draw) -> Result<Figure> {
    register_font()?;
    let title = plot.title();
    let (width, height) = plot.size();

    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        area.fill(&WHITE)?;
        plot.draw(&area)
            .with_context(|| format!("drawing the SVG of '{title}'"))?;
        area.present()?;
    }

    let mut rgb = vec![0u8; width as usize * height as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        area.fill(&WHITE)?;
        plot.draw(&area)
            .with_context(|| format!("drawing the bitmap of '{title}'"))?;
        area.present()?;
    }
    let png = encode_png(&rgb, (width, height))?;
    Ok(Figure {
        title,
        svg,
        png,
        size: (width, height),
    })
}

/// PNG bytes of an RGB8 buffer (`[height, width, 3]`, row-major).
pub(crate) fn encode_png(rgb: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>> {
    let mut png = Vec::new();
    PngEncoder::new(Cursor::new(&mut png))
        .write_image(rgb, width, height, ColorType::Rgb8)
        .context("encoding PNG")?;
    Ok(png)
}

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| anyhow!("the embedded DejaVu Sans font failed to load"))
}

/// The font for titles, axis descriptions and tick labels.
pub(crate) fn font(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&BLACK)
}

/// A tick label without floating-point noise: `0.30000000000000004` → `0.3`, `1e-7` → `1.0e-7`.
pub(crate) fn tick_label(value: f64) -> String {
    if value != 0.0 && value.abs() < 1e-4 {
        return format!("{value:.1e}");
    }
    let fixed = format!("{value:.6}");
    let trimmed = fixed.trim_end_matches('0').trim_end_matches('.');
    if trimmed == "-0" {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn tick_labels_drop_float_noise() {
        assert_eq!(tick_label(0.30000000000000004), "0.3");
        assert_eq!(tick_label(30.0), "30");
        assert_eq!(tick_label(-0.0), "0");
        assert_eq!(tick_label(2.5e-4), "0.00025");
        assert_eq!(tick_label(1e-7), "1.0e-7");
    }

    /// Compares `figure.svg` with `src/plot/snapshots/<name>.svg`; `HELIXFOLD_UPDATE_SNAPSHOTS=1`
    /// rewrites the snapshot instead. Also checks the PNG decodes to the figure's size.
    pub(crate) fn check_snapshot(name: &str, figure: &Figure) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/plot/snapshots")
            .join(format!("{name}.svg"));
        if std::env::var_os("HELIXFOLD_UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &figure.svg).unwrap();
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with HELIXFOLD_UPDATE_SNAPSHOTS=1 to create it)",
                path.display()
            )
        });
        assert!(
            expected == figure.svg,
            "{name}: SVG differs from {} (HELIXFOLD_UPDATE_SNAPSHOTS=1 re-blesses it)",
            path.display()
        );
        check_png(figure);
    }

    pub(crate) fn check_png(figure: &Figure) {
        let decoded = image::load_from_memory_with_format(&figure.png, image::ImageFormat::Png)
            .expect("figure PNG decodes");
        assert_eq!((decoded.width(), decoded.height()), figure.size);
        if let Some(dir) = std::env::var_os("HELIXFOLD_PLOT_DIR") {
            let name = figure
                .title
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            std::fs::write(
                std::path::Path::new(&dir).join(format!("{name}.png")),
                &figure.png,
            )
            .unwrap();
        }
    }

    #[test]
    fn png_encoder_round_trips_pixels() {
        // A 2×1 image: one red and one blue pixel.
        let png = encode_png(&[255, 0, 0, 0, 0, 255], (2, 1)).unwrap();
        let decoded = image::load_from_memory(&png).unwrap().to_rgb8();
        assert_eq!(decoded.as_raw(), &vec![255, 0, 0, 0, 0, 255]);
    }
}
