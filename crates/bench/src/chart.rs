//! Minimal PNG charts with no font or plotting dependency: a canvas, axes with numeric tick labels
//! (a built-in 3×5 digit font), polylines and bars. Titles and units go in the Markdown report
//! beside each image.

use std::path::Path;

const W: usize = 900;
const H: usize = 420;
const LEFT: usize = 60;
const BOTTOM: usize = 30;
const TOP: usize = 15;
const RIGHT: usize = 15;

/// 3×5 glyphs for digits and '.', as rows of 3 bits.
fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        _ => return None,
    })
}

/// An RGB canvas.
pub struct Canvas {
    px: Vec<u8>,
}

/// Series colours.
pub const COLORS: [[u8; 3]; 6] =
    [[31, 119, 180], [214, 39, 40], [44, 160, 44], [255, 127, 14], [148, 103, 189], [23, 190, 207]];

impl Canvas {
    pub fn new() -> Self {
        Self { px: vec![255; W * H * 3] }
    }

    fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        if x < W && y < H {
            let i = (y * W + x) * 3;
            self.px[i..i + 3].copy_from_slice(&c);
        }
    }

    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3]) {
        let steps = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
        for s in 0..=steps {
            let t = s as f64 / steps as f64;
            self.set(
                (x0 + (x1 - x0) * t).round() as usize,
                (y0 + (y1 - y0) * t).round() as usize,
                c,
            );
        }
    }

    fn text(&mut self, x: usize, y: usize, s: &str) {
        for (k, ch) in s.chars().enumerate() {
            let Some(rows) = glyph(ch) else { continue };
            for (r, bits) in rows.iter().enumerate() {
                for col in 0..3 {
                    if bits & (4 >> col) != 0 {
                        for dy in 0..2 {
                            for dx in 0..2 {
                                self.set(x + k * 8 + col * 2 + dx, y + r * 2 + dy, [0, 0, 0]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// Maps data coordinates into the plot area.
    fn map(&self, x: f64, y: f64, xmax: f64, ymax: f64) -> (f64, f64) {
        let pw = (W - LEFT - RIGHT) as f64;
        let ph = (H - TOP - BOTTOM) as f64;
        (LEFT as f64 + x / xmax.max(1e-12) * pw, (H - BOTTOM) as f64 - y / ymax.max(1e-12) * ph)
    }

    /// Draws axes with 5 labelled ticks on each.
    pub fn axes(&mut self, xmax: f64, ymax: f64) {
        for x in LEFT..W - RIGHT {
            self.set(x, H - BOTTOM, [0, 0, 0]);
        }
        for y in TOP..=H - BOTTOM {
            self.set(LEFT, y, [0, 0, 0]);
        }
        for i in 0..=4 {
            let fx = xmax * i as f64 / 4.0;
            let (px, _) = self.map(fx, 0.0, xmax, ymax);
            for d in 0..4 {
                self.set(px as usize, H - BOTTOM + d, [0, 0, 0]);
            }
            self.text((px as usize).saturating_sub(10), H - BOTTOM + 8, &fmt_num(fx));
            let fy = ymax * i as f64 / 4.0;
            let (_, py) = self.map(0.0, fy, xmax, ymax);
            for x in LEFT..W - RIGHT {
                if x % 6 == 0 {
                    self.set(x, py as usize, [200, 200, 200]);
                }
            }
            self.text(4, (py as usize).saturating_sub(5), &fmt_num(fy));
        }
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], xmax: f64, ymax: f64, c: [u8; 3]) {
        for w in points.windows(2) {
            let a = self.map(w[0].0, w[0].1.min(ymax), xmax, ymax);
            let b = self.map(w[1].0, w[1].1.min(ymax), xmax, ymax);
            self.line(a, b, c);
        }
    }

    /// Bars from y = 0 over `[x, x + width)` in data units.
    pub fn bar(&mut self, x: f64, width: f64, y: f64, xmax: f64, ymax: f64, c: [u8; 3]) {
        let (x0, y0) = self.map(x, y.min(ymax), xmax, ymax);
        let (x1, _) = self.map(x + width, 0.0, xmax, ymax);
        for px in x0 as usize..(x1 as usize).max(x0 as usize + 1) {
            for py in y0 as usize..H - BOTTOM {
                self.set(px, py, c);
            }
        }
    }

    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        let file = std::fs::File::create(path)?;
        let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), W as u32, H as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.write_header()?.write_image_data(&self.px)?;
        Ok(())
    }
}

fn fmt_num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A "nice" axis maximum at or above `v`.
pub fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if m * mag >= v {
            return m * mag;
        }
    }
    10.0 * mag
}
