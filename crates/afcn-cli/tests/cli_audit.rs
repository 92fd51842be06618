//! `afcn audit` end to end on a tiny SynthFER run: every sample scored and ranked, the flags
//! measured against the clean labels, cross-training folds, the run's corrections; bad input
//! refused with named errors and nothing written; and the review page driven in a real headless
//! chromium: keys decide, the page exports, and the export is the expected corrected list,
//! equal to what `afcn audit apply` writes from the exported decisions.

#[path = "support/cdp.rs"]
mod cdp;
mod support;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::OnceLock,
};

use support::{afcn, failure, save_narrow_resnet, success, tiny_config, train_command};

/// Training samples of the tiny run.
const SAMPLES: usize = 64;

/// The tiny run, trained once for all the tests of this file.
fn tiny_run() -> &'static Path {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, run) = RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        success(
            &train_command(
                &tmp.path().join("tiny.toml"),
                &tiny_config(SAMPLES, 16, 0),
                &run,
            )
            .output()
            .unwrap(),
        );
        (tmp, run)
    });
    run
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `afcn audit --run <run> --review <review> --out <out> <rest>`.
fn run_audit(run: &Path, review: usize, out: &Path, rest: &[&str]) -> std::process::Output {
    let review = review.to_string();
    let base = [
        "audit",
        "--run",
        arg(run),
        "--review",
        &review,
        "--out",
        arg(out),
    ];
    afcn([&base[..], rest].concat())
}

/// One row of `label_issues.csv`, by column name.
type Row = HashMap<String, String>;

fn read_issues(audit: &Path) -> (Vec<String>, Vec<Row>) {
    let mut reader = csv::Reader::from_path(audit.join("label_issues.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect()
        })
        .collect();
    let classes = header
        .iter()
        .filter_map(|h| h.strip_prefix("p_").map(String::from))
        .collect();
    (classes, rows)
}

fn num(row: &Row, key: &str) -> f64 {
    row[key]
        .parse()
        .unwrap_or_else(|_| panic!("{key}: {:?}", row[key]))
}

