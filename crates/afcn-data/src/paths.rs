//! Resolving image paths listed in dataset files without leaving the dataset root.

use std::path::{Component, Path, PathBuf};

use crate::error::{DataError, Location, Result};

/// Joins `entry` (a relative path from a list or CSV file) onto `base`, a folder inside `root`,
/// and checks that the result stays inside `root` and exists.
///
/// `..`, absolute paths and (once resolved) symbolic links that lead outside `root` fail with
/// [`DataError::EscapesRoot`]; a path that does not exist fails with
/// [`DataError::MissingImage`].
pub fn resolve_within(root: &Path, base: &Path, entry: &str, at: &Location) -> Result<PathBuf> {
    let escapes = || DataError::EscapesRoot {
        at: at.clone(),
        entry: entry.to_string(),
        root: root.to_path_buf(),
    };
    let relative = Path::new(entry);
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if entry.is_empty() || !plain {
        return Err(escapes());
    }
    let path = base.join(relative);
    if !path.is_file() {
        return Err(DataError::MissingImage {
            at: at.clone(),
            image: path,
        });
    }
    check_inside(root, &path, at, entry)?;
    Ok(path)
}

/// Checks that `path`, with symbolic links resolved, lies inside `root`.
pub fn check_inside(root: &Path, path: &Path, at: &Location, entry: &str) -> Result<()> {
    let canonical = |p: &Path| {
        p.canonicalize().map_err(|source| DataError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    if canonical(path)?.starts_with(canonical(root)?) {
        Ok(())
    } else {
        Err(DataError::EscapesRoot {
            at: at.clone(),
            entry: entry.to_string(),
            root: root.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Location {
        Location::line(Path::new("list.txt"), 3)
    }

    #[test]
    fn accepts_a_file_inside_and_rejects_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("img")).unwrap();
        std::fs::write(root.join("img/a.jpg"), b"x").unwrap();
        std::fs::write(dir.path().join("secret.jpg"), b"x").unwrap();
        let base = root.join("img");

        let ok = resolve_within(&root, &base, "a.jpg", &at()).unwrap();
        assert_eq!(ok, base.join("a.jpg"));
        for bad in ["../../secret.jpg", "/etc/passwd", "", "x/../../a.jpg"] {
            let err = resolve_within(&root, &base, bad, &at()).unwrap_err();
            assert!(matches!(err, DataError::EscapesRoot { .. }), "{bad}: {err}");
            assert!(err.to_string().starts_with("list.txt:3: "), "{err}");
        }
        let missing = resolve_within(&root, &base, "b.jpg", &at()).unwrap_err();
        assert!(matches!(missing, DataError::MissingImage { .. }));
    }

    #[cfg(unix)]
    #[test]
    fn rejects_a_symbolic_link_out_of_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(dir.path().join("secret.jpg"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret.jpg"), root.join("link.jpg")).unwrap();
        let err = resolve_within(&root, &root, "link.jpg", &at()).unwrap_err();
        assert!(matches!(err, DataError::EscapesRoot { .. }), "{err}");
    }
}
