//! A headless chromium driven over the Chrome DevTools protocol (a WebSocket of JSON
//! messages): launch it, open a page, evaluate JavaScript, press keys, let it download.
//!
//! `chromium` is found as `$AFCN_CHROMIUM` or on the `PATH`; [`chromium`] says whether a
//! test may skip without it (`AFCN_REQUIRE_CHROMIUM` unset; `cargo xtask test` sets it).

use std::{
    io::{BufRead, BufReader},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

/// How long one protocol answer (or chromium's start) may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The chromium binary; `None` (the test skips) only when it is absent and
/// `AFCN_REQUIRE_CHROMIUM` is unset; absent and required panics.
pub fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("AFCN_CHROMIUM")
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .flat_map(|dir| ["chromium", "chromium-browser"].map(|n| dir.join(n)))
                    .find(|p| p.is_file())
            })
        });
    if found.is_none() {
        assert!(
            std::env::var_os("AFCN_REQUIRE_CHROMIUM").is_none(),
            "AFCN_REQUIRE_CHROMIUM is set but no chromium was found (install Debian's \
             `chromium`, or point AFCN_CHROMIUM at it)"
        );
        eprintln!("skipped: no chromium on the PATH (set AFCN_REQUIRE_CHROMIUM to fail instead)");
    }
    found
}

/// A running headless chromium and the protocol connection to it.
pub struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts `binary` headless with a fresh profile in `profile`, no network services.
    pub fn launch(binary: &Path, profile: &Path) -> Self {
        let mut child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(TIMEOUT)
            .expect("chromium prints its DevTools address");
        let (socket, _) = tungstenite::connect(url.as_str()).expect("the DevTools socket opens");
        if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
            stream
                .set_read_timeout(Some(TIMEOUT))
                .expect("a read timeout");
        }
        Self {
            child,
            socket,
            next_id: 0,
        }
    }

    /// Calls `method` (on the page `session`, or the browser) and returns its result.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_call(session, method, params)
            .unwrap_or_else(|error| panic!("{method}: {error}"))
    }

    /// Calls `method` and returns its result, or the error the browser answered with.
    fn try_call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(Message::text(message.to_string()))
            .expect("a protocol message is sent");
        let start = Instant::now();
        loop {
            assert!(start.elapsed() < TIMEOUT, "{method}: no answer");
            let text = match self.socket.read().expect("a protocol message") {
                Message::Text(text) => text.to_string(),
                _ => continue,
            };
            let answer: Value = serde_json::from_str(&text).expect("protocol JSON");
            if answer["id"] == json!(id) {
                return if answer["error"].is_null() {
                    Ok(answer["result"].clone())
                } else {
                    Err(answer["error"].clone())
                };
            }
        }
    }

    /// Opens `url` in a new page and returns the page's session.
    pub fn open(&mut self, url: &str) -> String {
        let target = self.call(None, "Target.createTarget", json!({ "url": url }));
        let session = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned()
    }

    /// The value of the JavaScript expression `expression` in the page.
    pub fn eval(&mut self, session: &str, expression: &str) -> Value {
        let result = self.call(Some(session), "Runtime.evaluate", evaluate(expression));
        assert!(
            result["exceptionDetails"].is_null(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Waits until `expression` is true in the page. A page that is navigating answers with
    /// an error ("Inspected target navigated or closed") or has no document yet: not yet true.
    pub fn wait_for(&mut self, session: &str, expression: &str) {
        let start = Instant::now();
        loop {
            let answer = self.try_call(Some(session), "Runtime.evaluate", evaluate(expression));
            if answer.is_ok_and(|result| result["result"]["value"] == json!(true)) {
                return;
            }
            assert!(start.elapsed() < TIMEOUT, "never true: {expression}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Reloads the page; `wait_for` then sees the new one.
    pub fn reload(&mut self, session: &str) {
        self.call(Some(session), "Page.reload", json!({}));
    }

    /// Presses and releases the key `key` (a character: `a`, `3`).
    pub fn press(&mut self, session: &str, key: char) {
        let code = key.to_ascii_uppercase() as u32;
        for kind in ["keyDown", "keyUp"] {
            let mut params =
                json!({ "type": kind, "key": key.to_string(), "windowsVirtualKeyCode": code });
            if kind == "keyDown" {
                params["text"] = json!(key.to_string());
            }
            self.call(Some(session), "Input.dispatchKeyEvent", params);
        }
    }

    /// Lets the browser's downloads go into `dir`.
    pub fn download_to(&mut self, dir: &Path) {
        self.call(
            None,
            "Browser.setDownloadBehavior",
            json!({ "behavior": "allow", "downloadPath": dir.display().to_string() }),
        );
    }
}

/// The parameters of `Runtime.evaluate` for `expression`, its value returned as JSON.
fn evaluate(expression: &str) -> Value {
    json!({ "expression": expression, "returnByValue": true, "awaitPromise": true })
}

/// The text of the file `name` once chromium has finished downloading it into `dir`.
pub fn downloaded(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let start = Instant::now();
    loop {
        let partial = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"))
            })
            .unwrap_or(false);
        if path.is_file() && !partial {
            return std::fs::read_to_string(&path).expect("the download reads");
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "{} was never downloaded",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