#[test]
fn audit_scores_ranks_and_measures_every_sample() {
    let run = tiny_run();
    let tmp = tempfile::tempdir().unwrap();
    let audit = tmp.path().join("audit");
    let stdout = success(&run_audit(run, 4, &audit, &["--folds", "2"]));
    let (classes, rows) = read_issues(&audit);
    assert_eq!(classes.len(), 7);
    assert_eq!(rows.len(), SAMPLES);
    // The class thresholds: the mean self-confidence of each given class.
    let mut thresholds = [(0.0, 0.0); 7];
    for row in &rows {
        let t = &mut thresholds[classes.iter().position(|c| *c == row["given"]).unwrap()];
        *t = (t.0 + num(row, "self_confidence"), t.1 + 1.0);
    }
    let thresholds: Vec<f64> = thresholds.iter().map(|(s, n)| s / n).collect();
    let mut seen = [false; SAMPLES];
    let mut previous = f64::INFINITY;
    let (mut noisy, mut flagged, mut true_flags) = (0, 0, 0);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(num(row, "rank") as usize, i + 1);
        seen[num(row, "sample") as usize] = true;
        let score = num(row, "issue_score");
        assert!(score <= previous, "ranked by issue score");
        previous = score;
        let p: Vec<f64> = classes
            .iter()
            .map(|c| num(row, &format!("p_{c}")))
            .collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "{p:?}");
        let given = classes.iter().position(|c| *c == row["given"]).unwrap();
        let best = (0..7).fold(0, |b, k| if p[k] > p[b] { k } else { b });
        assert_eq!(row["suggested"], classes[best]);
        assert!((num(row, "self_confidence") - p[given]).abs() < 1e-5);
        let threshold = thresholds[given];
        let sc = num(row, "self_confidence");
        assert!(
            (score - threshold / (threshold + sc)).abs() < 1e-4,
            "{row:?}"
        );
        let is_flagged = row["suggested"] != row["given"] && sc < threshold;
        assert_eq!(row["flagged"], if is_flagged { "yes" } else { "no" });
        let is_noisy = row["clean"] != row["given"];
        noisy += usize::from(is_noisy);
        flagged += usize::from(is_flagged);
        true_flags += usize::from(is_flagged && is_noisy);
    }
    assert!(seen.iter().all(|&s| s), "every sample once");

    // The flags' quality, recomputed from the rows.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(audit.join("summary.json")).unwrap())
            .unwrap();
    let q = &summary["quality"];
    assert_eq!(q["noisy"], noisy);
    assert_eq!(q["flagged"], flagged);
    assert_eq!(q["true_flags"], true_flags);
    assert_eq!(summary["probabilities"], "out-of-sample, 2 folds");
    assert_eq!(summary["classes"].as_array().unwrap().len(), 7);
    let health = summary["health"].as_f64().unwrap();
    assert!((health - (1.0 - flagged as f64 / SAMPLES as f64)).abs() < 1e-9);
    let top = rows[..noisy]
        .iter()
        .filter(|r| r["clean"] != r["given"])
        .count();
    assert_eq!(q["k"], noisy);
    assert!((q["precision_at_k"].as_f64().unwrap() - top as f64 / noisy as f64).abs() < 1e-12);
    assert!(stdout.contains("dataset health"), "{stdout}");
    assert!(
        stdout.contains("| class | labelled | threshold | flagged |"),
        "{stdout}"
    );

    // Each fold scored its own samples: together, each sample once, with the CSV's numbers.
    let mut from_folds = HashMap::new();
    for k in 0..2 {
        let text =
            std::fs::read_to_string(audit.join(format!("folds/fold-{k}/probabilities.json")))
                .unwrap();
        let pairs: Vec<(usize, Vec<f32>)> = serde_json::from_str(&text).unwrap();
        assert!(
            (28..=36).contains(&pairs.len()),
            "fold {k}: {}",
            pairs.len()
        );
        for (sample, p) in pairs {
            assert!(from_folds.insert(sample, p).is_none());
        }
    }
    assert_eq!(from_folds.len(), SAMPLES);
    for row in &rows {
        let p = &from_folds[&(num(row, "sample") as usize)];
        let given = classes.iter().position(|c| *c == row["given"]).unwrap();
        assert!((num(row, "self_confidence") - f64::from(p[given])).abs() < 1e-5);
    }

    // The run's corrections: the final label of every sample it relabelled, with the epoch.
    let log = std::fs::read_to_string(run.join("corrections.csv")).unwrap();
    let mut last: HashMap<usize, (String, String)> = HashMap::new();
    let mut first_label: HashMap<usize, String> = HashMap::new();
    for line in log.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let sample: usize = f[1].parse().unwrap();
        first_label.entry(sample).or_insert_with(|| f[2].to_owned());
        last.insert(sample, (f[0].to_owned(), f[3].to_owned()));
    }
    assert!(!last.is_empty(), "the tiny run corrects some labels");
    for row in &rows {
        let sample = num(row, "sample") as usize;
        match last.get(&sample) {
            Some((epoch, new)) if *new != first_label[&sample] => {
                assert_eq!(&row["corrected_epoch"], epoch);
                assert_eq!(row["corrected_to"], classes[new.parse::<usize>().unwrap()]);
            }
            _ => assert_eq!(row["corrected_epoch"], ""),
        }
    }
    // An interrupted or repeated audit reuses finished folds: the same numbers again.
    let again = tmp.path().join("again");
    std::fs::create_dir_all(again.join("folds")).unwrap();
    for k in 0..2 {
        let fold = format!("folds/fold-{k}");
        std::fs::create_dir_all(again.join(&fold)).unwrap();
        std::fs::copy(
            audit.join(&fold).join("probabilities.json"),
            again.join(&fold).join("probabilities.json"),
        )
        .unwrap();
    }
    success(&run_audit(run, 0, &again, &["--folds", "2"]));
    assert_eq!(
        std::fs::read(audit.join("label_issues.csv")).unwrap(),
        std::fs::read(again.join("label_issues.csv")).unwrap()
    );
}

