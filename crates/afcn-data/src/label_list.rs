//! Label lists in the RAF-DB line format, `train_00001.jpg 5`: a sample name and a 1-based
//! label per line. RAF-DB's own list, its published noisy lists (`noise01.txt` ...) and the
//! noisy lists afcn exports all use it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use crate::dataset::FerDataset;
use crate::error::{DataError, Location, Problems, Result};

/// One line of a label list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The sample's name.
    pub name: String,
    /// The label, 0-based (the file holds it 1-based).
    pub label: usize,
    /// The file and line.
    pub at: Location,
}

/// Reads the label list at `path`, for labels `1..=num_classes`. Blank lines, blanks around
/// fields, CRLF line ends and a UTF-8 byte-order mark are accepted; a line
/// without exactly two fields or with a label out of range is an error naming its line, skipped
/// into `problems` when those skip.
pub(crate) fn read_list(
    path: &Path,
    num_classes: usize,
    problems: &mut Problems,
) -> Result<Vec<ListEntry>> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut entries = Vec::new();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let at = Location::line(path, number as u64 + 1);
        let line = match line {
            Ok(line) => line,
            Err(source) if source.kind() == std::io::ErrorKind::InvalidData => {
                problems.check::<()>(Err(DataError::BadValue {
                    at,
                    field: "line",
                    value: "<not UTF-8>".into(),
                    expected: "UTF-8 text".into(),
                }))?;
                continue;
            }
            Err(source) => return Err(io(source)),
        };
        // A UTF-8 byte-order mark (written by some Windows editors) is not part of the name.
        let line = if number == 0 {
            line.strip_prefix('\u{feff}').unwrap_or(&line)
        } else {
            &line
        };
        if line.trim().is_empty() {
            continue;
        }
        if let Some(entry) = problems.check(parse_line(line, num_classes, at))? {
            entries.push(entry);
        }
    }
    Ok(entries)
}

/// Reads a label list, failing on the first bad line.
pub fn read_label_list(path: &Path, num_classes: usize) -> Result<Vec<ListEntry>> {
    read_list(path, num_classes, &mut Problems::new(false))
}

fn parse_line(line: &str, num_classes: usize, at: Location) -> Result<ListEntry> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [name, label] = fields[..] else {
        return Err(DataError::FieldCount {
            at,
            expected: 2,
            found: fields.len(),
        });
    };
    let at = at.with_entry(name);
    match label.parse::<usize>() {
        Ok(label) if (1..=num_classes).contains(&label) => Ok(ListEntry {
            name: name.to_string(),
            label: label - 1,
            // Later errors about the entry (a missing image) name it themselves.
            at: Location { entry: None, ..at },
        }),
        _ => Err(DataError::BadValue {
            at,
            field: "label",
            value: label.to_string(),
            expected: format!("1..={num_classes}"),
        }),
    }
}

/// Writes the given labels of `dataset` to `path` in the RAF-DB line format (names from
/// [`FerDataset::name`], labels 1-based).
pub fn write_label_list<D: FerDataset + ?Sized>(dataset: &D, path: &Path) -> Result<()> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut out = BufWriter::new(std::fs::File::create(path).map_err(io)?);
    for index in 0..dataset.len() {
        let label = dataset.annotation(index)?.label + 1;
        writeln!(out, "{} {label}", dataset.name(index)?).map_err(io)?;
    }
    out.flush().map_err(io)
}

/// Reads the label list at `path` as labels for `dataset`, in its index order: every line must
/// name a sample of the dataset, once, and every sample must be listed.
pub fn read_labels_for<D: FerDataset + ?Sized>(dataset: &D, path: &Path) -> Result<Vec<usize>> {
    let entries = read_label_list(path, dataset.num_classes())?;
    let mut labels = vec![None; dataset.len()];
    let by_name: HashMap<String, usize> = (0..dataset.len())
        .map(|i| Ok((dataset.name(i)?, i)))
        .collect::<Result<_>>()?;
    for entry in entries {
        let index = by_name
            .get(&entry.name)
            .ok_or_else(|| DataError::Inconsistent {
                at: entry.at.clone(),
                message: format!("`{}` is not a sample of the dataset", entry.name),
            })?;
        if labels[*index].replace(entry.label).is_some() {
            return Err(DataError::Inconsistent {
                at: entry.at,
                message: format!("`{}` is listed twice", entry.name),
            });
        }
    }
    labels
        .iter()
        .enumerate()
        .map(|(index, label)| {
            label.ok_or_else(|| DataError::Labels {
                message: format!(
                    "{} does not list sample `{}`",
                    path.display(),
                    dataset.name(index).unwrap_or_default()
                ),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lines_and_names_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(
            &path,
            "train_00001.jpg 5\n\ntest_0001.jpg 1\ntrain_00002.jpg 8\ntrain_00003.jpg\ntrain_4.jpg x\n",
        )
        .unwrap();
        let mut problems = Problems::new(true);
        let entries = read_list(&path, 7, &mut problems).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].name, "train_00001.jpg");
        assert_eq!(entries[0].label, 4);
        assert_eq!(entries[1].at.line, Some(3));
        let skipped: Vec<String> = problems
            .into_skipped()
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(skipped.len(), 3);
        assert!(
            skipped[0]
                .contains("list.txt:4: train_00002.jpg: label `8` is invalid: expected 1..=7"),
            "{skipped:?}"
        );
        assert!(
            skipped[1].contains("list.txt:5: expected 2 fields, found 1"),
            "{skipped:?}"
        );
        assert!(
            skipped[2].contains("list.txt:6: train_4.jpg: label `x`"),
            "{skipped:?}"
        );

        let err = read_label_list(&path, 7).unwrap_err();
        assert!(err.to_string().contains("list.txt:4"), "{err}");
    }
}
