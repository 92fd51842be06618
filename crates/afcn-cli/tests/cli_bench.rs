//! `afcn bench` on a tiny network: the JSON line's fields, the views per method, the phase
//! split, and a bad flag as an error.

mod support;

use std::process::Output;

use support::{afcn, failure, success};

/// `afcn bench` of a narrow ResNet on 32 x 32 inputs, batches of 4, one warm-up and two
/// measured steps, then `extra`.
fn bench(extra: &[&str]) -> Output {
    let tiny = [
        "bench",
        "--arch",
        "resnet-narrow",
        "--size",
        "32",
        "--batch",
        "4",
        "--steps",
        "2",
        "--warmup",
        "1",
    ];
    afcn([&tiny[..], extra].concat())
}

/// The one JSON line a successful run printed.
fn json_line(out: &Output) -> serde_json::Value {
    let stdout = success(out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {stdout}");
    serde_json::from_str(lines[0]).unwrap()
}

#[test]
fn json_reports_throughput_memory_and_phases_of_each_method() {
    for (method, name, views) in [
        ("afcn", "afcn", 2),
        ("ce", "baseline", 1),
        ("eac", "eac", 2),
    ] {
        let report = json_line(&bench(&["--method", method, "--json", "--phases"]));
        assert_eq!(report["method"], name);
        assert_eq!(report["arch"], "resnet-narrow");
        assert_eq!(report["backend"], "cpu");
        assert_eq!(
            (report["size"].as_u64(), report["batch"].as_u64()),
            (Some(32), Some(4))
        );
        assert_eq!(report["views"].as_u64(), Some(views), "{method}");
        let images_per_sec = report["images_per_sec"].as_f64().unwrap();
        let step_ms = report["step_ms"].as_f64().unwrap();
        // Source images: batch / step time, whatever the number of views.
        assert!(
            (images_per_sec * step_ms / 1e3 - 4.0).abs() < 1e-6,
            "{report}"
        );
        assert!(report["peak_rss_mib"].as_f64().unwrap() > 1.0);
        let phases = &report["phases"];
        let sum: f64 = ["forward_ms", "loss_ms", "backward_ms", "optimizer_ms"]
            .iter()
            .map(|k| phases[k].as_f64().unwrap())
            .sum();
        assert!(sum > 0.0 && sum <= step_ms * 1.01, "{report}");
    }
}

#[test]
fn table_without_phases_and_bad_batch_is_an_error() {
    let text = success(&bench(&["--method", "ce"]));
    assert!(
        text.contains("images/s") && !text.contains("backward"),
        "{text}"
    );

    let stderr = failure(&afcn(["bench", "--batch", "1"]));
    assert!(stderr.contains("--batch must be at least 2"), "{stderr}");
}