#[test]
fn bad_input_is_a_named_error_and_writes_nothing() {
    let run = tiny_run();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("audit");
    let out_arg = arg(&out).to_owned();

    // An unfinished run: every file but COMPLETE.
    let unfinished = tmp.path().join("unfinished");
    std::fs::create_dir(&unfinished).unwrap();
    for entry in std::fs::read_dir(run).unwrap() {
        let entry = entry.unwrap();
        let to = unfinished.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir(&to).unwrap();
            for inner in std::fs::read_dir(entry.path()).unwrap() {
                let inner = inner.unwrap();
                std::fs::copy(inner.path(), to.join(inner.file_name())).unwrap();
            }
        } else if entry.file_name() != "COMPLETE" {
            std::fs::copy(entry.path(), to).unwrap();
        }
    }
    let err = failure(&afcn([
        "audit",
        "--run",
        arg(&unfinished),
        "--out",
        &out_arg,
    ]));
    assert!(
        err.contains("is not a finished run: COMPLETE is missing"),
        "{err}"
    );

    // Weights whose classifier does not have the dataset's classes.
    let weights = tmp.path().join("three.safetensors");
    save_narrow_resnet(&weights, 3);
    let err = failure(&afcn([
        "audit",
        "--weights",
        arg(&weights),
        "--arch",
        "resnet-narrow",
        "--size",
        "64",
        "--out",
        &out_arg,
    ]));
    assert!(
        err.contains("has 3 outputs but synthfer has 7 classes"),
        "{err}"
    );
    // Weights of another architecture.
    let err = failure(&afcn([
        "audit",
        "--weights",
        arg(&run.join("model.safetensors")),
        "--arch",
        "resnet18",
        "--out",
        &out_arg,
    ]));
    assert!(err.contains("model.safetensors"), "{err}");
    let err = failure(&afcn([
        "audit",
        "--run",
        arg(run),
        "--folds",
        "1",
        "--out",
        &out_arg,
    ]));
    assert!(err.contains("--folds 1 is out of range"), "{err}");
    let err = failure(&afcn(["audit", "--out", &out_arg]));
    assert!(err.contains("--run RUN_DIR"), "{err}");
    assert!(!out.exists(), "nothing written");

    // Decisions: unknown sample, unknown label, stale given label; no corrected file.
    let audit = tmp.path().join("good");
    success(&run_audit(run, 0, &audit, &[]));
    let decisions = tmp.path().join("decisions.csv");
    let corrected = tmp.path().join("corrected.txt");
    for (row, expected) in [
        (
            "99,train_00100.jpg,fear,reject,fear",
            "line 2: unknown sample `99`",
        ),
        (
            "0,train_00001.jpg,GIVEN,relabel,grumpy",
            "unknown chosen label `grumpy`",
        ),
        (
            "0,train_00001.jpg,OTHER,reject,OTHER",
            "the decisions belong to another",
        ),
    ] {
        let (classes, rows) = read_issues(&audit);
        let given = &rows.iter().find(|r| r["sample"] == "0").unwrap()["given"];
        let other = classes.iter().find(|c| *c != given).unwrap();
        let row = row.replace("GIVEN", given).replace("OTHER", other);
        std::fs::write(
            &decisions,
            format!("sample,name,given,decision,label\n{row}\n"),
        )
        .unwrap();
        let err = failure(&afcn([
            "audit",
            "apply",
            "--audit",
            arg(&audit),
            "--decisions",
            arg(&decisions),
            "--out",
            arg(&corrected),
        ]));
        assert!(err.contains(expected), "{row}: {err}");
        assert!(err.contains("decisions.csv"), "{err}");
        assert!(!corrected.exists());
    }
}

#[test]
fn clean_labels_from_a_list_replace_the_known_ones_and_a_bad_list_is_refused() {
    let run = tiny_run();
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first");
    success(&run_audit(run, 0, &first, &[]));
    let (classes, mut rows) = read_issues(&first);
    rows.sort_by_key(|r| num(r, "sample") as usize);
    // The given labels as the clean ones: then no label is noisy.
    let list: String = rows
        .iter()
        .map(|r| {
            let given = classes.iter().position(|c| *c == r["given"]).unwrap();
            format!("{} {}\n", r["path"], given + 1)
        })
        .collect();
    let clean = tmp.path().join("clean.txt");
    std::fs::write(&clean, &list).unwrap();
    let audit = tmp.path().join("audit");
    success(&run_audit(run, 0, &audit, &["--clean-labels", arg(&clean)]));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(audit.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["quality"]["noisy"], 0);
    let (_, rows) = read_issues(&audit);
    assert!(rows.iter().all(|r| r["clean"] == r["given"]));

    std::fs::write(&clean, format!("{list}nobody.jpg 1\n")).unwrap();
    let refused = tmp.path().join("refused");
    let err = failure(&run_audit(
        run,
        0,
        &refused,
        &["--clean-labels", arg(&clean)],
    ));
    assert!(
        err.contains("clean.txt") && err.contains(&format!("{}", SAMPLES + 1)),
        "{err}"
    );
    assert!(err.contains("`nobody.jpg` is not a sample"), "{err}");
    assert!(!refused.exists(), "nothing written");
}

/// The corrected list the review should export: every sample's `name label` (1-based), with
/// `changes` (sample, class index) applied.
fn expected_list(classes: &[String], rows: &[Row], changes: &[(usize, usize)]) -> String {
    let mut lines: Vec<(usize, String, usize)> = rows
        .iter()
        .map(|r| {
            let given = classes.iter().position(|c| *c == r["given"]).unwrap();
            (num(r, "sample") as usize, r["path"].clone(), given)
        })
        .collect();
    lines.sort();
    for &(sample, label) in changes {
        lines[sample].2 = label;
    }
    lines
        .iter()
        .map(|(_, name, label)| format!("{name} {}\n", label + 1))
        .collect()
}

