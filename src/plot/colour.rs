//! Colour maps shared by the heatmaps.
//!
//! Stop colours are matplotlib's maps sampled at nine evenly spaced points (ColorBrewer `Greens`
//! and `Blues`, `viridis`), interpolated linearly in RGB; `rainbow` uses matplotlib's closed form
//! (gnuplot functions 33, 13, 10), which ColabFold's `plot_msa_v2` shows reversed.
use plotters::style::RGBColor;

/// A map from `t ∈ [0, 1]` to a colour (values outside are clamped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Colormap {
    /// Evenly spaced stops, interpolated linearly.
    Stops(&'static [RGBColor]),
    /// matplotlib `rainbow_r`: red at 0 through green to violet at 1.
    RainbowReversed,
    /// Piecewise constant: the colour of the last `(from, colour)` whose `from <= t`
    /// (`from` ascending, the first at 0).
    Thresholds(&'static [(f64, RGBColor)]),
}

/// AlphaFold's pLDDT bands on a 0–100 scale taken as `t = pLDDT / 100`: very low < 50 `#FF7D45`,
/// low 50–70 `#FFDB13`, confident 70–90 `#65CBF3`, very high > 90 `#0053D6`
/// (`alphafold/notebooks/notebook_utils.py`, the AlphaFold DB legend).
pub(crate) const PLDDT_BANDS: Colormap = Colormap::Thresholds(&[
    (0.0, RGBColor(0xFF, 0x7D, 0x45)),
    (0.5, RGBColor(0xFF, 0xDB, 0x13)),
    (0.7, RGBColor(0x65, 0xCB, 0xF3)),
    (0.9, RGBColor(0x00, 0x53, 0xD6)),
]);

/// matplotlib `Greens_r`: dark green (low error) to white (high error), the AlphaFold DB look.
pub(crate) const GREENS_REVERSED: Colormap = Colormap::Stops(&[
    RGBColor(0x00, 0x44, 0x1b),
    RGBColor(0x00, 0x6d, 0x2c),
    RGBColor(0x23, 0x8b, 0x45),
    RGBColor(0x41, 0xab, 0x5d),
    RGBColor(0x74, 0xc4, 0x76),
    RGBColor(0xa1, 0xd9, 0x9b),
    RGBColor(0xc7, 0xe9, 0xc0),
    RGBColor(0xe5, 0xf5, 0xe0),
    RGBColor(0xf7, 0xfc, 0xf5),
]);

/// matplotlib `Blues`: white (improbable) to dark blue (certain).
pub(crate) const BLUES: Colormap = Colormap::Stops(&[
    RGBColor(0xf7, 0xfb, 0xff),
    RGBColor(0xde, 0xeb, 0xf7),
    RGBColor(0xc6, 0xdb, 0xef),
    RGBColor(0x9e, 0xca, 0xe1),
    RGBColor(0x6b, 0xae, 0xd6),
    RGBColor(0x42, 0x92, 0xc6),
    RGBColor(0x21, 0x71, 0xb5),
    RGBColor(0x08, 0x51, 0x9c),
    RGBColor(0x08, 0x30, 0x6b),
]);

/// matplotlib `viridis`: dark violet (near) to yellow (far).
pub(crate) const VIRIDIS: Colormap = Colormap::Stops(&[
    RGBColor(0x44, 0x01, 0x54),
    RGBColor(0x47, 0x2d, 0x7b),
    RGBColor(0x3b, 0x52, 0x8b),
    RGBColor(0x2c, 0x72, 0x8e),
    RGBColor(0x21, 0x91, 0x8c),
    RGBColor(0x28, 0xae, 0x80),
    RGBColor(0x5e, 0xc9, 0x62),
    RGBColor(0xad, 0xdc, 0x30),
    RGBColor(0xfd, 0xe7, 0x25),
]);

impl Colormap {
    /// The colour at `t`, clamped to `[0, 1]`; NaN maps to 0.
    pub(crate) fn at(&self, t: f64) -> RGBColor {
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        match self {
            Colormap::Stops(stops) => interpolate(stops, t),
            Colormap::RainbowReversed => rainbow(1.0 - t),
            Colormap::Thresholds(steps) => {
                steps.iter().take_while(|(from, _)| *from <= t).last().or(steps.first()).map_or(RGBColor(0, 0, 0), |s| s.1)
            }
        }
    }

    /// The colour of `value` on a scale from `min` to `max`.
    pub(crate) fn scaled(&self, value: f64, (min, max): (f64, f64)) -> RGBColor {
        self.at((value - min) / (max - min))
    }
}

fn interpolate(stops: &[RGBColor], t: f64) -> RGBColor {
    let last = stops.len().saturating_sub(1);
    let position = t * last as f64;
    let lower = (position.floor() as usize).min(last);
    let upper = (lower + 1).min(last);
    let fraction = position - lower as f64;
    let (a, b) = (stops[lower], stops[upper]);
    let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * fraction).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

fn rainbow(x: f64) -> RGBColor {
    let channel = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    RGBColor(
        channel((2.0 * x - 0.5).abs()),
        channel((std::f64::consts::PI * x).sin()),
        channel((std::f64::consts::PI * x / 2.0).cos()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_maps_hit_their_end_colours_and_clamp() {
        assert_eq!(GREENS_REVERSED.at(0.0), RGBColor(0x00, 0x44, 0x1b));
        assert_eq!(GREENS_REVERSED.at(1.0), RGBColor(0xf7, 0xfc, 0xf5));
        assert_eq!(GREENS_REVERSED.at(7.0), GREENS_REVERSED.at(1.0));
        assert_eq!(BLUES.scaled(15.0, (0.0, 30.0)), RGBColor(0x6b, 0xae, 0xd6));
    }

    #[test]
    fn interpolation_is_halfway_between_stops() {
        // Halfway between the first two viridis stops (0x44,0x01,0x54) and (0x47,0x2d,0x7b).
        assert_eq!(VIRIDIS.at(1.0 / 16.0), RGBColor(0x46, 0x17, 0x68));
    }

    #[test]
    fn plddt_bands_switch_at_alphafolds_thresholds() {
        assert_eq!(PLDDT_BANDS.scaled(49.9, (0.0, 100.0)), RGBColor(0xFF, 0x7D, 0x45));
        assert_eq!(PLDDT_BANDS.scaled(50.0, (0.0, 100.0)), RGBColor(0xFF, 0xDB, 0x13));
        assert_eq!(PLDDT_BANDS.scaled(89.0, (0.0, 100.0)), RGBColor(0x65, 0xCB, 0xF3));
        assert_eq!(PLDDT_BANDS.scaled(95.0, (0.0, 100.0)), RGBColor(0x00, 0x53, 0xD6));
    }

    #[test]
    fn rainbow_reversed_matches_matplotlib_ends() {
        // matplotlib: rainbow(0) = (0.5, 0, 1), rainbow(1) = (1, ~0, ~0); rainbow_r swaps them.
        assert_eq!(Colormap::RainbowReversed.at(1.0), RGBColor(128, 0, 255));
        assert_eq!(Colormap::RainbowReversed.at(0.0), RGBColor(255, 0, 0));
    }
}
