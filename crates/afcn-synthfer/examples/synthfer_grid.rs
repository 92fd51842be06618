//! Writes the SynthFER contact sheet of `docs/synthfer.md`: one row per expression, for three
//! people the intensities 0.25, 0.5 and 1.0.
//!
//! `cargo run -p afcn-synthfer --example synthfer_grid -- docs/img/synthfer-grid.png [PEOPLE] [SIZE]`

use afcn_synthfer::{SynthFerConfig, sample_grid};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "synthfer-grid.png".into());
    let people = std::env::args()
        .nth(2)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(3);
    let image_size = std::env::args()
        .nth(3)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(64);
    let config = SynthFerConfig {
        image_size,
        ..SynthFerConfig::default()
    };
    let sheet = sample_grid(&config, people, &[0.25, 0.5, 1.0])?;
    sheet.save(&out)?;
    println!("wrote {out} ({}x{})", sheet.width(), sheet.height());
    Ok(())
}