#[test]
fn the_review_page_decides_by_keyboard_and_exports_the_corrected_list() {
    let Some(chromium) = cdp::chromium() else {
        return;
    };
    let run = tiny_run();
    let tmp = tempfile::tempdir().unwrap();
    let audit = tmp.path().join("audit");
    success(&run_audit(run, 6, &audit, &[]));
    let (classes, rows) = read_issues(&audit);
    let flagged: Vec<&Row> = rows.iter().filter(|r| r["flagged"] == "yes").collect();
    assert!(
        flagged.len() >= 4,
        "the tiny run flags {} samples",
        flagged.len()
    );
    let class = |r: &Row, key: &str| classes.iter().position(|c| *c == r[key]).unwrap();
    let sample = |r: &Row| num(r, "sample") as usize;
    // The fourth suspect goes to a class that is neither its given nor its suggested one.
    let fourth = flagged[3];
    let other = (0..7)
        .find(|&k| k != class(fourth, "given") && k != class(fourth, "suggested"))
        .unwrap();

    let profile = tmp.path().join("profile");
    let downloads = tmp.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut browser = cdp::Browser::launch(&chromium, &profile);
    browser.download_to(&downloads);
    let page = format!("file://{}", audit.join("review.html").display());
    let session = browser.open(&page);
    browser.wait_for(
        &session,
        "document.body && document.body.dataset.ready === 'true'",
    );
    // Accept the first, reject the second, skip the third, move the fourth to `other`.
    for key in [
        'a',
        'r',
        'j',
        char::from_digit(other as u32 + 1, 10).unwrap(),
    ] {
        browser.press(&session, key);
    }
    browser.press(&session, 'e');
    let exported = cdp::downloaded(&downloads, "train_labels_corrected.txt");
    let expected = expected_list(
        &classes,
        &rows,
        &[
            (sample(flagged[0]), class(flagged[0], "suggested")),
            (sample(fourth), other),
        ],
    );
    assert_eq!(exported, expected);
    assert_eq!(exported.lines().count(), SAMPLES);

    browser.press(&session, 'd');
    let decisions = cdp::downloaded(&downloads, "decisions.csv");
    let name = |r: &Row| r["path"].clone();
    assert_eq!(
        decisions,
        format!(
            "sample,name,given,decision,label\n\
             {},{},{},accept,{}\n{},{},{},reject,{}\n{},{},{},relabel,{}\n",
            sample(flagged[0]),
            name(flagged[0]),
            flagged[0]["given"],
            flagged[0]["suggested"],
            sample(flagged[1]),
            name(flagged[1]),
            flagged[1]["given"],
            flagged[1]["given"],
            sample(fourth),
            name(fourth),
            fourth["given"],
            classes[other],
        )
    );

    // `afcn audit apply` writes the same file from the decisions, beside (not over) anything.
    let applied = tmp.path().join("applied.txt");
    let stdout = success(&afcn([
        "audit",
        "apply",
        "--audit",
        arg(&audit),
        "--decisions",
        arg(&downloads.join("decisions.csv")),
        "--out",
        arg(&applied),
    ]));
    assert!(stdout.contains("2 labels changed"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&applied).unwrap(), expected);

    // A reloaded page keeps its decisions (the browser's storage); a new session forgets the
    // saved review, imports the decisions and exports the same file again. (The old page is
    // marked, so that each wait sees the reloaded one.)
    browser.eval(&session, "window.before = true");
    browser.reload(&session);
    browser.wait_for(
        &session,
        "!window.before && document.body && document.body.dataset.ready === 'true'",
    );
    assert_eq!(browser.eval(&session, "decisions.size"), 3);
    browser.eval(&session, "localStorage.clear(); window.before = true");
    browser.reload(&session);
    browser.wait_for(
        &session,
        "!window.before && document.body && document.body.dataset.ready === 'true'",
    );
    assert_eq!(browser.eval(&session, "decisions.size"), 0);
    let input = browser.call(
        Some(&session),
        "Runtime.evaluate",
        serde_json::json!({ "expression": "document.getElementById('import')" }),
    );
    browser.call(
        Some(&session),
        "DOM.setFileInputFiles",
        serde_json::json!({
            "files": [downloads.join("decisions.csv").display().to_string()],
            "objectId": input["result"]["objectId"],
        }),
    );
    browser.wait_for(&session, "decisions.size === 3");
    let again = tmp.path().join("again");
    std::fs::create_dir_all(&again).unwrap();
    browser.download_to(&again);
    browser.press(&session, 'e');
    assert_eq!(
        cdp::downloaded(&again, "train_labels_corrected.txt"),
        expected
    );
}
