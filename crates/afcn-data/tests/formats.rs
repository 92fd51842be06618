//! Each real dataset format written to a temporary folder and read back, with each kind of bad
//! input: a corrupt or truncated image, a missing file, a label out of range, a short or
//! malformed row, a path leaving the root, an oversized image and an empty split.

use std::fs;
use std::path::Path;

use afcn_data::image::{ImageBuffer, Luma, Rgb, RgbImage, Rgba};
use afcn_data::{
    AffectNetClasses, Annotation, DataError, FerDataset, FerPlusClasses, ImageLimits, LoadOptions,
    NoiseConfig, NoiseKind, Relabeled, Split, open_affectnet, open_ferplus, open_folder,
    open_rafdb, read_labels_for, write_label_list,
};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn solid(path: &Path, shade: u8) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    RgbImage::from_pixel(12, 10, Rgb([shade, 255 - shade, 100]))
        .save(path)
        .unwrap();
}

fn skip() -> LoadOptions {
    LoadOptions {
        skip_bad: true,
        verify_images: true,
        ..LoadOptions::default()
    }
}

fn verify() -> LoadOptions {
    LoadOptions {
        verify_images: true,
        ..LoadOptions::default()
    }
}

fn messages(dataset: &dyn FerDataset) -> Vec<String> {
    dataset.skipped().iter().map(|e| e.to_string()).collect()
}

/// A RAF-DB tree with three train and two test samples.
fn rafdb(root: &Path) {
    let list = "train_00001.jpg 5\ntrain_00002.jpg 1\ntrain_00003.jpg 7\ntest_0001.jpg 4\ntest_0002.jpg 2\n";
    write(&root.join("EmoLabel/list_patition_label.txt"), list);
    for (i, stem) in [
        "train_00001",
        "train_00002",
        "train_00003",
        "test_0001",
        "test_0002",
    ]
    .iter()
    .enumerate()
    {
        solid(
            &root.join(format!("Image/aligned/{stem}_aligned.jpg")),
            (i * 50) as u8,
        );
    }
}

#[test]
fn rafdb_reads_back_with_labels_shifted_and_split_by_prefix() {
    let dir = tempfile::tempdir().unwrap();
    rafdb(dir.path());
    let train = open_rafdb(dir.path(), Split::Train, None, &verify()).unwrap();
    assert_eq!(train.len(), 3);
    assert_eq!(train.class_names()[4], "Sadness");
    let labels: Vec<usize> = (0..3).map(|i| train.annotation(i).unwrap().label).collect();
    assert_eq!(labels, vec![4, 0, 6]);
    assert_eq!(train.name(1).unwrap(), "train_00002.jpg");
    let sample = train.get(1).unwrap();
    assert_eq!(sample.index, 1);
    assert_eq!(sample.image.dimensions(), (12, 10));
    let pixel = sample.image.get_pixel(5, 5).0;
    assert!(
        pixel[0].abs_diff(50) <= 3 && pixel[1].abs_diff(205) <= 3,
        "{pixel:?}"
    );
    let test = open_rafdb(dir.path(), Split::Test, None, &LoadOptions::default()).unwrap();
    assert_eq!(test.len(), 2);
    assert!(matches!(
        open_rafdb(dir.path(), Split::Valid, None, &LoadOptions::default()),
        Err(DataError::NoSuchSplit { .. })
    ));
}

#[test]
fn rafdb_alternative_train_list_keeps_the_clean_label_beside() {
    let dir = tempfile::tempdir().unwrap();
    rafdb(dir.path());
    let noise = dir.path().join("noise01.txt");
    write(&noise, "train_00001.jpg 5\ntrain_00002.jpg 3\n");
    let train = open_rafdb(dir.path(), Split::Train, Some(&noise), &verify()).unwrap();
    assert_eq!(train.annotation(0).unwrap(), Annotation::clean(4));
    assert_eq!(
        train.annotation(1).unwrap(),
        Annotation {
            label: 2,
            clean_label: 0
        }
    );
    assert_eq!(train.annotation(2).unwrap(), Annotation::clean(6));

    write(&noise, "train_00001.jpg 5\ntest_0001.jpg 3\n");
    let err = open_rafdb(dir.path(), Split::Train, Some(&noise), &verify()).unwrap_err();
    assert!(err.to_string().contains("noise01.txt:2"), "{err}");
}

