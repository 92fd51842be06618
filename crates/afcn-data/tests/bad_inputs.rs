//! A corpus of bad inputs, generated here, that `formats.rs` does not already cover: zero-byte
//! images and lists, text-encoding variants (CRLF, a UTF-8 byte-order mark, trailing blanks,
//! tabs, bytes that are not UTF-8), numbers that do not fit, duplicate entries, CSV files with
//! stray quotes or missing columns, and random bytes through every text parser.
//!
//! Each case ends in a [`DataError`] naming the file (and the line where there is one) and what
//! was expected, or in a documented acceptance that the test pins down; none panics.

use std::fs;
use std::path::Path;

use afcn_data::image::{Rgb, RgbImage};
use afcn_data::{
    AffectNetClasses, DataError, FerDataset, FerPlusClasses, LoadOptions, Split, open_affectnet,
    open_ferplus, open_folder, open_rafdb, read_label_list, read_labels_for,
};
use proptest::prelude::*;

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

fn solid(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(8, 8, Rgb([10, 20, 30]))
        .save(path)
        .unwrap();
}

fn verify() -> LoadOptions {
    LoadOptions {
        verify_images: true,
        ..LoadOptions::default()
    }
}

/// A RAF-DB tree whose list is `list` (bytes as given) with an image for every train name in
/// `stems`.
fn rafdb(root: &Path, list: &[u8], stems: &[&str]) {
    write(&root.join("EmoLabel/list_patition_label.txt"), list);
    for stem in stems {
        solid(&root.join(format!("Image/aligned/{stem}_aligned.jpg")));
    }
}

/// (name, 0-based label) of each entry of a label list.
fn pairs(path: &Path) -> Vec<(String, usize)> {
    read_label_list(path, 7)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.label))
        .collect()
}

#[test]
fn zero_byte_images_are_decode_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    solid(&dir.path().join("train/happy/good.png"));
    for name in ["empty.jpg", "empty.png", "empty.JPEG"] {
        write(&dir.path().join("train/happy").join(name), b"");
        let err = open_folder(dir.path(), Split::Train, &verify()).unwrap_err();
        assert!(matches!(err, DataError::Decode { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
        fs::remove_file(dir.path().join("train/happy").join(name)).unwrap();
    }
    // Documented acceptance: without `verify_images` a listed image is only checked to exist,
    // and the zero-byte file fails when it is read (here, at once).
    write(&dir.path().join("train/happy/late.png"), b"");
    let lazy = open_folder(dir.path(), Split::Train, &LoadOptions::default()).unwrap();
    assert_eq!(lazy.len(), 2);
    let err = lazy.image(1).unwrap_err();
    assert!(err.to_string().contains("late.png"), "{err}");
}

#[test]
fn zero_byte_lists_and_tables_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("empty.txt");
    write(&list, b"");
    assert!(read_label_list(&list, 7).unwrap().is_empty());
    rafdb(dir.path(), b"", &[]);
    let err = open_rafdb(dir.path(), Split::Train, None, &verify()).unwrap_err();
    assert!(matches!(err, DataError::EmptySplit { .. }), "{err}");

    write(&dir.path().join("fer2013.csv"), b"");
    write(&dir.path().join("fer2013new.csv"), b"");
    let err = open_ferplus(dir.path(), Split::Train, FerPlusClasses::Eight, false).unwrap_err();
    assert!(
        err.to_string()
            .contains("fer2013.csv:1: the header has no `pixels`"),
        "{err}"
    );
    write(&dir.path().join("training.csv"), b"");
    let err =
        open_affectnet(dir.path(), Split::Train, AffectNetClasses::Seven, &verify()).unwrap_err();
    assert!(
        err.to_string()
            .contains("training.csv:1: the header has no `subDirectory_filePath`"),
        "{err}"
    );
}

#[test]
fn crlf_bom_tabs_and_trailing_blanks_read_like_the_plain_list() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.txt");
    write(&plain, "train_00001.jpg 5\ntrain_00002.jpg 1\n");
    let expected = pairs(&plain);
    assert_eq!(expected.len(), 2);
    for (name, text) in [
        ("crlf.txt", "train_00001.jpg 5\r\ntrain_00002.jpg 1\r\n"),
        ("bom.txt", "\u{feff}train_00001.jpg 5\ntrain_00002.jpg 1\n"),
        (
            "bom_crlf.txt",
            "\u{feff}train_00001.jpg 5\r\ntrain_00002.jpg 1",
        ),
        (
            "blanks.txt",
            "  train_00001.jpg   5  \n\n \t \ntrain_00002.jpg\t1\t\n\n",
        ),
    ] {
        let path = dir.path().join(name);
        write(&path, text);
        assert_eq!(pairs(&path), expected, "{name}");
    }
    // The same through the RAF-DB loader: the byte-order mark is not part of the first name.
    rafdb(
        dir.path(),
        "\u{feff}train_00001.jpg 5\r\ntrain_00002.jpg 1\r\n".as_bytes(),
        &["train_00001", "train_00002"],
    );
    let train = open_rafdb(dir.path(), Split::Train, None, &verify()).unwrap();
    assert_eq!(train.name(0).unwrap(), "train_00001.jpg");
    assert_eq!(train.annotation(0).unwrap().label, 4);
}

