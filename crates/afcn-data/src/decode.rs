//! Decoding image files safely: size limits, truncation, and conversion to 8-bit RGB.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use image::{ImageError, ImageFormat, ImageReader, RgbImage};

use crate::error::{DataError, Location, Result};
use crate::options::ImageLimits;

/// Decodes the image at `path` (listed at `at`) under `limits` and converts it to 8-bit RGB:
/// grey, grey + alpha, RGBA and 16-bit images are converted, alpha is dropped.
///
/// A JPEG without its end-of-image marker is reported as truncated (the JPEG decoder would
/// otherwise fill the missing rows silently).
pub fn decode_image(path: &Path, limits: ImageLimits, at: &Location) -> Result<RgbImage> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let decode_err = |source: ImageError| match source {
        ImageError::Limits(limit) => DataError::TooLarge {
            at: at.clone(),
            image: path.to_path_buf(),
            reason: limit.to_string(),
        },
        source => DataError::Decode {
            at: at.clone(),
            image: path.to_path_buf(),
            source: Box::new(source),
        },
    };
    let mut reader = ImageReader::open(path)
        .map_err(io)?
        .with_guessed_format()
        .map_err(io)?;
    if reader.format() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(path).map_err(io)? {
        return Err(decode_err(ImageError::IoError(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "truncated JPEG: no end-of-image marker",
        ))));
    }
    reader.limits(limits.to_image_limits());
    Ok(reader.decode().map_err(decode_err)?.into_rgb8())
}

/// Whether a JPEG file holds its end-of-image marker (`FF D9`) among its last 4 KiB (some
/// writers append padding or a trailer after it). Inside the compressed data `FF` is always
/// followed by `00` or a restart marker, so `FF D9` there can only be an end of image.
fn jpeg_is_complete(path: &Path) -> std::io::Result<bool> {
    const TAIL: u64 = 4096;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL)))?;
    let mut tail = Vec::with_capacity(TAIL as usize);
    file.read_to_end(&mut tail)?;
    Ok(tail.windows(2).any(|w| w == [0xFF, 0xD9]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, ImageBuffer, Luma, LumaA, Rgb, Rgba};

    /// The signature, IHDR (8-bit RGB) and IEND chunks of a PNG of the given size, no pixels.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 {
                        (crc >> 1) ^ 0xEDB8_8320
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let body = [kind, data].concat();
            out.extend_from_slice(&body);
            out.extend_from_slice(&crc32(&body).to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let ihdr = [width.to_be_bytes(), height.to_be_bytes()].concat();
        chunk(&mut out, b"IHDR", &[ihdr, vec![8, 2, 0, 0, 0]].concat());
        chunk(&mut out, b"IEND", &[]);
        out
    }

    fn at(path: &Path) -> Location {
        Location::file(path)
    }

    #[test]
    fn grey_rgba_and_16_bit_images_become_rgb8() {
        let dir = tempfile::tempdir().unwrap();
        let limits = ImageLimits::default();
        let cases: Vec<(&str, DynamicImage, [u8; 3])> = vec![
            (
                "grey.png",
                ImageBuffer::from_pixel(3, 2, Luma([77u8])).into(),
                [77, 77, 77],
            ),
            (
                "grey_alpha.png",
                ImageBuffer::from_pixel(3, 2, LumaA([90u8, 10])).into(),
                [90, 90, 90],
            ),
            (
                "rgba.png",
                ImageBuffer::from_pixel(3, 2, Rgba([10u8, 20, 30, 0])).into(),
                [10, 20, 30],
            ),
            (
                "rgb16.png",
                ImageBuffer::from_pixel(3, 2, Rgb([0u16, 32896, 65535])).into(),
                [0, 128, 255],
            ),
            (
                "grey16.png",
                ImageBuffer::from_pixel(3, 2, Luma([257u16 * 200])).into(),
                [200, 200, 200],
            ),
        ];
        for (name, image, rgb) in cases {
            let path = dir.path().join(name);
            image.save(&path).unwrap();
            let decoded = decode_image(&path, limits, &at(&path)).unwrap();
            assert_eq!(decoded.dimensions(), (3, 2), "{name}");
            assert!(
                decoded.pixels().all(|p| p.0 == rgb),
                "{name}: {:?}",
                decoded.get_pixel(0, 0)
            );
        }
    }

    #[test]
    fn truncated_corrupt_and_oversized_images_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let image = RgbImage::from_fn(64, 64, |x, y| Rgb([x as u8 * 4, y as u8 * 4, 9]));
        let jpeg = dir.path().join("whole.jpg");
        let png = dir.path().join("whole.png");
        image.save(&jpeg).unwrap();
        image.save(&png).unwrap();
        let limits = ImageLimits::default();
        assert!(decode_image(&jpeg, limits, &at(&jpeg)).is_ok());

        for source in [&jpeg, &png] {
            let bytes = std::fs::read(source).unwrap();
            let cut = dir.path().join(format!(
                "cut.{}",
                source.extension().unwrap().to_str().unwrap()
            ));
            std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
            let err = decode_image(&cut, limits, &at(&cut)).unwrap_err();
            assert!(matches!(err, DataError::Decode { .. }), "{err}");
            assert!(err.to_string().contains("cut."), "{err}");
        }

        let garbage = dir.path().join("garbage.jpg");
        std::fs::write(&garbage, b"not an image at all").unwrap();
        let err = decode_image(&garbage, limits, &at(&garbage)).unwrap_err();
        assert!(matches!(err, DataError::Decode { .. }), "{err}");

        // A PNG whose header claims 60,000 x 60,000 pixels is refused before any allocation.
        let bomb = dir.path().join("bomb.png");
        std::fs::write(&bomb, png_header(60_000, 60_000)).unwrap();
        let err = decode_image(&bomb, limits, &at(&bomb)).unwrap_err();
        assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
        assert!(err.to_string().contains("bomb.png"), "{err}");

        let small = ImageLimits {
            max_width: 32,
            max_height: 32,
            ..ImageLimits::default()
        };
        for path in [&jpeg, &png] {
            let err = decode_image(path, small, &at(path)).unwrap_err();
            assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
        }
    }
}
