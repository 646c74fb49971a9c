//! JupyterLab in a real browser: the quickstart notebook is executed by nbclient through the
//! installed kernelspec, signed as trusted (`jupyter trust`: JupyterLab renders SVG outputs of
//! trusted notebooks only), served by JupyterLab on loopback without a token, and opened in
//! Debian's headless Chromium. The test asserts that the rendered page holds an image output
//! (an `<img>` or `<svg>` inside a `jp-OutputArea-output`) and keeps a screenshot and the DOM
//! in `target/test-artifacts/jupyterlab/`.
#[path = "support/jupyter.rs"]
mod jupyter;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NOTEBOOK: &str = "01-quickstart.ipynb";
/// How long JupyterLab may take to answer on a busy machine.
const SERVER_TIMEOUT: Duration = Duration::from_secs(120);

/// The JupyterLab server, stopped on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The status line of `GET path` on the loopback port, or `None` while nothing answers.
fn http_status(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.lines().next().map(str::to_string)
}

/// JupyterLab settings for a headless run: every cell rendered (not only those in view), no
/// news or update checks (nothing but loopback is reached).
fn write_lab_settings(settings: &Path) {
    for (plugin, json) in [
        ("@jupyterlab/notebook-extension/tracker.jupyterlab-settings", r#"{"windowingMode": "none"}"#),
        ("@jupyterlab/apputils-extension/notification.jupyterlab-settings", r#"{"fetchNews": "false", "checkForUpdates": false}"#),
    ] {
        let file = settings.join(plugin);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, json).unwrap();
    }
}

fn write_server_config(config_dir: &Path) {
    let config = r#"{
  "LabApp": {"news_url": null, "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate", "extension_manager": "readonly"},
  "ServerApp": {"ip": "127.0.0.1", "open_browser": false, "allow_root": true, "password": "", "disable_check_xsrf": true},
  "IdentityProvider": {"token": ""}
}"#;
    std::fs::create_dir_all(config_dir).unwrap();
    std::fs::write(config_dir.join("jupyter_server_config.json"), config).unwrap();
}

/// Runs headless Chromium on `url` with `extra` arguments (`--dump-dom`, `--screenshot=...`);
/// returns its stdout.
fn chromium(url: &str, budget_ms: u64, extra: &[&str]) -> String {
    let output = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,7000"])
        .arg(format!("--virtual-time-budget={budget_ms}"))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("chromium runs");
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether some output area of the page holds a rendered picture.
fn has_image_output(dom: &str) -> bool {
    dom.split("jp-OutputArea-output").skip(1).any(|after| {
        let area = &after[..after.len().min(400)];
        area.contains("<img") || area.contains("<svg")
    })
}

#[test]
fn jupyterlab_renders_the_quickstart_plots_in_headless_chromium() {
    if Command::new("chromium").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "chromium is required for the browser test in CI (scripts/setup.sh installs it)");
        eprintln!("SKIPPED: chromium is not installed");
        return;
    }
    // Named as the notebooks' metadata names their kernel, so JupyterLab starts it unasked.
    let Some(jupyter) = jupyter::Jupyter::install("helixfold") else { return };
    let artifacts = jupyter::artifacts("jupyterlab");
    let lab_root = artifacts.join("lab-root");
    let (clean, report) = jupyter::execute_notebooks(&jupyter, &[jupyter::root().join("notebooks").join(NOTEBOOK)], &lab_root);
    assert!(clean, "executing {NOTEBOOK} failed:\n{report}");
    let trust = jupyter.command("jupyter").arg("trust").arg(lab_root.join(NOTEBOOK)).output().unwrap();
    assert!(trust.status.success(), "jupyter trust: {}", String::from_utf8_lossy(&trust.stderr));

    let settings = jupyter.dir("lab-settings");
    write_lab_settings(&settings);
    write_server_config(&jupyter.dir("config"));
    let port = free_port();
    let log = std::fs::File::create(artifacts.join("jupyterlab.log")).unwrap();
    let _server = Server(
        jupyter
            .command("jupyter")
            .arg("lab")
            .arg(format!("--ServerApp.port={port}"))
            .arg("--ServerApp.root_dir")
            .arg(&lab_root)
            .env("JUPYTERLAB_SETTINGS_DIR", &settings)
            .env("JUPYTERLAB_WORKSPACES_DIR", jupyter.dir("lab-workspaces"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while !http_status(port, "/api/status").is_some_and(|status| status.contains(" 200 ")) {
        assert!(started.elapsed() < SERVER_TIMEOUT, "JupyterLab did not answer in time; see {}", artifacts.join("jupyterlab.log").display());
        std::thread::sleep(Duration::from_millis(500));
    }

    // A cold JupyterLab can need more than the first budget to lay out the notebook; the
    // second try also resets any saved workspace.
    let url = format!("http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}");
    let attempts = [(url.clone(), 30_000), (format!("{url}?reset"), 90_000)];
    let rendered = attempts.iter().find_map(|(url, budget)| {
        let dom = chromium(url, *budget, &["--dump-dom"]);
        std::fs::write(artifacts.join("dom.html"), &dom).unwrap();
        has_image_output(&dom).then_some((url.clone(), *budget))
    });
    let Some((url, budget)) = rendered else {
        panic!("no image output rendered in JupyterLab's page; the last DOM is {}", artifacts.join("dom.html").display());
    };
    let screenshot = artifacts.join("jupyterlab-01-quickstart.png");
    chromium(&url, budget, &[&format!("--screenshot={}", screenshot.display())]);
    let png = std::fs::read(&screenshot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{} is not a real screenshot", screenshot.display());
}