#[test]
fn labels_that_are_not_in_range_name_the_line_and_the_range() {
    let dir = tempfile::tempdir().unwrap();
    for (value, expected_error) in [
        ("0", true),
        ("-1", true),
        ("+3", false),
        ("8", true),
        ("99999999999999999999999", true),
        ("five", true),
        ("5.0", true),
        ("0x5", true),
        ("٥", true),
    ] {
        let path = dir.path().join("list.txt");
        write(
            &path,
            format!("train_00001.jpg 1\ntrain_00002.jpg {value}\n"),
        );
        match read_label_list(&path, 7) {
            Err(err) => {
                assert!(expected_error, "{value}: {err}");
                let text = err.to_string();
                assert!(
                    text.contains("list.txt:2: train_00002.jpg: label"),
                    "{text}"
                );
                assert!(text.contains("expected 1..=7"), "{text}");
            }
            // Documented acceptance: Rust's integer syntax takes a leading `+`.
            Ok(entries) => {
                assert!(!expected_error, "{value} accepted");
                assert_eq!(entries[1].label, 2);
            }
        }
    }
    let path = dir.path().join("latin1.txt");
    write(&path, b"train_00001.jpg 1\ntrain_\xe9t\xe9.jpg 2\n");
    let err = read_label_list(&path, 7).unwrap_err();
    assert!(
        err.to_string().contains("latin1.txt:2: line `<not UTF-8>`"),
        "{err}"
    );
    let path = dir.path().join("three.txt");
    write(&path, "train_00001.jpg 1 extra\n");
    let err = read_label_list(&path, 7).unwrap_err();
    assert!(
        err.to_string()
            .contains("three.txt:1: expected 2 fields, found 3"),
        "{err}"
    );
}

#[test]
fn duplicate_entries_name_both_lines() {
    let dir = tempfile::tempdir().unwrap();
    let list = "train_00001.jpg 5\ntrain_00002.jpg 1\ntrain_00001.jpg 3\n";
    rafdb(dir.path(), list.as_bytes(), &["train_00001", "train_00002"]);
    let err = open_rafdb(dir.path(), Split::Train, None, &verify()).unwrap_err();
    assert!(
        err.to_string().contains(
            "list_patition_label.txt:3: `train_00001.jpg` is listed again (first at line 1)"
        ),
        "{err}"
    );
    let skip = LoadOptions {
        skip_bad: true,
        ..verify()
    };
    let train = open_rafdb(dir.path(), Split::Train, None, &skip).unwrap();
    assert_eq!(train.len(), 2);
    assert_eq!(train.annotation(0).unwrap().label, 4, "the first line wins");

    // An imported label list that names a sample twice, or one the dataset does not hold.
    let clean = "train_00001.jpg 5\ntrain_00002.jpg 1\n";
    rafdb(dir.path(), clean.as_bytes(), &[]);
    let train = open_rafdb(dir.path(), Split::Train, None, &verify()).unwrap();
    let labels = dir.path().join("labels.txt");
    write(
        &labels,
        "train_00002.jpg 2\ntrain_00001.jpg 3\ntrain_00002.jpg 2\n",
    );
    let err = read_labels_for(&train, &labels).unwrap_err();
    assert!(
        err.to_string()
            .contains("labels.txt:3: `train_00002.jpg` is listed twice"),
        "{err}"
    );
    write(&labels, "train_00002.jpg 2\ntrain_00009.jpg 3\n");
    let err = read_labels_for(&train, &labels).unwrap_err();
    assert!(
        err.to_string()
            .contains("labels.txt:2: `train_00009.jpg` is not a sample"),
        "{err}"
    );
    write(&labels, "train_00002.jpg 2\n");
    let err = read_labels_for(&train, &labels).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not list sample `train_00001.jpg`"),
        "{err}"
    );
}

