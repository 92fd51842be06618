//! Bad configurations and weights: every unknown key (at any depth), wrong type and
//! out-of-range value is an error naming the key, before any work starts; weights of another
//! architecture are an error naming the file.

mod support;

use afcn_train::config::{Preset, TrainConfig};
use support::{failure, save_narrow_resnet, train_command};

/// The error of `text` over the SynthFER preset: from the parser, or else from validation.
fn error(text: &str) -> String {
    match TrainConfig::from_toml_str(text, &Preset::Synthfer.config()) {
        Err(message) => message,
        Ok(config) => match config.validate() {
            Err(err) => err.to_string(),
            Ok(()) => panic!("accepted: {text}"),
        },
    }
}

/// The error of `text` (see [`error`]), asserted to name `key`.
#[track_caller]
fn error_naming(text: &str, key: &str) -> String {
    let err = error(text);
    assert!(err.contains(key), "{text}: {err}");
    err
}

#[test]
fn unknown_keys_at_any_depth_are_errors_at_their_line() {
    for (text, key, line) in [
        ("epocs = 3", "epocs", 1),
        ("seed = 1\n[optim]\nlearning_rate = 0.1", "learning_rate", 3),
        ("[data]\nrooot = \"/x\"", "rooot", 2),
        ("[data.noise]\nrat = 0.1", "rat", 2),
        ("[augment]\n\nflip_prob = 0.1", "flip_prob", 3),
        ("[methods.afcn]\nlamda = 1.0", "lamda", 2),
        ("[methods.eac]\nlambda_x = 1.0", "lambda_x", 2),
        ("[methods.rul]\nembed = 3", "embed", 2),
        ("[methods]\nmagic = {}", "magic", 2),
        ("[methods.scn]\nmargin_x = 1.0", "margin_x", 2),
        ("[data.synthfer]\nsize = 9", "size", 2),
    ] {
        let err = error_naming(text, &format!("`{key}`"));
        assert!(err.contains(&format!("line {line}")), "{text}: {err}");
    }
}

#[test]
fn wrong_types_are_errors_at_their_line() {
    for (text, key) in [
        ("epochs = -1", "epochs"),
        ("epochs = \"ten\"", "epochs"),
        ("batch_size = 1.5", "batch_size"),
        ("method = \"magic\"", "magic"),
        ("[methods.afcn]\nbeta = \"half\"", "beta"),
        ("data = 5", "data"),
        ("[augment]\nerasing_scale = [0.1]", "erasing_scale"),
        ("epochs = 3\nepochs = 4", "epochs"),
        ("= 3", "key"),
    ] {
        let err = error_naming(text, key);
        assert!(err.contains("line "), "{text}: {err}");
    }
}

