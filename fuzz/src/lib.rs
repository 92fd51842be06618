//! afcn's text parsers as functions of arbitrary bytes, for the libFuzzer targets in
//! `fuzz_targets/` and for `tests/corpus.rs`, which replays the committed corpus on stable Rust.
//!
//! Each function writes the bytes where the parser reads them (a scratch folder per thread),
//! runs the parser, and panics only when an invariant fails: an accepted input must give
//! values in range, a refused one an error naming the file. A panic inside a parser is a
//! finding too.

use std::path::{Path, PathBuf};

use afcn_data::image::{Rgb, RgbImage};
use afcn_data::{
    AffectNetClasses, FerDataset, FerPlusClasses, LoadOptions, Split, open_affectnet, open_ferplus,
    read_label_list,
};
use afcn_train::config::{Preset, TrainConfig};

thread_local! {
    /// This thread's scratch folder (left in the temporary directory when the process ends).
    static SCRATCH: PathBuf = {
        let dir = tempfile::Builder::new()
            .prefix("afcn-fuzz-")
            .tempdir()
            .expect("a scratch folder");
        let root = dir.keep();
        let image = root.join("1/a.png");
        std::fs::create_dir_all(image.parent().expect("a parent")).expect("a folder");
        RgbImage::from_pixel(8, 6, Rgb([1, 2, 3]))
            .save(&image)
            .expect("an image");
        root
    };
}

/// Calls `body` with the scratch folder after writing `files` (name, bytes) into it.
fn with_files<T>(files: &[(&str, &[u8])], body: impl FnOnce(&Path) -> T) -> T {
    SCRATCH.with(|root| {
        for (name, bytes) in files {
            std::fs::write(root.join(name), bytes).expect("a scratch file");
        }
        body(root)
    })
}

/// Asserts that an error message names the file it is about (or the split it left empty).
fn names_file(message: &str, file: &str) {
    assert!(
        message.contains(file) || message.contains("holds no usable sample"),
        "an error that does not name {file}: {message}"
    );
}

/// A label list in the RAF-DB line format, for seven classes.
pub fn label_list(bytes: &[u8]) {
    with_files(&[("list.txt", bytes)], |root| {
        match read_label_list(&root.join("list.txt"), 7) {
            Ok(entries) => {
                let mut last = 0;
                for entry in entries {
                    assert!(entry.label < 7, "{entry:?}");
                    assert!(!entry.name.is_empty(), "{entry:?}");
                    assert!(!entry.name.contains(char::is_whitespace), "{entry:?}");
                    let line = entry.at.line.expect("a line");
                    assert!(line > last, "{entry:?}");
                    last = line;
                }
            }
            Err(err) => names_file(&err.to_string(), "list.txt:"),
        }
    });
}

/// FERPlus: the bytes up to the first NUL are `fer2013.csv`, the rest `fer2013new.csv`.
pub fn ferplus_csv(bytes: &[u8]) {
    let split = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let (images, votes) = (&bytes[..split], bytes.get(split + 1..).unwrap_or_default());
    let files = [("fer2013.csv", images), ("fer2013new.csv", votes)];
    with_files(&files, |root| {
        for classes in [FerPlusClasses::Eight, FerPlusClasses::Seven] {
            for skip_bad in [false, true] {
                match open_ferplus(root, Split::Train, classes, skip_bad) {
                    Ok(set) => {
                        assert!(!set.is_empty());
                        for i in 0..set.len() {
                            assert!(set.annotation(i).expect("in range").label < classes.count());
                            assert_eq!(set.image(i).expect("in range").dimensions(), (48, 48));
                        }
                    }
                    Err(err) => names_file(&err.to_string(), "fer2013"),
                }
            }
        }
    });
}

/// AffectNet's `training.csv` (the image `1/a.png` exists, 8 x 6 pixels).
pub fn affectnet_csv(bytes: &[u8]) {
    with_files(&[("training.csv", bytes)], |root| {
        for skip_bad in [false, true] {
            let options = LoadOptions {
                skip_bad,
                verify_images: true,
                ..LoadOptions::default()
            };
            match open_affectnet(root, Split::Train, AffectNetClasses::Eight, &options) {
                Ok(set) => {
                    for i in 0..set.len() {
                        assert!(set.annotation(i).expect("in range").label < 8);
                        let face = set.image(i).expect("verified");
                        assert!(face.width() <= 8 && face.height() <= 6);
                    }
                }
                Err(err) => names_file(&err.to_string(), "training.csv"),
            }
        }
    });
}

/// A training configuration file over the SynthFER preset: refused with the file's name, or
/// validated and then unchanged by a round trip through TOML.
pub fn config(bytes: &[u8]) {
    with_files(&[("config.toml", bytes)], |root| {
        let path = root.join("config.toml");
        let config = match TrainConfig::from_toml_file(&path, &Preset::Synthfer.config()) {
            Ok(config) => config,
            Err(err) => return names_file(&err.to_string(), "config.toml"),
        };
        if config.validate().is_ok() {
            let back = TrainConfig::from_toml_str(&config.to_toml(), &TrainConfig::default())
                .expect("a valid configuration reads back");
            assert_eq!(
                back, config,
                "the TOML round trip changed the configuration"
            );
        }
    });
}