const AFFECT_HEADER: &str = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal";

#[test]
fn csv_quirks_are_accepted_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    solid(&root.join("1/a.png"));
    solid(&root.join("1/b c.png"));
    let open = |text: &str| {
        write(&root.join("training.csv"), text);
        open_affectnet(root, Split::Train, AffectNetClasses::Seven, &verify())
    };
    // Accepted: a byte-order mark, CRLF line ends, quoted fields (commas inside), blanks
    // around fields, a header in another case.
    let accepted = [
        format!("{AFFECT_HEADER}\n1/a.png,0,0,8,8,\"1;2\",1,0,0\n"),
        format!("\u{feff}{AFFECT_HEADER}\r\n1/a.png,0,0,8,8,\"1;2\",1,0,0\r\n"),
        format!("{AFFECT_HEADER}\n\"1/a.png\",0,0,8,8,\"1,2,3\",1,0,0\n"),
        format!(
            "{}\n 1/a.png , 0 , 0 , 8 , 8 ,x, 1 ,0,0\n",
            AFFECT_HEADER.to_uppercase()
        ),
    ];
    for text in &accepted {
        let train = open(text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(train.len(), 1, "{text:?}");
        assert_eq!(train.name(0).unwrap(), "1/a.png");
    }
    // A quoted field may hold a comma, a blank or a doubled quote; it is one field.
    let quoted = open(&format!(
        "{AFFECT_HEADER}\n\"1/b c.png\",0,0,8,8,\"say \"\"hi\"\"\",2,0,0\n"
    ))
    .unwrap();
    assert_eq!(quoted.name(0).unwrap(), "1/b c.png");

    for (row, expected) in [
        // A stray quote inside a field is kept as a character: the path does not exist.
        (
            "1/a\".png,0,0,8,8,x,1,0,0",
            "training.csv:2: 1/a\".png: image",
        ),
        // A quote opened and never closed swallows the rest of the file into one field.
        (
            "\"1/a.png,0,0,8,8,x,1,0,0\n1/a.png,0,0,8,8,x,1,0,0",
            "training.csv:2: expected 9 fields, found 1",
        ),
        // Missing and extra columns.
        (
            "1/a.png,0,0,8,8,x,1",
            "training.csv:2: expected 9 fields, found 7",
        ),
        (
            "1/a.png,0,0,8,8,x,1,0,0,9",
            "training.csv:2: expected 9 fields, found 10",
        ),
        (
            "1/a.png,0,0,8,8,x,,0,0",
            "training.csv:2: 1/a.png: expression ``",
        ),
        (
            "1/a.png,0,0,eight,8,x,1,0,0",
            "training.csv:2: 1/a.png: face_width `eight`",
        ),
        // Box values that are not finite or lie far past any image.
        (
            "1/a.png,0,0,NaN,8,x,1,0,0",
            "training.csv:2: 1/a.png: face_width `NaN`",
        ),
        (
            "1/a.png,1,0,inf,8,x,1,0,0",
            "training.csv:2: 1/a.png: face_width `inf`",
        ),
        (
            "1/a.png,-9e18,0,8,8,x,1,0,0",
            "training.csv:2: 1/a.png: face_x `-9e18`",
        ),
        (
            "1/a.png,0,0,8,1e300,x,1,0,0",
            "training.csv:2: 1/a.png: face_height `1e300`",
        ),
        (
            "1/a.png,0,0,8,8,x,99999999999999999999,0,0",
            "training.csv:2: 1/a.png: expression",
        ),
    ] {
        let err = open(&format!("{AFFECT_HEADER}\n{row}\n")).unwrap_err();
        assert!(err.to_string().contains(expected), "{row:?}: {err}");
    }
    let err = open("subDirectory_filePath,face_x,face_y,face_width,face_height,expression_x\n")
        .unwrap_err();
    assert!(
        matches!(&err, DataError::MissingColumn { column, .. } if column == "expression"),
        "{err}"
    );
}