#[test]
fn rafdb_bad_entries_name_their_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("raf");
    rafdb(&root);
    let aligned = root.join("Image/aligned");
    // Line 2: corrupt; line 3: truncated; lines 6..: missing, bad label, short, escaping, other.
    fs::write(
        aligned.join("train_00002_aligned.jpg"),
        b"definitely not a jpeg",
    )
    .unwrap();
    let whole = fs::read(aligned.join("train_00003_aligned.jpg")).unwrap();
    fs::write(
        aligned.join("train_00003_aligned.jpg"),
        &whole[..whole.len() - 40],
    )
    .unwrap();
    solid(&dir.path().join("outside_aligned.jpg"), 9);
    let list = root.join("EmoLabel/list_patition_label.txt");
    let mut text = fs::read_to_string(&list).unwrap();
    text.push_str(
        "train_00009.jpg 3\ntrain_00010.jpg 8\ntrain_00011.jpg\ntrain_../../../outside.jpg 2\nval_1.jpg 1\n",
    );
    fs::write(&list, text).unwrap();

    // Without skip_bad the first problem is the error: the list is read before images decode.
    let err = open_rafdb(&root, Split::Train, None, &verify()).unwrap_err();
    assert!(
        err.to_string().contains(
            "list_patition_label.txt:7: train_00010.jpg: label `8` is invalid: expected 1..=7"
        ),
        "{err}"
    );

    let train = open_rafdb(&root, Split::Train, None, &skip()).unwrap();
    assert_eq!(train.len(), 1);
    let skipped = messages(&train);
    let expect = [
        ":7: train_00010.jpg: label `8` is invalid",
        ":8: expected 2 fields, found 1",
        ":6: image",
        ":9: `train_../../../outside_aligned.jpg` escapes the dataset root",
        ":10: name `val_1.jpg` is invalid",
        ":2: image",
        ":3: image",
    ];
    assert_eq!(skipped.len(), expect.len(), "{skipped:#?}");
    for (message, part) in skipped.iter().zip(expect) {
        assert!(
            message.contains("list_patition_label.txt") && message.contains(part),
            "{message} / {part}"
        );
    }
    assert!(skipped[2].contains("does not exist"));
    assert!(skipped[5].contains("cannot be decoded"));
    assert!(skipped[6].contains("truncated"), "{}", skipped[6]);
    assert!(matches!(train.skipped()[5], DataError::Decode { .. }));
}

#[test]
fn oversized_images_and_empty_splits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    rafdb(dir.path());
    let tiny = LoadOptions {
        limits: ImageLimits {
            max_width: 8,
            max_height: 8,
            ..ImageLimits::default()
        },
        ..verify()
    };
    let err = open_rafdb(dir.path(), Split::Train, None, &tiny).unwrap_err();
    assert!(matches!(err, DataError::TooLarge { .. }), "{err}");
    assert!(
        err.to_string().contains("list_patition_label.txt:1"),
        "{err}"
    );
    // Skipping every sample leaves the split empty, which is an error even with skip_bad.
    let err = open_rafdb(
        dir.path(),
        Split::Train,
        None,
        &LoadOptions {
            skip_bad: true,
            ..tiny
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DataError::EmptySplit {
                split: Split::Train,
                ..
            }
        ),
        "{err}"
    );

    let list = dir.path().join("EmoLabel/list_patition_label.txt");
    fs::write(&list, "train_00001.jpg 5\n").unwrap();
    let err = open_rafdb(dir.path(), Split::Test, None, &verify()).unwrap_err();
    assert!(
        err.to_string()
            .contains("the test split holds no usable sample"),
        "{err}"
    );
}

const FER_HEADER: &str = "emotion,pixels,Usage\n";
const VOTES_HEADER: &str =
    "Usage,Image name,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n";

