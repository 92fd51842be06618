//! Maps written as NumPy `.npy` files, for tooling and comparison with other tools.

use std::{fs::File, io::BufWriter, path::Path};

use npyz::WriterBuilder;

use crate::CamError;

/// Writes `values` (row-major, C order) as a float32 `.npy` array of `shape`.
///
/// The number of values must be the product of `shape`; `npyz` reports a mismatch as an
/// I/O error.
pub fn write_npy(path: impl AsRef<Path>, values: &[f32], shape: &[u64]) -> Result<(), CamError> {
    let path = path.as_ref();
    let io_error = |source| CamError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io_error)?;
    let mut writer = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(BufWriter::new(file))
        .begin_nd()
        .map_err(io_error)?;
    writer.extend(values.iter().copied()).map_err(io_error)?;
    writer.finish().map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_float32_array_numpy_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.npy");
        write_npy(&path, &[0.0, 0.5, 1.0, 2.0, 3.0, 4.0], &[2, 3]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let array = npyz::NpyFile::new(&bytes[..]).unwrap();
        assert_eq!(array.shape(), &[2, 3]);
        assert_eq!(
            array.header().dtype(),
            npyz::DType::Plain("<f4".parse().unwrap())
        );
        assert_eq!(
            array.into_vec::<f32>().unwrap(),
            [0.0, 0.5, 1.0, 2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn a_missing_folder_is_an_error_naming_the_file() {
        let message = write_npy("/nonexistent/dir/map.npy", &[1.0], &[1])
            .unwrap_err()
            .to_string();
        assert!(message.contains("/nonexistent/dir/map.npy"), "{message}");
    }
}
