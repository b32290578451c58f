//! Headless Chromium (Debian's `chromium` package) for the dashboard's
//! tests, driven over the DevTools protocol on loopback: a page's DOM once
//! it has loaded, every error its console or its network reported, and
//! screenshots. Each use starts Chromium with an empty profile and nothing
//! running in the background, and stops it after.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// A Chromium binary.
#[derive(Debug, Clone)]
pub struct Browser {
    binary: PathBuf,
}

/// A loaded page.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The DOM after the page loaded, serialised.
    pub dom: String,
    /// Console errors, uncaught exceptions and failed loads, as reported.
    pub console_errors: Vec<String>,
}

/// How long any one answer of the browser may take.
const ANSWER: Duration = Duration::from_secs(60);

impl Browser {
    /// `$KECHUANG_CHROMIUM`, or Debian's `chromium`; an error that says how
    /// to get it when there is none.
    pub fn find() -> anyhow::Result<Self> {
        let candidates = std::env::var_os("KECHUANG_CHROMIUM")
            .map(PathBuf::from)
            .into_iter()
            .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
        for binary in candidates {
            if binary.exists() {
                return Ok(Self { binary });
            }
        }
        bail!("no Chromium: install Debian's chromium package (.ci/run does), or set KECHUANG_CHROMIUM")
    }

    /// Loads `url` and returns its DOM and whatever errors it reported.
    pub fn load(&self, url: &str) -> anyhow::Result<Loaded> {
        let mut session = Session::start(self, 1280, 900)?;
        session.navigate(url)?;
        let dom = session.call(
            "Runtime.evaluate",
            json!({"expression": "document.documentElement.outerHTML", "returnByValue": true}),
        )?;
        let dom = dom["result"]["value"].as_str().unwrap_or_default().to_owned();
        Ok(Loaded { dom, console_errors: session.errors.clone() })
    }

    /// Saves a screenshot of `url`, `width` × `height` pixels, as PNG at `path`.
    pub fn screenshot(&self, url: &str, path: &Path, width: u32, height: u32) -> anyhow::Result<()> {
        let mut session = Session::start(self, width, height)?;
        session.navigate(url)?;
        session.screenshot(path)
    }
}

/// An open page to act on, as a person would: run the page's own scripts,
/// submit its forms, wait for what they change.
pub struct Page {
    session: Session,
}

impl Browser {
    /// Opens `url` in a fresh Chromium, `width` × `height` pixels.
    pub fn open(&self, url: &str, width: u32, height: u32) -> anyhow::Result<Page> {
        let mut session = Session::start(self, width, height)?;
        session.navigate(url)?;
        Ok(Page { session })
    }
}

impl Page {
    /// Goes to `url` and waits until it has loaded.
    pub fn goto(&mut self, url: &str) -> anyhow::Result<()> {
        self.session.navigate(url)
    }

