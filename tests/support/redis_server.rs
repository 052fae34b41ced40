//! A real `redis-server` (the Debian package's) on a free loopback port, for the tests of the
//! `redis` feature: started by the test, stopped when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One server process and its port.
pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: std::path::PathBuf,
}

impl RedisServer {
    /// A new server, or `None` (with a message on stderr, so the test says why it skipped)
    /// when `redis-server` cannot be run here. With `WECHATPAY_REDIS_REQUIRED` set (CI), a
    /// server that cannot start fails the test instead.
    pub fn start() -> Option<RedisServer> {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let dir =
            std::env::temp_dir().join(format!("wechatpay-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(dir.join("redis.sock"))
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                if std::env::var_os("WECHATPAY_REDIS_REQUIRED").is_some() {
                    panic!("redis-server cannot run: {e}");
                }
                eprintln!(
                    "SKIPPED: redis-server cannot run here ({e}); install it (Debian: redis-server)"
                );
                return None;
            }
        };
        let server = RedisServer {
            child: Some(child),
            port,
            dir,
        };
        let started = Instant::now();
        while server.command(&["PING"]).as_deref() != Some("+PONG") {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not answer PING on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `unix:///.../redis.sock`: the same server on its Unix socket.
    pub fn unix_url(&self) -> String {
        format!("unix://{}", self.dir.join("redis.sock").display())
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Sends one command (RESP) on a new connection and returns the first line of the reply,
    /// or `None` when the server cannot be reached.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end().to_owned();
        if let Some(length) = line.strip_prefix('$') {
            if length == "-1" {
                return Some("(nil)".to_owned());
            }
            let mut value = String::new();
            reader.read_line(&mut value).ok()?;
            return Some(value.trim_end().to_owned());
        }
        Some(line)
    }

    /// Every key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .write_all(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let count: usize = line.trim_end().trim_start_matches('*').parse().unwrap();
        let mut keys = Vec::new();
        for _ in 0..count {
            let mut length = String::new();
            reader.read_line(&mut length).unwrap();
            let mut key = String::new();
            reader.read_line(&mut key).unwrap();
            keys.push(key.trim_end().to_owned());
        }
        keys.sort();
        keys
    }

    /// Stops the server (SIGKILL: as a crash, nothing flushed).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
