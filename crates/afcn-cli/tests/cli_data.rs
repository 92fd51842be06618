//! `afcn data inspect` on small datasets written to a temporary folder.

mod support;

use std::path::Path;
use std::process::Output;

use afcn_data::image::{Rgb, RgbImage};
use support::text;

/// `afcn data inspect <args>`: the run and everything it printed.
fn inspect(args: &[&str]) -> (Output, String) {
    let output = support::afcn([&["data", "inspect"], args].concat());
    let out = text(&output);
    (output, out)
}

/// RAF-DB with 14 train samples (two per class) and 7 test samples (one per class).
fn rafdb(root: &Path) {
    let aligned = root.join("Image/aligned");
    std::fs::create_dir_all(&aligned).unwrap();
    std::fs::create_dir_all(root.join("EmoLabel")).unwrap();
    let mut list = String::new();
    for (split, count) in [("train", 14), ("test", 7)] {
        for i in 0..count {
            let name = format!("{split}_{i:05}");
            list.push_str(&format!("{name}.jpg {}\n", i % 7 + 1));
            RgbImage::from_pixel(10, 10, Rgb([i as u8 * 9, 30, 60]))
                .save(aligned.join(format!("{name}_aligned.jpg")))
                .unwrap();
        }
    }
    std::fs::write(root.join("EmoLabel/list_patition_label.txt"), list).unwrap();
}

#[test]
fn inspect_counts_injects_noise_and_exports_labels() {
    let dir = tempfile::tempdir().unwrap();
    rafdb(dir.path());
    let root = dir.path().to_str().unwrap();
    let export = dir.path().join("noisy.txt");
    let (output, out) = inspect(&[
        "--dataset",
        "rafdb",
        "--root",
        root,
        "--noise",
        "1",
        "--seed",
        "3",
        "--export-labels",
        export.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("classes: 7"), "{out}");
    let train_row = out.lines().find(|l| l.starts_with("train")).unwrap();
    let numbers: Vec<&str> = train_row.split_whitespace().collect();
    assert_eq!(
        numbers,
        ["train", "14", "2", "2", "2", "2", "2", "2", "2"],
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("test") && l.contains(" 7 ")),
        "{out}"
    );
    assert!(
        out.contains("realised rate 1.0000 (14 of 14 labels changed)"),
        "{out}"
    );
    assert!(out.contains("transition matrix"), "{out}");
    assert!(
        out.contains("problems: 0") && out.contains("usable: yes"),
        "{out}"
    );

    let exported = std::fs::read_to_string(&export).unwrap();
    assert_eq!(exported.lines().count(), 14);
    // Every label was flipped, so no exported line keeps its clean label (i % 7 + 1).
    for (i, line) in exported.lines().enumerate() {
        let (name, label) = line.split_once(' ').unwrap();
        assert_eq!(name, format!("train_{i:05}.jpg"));
        assert_ne!(label, (i % 7 + 1).to_string(), "{line}");
    }

    // The exported list read back as RAF-DB's alternative train labels shows the same noise.
    let (output, out) = inspect(&[
        "--dataset",
        "rafdb",
        "--root",
        root,
        "--train-labels",
        export.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("given labels): realised rate 1.0000"), "{out}");
}

#[test]
fn inspect_fails_on_bad_entries_unless_skipped() {
    let dir = tempfile::tempdir().unwrap();
    rafdb(dir.path());
    let root = dir.path().to_str().unwrap();
    std::fs::write(
        dir.path().join("Image/aligned/train_00003_aligned.jpg"),
        b"broken",
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("Image/aligned/test_00001_aligned.jpg")).unwrap();
    // A bad line is met by the train and the test split alike but listed once.
    let list = dir.path().join("EmoLabel/list_patition_label.txt");
    let mut lines = std::fs::read_to_string(&list).unwrap();
    lines.push_str("train_99999.jpg 9\n");
    std::fs::write(&list, lines).unwrap();

    let (output, out) = inspect(&["--dataset", "rafdb", "--root", root]);
    assert!(!output.status.success(), "{out}");
    assert!(out.contains("problems: 3"), "{out}");
    assert_eq!(
        out.matches(":22: train_99999.jpg: label `9` is invalid: expected 1..=7")
            .count(),
        1,
        "{out}"
    );
    assert!(out.contains("list_patition_label.txt:4: image"), "{out}");
    assert!(out.contains("list_patition_label.txt:16: image"), "{out}");
    assert!(out.contains("--skip-bad"), "{out}");

    let (output, out) = inspect(&["--dataset", "rafdb", "--root", root, "--skip-bad"]);
    assert!(output.status.success(), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("train") && l.contains(" 13 ")),
        "{out}"
    );
    assert!(out.contains("usable: yes"), "{out}");

    // A missing root cannot be used, --skip-bad or not.
    let missing = dir.path().join("nowhere");
    let (output, out) = inspect(&[
        "--dataset",
        "folder",
        "--root",
        missing.to_str().unwrap(),
        "--skip-bad",
    ]);
    assert!(!output.status.success(), "{out}");
    assert!(out.contains("cannot be used"), "{out}");
}

#[test]
fn inspect_synthfer_needs_no_root() {
    let (output, out) = inspect(&["--dataset", "synthfer", "--noise", "0.2"]);
    assert!(output.status.success(), "{out}");
    assert!(
        out.contains("classes: 7") && out.contains("usable: yes"),
        "{out}"
    );
    assert!(out.contains("symmetric noise p=0.2 seed=0"), "{out}");
}
