//! A small HTTP/1.1 file server on 127.0.0.1 for the fetch tests, with injectable faults.
//! One request per connection (`Connection: close`); it stops when dropped.

use std::{
    collections::{HashMap, VecDeque},
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    thread,
};

/// What the server does to one request of a path.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status (and `Retry-After` seconds), no body.
    Status(u16, Option<u64>),
    /// Promise the whole body, send this many bytes of it, then close.
    DropAfter(usize),
    /// Answer 200 with the whole body even when a Range was asked for.
    IgnoreRange,
    /// Serve these bytes instead of the file.
    WrongBytes(Vec<u8>),
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    faults: HashMap<String, VecDeque<Fault>>,
    /// Every fault in this list applies to every request of the path.
    persistent: HashMap<String, Fault>,
    log: Vec<String>,
}

pub struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (state2, stop2) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok(stream) = stream {
                    let state = state2.clone();
                    thread::spawn(move || serve(stream, &state));
                }
            }
        });
        Server { base, state, stop }
    }

    pub fn file(&self, path: &str, bytes: &[u8]) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(path.into(), bytes.to_vec());
    }

    pub fn fault(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .entry(path.into())
            .or_default()
            .push_back(fault);
    }

    pub fn always(&self, path: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .persistent
            .insert(path.into(), fault);
    }

    /// Requests seen, as `PATH range=...`.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.base.trim_start_matches("http://"));
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range_start: Option<usize> = None;
    let mut auth = String::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if lower.starts_with("authorization:") {
            auth = format!(" auth={}", header.trim()["authorization:".len()..].trim());
        }
        if let Some(value) = lower.strip_prefix("range: bytes=") {
            range_start = value.trim().trim_end_matches('-').parse().ok();
        }
    }
    let (body, fault) = {
        let mut s = state.lock().unwrap();
        s.log.push(format!("{path} range={range_start:?}{auth}"));
        let fault = s
            .faults
            .get_mut(&path)
            .and_then(|q| q.pop_front())
            .or_else(|| s.persistent.get(&path).cloned());
        (s.files.get(&path).cloned(), fault)
    };
    let Some(mut body) = body else {
        let _ = stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    };
    let mut honour_range = true;
    let mut send_only: Option<usize> = None;
    match fault {
        Some(Fault::Status(code, retry_after)) => {
            let retry = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            let _ = write!(
                stream,
                "HTTP/1.1 {code} Fault\r\n{retry}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        Some(Fault::DropAfter(n)) => send_only = Some(n),
        Some(Fault::IgnoreRange) => honour_range = false,
        Some(Fault::WrongBytes(bytes)) => body = bytes,
        None => {}
    }
    let total = body.len();
    let etag = format!("\"{}\"", earlyberts_format::sha256_hex(&body));
    let (status, start) = match range_start {
        Some(start) if honour_range && start < total => ("206 Partial Content", start),
        _ => ("200 OK", 0),
    };
    let content = &body[start..];
    let range = if start > 0 {
        format!("Content-Range: bytes {start}-{}/{total}\r\n", total - 1)
    } else {
        String::new()
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nETag: {etag}\r\n{range}Connection: close\r\n\r\n",
        content.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let n = send_only.unwrap_or(content.len()).min(content.len());
    let _ = stream.write_all(&content[..n]);
    let _ = stream.flush();
}
