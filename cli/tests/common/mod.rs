//! What the CLI tests share: a scratch directory, a sandbox with its profile, the `wxpay`
//! binary with a clean environment, and a captured callback.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use wechatpay_sandbox::{Event, NotifyVariant, Sandbox};

/// A scratch directory removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wxpay-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A sandbox and a config file with its `[profile.sandbox]`.
pub struct Setup {
    pub sandbox: Sandbox,
    pub dir: Scratch,
    pub config: PathBuf,
}

pub fn setup() -> Setup {
    let sandbox = Sandbox::start().unwrap();
    let dir = Scratch::new();
    let profile = sandbox.write_profile(&dir.0).unwrap();
    let config = dir.path("wxpay.toml");
    std::fs::write(&config, profile).unwrap();
    Setup {
        sandbox,
        dir,
        config,
    }
}

pub fn wxpay() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    // Nothing from the environment of whoever runs the tests.
    for (name, _) in std::env::vars() {
        if name.starts_with("WECHATPAY_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("HOME", std::env::temp_dir())
        .env_remove("XDG_CONFIG_HOME");
    cmd.stdin(Stdio::null());
    cmd
}

impl Setup {
    pub fn run(&self, args: &[&str]) -> Output {
        wxpay()
            .arg("--config")
            .arg(&self.config)
            .args(["--profile", "sandbox"])
            .args(args)
            .output()
            .unwrap()
    }
    pub fn mchid(&self) -> String {
        self.sandbox.identity().mchid.clone()
    }
}

/// The line that follows a message asking for a setting when no config file was named and
/// the default one (under the `HOME` that [`wxpay`] sets) is absent.
pub fn no_config_note() -> String {
    format!(
        "note: no config file at `{}` (the default; --config FILE or $WECHATPAY_CONFIG names \
         another; `wxpay sandbox` prints a profile)\n",
        std::env::temp_dir()
            .join(".config")
            .join("wxpay")
            .join("config.toml")
            .display()
    )
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Accepts one HTTP request, answers 200 and returns its headers (as `Name: value` lines) and
/// body.
pub fn capture_one(listener: std::net::TcpListener) -> std::thread::JoinHandle<(String, Vec<u8>)> {
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .unwrap();
        (head, body)
    })
}

pub fn deliver(s: &Setup, variant: NotifyVariant) -> (PathBuf, PathBuf) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let captured = capture_one(listener);
    s.sandbox
        .notify(&url, Event::payment("NOTIFY1").variant(variant))
        .unwrap();
    let (head, body) = captured.join().unwrap();
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let headers = s.dir.path(&format!("headers{n}.txt"));
    let body_file = s.dir.path(&format!("body{n}.json"));
    std::fs::write(&headers, head).unwrap();
    std::fs::write(&body_file, body).unwrap();
    (headers, body_file)
}
