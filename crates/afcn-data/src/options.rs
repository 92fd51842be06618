//! How loaders treat bad input and how large an image may be.

use serde::{Deserialize, Serialize};

/// The size limits applied to every decoded image: protection against decompression bombs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageLimits {
    /// The largest width accepted, in pixels.
    pub max_width: u32,
    /// The largest height accepted, in pixels.
    pub max_height: u32,
    /// The most memory a decoder may allocate for one image, in bytes.
    pub max_alloc: u64,
}

impl Default for ImageLimits {
    /// 8192 x 8192 pixels and 512 MiB: above every image of RAF-DB, FERPlus and AffectNet.
    fn default() -> Self {
        Self {
            max_width: 8192,
            max_height: 8192,
            max_alloc: 512 << 20,
        }
    }
}

impl ImageLimits {
    /// The limits in the form the `image` crate's decoders take.
    pub fn to_image_limits(self) -> image::Limits {
        let mut limits = image::Limits::default();
        limits.max_image_width = Some(self.max_width);
        limits.max_image_height = Some(self.max_height);
        limits.max_alloc = Some(self.max_alloc);
        limits
    }
}

/// Options shared by every loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadOptions {
    /// Skip bad entries (missing or corrupt images, bad labels, malformed rows) and report them
    /// through [`FerDataset::skipped`](crate::FerDataset::skipped) instead of failing on the
    /// first. Default: false.
    pub skip_bad: bool,
    /// Decode every image while opening (in parallel) so that corrupt, truncated and oversized
    /// images are found before training instead of in the middle of an epoch. Default: false
    /// (images are then only checked to exist).
    pub verify_images: bool,
    /// The size limits applied to every image.
    pub limits: ImageLimits,
}