fn pixels(seed: usize) -> String {
    (0..2304)
        .map(|i| ((i + seed * 7) % 256).to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Six aligned rows: happy train, contempt train, NF train, neutral valid, surprise test, tie test.
fn ferplus(root: &Path) {
    let usages = [
        "Training",
        "Training",
        "Training",
        "PublicTest",
        "PrivateTest",
        "PrivateTest",
    ];
    let votes = [
        "0,9,1,0,0,0,0,0,0,0",
        "1,0,0,0,0,2,0,7,0,0",
        "0,0,0,0,0,0,0,0,0,10",
        "6,2,0,0,0,0,0,0,2,0",
        "0,0,10,0,0,0,0,0,0,0",
        "5,5,0,0,0,0,0,0,0,0",
    ];
    let mut images = FER_HEADER.to_string();
    let mut labels = VOTES_HEADER.to_string();
    for (i, (usage, votes)) in usages.iter().zip(votes).enumerate() {
        images.push_str(&format!("0,{},{usage}\n", pixels(i)));
        labels.push_str(&format!("{usage},fer{i:07}.png,{votes}\n"));
    }
    write(&root.join("fer2013.csv"), &images);
    write(&root.join("fer2013new.csv"), &labels);
}

#[test]
fn ferplus_majority_protocol_and_grey_pixels() {
    let dir = tempfile::tempdir().unwrap();
    ferplus(dir.path());
    let train = open_ferplus(dir.path(), Split::Train, FerPlusClasses::Eight, false).unwrap();
    assert_eq!(train.num_classes(), 8);
    assert_eq!(train.len(), 2);
    assert_eq!(train.annotation(0).unwrap().label, 1);
    assert_eq!(train.annotation(1).unwrap().label, 7);
    assert_eq!(train.name(1).unwrap(), "fer0000001.png");
    let image = train.image(1).unwrap();
    assert_eq!(image.dimensions(), (48, 48));
    // Pixel (x=3, y=1) is value number 51 of row 1: (51 + 7) % 256.
    assert_eq!(image.get_pixel(3, 1).0, [58, 58, 58]);

    let seven = open_ferplus(dir.path(), Split::Train, FerPlusClasses::Seven, false).unwrap();
    assert_eq!((seven.len(), seven.num_classes()), (1, 7));
    let valid = open_ferplus(dir.path(), Split::Valid, FerPlusClasses::Eight, false).unwrap();
    assert_eq!(valid.annotation(0).unwrap().label, 0);
    let test = open_ferplus(dir.path(), Split::Test, FerPlusClasses::Eight, false).unwrap();
    assert_eq!((test.len(), test.annotation(0).unwrap().label), (1, 2));
}

#[test]
fn ferplus_bad_rows_name_their_line() {
    let dir = tempfile::tempdir().unwrap();
    ferplus(dir.path());
    let images_path = dir.path().join("fer2013.csv");
    let votes_path = dir.path().join("fer2013new.csv");
    let mut images = fs::read_to_string(&images_path).unwrap();
    let mut votes = fs::read_to_string(&votes_path).unwrap();
    // Line 8: 2,303 pixels; line 9: a short votes row; line 10: a pixel of 300; line 11: Usage
    // disagrees; line 12: votes not numbers.
    images.push_str(&format!("0,{},Training\n", &pixels(1)[2..]));
    votes.push_str("Training,a.png,0,9,0,0,0,0,0,0,0,0\n");
    images.push_str(&format!("0,{},Training\n", pixels(2)));
    votes.push_str("Training,b.png,0,9,0,0\n");
    images.push_str(&format!("0,300 {},Training\n", &pixels(3)[2..]));
    votes.push_str("Training,c.png,0,9,0,0,0,0,0,0,0,0\n");
    images.push_str(&format!("0,{},PublicTest\n", pixels(4)));
    votes.push_str("Training,d.png,0,9,0,0,0,0,0,0,0,0\n");
    images.push_str(&format!("0,{},Training\n", pixels(5)));
    votes.push_str("Training,e.png,0,nine,0,0,0,0,0,0,0,0\n");
    fs::write(&images_path, &images).unwrap();
    fs::write(&votes_path, &votes).unwrap();

    let err = open_ferplus(dir.path(), Split::Train, FerPlusClasses::Eight, false).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("{}:8: pixels", images_path.display())),
        "{err}"
    );
    let train = open_ferplus(dir.path(), Split::Train, FerPlusClasses::Eight, true).unwrap();
    assert_eq!(train.len(), 2);
    let skipped = messages(&train);
    assert_eq!(skipped.len(), 5, "{skipped:#?}");
    assert!(skipped[0].contains("fer2013.csv:8: pixels"));
    assert!(skipped[1].contains("fer2013new.csv:9: expected 12 fields, found 6"));
    assert!(skipped[2].contains("fer2013.csv:10: pixels `300"));
    assert!(skipped[3].contains("fer2013.csv:11: Usage `PublicTest` disagrees"));
    assert!(skipped[4].contains("fer2013new.csv:12: e.png: votes `nine`"));

    // Files that are not aligned row for row cannot be used at all.
    images.push_str(&format!("0,{},Training\n", pixels(6)));
    fs::write(&images_path, &images).unwrap();
    let err = open_ferplus(dir.path(), Split::Train, FerPlusClasses::Eight, true).unwrap_err();
    assert!(err.to_string().contains("has more rows than"), "{err}");
    fs::write(&votes_path, "Usage,Image name,neutral\n").unwrap();
    let err = open_ferplus(dir.path(), Split::Train, FerPlusClasses::Eight, true).unwrap_err();
    assert!(
        err.to_string()
            .contains("fer2013new.csv:1: the header has no `happiness` column"),
        "{err}"
    );
}

