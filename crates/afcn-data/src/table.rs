//! Reading CSV files by column name, with the line of every row for error messages.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Location, Result};

/// A CSV file opened for the named columns.
pub(crate) struct Table {
    path: PathBuf,
    reader: csv::Reader<File>,
    columns: Vec<usize>,
    width: usize,
    line: u64,
}

/// One row: where it is, and the requested columns' fields in the order they were asked for.
pub(crate) struct Row {
    /// The file and line of the row.
    pub at: Location,
    /// The requested fields.
    pub fields: Vec<String>,
}

impl Table {
    /// Opens `path` and finds `columns` in its header (case-insensitively).
    pub(crate) fn open(path: &Path, columns: &[&str]) -> Result<Self> {
        let file = File::open(path).map_err(|source| DataError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        // Records end at `\n` only: the csv crate's line numbers are off by one with CRLF line
        // ends, and the `\r` left at the end of a line is trimmed from the fields below.
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(file);
        let header_at = Location::line(path, 1);
        let header = reader.headers().map_err(|source| DataError::Csv {
            at: header_at.clone(),
            source,
        })?;
        let columns = columns
            .iter()
            .map(|name| {
                header
                    .iter()
                    .position(|h| h.trim().eq_ignore_ascii_case(name))
                    .ok_or_else(|| DataError::MissingColumn {
                        at: header_at.clone(),
                        column: (*name).to_string(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let width = header.len();
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            columns,
            width,
            line: 1,
        })
    }

    /// The next row, `None` at the end. A row with the wrong number of fields is an error
    /// naming its line; reading can go on after it.
    pub(crate) fn next_row(&mut self) -> Option<Result<Row>> {
        let mut record = csv::StringRecord::new();
        match self.reader.read_record(&mut record) {
            Ok(false) => None,
            Ok(true) => {
                self.line = record.position().map_or(self.line + 1, |p| p.line());
                if record.len() == 1 && record[0].trim().is_empty() {
                    // A blank line ending in CRLF.
                    return self.next_row();
                }
                let at = Location::line(&self.path, self.line);
                if record.len() != self.width {
                    return Some(Err(DataError::FieldCount {
                        at,
                        expected: self.width,
                        found: record.len(),
                    }));
                }
                let fields = self
                    .columns
                    .iter()
                    .map(|&c| record[c].trim().to_string())
                    .collect();
                Some(Ok(Row { at, fields }))
            }
            Err(source) => {
                self.line = source.position().map_or(self.line + 1, |p| p.line());
                Some(Err(DataError::Csv {
                    at: Location::line(&self.path, self.line),
                    source,
                }))
            }
        }
    }
}

impl Iterator for Table {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}

/// Parses a field, or fails naming the field, the row and what was expected.
pub(crate) fn parse_field<T: std::str::FromStr>(
    value: &str,
    field: &'static str,
    expected: &str,
    at: &Location,
) -> Result<T> {
    value.parse().map_err(|_| DataError::BadValue {
        at: at.clone(),
        field,
        value: value.to_string(),
        expected: expected.to_string(),
    })
}