    /// Runs `script` in the page, awaiting a promise it returns; its value.
    pub fn eval(&mut self, script: &str) -> anyhow::Result<Value> {
        let answer = self
            .session
            .call("Runtime.evaluate", json!({"expression": script, "returnByValue": true, "awaitPromise": true}))?;
        if let Some(e) = answer.get("exceptionDetails") {
            bail!("{script}: {e}");
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Waits until `condition` (a script) is true in the page, across the
    /// page loads a form's submission causes; an error after `timeout`.
    pub fn wait_for(&mut self, condition: &str, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            // While a new page loads the script may have no page to run in.
            if let Ok(Value::Bool(true)) = self.eval(&format!("!!({condition})")) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let url = self.eval("location.href").unwrap_or_default();
                bail!("waited {timeout:?} for `{condition}` at {url}; the page: {}", self.dom().unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The DOM now, serialised.
    pub fn dom(&mut self) -> anyhow::Result<String> {
        Ok(self.eval("document.documentElement.outerHTML")?.as_str().unwrap_or_default().to_owned())
    }

    /// Console errors, uncaught exceptions and failed loads so far.
    pub fn console_errors(&self) -> &[String] {
        &self.session.errors
    }

    /// Saves what the page shows now as PNG at `path`.
    pub fn screenshot(&mut self, path: &Path) -> anyhow::Result<()> {
        self.session.screenshot(path)
    }
}

/// One running Chromium, one page, and the errors it has reported so far.
struct Session {
    child: Child,
    _profile: tempfile::TempDir,
    socket: WebSocket<TcpStream>,
    session: String,
    next: u64,
    errors: Vec<String>,
}

impl Session {
    fn start(browser: &Browser, width: u32, height: u32) -> anyhow::Result<Self> {
        let profile = tempfile::tempdir()?;
        let child = Command::new(&browser.binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--hide-scrollbars",
            ])
            .arg(format!("--window-size={width},{height}"))
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", browser.binary.display()))?;
        // Chromium writes the port and the browser's path once it listens.
        let file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + ANSWER;
        let text = loop {
            match std::fs::read_to_string(&file) {
                Ok(text) if text.lines().count() >= 2 => break text,
                _ if Instant::now() > deadline => bail!("chromium did not open its DevTools port"),
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let mut lines = text.lines();
        let port: u16 = lines.next().unwrap_or_default().trim().parse().context("DevToolsActivePort: port")?;
        let path = lines.next().unwrap_or_default().trim().to_owned();
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(ANSWER))?;
        let (socket, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .map_err(|e| anyhow::anyhow!("connecting to chromium's DevTools: {e}"))?;
        let mut me = Self { child, _profile: profile, socket, session: String::new(), next: 0, errors: Vec::new() };
        let target = me.call("Target.createTarget", json!({"url": "about:blank"}))?;
        let target = target["targetId"].as_str().context("no targetId")?.to_owned();
        let attached = me.call("Target.attachToTarget", json!({"targetId": target, "flatten": true}))?;
        me.session = attached["sessionId"].as_str().context("no sessionId")?.to_owned();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            me.call(domain, json!({}))?;
        }
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false});
        me.call("Emulation.setDeviceMetricsOverride", metrics)?;
        Ok(me)
    }

    /// Sends a command (to the page once attached) and returns its result,
    /// noting the errors reported meanwhile.
    fn call(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        self.next += 1;
        let id = self.next;
        let mut message = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket.send(Message::text(message.to_string()))?;
        loop {
            let reply = self.read()?;
            if reply["id"].as_u64() == Some(id) {
                if let Some(error) = reply.get("error") {
                    bail!("{method}: {error}");
                }
                return Ok(reply["result"].clone());
            }
        }
    }

    /// Saves the page as PNG at `path`.
    fn screenshot(&mut self, path: &Path) -> anyhow::Result<()> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}))?;
        let data = shot["data"].as_str().context("no screenshot data")?;
        let png = data_encoding::BASE64.decode(data.as_bytes()).context("decoding the screenshot")?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Opens `url` and waits until it has loaded.
    fn navigate(&mut self, url: &str) -> anyhow::Result<()> {
        let navigated = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(error) = navigated["errorText"].as_str() {
            bail!("loading {url}: {error}");
        }
        let deadline = Instant::now() + ANSWER;
        loop {
            if self.read()?["method"] == "Page.loadEventFired" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("{url} did not finish loading");
            }
        }
    }

    /// Reads the next message, keeping any error it reports.
    fn read(&mut self) -> anyhow::Result<Value> {
        loop {
            let text = match self.socket.read().context("reading from chromium")? {
                Message::Text(text) => text.to_string(),
                Message::Close(_) => bail!("chromium closed its DevTools connection"),
                _ => continue,
            };
            let message: Value = serde_json::from_str(&text)?;
            let params = &message["params"];
            match message["method"].as_str() {
                Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                    self.errors.push(format!("console.error: {}", params["args"]));
                }
                Some("Runtime.exceptionThrown") => {
                    self.errors.push(format!("exception: {}", params["exceptionDetails"]));
                }
                Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                    self.errors.push(format!("{}: {}", params["entry"]["source"], params["entry"]["text"]));
                }
                _ => {}
            }
            return Ok(message);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.socket.send(Message::text(json!({"id": 0, "method": "Browser.close"}).to_string()));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The browser reports what a broken page does, so a clean page means clean.
    #[test]
    fn console_errors_and_failed_loads_are_reported() {
        let browser = Browser::find().expect("chromium");
        let page = "data:text/html,<p>hi</p><script>console.error('boom')</script><img src='http://127.0.0.1:9/x.png'>";
        let loaded = browser.load(page).expect("loaded");
        assert!(loaded.dom.contains("<p>hi</p>"), "{}", loaded.dom);
        assert!(loaded.console_errors.iter().any(|e| e.contains("boom")), "{:?}", loaded.console_errors);
        assert!(loaded.console_errors.len() >= 2, "the failed image too: {:?}", loaded.console_errors);
    }
}
