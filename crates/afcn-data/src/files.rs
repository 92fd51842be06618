//! A dataset split stored as image files, one entry per listed image: what the RAF-DB,
//! AffectNet and image-folder loaders build.

use std::path::{Path, PathBuf};

use image::RgbImage;
use rayon::prelude::*;

use crate::dataset::{Annotation, FerDataset, Split, check_index};
use crate::decode::decode_image;
use crate::error::{DataError, Location, Problems, Result};
use crate::options::{ImageLimits, LoadOptions};

/// A face box in image pixels (AffectNet's face_x, face_y, face_width, face_height).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceBox {
    /// Left edge.
    pub x: i64,
    /// Top edge.
    pub y: i64,
    /// Width, positive.
    pub width: i64,
    /// Height, positive.
    pub height: i64,
}

impl FaceBox {
    /// Crops `image` to the box clipped to the image; fails when they do not overlap.
    pub fn crop(&self, image: &RgbImage, at: &Location) -> Result<RgbImage> {
        let (w, h) = (i64::from(image.width()), i64::from(image.height()));
        let (x0, y0) = (self.x.clamp(0, w), self.y.clamp(0, h));
        let (x1, y1) = (
            (self.x + self.width).clamp(0, w),
            (self.y + self.height).clamp(0, h),
        );
        if x1 <= x0 || y1 <= y0 {
            return Err(DataError::FaceBox {
                at: at.clone(),
                x: self.x,
                y: self.y,
                width: self.width,
                height: self.height,
                image_width: image.width(),
                image_height: image.height(),
            });
        }
        // Clamped to the image above, so every value fits in u32.
        let [x0, y0, cw, ch] = [x0, y0, x1 - x0, y1 - y0].map(|v| v as u32);
        Ok(image::imageops::crop_imm(image, x0, y0, cw, ch).to_image())
    }
}

/// One listed image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEntry {
    /// The image file, inside the dataset root.
    pub image: PathBuf,
    /// The sample's name in label lists.
    pub name: String,
    /// Its labels.
    pub annotation: Annotation,
    /// Where it was listed.
    pub at: Location,
    /// The face box to crop, where the format has one.
    pub face: Option<FaceBox>,
}

impl ImageEntry {
    /// Decodes (and crops) the entry's image.
    pub fn decode(&self, limits: ImageLimits) -> Result<RgbImage> {
        let image = decode_image(&self.image, limits, &self.at)?;
        match &self.face {
            Some(face) => face.crop(&image, &self.at),
            None => Ok(image),
        }
    }
}

/// A dataset split of image files with their labels, decoded on demand.
#[derive(Debug)]
pub struct ImageFiles {
    class_names: Vec<String>,
    entries: Vec<ImageEntry>,
    limits: ImageLimits,
    skipped: Vec<DataError>,
}

impl ImageFiles {
    /// Finishes a loader's work: verifies the images when asked (in parallel), drops or fails on
    /// bad ones, and refuses an empty split.
    pub(crate) fn finish(
        root: &Path,
        split: Split,
        class_names: Vec<String>,
        entries: Vec<ImageEntry>,
        mut problems: Problems,
        options: &LoadOptions,
    ) -> Result<Self> {
        let entries = if options.verify_images {
            let checked: Vec<Result<()>> = entries
                .par_iter()
                .map(|entry| entry.decode(options.limits).map(drop))
                .collect();
            let mut kept = Vec::with_capacity(entries.len());
            for (entry, check) in entries.into_iter().zip(checked) {
                if problems.check(check)?.is_some() {
                    kept.push(entry);
                }
            }
            kept
        } else {
            entries
        };
        if entries.is_empty() {
            return Err(DataError::EmptySplit {
                root: root.to_path_buf(),
                split,
            });
        }
        Ok(Self {
            class_names,
            entries,
            limits: options.limits,
            skipped: problems.into_skipped(),
        })
    }

    /// The entries, in index order.
    pub fn entries(&self) -> &[ImageEntry] {
        &self.entries
    }

    fn entry(&self, index: usize) -> Result<&ImageEntry> {
        check_index(index, self.entries.len())?;
        Ok(&self.entries[index])
    }
}

impl FerDataset for ImageFiles {
    fn class_names(&self) -> &[String] {
        &self.class_names
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    fn annotation(&self, index: usize) -> Result<Annotation> {
        Ok(self.entry(index)?.annotation)
    }

    fn image(&self, index: usize) -> Result<RgbImage> {
        self.entry(index)?.decode(self.limits)
    }

    fn name(&self, index: usize) -> Result<String> {
        Ok(self.entry(index)?.name.clone())
    }

    fn skipped(&self) -> &[DataError] {
        &self.skipped
    }
}

/// Turns class-name literals into owned names.
pub(crate) fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn face_box_crops_and_clips() {
        let image = RgbImage::from_fn(10, 8, |x, y| Rgb([x as u8, y as u8, 0]));
        let at = Location::line(Path::new("training.csv"), 2);
        let inside = FaceBox {
            x: 2,
            y: 1,
            width: 4,
            height: 3,
        };
        let crop = inside.crop(&image, &at).unwrap();
        assert_eq!(crop.dimensions(), (4, 3));
        assert_eq!(crop.get_pixel(0, 0).0, [2, 1, 0]);
        let clipped = FaceBox {
            x: -3,
            y: 6,
            width: 5,
            height: 9,
        };
        let crop = clipped.crop(&image, &at).unwrap();
        assert_eq!(crop.dimensions(), (2, 2));
        assert_eq!(crop.get_pixel(1, 1).0, [1, 7, 0]);
        let outside = FaceBox {
            x: 10,
            y: 0,
            width: 4,
            height: 4,
        };
        let err = outside.crop(&image, &at).unwrap_err();
        assert!(
            err.to_string().starts_with("training.csv:2: face box"),
            "{err}"
        );
    }
}
