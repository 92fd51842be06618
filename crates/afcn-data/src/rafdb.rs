//! RAF-DB basic: `EmoLabel/list_patition_label.txt` (lines `train_00001.jpg 5`, labels 1-7) and
//! the aligned faces `Image/aligned/<stem>_aligned.jpg`; train and test by the name prefix.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::dataset::{Annotation, Split};
use crate::error::{DataError, Problems, Result};
use crate::files::{ImageEntry, ImageFiles, names};
use crate::label_list::{ListEntry, read_list};
use crate::options::LoadOptions;
use crate::paths::resolve_within;

/// RAF-DB's seven classes, in the order of its labels 1-7.
pub const RAFDB_CLASSES: [&str; 7] = [
    "Surprise",
    "Fear",
    "Disgust",
    "Happiness",
    "Sadness",
    "Anger",
    "Neutral",
];

/// The label list, relative to the dataset root.
pub const RAFDB_LIST: &str = "EmoLabel/list_patition_label.txt";

/// The folder of aligned faces, relative to the dataset root.
pub const RAFDB_IMAGES: &str = "Image/aligned";

/// Opens a split (train or test) of RAF-DB basic at `root`.
///
/// `train_labels`, for the train split only, is an alternative label list in the same line
/// format (the published `noise01.txt`, `noise02.txt`, `noise03.txt`, or a list exported by
/// afcn): its labels become the given labels and the official ones stay as the clean labels.
/// Train samples it does not list keep their official label.
pub fn open_rafdb(
    root: &Path,
    split: Split,
    train_labels: Option<&Path>,
    options: &LoadOptions,
) -> Result<ImageFiles> {
    let prefix = match split {
        Split::Train => "train_",
        Split::Test => "test_",
        Split::Valid => {
            return Err(DataError::NoSuchSplit {
                dataset: "RAF-DB",
                split,
            });
        }
    };
    let mut problems = Problems::new(options.skip_bad);
    let list: PathBuf = root.join(RAFDB_LIST);
    let images = root.join(RAFDB_IMAGES);
    let mut entries = Vec::new();
    let mut seen = HashMap::new();
    for line in read_list(&list, RAFDB_CLASSES.len(), &mut problems)? {
        let known = ["train_", "test_"].iter().any(|p| line.name.starts_with(p));
        let entry = if !known {
            Err(DataError::BadValue {
                at: line.at.clone(),
                field: "name",
                value: line.name.clone(),
                expected: "a name starting with train_ or test_".into(),
            })
        } else if line.name.starts_with(prefix) {
            entry_for(root, &images, &line, &mut seen).map(Some)
        } else {
            Ok(None)
        };
        if let Some(Some(entry)) = problems.check(entry)? {
            entries.push(entry);
        }
    }
    if let Some(path) = train_labels {
        if split != Split::Train {
            return Err(DataError::Labels {
                message: format!(
                    "{}: an alternative label list applies to the train split only",
                    path.display()
                ),
            });
        }
        apply_list(&mut entries, path, &mut problems)?;
    }
    ImageFiles::finish(
        root,
        split,
        names(&RAFDB_CLASSES),
        entries,
        problems,
        options,
    )
}

fn entry_for(
    root: &Path,
    images: &Path,
    line: &ListEntry,
    seen: &mut HashMap<String, u64>,
) -> Result<ImageEntry> {
    let (name, at) = (line.name.as_str(), &line.at);
    if let Some(first) = seen.insert(name.to_string(), at.line.unwrap_or(0)) {
        return Err(DataError::Inconsistent {
            at: at.clone(),
            message: format!("`{name}` is listed again (first at line {first})"),
        });
    }
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    let image = resolve_within(root, images, &format!("{stem}_aligned.jpg"), at)?;
    Ok(ImageEntry {
        image,
        name: name.to_string(),
        annotation: Annotation::clean(line.label),
        at: at.clone(),
        face: None,
    })
}

/// Replaces the given labels of `entries` with those of the list at `path`.
fn apply_list(entries: &mut [ImageEntry], path: &Path, problems: &mut Problems) -> Result<()> {
    let index: HashMap<String, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.clone(), i))
        .collect();
    for line in read_list(path, RAFDB_CLASSES.len(), problems)? {
        let found = index
            .get(&line.name)
            .copied()
            .ok_or_else(|| DataError::Inconsistent {
                at: line.at.clone(),
                message: format!("`{}` is not a train sample of the dataset", line.name),
            });
        if let Some(i) = problems.check(found)? {
            entries[i].annotation.label = line.label;
        }
    }
    Ok(())
}
