//! Writing SynthFER to disk in RAF-DB's layout, so that the RAF-DB loader reads it back.

use std::{
    fs,
    io::{BufWriter, Write},
    path::{Path, PathBuf},
};

use image::codecs::jpeg::JpegEncoder;
use rayon::prelude::*;

use crate::{FerDataset, dataset::Split};

use super::{
    config::SynthFerConfig,
    dataset::{SynthFer, rafdb_name},
    error::SynthFerError,
};

/// The label list, relative to the dataset root (RAF-DB's spelling, `patition` included).
pub const LABEL_LIST: &str = "EmoLabel/list_patition_label.txt";
/// The image folder, relative to the dataset root.
pub const IMAGE_DIR: &str = "Image/aligned";
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
    let image_dir = root.join(IMAGE_DIR);
    let label_list = root.join(LABEL_LIST);
    for dir in [&image_dir, &root.join("EmoLabel")] {
        fs::create_dir_all(dir).map_err(|source| SynthFerError::Io {
            path: dir.clone(),
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
