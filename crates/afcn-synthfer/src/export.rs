//! Writing SynthFER to disk in RAF-DB's layout, so that the RAF-DB loader reads it back.

use std::{
    fs,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use image::codecs::jpeg::JpegEncoder;
use rayon::prelude::*;

use afcn_data::{
    FerDataset,
    dataset::Split,
    rafdb::{RAFDB_IMAGES, RAFDB_LIST},
};

use super::{
    config::SynthFerConfig,
    dataset::{SynthFer, rafdb_name},
    error::SynthFerError,
};

/// JPEG quality of exported images.
pub const JPEG_QUALITY: u8 = 95;

/// What [`export_rafdb`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// The label list.
    pub label_list: PathBuf,
    /// The image folder.
    pub image_dir: PathBuf,
    /// Training images written.
    pub train: usize,
    /// Test images written.
    pub test: usize,
}

/// Renders both splits of `config` into `root` in RAF-DB's layout: images
/// `Image/aligned/<stem>_aligned.jpg` and the list `EmoLabel/list_patition_label.txt` with one
/// line `train_00001.jpg 5` per image (labels 1 to 7 in RAF-DB order), train lines first.
/// Images are rendered in parallel (rayon); the list is written last, so a list on disk means
/// a complete export.
pub fn export_rafdb(config: &SynthFerConfig, root: &Path) -> Result<ExportSummary, SynthFerError> {
    let image_dir = root.join(RAFDB_IMAGES);
    let label_list = root.join(RAFDB_LIST);
    for dir in [image_dir.as_path(), label_list.parent().unwrap_or(root)] {
        fs::create_dir_all(dir).map_err(|source| SynthFerError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut lines = String::new();
    for split in [Split::Train, Split::Test] {
        let data = SynthFer::new(config.clone(), split)?;
        (0..data.len()).into_par_iter().try_for_each(|index| {
            let name = rafdb_name(split, index);
            let stem = name.trim_end_matches(".jpg");
            write_jpeg(&data, index, &image_dir.join(format!("{stem}_aligned.jpg")))
        })?;
        for index in 0..data.len() {
            let label = data.expression(index).rafdb_label();
            lines.push_str(&format!("{} {label}\n", rafdb_name(split, index)));
        }
    }
    fs::write(&label_list, lines).map_err(|source| SynthFerError::Io {
        path: label_list.clone(),
        source,
    })?;
    Ok(ExportSummary {
        label_list,
        image_dir,
        train: config.train_size,
        test: config.test_size,
    })
}

fn write_jpeg(data: &SynthFer, index: usize, path: &Path) -> Result<(), SynthFerError> {
    let io = |source| SynthFerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::create(path).map_err(io)?;
    let mut writer = BufWriter::new(file);
    JpegEncoder::new_with_quality(&mut writer, JPEG_QUALITY)
        .encode_image(&data.render(index))
        .map_err(|source| SynthFerError::Encode {
            path: path.to_path_buf(),
            source,
        })?;
    writer.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use afcn_data::{LoadOptions, open_rafdb};

    #[test]
    fn export_is_read_back_by_the_rafdb_loader() {
        let dir = tempfile::tempdir().unwrap();
        let config = SynthFerConfig {
            train_size: 6,
            test_size: 3,
            image_size: 24,
            ..SynthFerConfig::default()
        };
        let summary = export_rafdb(&config, dir.path()).unwrap();
        assert_eq!((summary.train, summary.test), (6, 3));

        // The list: train lines then test lines, `name label` with RAF-DB's 1-based labels.
        let list = fs::read_to_string(dir.path().join("EmoLabel/list_patition_label.txt")).unwrap();
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 9);
        assert_eq!(lines[0].split(' ').next(), Some("train_00001.jpg"));
        assert_eq!(lines[8].split(' ').next(), Some("test_00003.jpg"));
        for line in &lines {
            let (name, label) = line.split_once(' ').unwrap();
            assert!(name.ends_with(".jpg"), "{line}");
            assert!((1..=7).contains(&label.parse::<u8>().unwrap()), "{line}");
        }
        assert!(
            dir.path()
                .join("Image/aligned/train_00006_aligned.jpg")
                .is_file()
        );
        assert!(
            dir.path()
                .join("Image/aligned/test_00001_aligned.jpg")
                .is_file()
        );

        // Read back through the RAF-DB loader: same labels, same images up to JPEG loss.
        for split in [Split::Train, Split::Test] {
            let synth = SynthFer::new(config.clone(), split).unwrap();
            let loaded = open_rafdb(dir.path(), split, None, &LoadOptions::default()).unwrap();
            assert_eq!(loaded.len(), synth.len());
            for index in 0..synth.len() {
                assert_eq!(loaded.name(index).unwrap(), synth.name(index).unwrap());
                assert_eq!(
                    loaded.annotation(index).unwrap(),
                    synth.annotation(index).unwrap()
                );
                let (a, b) = (loaded.image(index).unwrap(), synth.image(index).unwrap());
                assert_eq!(a.dimensions(), (24, 24));
                let diff: f32 = a
                    .as_raw()
                    .iter()
                    .zip(b.as_raw())
                    .map(|(&x, &y)| (f32::from(x) - f32::from(y)).abs())
                    .sum::<f32>()
                    / a.as_raw().len() as f32;
                assert!(diff < 8.0, "mean JPEG error {diff} at {split} {index}");
            }
        }
    }
}