const AFFECT_HEADER: &str = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n";

fn affect_row(path: &str, face: &str, expression: &str) -> String {
    format!("{path},{face},\"1.0;2.0;3.0\",{expression},0.5,-0.2\n")
}

#[test]
fn affectnet_crops_faces_and_follows_the_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let images = dir.path().join("Manually_Annotated_Images");
    let photo = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8, y as u8, 7]));
    for name in ["1/a.png", "1/b.png", "2/c.png", "2/d.png"] {
        fs::create_dir_all(images.join(name).parent().unwrap()).unwrap();
        photo.save(images.join(name)).unwrap();
    }
    let mut csv = AFFECT_HEADER.to_string();
    csv.push_str(&affect_row("1/a.png", "5,6,10,12", "1"));
    csv.push_str(&affect_row("1/b.png", "0,0,40,30", "7"));
    csv.push_str(&affect_row("2/c.png", "0,0,40,30", "9"));
    csv.push_str(&affect_row("2/d.png", "30,20,20,20", "6"));
    write(&dir.path().join("training.csv"), &csv);
    write(
        &dir.path()
            .join("Manually_Annotated_file_lists/validation.csv"),
        &format!("{AFFECT_HEADER}{}", affect_row("1/a.png", "0,0,40,30", "0")),
    );

    let seven =
        open_affectnet(dir.path(), Split::Train, AffectNetClasses::Seven, &verify()).unwrap();
    assert_eq!((seven.len(), seven.num_classes()), (2, 7));
    let face = seven.image(0).unwrap();
    assert_eq!(face.dimensions(), (10, 12));
    assert_eq!(face.get_pixel(0, 0).0, [5, 6, 7]);
    // A box running past the image is clipped to it.
    assert_eq!(seven.image(1).unwrap().dimensions(), (10, 10));
    assert_eq!(seven.annotation(1).unwrap().label, 6);
    let eight =
        open_affectnet(dir.path(), Split::Train, AffectNetClasses::Eight, &verify()).unwrap();
    assert_eq!(eight.len(), 3);
    assert_eq!(eight.class_names()[7], "Contempt");
    let test = open_affectnet(dir.path(), Split::Test, AffectNetClasses::Seven, &verify()).unwrap();
    assert_eq!((test.len(), test.name(0).unwrap().as_str()), (1, "1/a.png"));

    let mut bad = csv.clone();
    bad.push_str(&affect_row("1/a.png", "0,0,40,30", "12"));
    bad.push_str("1/a.png,0,0\n");
    bad.push_str(&affect_row("../../etc/passwd", "0,0,4,4", "1"));
    bad.push_str(&affect_row("/etc/passwd", "0,0,4,4", "1"));
    bad.push_str(&affect_row("3/missing.png", "0,0,4,4", "1"));
    bad.push_str(&affect_row("1/a.png", "0,0,0,4", "1"));
    bad.push_str(&affect_row("1/a.png", "50,50,4,4", "1"));
    write(&dir.path().join("training.csv"), &bad);
    let err =
        open_affectnet(dir.path(), Split::Train, AffectNetClasses::Seven, &verify()).unwrap_err();
    assert!(
        err.to_string()
            .contains("training.csv:6: 1/a.png: expression `12`"),
        "{err}"
    );
    let train = open_affectnet(dir.path(), Split::Train, AffectNetClasses::Seven, &skip()).unwrap();
    assert_eq!(train.len(), 2);
    let skipped = messages(&train);
    let expect = [
        ":6: 1/a.png: expression `12`",
        ":7: expected 9 fields, found 3",
        ":8: ../../etc/passwd: `../../etc/passwd` escapes",
        ":9: /etc/passwd: `/etc/passwd` escapes",
        ":10: 3/missing.png: image",
        ":11: 1/a.png: face box `0x4` is invalid",
        ":12: 1/a.png: face box 50,50 4x4 lies outside the 40x30 image",
    ];
    assert_eq!(skipped.len(), expect.len(), "{skipped:#?}");
    for (message, part) in skipped.iter().zip(expect) {
        assert!(
            message.contains("training.csv") && message.contains(part),
            "{message} / {part}"
        );
    }
}

