//! `helixfold::kernel::client` against a real kernel process: two clients attached to one
//! kernel share its session, and each sees the other's cells on IOPub (what `helixfold repl
//! --existing` relies on).
use helixfold::kernel::client::{terminal_text, Channel, KernelClient};
#[path = "support/kernel.rs"]
mod kernel_process;

use helixfold::kernel::ConnectionInfo;
use kernel_process::start_kernel;
use std::process::{Command, Stdio};

#[test]
fn two_clients_share_one_session_and_see_each_others_cells() {
    let kernel = start_kernel();
    let notebook = KernelClient::connect(&kernel.info).unwrap();
    let terminal = KernelClient::connect(&kernel.info).unwrap();
    assert_eq!(notebook.kernel_info().unwrap()["implementation"], "helixfold");

    let mut printed = String::new();
    let reply = notebook
        .execute("echo \"hello from the notebook\"\ndata seed=7", |event| {
            if event.mine && event.channel == Channel::Iopub {
                if let Some((_, text)) = terminal_text(&event) {
                    printed += &text;
                }
            }
        })
        .unwrap();
    assert_eq!(reply["status"], "ok", "{reply}");
    assert!(printed.contains("hello from the notebook"), "{printed}");

    // The terminal saw the notebook's cell on IOPub: its input and its output.
    let mut seen = String::new();
    let reply = terminal
        .execute("data", |event| {
            if let Some((_, text)) = terminal_text(&event) {
                seen += &text;
            }
        })
        .unwrap();
    assert_eq!(reply["status"], "ok", "{reply}");
    assert!(seen.contains("[another client, In 1]: echo \"hello from the notebook\""), "{seen}");
    assert!(seen.contains("hello from the notebook"), "{seen}");
    // ... and the setting the notebook made is in the one session the terminal drives.
    assert!(seen.contains('7'), "{seen}");

    let (matches, start, end) = terminal.complete("sho", 3).unwrap();
    assert!(matches.iter().any(|m| m == "show"), "{matches:?}");
    assert_eq!((start, end), (0, 3));

    let reply = terminal.execute("load /no/such/file.pdb", |_| {}).unwrap();
    assert_eq!(reply["status"], "error", "{reply}");
}

#[test]
fn connecting_where_no_kernel_listens_fails_with_the_endpoint() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let info = ConnectionInfo {
        transport: "tcp".into(),
        ip: "127.0.0.1".into(),
        shell_port: port,
        iopub_port: port,
        stdin_port: port,
        control_port: port,
        hb_port: port,
        key: "k".into(),
        signature_scheme: "hmac-sha256".into(),
    };
    let err = format!("{:#}", KernelClient::connect(&info).err().expect("no kernel there"));
    assert!(err.contains(&format!("no kernel answered at tcp://127.0.0.1:{port}")), "{err}");
}

/// `helixfold repl --existing` sends its lines to the kernel's session: what the terminal sets,
/// a notebook client then sees.
#[test]
fn repl_existing_drives_the_kernels_session() {
    use std::io::Write as _;
    let kernel = start_kernel();
    let notebook = KernelClient::connect(&kernel.info).unwrap();
    let mut repl = Command::new(env!("CARGO_BIN_EXE_helixfold"))
        .args(["repl", "--existing"])
        .arg(kernel.dir.path().join("kernel-test.json"))
        .env("HELIXFOLD_HISTORY", kernel.dir.path().join("history"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    repl.stdin.take().unwrap().write_all(b"data seed=11\nload /no/such.pdb\nexit\n").unwrap();
    let output = repl.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("attached to the kernel"), "{stdout}");
    let seed_row = |text: &str| text.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["seed", "11"]);
    assert!(seed_row(&stdout), "{stdout}");
    assert!(stderr.contains("/no/such.pdb"), "{stderr}");

    let mut seen = String::new();
    notebook
        .execute("data", |event| {
            if event.mine {
                seen += &terminal_text(&event).map(|(_, text)| text).unwrap_or_default();
            }
        })
        .unwrap();
    assert!(seed_row(&seen), "{seen}");

    let missing = Command::new(env!("CARGO_BIN_EXE_helixfold"))
        .args(["repl", "--existing", "kernel-does-not-exist"])
        .env("JUPYTER_RUNTIME_DIR", kernel.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(stderr.contains("no connection file 'kernel-does-not-exist'"), "{stderr}");
}
