//! Replays the committed seed corpus (and anything libFuzzer added to `corpus/`) through every
//! target on stable Rust: `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

#[test]
fn every_corpus_file_passes_its_target() {
    let targets: [(&str, fn(&[u8])); 4] = [
        ("label_list", afcn_fuzz::label_list),
        ("ferplus_csv", afcn_fuzz::ferplus_csv),
        ("affectnet_csv", afcn_fuzz::affectnet_csv),
        ("config", afcn_fuzz::config),
    ];
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for (target, run) in targets {
        let mut files: Vec<_> = std::fs::read_dir(corpus.join(target))
            .unwrap_or_else(|e| panic!("{target}: {e}"))
            .map(|entry| entry.expect("a corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}: empty corpus");
        for file in files {
            eprintln!("{target}: {}", file.display());
            run(&std::fs::read(&file).expect("a corpus file"));
        }
    }
}