#[test]
fn ferplus_votes_with_quirks_are_accepted_or_named() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let pixels = vec!["7"; 48 * 48].join(" ");
    write(
        &root.join("fer2013.csv"),
        format!("emotion,pixels,Usage\r\n0,{pixels},Training\r\n"),
    );
    let header = "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF";
    let open = |row: &str| {
        write(
            &root.join("fer2013new.csv"),
            format!("\u{feff}{header}\r\n{row}\r\n"),
        );
        open_ferplus(root, Split::Train, FerPlusClasses::Eight, false)
    };
    let set = open("Training,fer0000000.png,0,9,1,0,0,0,0,0,0,0").unwrap();
    assert_eq!(set.annotation(0).unwrap().label, 1);
    assert_eq!(set.image(0).unwrap().get_pixel(47, 47).0, [7, 7, 7]);
    for (row, expected) in [
        (
            "Training,x.png,0,-9,1,0,0,0,0,0,0,0",
            "fer2013new.csv:2: x.png: votes `-9`",
        ),
        (
            "Training,x.png,0,4294967296,1,0,0,0,0,0,0,0",
            "fer2013new.csv:2: x.png: votes",
        ),
        (
            "Training,x.png,0,9,1",
            "fer2013new.csv:2: expected 12 fields, found 5",
        ),
        (
            "Train,x.png,0,9,1,0,0,0,0,0,0,0",
            "fer2013new.csv:2: x.png: Usage `Train`",
        ),
        (
            "\"Training,x.png,0,9,1,0,0,0,0,0,0,0",
            "fer2013new.csv:2: expected 12 fields",
        ),
    ] {
        let err = open(row).unwrap_err();
        assert!(err.to_string().contains(expected), "{row:?}: {err}");
    }
    // Votes that overflow when summed are not a panic.
    let set = open("Training,x.png,0,4294967295,4294967295,0,0,0,0,0,0,0");
    assert!(set.is_err(), "a tie of huge counts has no majority");
}

/// Every text parser on arbitrary bytes: an answer or a named error, never a panic.
mod random_bytes {
    use super::*;

    /// Text made mostly of the characters these formats are built from, so that random input
    /// gets past the first check often enough to reach the later ones.
    fn format_text() -> impl Strategy<Value = Vec<u8>> {
        let pieces = prop_oneof![
            Just(b" ".to_vec()),
            Just(b",".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"train_00001.jpg".to_vec()),
            Just(b"1/a.png".to_vec()),
            Just(b"../".to_vec()),
            Just("\u{feff}".as_bytes().to_vec()),
            (0u32..20).prop_map(|n| n.to_string().into_bytes()),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        prop::collection::vec(pieces, 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn label_lists(bytes in format_text()) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("list.txt");
            write(&path, &bytes);
            match read_label_list(&path, 7) {
                Ok(entries) => {
                    for entry in entries {
                        prop_assert!(entry.label < 7);
                        prop_assert!(!entry.name.is_empty());
                        prop_assert!(!entry.name.contains(char::is_whitespace));
                    }
                }
                Err(err) => prop_assert!(err.to_string().contains("list.txt:"), "{}", err),
            }
        }

        #[test]
        fn affectnet_tables(bytes in format_text()) {
            let dir = tempfile::tempdir().unwrap();
            solid(&dir.path().join("1/a.png"));
            write(&dir.path().join("training.csv"), [AFFECT_HEADER.as_bytes(), b"\n", &bytes].concat());
            match open_affectnet(dir.path(), Split::Train, AffectNetClasses::Eight, &verify()) {
                Ok(set) => {
                    for i in 0..set.len() {
                        prop_assert!(set.annotation(i).unwrap().label < 8);
                    }
                }
                Err(err) => {
                    let text = err.to_string();
                    prop_assert!(text.contains("training.csv") || text.contains("no usable"), "{}", text);
                }
            }
        }
    }
}
