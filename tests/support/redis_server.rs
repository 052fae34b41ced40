//! A real `redis-server` (the Debian package's) on a free loopback port, for the tests of the
//! `redis` feature: started by the test, stopped when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `PING` on a Unix socket answers `+PONG`.
fn ping_unix(socket: &std::path::Path) -> bool {
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut line = String::new();
    stream.write_all(b"*1\r\n$4\r\nPING\r\n").is_ok()
        && BufReader::new(stream).read_line(&mut line).is_ok()
        && line.trim_end() == "+PONG"
}

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
        // A port probed free may be taken by another test's server before this one binds it:
        // that server then exits, and the next port is tried.
        for _ in 0..5 {
            let port = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                probe.local_addr().unwrap().port()
            };
            let dir =
                std::env::temp_dir().join(format!("wechatpay-redis-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let mut server = RedisServer {
                child: None,
                port,
                dir,
            };
            match server.spawn() {
                Err(e) => {
                    if std::env::var_os("WECHATPAY_REDIS_REQUIRED").is_some() {
                        panic!("redis-server cannot run: {e}");
                    }
                    eprintln!(
                        "SKIPPED: redis-server cannot run here ({e}); install it (Debian: redis-server)"
                    );
                    return None;
                }
                Ok(true) => return Some(server),
                Ok(false) => continue,
            }
        }
        panic!("redis-server did not start on any of 5 free ports");
    }

    /// Starts the process on this server's port and directory: `Ok(true)` once it answers PING
    /// on its own Unix socket (which no other server shares), `Ok(false)` when it exited (its
    /// port was taken).
    fn spawn(&mut self) -> std::io::Result<bool> {
        let socket = self.dir.join("redis.sock");
        let _ = std::fs::remove_file(&socket);
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(&socket)
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let started = Instant::now();
        loop {
            if ping_unix(&socket) {
                return Ok(true);
            }
            if let Some(child) = self.child.as_mut() {
                if child.try_wait()?.is_some() {
                    self.child = None;
                    return Ok(false);
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server did not answer PING on {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server and starts it again on the same port (empty, as after a crash).
    pub fn restart(&mut self) {
        self.stop();
        assert!(
            self.spawn().unwrap(),
            "redis-server did not start again on port {}",
            self.port
        );
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