#[test]
fn out_of_range_values_name_the_key_and_the_range() {
    for (text, key) in [
        ("[methods.afcn]\nbeta = -0.1", "methods.afcn.beta"),
        ("[methods.afcn]\nbeta = nan", "beta"),
        ("[methods.afcn]\nlambda = -1.0", "lambda"),
        ("[methods.afcn]\nlambda = inf", "lambda"),
        ("batch_size = 0", "batch_size"),
        ("batch_size = 1", "batch_size"),
        ("epochs = 0", "epochs"),
        ("[optim]\nlr = 0.0", "optim.lr"),
        ("[optim]\nlr = nan", "optim.lr"),
        ("[optim]\nlr = inf", "optim.lr"),
        ("[optim]\nlr_decay = 1.5", "optim.lr_decay"),
        ("[optim]\nweight_decay = -1.0", "optim.weight_decay"),
        ("[data.noise]\nrate = -0.1", "data.noise.rate"),
        ("[data.noise]\nrate = nan", "data.noise.rate"),
        ("[data]\nclasses = 9", "data.classes"),
        ("[augment]\nimage_size = 16", "augment.image_size"),
        ("[augment]\nimage_size = 100000", "augment.image_size"),
        ("[augment]\nflip_p = 2.0", "augment.flip_p"),
        ("[augment]\nerasing_p = -0.5", "augment.erasing_p"),
        ("[augment]\nnoise_p = nan", "augment.noise_p"),
        (
            "[augment]\nerasing_scale = [0.5, 0.1]",
            "augment.erasing_scale",
        ),
        (
            "[augment]\nerasing_scale = [0.0, 0.1]",
            "augment.erasing_scale",
        ),
        (
            "[augment]\nerasing_ratio = [0.0, 1.0]",
            "augment.erasing_ratio",
        ),
        (
            "[augment]\nerasing_ratio = [1.0, inf]",
            "augment.erasing_ratio",
        ),
        ("[augment]\nnoise_std = -1.0", "augment.noise_std"),
        ("[augment]\nstd = [0.0, 1.0, 1.0]", "augment.std"),
        ("[augment]\nmean = [nan, 0.0, 0.0]", "augment.mean"),
        ("[data]\ndataset = \"rafdb\"", "data.root"),
        (
            "[data.synthfer]\nimage_size = 8",
            "data.synthfer.image_size",
        ),
        ("[methods.eac]\nlambda = nan", "methods.eac.lambda"),
        (
            "[methods.scn]\nrank_margin = -1.0",
            "methods.scn.rank_margin",
        ),
        (
            "[methods.scn]\nrelabel_margin = inf",
            "methods.scn.relabel_margin",
        ),
        ("[methods.scn]\nhigh_ratio = 1.5", "methods.scn.high_ratio"),
        ("[methods.rul]\ndropout = 1.0", "methods.rul.dropout"),
        (
            "[methods.rul]\nembedding_dim = 0",
            "methods.rul.embedding_dim",
        ),
    ] {
        error_naming(text, key);
    }
    // A seed only the command line can give: TOML could not hold it for `--resume`.
    let mut config = Preset::Synthfer.config();
    config.seed = u64::MAX;
    let err = config.validate().unwrap_err().to_string();
    assert!(err.contains("`seed`") && err.contains("2^63 - 1"), "{err}");
}

#[test]
fn the_edges_of_each_range_are_accepted() {
    let base = Preset::Synthfer.config();
    for text in [
        "[methods.afcn]\nbeta = 0.0\nlambda = 0.0",
        "[methods.afcn]\nbeta = 1.0",
        "batch_size = 2\nepochs = 1",
        "[optim]\nlr_decay = 1.0\nweight_decay = 0.0",
        "[data.noise]\nrate = 1.0",
        "[augment]\nflip_p = 1.0\nerasing_p = 0.0\nnoise_std = 0.0\nerasing_scale = [1.0, 1.0]",
        "[augment]\nimage_size = 32",
        "\u{feff}epochs = 2\r\n[methods.afcn]\r\nbeta = 0.25\r\n",
    ] {
        let config = TrainConfig::from_toml_str(text, &base).unwrap_or_else(|e| panic!("{e}"));
        config.validate().unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn an_unreadable_or_binary_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = Preset::Synthfer.config();
    let missing = dir.path().join("missing.toml");
    let err = TrainConfig::from_toml_file(&missing, &base).unwrap_err();
    assert!(err.to_string().contains("missing.toml"), "{err}");
    let binary = dir.path().join("binary.toml");
    std::fs::write(&binary, b"epochs = 3\n\xff\xfe\x00").unwrap();
    let err = TrainConfig::from_toml_file(&binary, &base).unwrap_err();
    assert!(err.to_string().contains("binary.toml"), "{err}");
}

/// `afcn train` with weights saved from the narrow ResNet but `--arch resnet18`: an error naming
/// the file and a tensor, before any epoch, and no run directory passed off as complete.
#[test]
fn weights_of_another_architecture_are_refused_by_train() {
    let dir = tempfile::tempdir().unwrap();
    let weights = dir.path().join("narrow.safetensors");
    save_narrow_resnet(&weights, 7);
    let tiny = "epochs = 1\nbatch_size = 8\n[data.synthfer]\ntrain_size = 16\ntest_size = 8\n";
    let run = dir.path().join("run");
    let out = train_command(&dir.path().join("tiny.toml"), tiny, &run)
        .args(["--arch", "resnet18", "--weights"])
        .arg(&weights)
        .output()
        .unwrap();
    let stderr = failure(&out);
    assert!(stderr.contains("narrow.safetensors"), "{stderr}");
    assert!(stderr.contains("conv1.weight"), "{stderr}");
    assert!(!run.join("COMPLETE").exists() && !run.join("latest").exists());
}
