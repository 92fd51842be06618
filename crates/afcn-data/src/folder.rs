//! Image folders: `root/<split>/<class name>/*.{jpg,jpeg,png}` with any number of classes. The
//! classes are the sub-folders of `root/train`, in name order, for every split.

use std::path::{Path, PathBuf};

use crate::dataset::{Annotation, Split};
use crate::error::{DataError, Location, Problems, Result};
use crate::files::{ImageEntry, ImageFiles};
use crate::options::LoadOptions;
use crate::paths::check_inside;

/// The image extensions an image folder holds (any case).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// The sorted entries of a folder, split into sub-folders and image files (other files are
/// ignored).
fn list(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let io = |source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_image = path.extension().and_then(|e| e.to_str()).is_some_and(|e| {
            IMAGE_EXTENSIONS
                .iter()
                .any(|known| known.eq_ignore_ascii_case(e))
        });
        if path.is_dir() {
            dirs.push(path);
        } else if is_image {
            files.push(path);
        }
    }
    dirs.sort();
    files.sort();
    Ok((dirs, files))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The class names of the image folder at `root`: the sub-folders of `root/train`.
pub fn folder_classes(root: &Path) -> Result<Vec<String>> {
    let (dirs, _) = list(&root.join(Split::Train.name()))?;
    Ok(dirs.iter().map(|d| file_name(d)).collect())
}

/// Opens `root/<split>` (`train`, `valid` or `test`) of an image folder dataset.
pub fn open_folder(root: &Path, split: Split, options: &LoadOptions) -> Result<ImageFiles> {
    let class_names = folder_classes(root)?;
    let split_dir = root.join(split.name());
    let (class_dirs, stray) = list(&split_dir)?;
    let mut problems = Problems::new(options.skip_bad);
    for image in stray {
        problems.check::<()>(Err(DataError::Inconsistent {
            at: Location::file(&image),
            message: "an image outside any class folder".into(),
        }))?;
    }
    let mut entries = Vec::new();
    for dir in class_dirs {
        let class = file_name(&dir);
        let label =
            class_names
                .iter()
                .position(|c| *c == class)
                .ok_or_else(|| DataError::Inconsistent {
                    at: Location::file(&dir),
                    message: format!("class folder `{class}` is not among the train classes"),
                });
        let Some(label) = problems.check(label)? else {
            continue;
        };
        for image in list(&dir)?.1 {
            let at = Location::file(&image);
            let name = format!("{class}/{}", file_name(&image));
            let inside = check_inside(root, &image, &at, &name);
            if problems.check(inside)?.is_some() {
                entries.push(ImageEntry {
                    image,
                    name,
                    annotation: Annotation::clean(label),
                    at,
                    face: None,
                });
            }
        }
    }
    ImageFiles::finish(root, split, class_names, entries, problems, options)
}