#[test]
fn image_folder_converts_formats_and_reports_strays() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    solid(&root.join("train/happy/1.jpg"), 10);
    ImageBuffer::from_pixel(9, 9, Luma([40u8]))
        .save(root.join("train/happy/2.PNG"))
        .unwrap();
    fs::create_dir_all(root.join("train/sad")).unwrap();
    ImageBuffer::from_pixel(9, 9, Rgba([1u8, 2, 3, 4]))
        .save(root.join("train/sad/3.png"))
        .unwrap();
    ImageBuffer::from_pixel(9, 9, Rgb([65535u16, 0, 257]))
        .save(root.join("train/sad/4.png"))
        .unwrap();
    write(&root.join("train/sad/notes.txt"), "not an image");
    fs::create_dir_all(root.join("train/surprised")).unwrap();
    solid(&root.join("test/sad/5.jpg"), 10);

    let train = open_folder(root, Split::Train, &verify()).unwrap();
    assert_eq!(train.class_names(), ["happy", "sad", "surprised"]);
    assert_eq!(train.len(), 4);
    let labels: Vec<usize> = train
        .annotations()
        .unwrap()
        .iter()
        .map(|a| a.label)
        .collect();
    assert_eq!(labels, vec![0, 0, 1, 1]);
    assert_eq!(train.name(1).unwrap(), "happy/2.PNG");
    assert_eq!(train.image(1).unwrap().get_pixel(0, 0).0, [40, 40, 40]);
    assert_eq!(train.image(2).unwrap().get_pixel(0, 0).0, [1, 2, 3]);
    assert_eq!(train.image(3).unwrap().get_pixel(0, 0).0, [255, 0, 1]);
    let test = open_folder(root, Split::Test, &verify()).unwrap();
    assert_eq!(test.annotation(0).unwrap().label, 1);

    solid(&root.join("test/angry/6.jpg"), 10);
    solid(&root.join("test/7.jpg"), 10);
    fs::write(root.join("test/sad/8.png"), b"\x89PNG\r\n\x1a\n broken").unwrap();
    let err = open_folder(root, Split::Test, &verify()).unwrap_err();
    assert!(
        err.to_string()
            .contains("7.jpg: an image outside any class folder"),
        "{err}"
    );
    let test = open_folder(root, Split::Test, &skip()).unwrap();
    assert_eq!(test.len(), 1);
    let skipped = messages(&test);
    assert_eq!(skipped.len(), 3, "{skipped:#?}");
    assert!(skipped[1].contains("class folder `angry` is not among the train classes"));
    assert!(skipped[2].contains("8.png") && skipped[2].contains("cannot be decoded"));
    assert!(matches!(
        open_folder(root, Split::Valid, &verify()),
        Err(DataError::Io { .. })
    ));
}

#[test]
fn injected_noise_exports_and_imports_in_the_rafdb_line_format() {
    let dir = tempfile::tempdir().unwrap();
    rafdb(dir.path());
    let train = open_rafdb(dir.path(), Split::Train, None, &LoadOptions::default()).unwrap();
    let config = NoiseConfig {
        kind: NoiseKind::Symmetric,
        rate: 1.0,
        seed: 5,
    };
    let (noisy, report) = Relabeled::with_noise(train, &config).unwrap();
    assert_eq!(report.changed(), 3);
    for i in 0..3 {
        let a = noisy.annotation(i).unwrap();
        assert!(a.is_noisy());
        assert_eq!(
            a.clean_label,
            noisy.inner().annotation(i).unwrap().clean_label
        );
    }
    let list = dir.path().join("noisy.txt");
    write_label_list(&noisy, &list).unwrap();
    let text = fs::read_to_string(&list).unwrap();
    let first = format!("train_00001.jpg {}", noisy.annotation(0).unwrap().label + 1);
    assert_eq!(text.lines().next(), Some(first.as_str()));

    // Read back through the loader's alternative list and through the generic importer.
    let again = open_rafdb(
        dir.path(),
        Split::Train,
        Some(&list),
        &LoadOptions::default(),
    )
    .unwrap();
    let imported = read_labels_for(noisy.inner(), &list).unwrap();
    for (i, label) in imported.iter().enumerate() {
        assert_eq!(again.annotation(i).unwrap(), noisy.annotation(i).unwrap());
        assert_eq!(*label, noisy.annotation(i).unwrap().label);
    }
    assert_eq!(imported.len(), 3);
    fs::write(&list, "train_00001.jpg 1\n").unwrap();
    let err = read_labels_for(noisy.inner(), &list).unwrap_err();
    assert!(
        err.to_string()
            .contains("does not list sample `train_00002.jpg`"),
        "{err}"
    );
}
