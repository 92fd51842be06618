//! `afcn synth` writes SynthFER in RAF-DB's layout, deterministically.

mod support;

use std::path::Path;

use support::{failure, text};

/// Runs `afcn synth --out <out> <extra>`, asserts that it succeeded and returns what it printed.
fn synth(out: &Path, extra: &[&str]) -> String {
    let output = support::command()
        .arg("synth")
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("the afcn binary runs");
    let text = text(&output);
    assert!(output.status.success(), "{text}");
    text
}

#[test]
fn writes_the_rafdb_layout_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let flags = ["--train", "5", "--test", "2", "--size", "24", "--seed", "9"];
    let report = synth(&a, &flags);
    assert!(
        report.contains("wrote 5 train + 2 test images of 24x24"),
        "{report}"
    );
    synth(&b, &flags);

    let list = std::fs::read_to_string(a.join("EmoLabel/list_patition_label.txt")).unwrap();
    let names: Vec<&str> = list.lines().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "train_00001.jpg",
            "train_00002.jpg",
            "train_00003.jpg",
            "train_00004.jpg",
            "train_00005.jpg",
            "test_00001.jpg",
            "test_00002.jpg"
        ]
    );
    for name in names {
        let image = format!(
            "Image/aligned/{}_aligned.jpg",
            name.trim_end_matches(".jpg")
        );
        let bytes = std::fs::read(a.join(&image)).unwrap();
        assert_eq!(
            bytes,
            std::fs::read(b.join(&image)).unwrap(),
            "{image} differs"
        );
        let decoded = afcn_data::image::load_from_memory(&bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (24, 24));
    }
    assert_eq!(
        list,
        std::fs::read_to_string(b.join("EmoLabel/list_patition_label.txt")).unwrap()
    );

    // A config file sets the knobs; flags override it; bad values are refused.
    let config = dir.path().join("synth.toml");
    std::fs::write(&config, "train_size = 3\ntest_size = 1\nimage_size = 16\n").unwrap();
    let config = config.to_str().unwrap();
    let report = synth(&dir.path().join("c"), &["--config", config, "--test", "2"]);
    assert!(
        report.contains("wrote 3 train + 2 test images of 16x16"),
        "{report}"
    );
    let refused = support::command()
        .args(["synth", "--size", "4", "--out"])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    let stderr = failure(&refused);
    assert!(stderr.contains("image_size"), "{stderr}");
}
