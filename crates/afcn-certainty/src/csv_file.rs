//! CSV export shared by the suspects list and the change log.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::LabelStoreError;

/// Writes `rows` after the `header` line (also when there is no row).
pub(crate) fn write_rows<W: Write, T: Serialize>(
    writer: W,
    header: &[&str],
    rows: &[T],
) -> Result<(), csv::Error> {
    let mut csv = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(writer);
    csv.write_record(header)?;
    for row in rows {
        csv.serialize(row)?;
    }
    csv.flush()?;
    Ok(())
}

/// [`write_rows`] into a new file at `path`, errors naming the file.
pub(crate) fn write_file<T: Serialize>(
    path: &Path,
    header: &[&str],
    rows: &[T],
) -> Result<(), LabelStoreError> {
    let csv_error = |source| LabelStoreError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(|e| csv_error(e.into()))?;
    write_rows(file, header, rows).map_err(csv_error)
}
