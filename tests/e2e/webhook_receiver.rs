//! A local webhook receiver for tests: records every callback and answers from a script.
//!
//! Plain `std` like [`crate::ModelServer`]: a thread per connection, HTTP/1.1, one request per
//! connection answered with `Connection: close`. Each path has its own queue of [`Reply`]s
//! (an empty queue answers 204), so one receiver serves several endpoints with different
//! behaviours. Signatures are not checked here: scenarios verify them with the independent
//! `standardwebhooks` crate, from the recorded headers and raw body.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the receiver answers one callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// This status, with an empty body.
    Status(u16),
    /// Hold the connection this long without answering, then close it.
    Hang(Duration),
}

/// One callback as received.
#[derive(Debug, Clone)]
pub struct Callback {
    /// The request path.
    pub path: String,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Callback {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a callback body is JSON")
    }
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, VecDeque<Reply>>,
    always: HashMap<String, Reply>,
    received: Vec<Callback>,
}

/// The running receiver; stops on drop.
pub struct Receiver {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Starts on a free port of 127.0.0.1.
    pub fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the webhook receiver");
        let addr = listener.local_addr().expect("receiver address");
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&state), Arc::clone(&stop));
        let accept = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let _ = serve(stream, &s);
                });
            }
        });
        Receiver {
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// The URL of `path` on this receiver, e.g. `http://127.0.0.1:PORT/ok`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queues replies for `path`, answered in order.
    pub fn script(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .entry(path.into())
            .or_default()
            .extend(replies);
    }

    /// Answers every callback to `path` with `reply` once its script is used up.
    pub fn always(&self, path: &str, reply: Reply) {
        self.state.lock().unwrap().always.insert(path.into(), reply);
    }

    /// The callbacks to `path` so far, in arrival order.
    pub fn received(&self, path: &str) -> Vec<Callback> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    /// Waits until `path` has received callbacks for which `done` holds; panics after `limit`.
    pub fn wait_for(
        &self,
        path: &str,
        limit: Duration,
        done: impl Fn(&[Callback]) -> bool,
    ) -> Vec<Callback> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.received(path);
            if done(&got) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{path}: the awaited callbacks did not arrive within {limit:?}; got {} types {:?}",
                got.len(),
                got.iter()
                    .map(|c| c.json()["type"].clone())
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut start = String::new();
    if reader.read_line(&mut start)? == 0 {
        return Ok(()); // the wake-up connection
    }
    let path = start
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v): &(String, String)| v.clone())
    };
    let body = if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end)?;
                break body;
            }
            let at = body.len();
            body.resize(at + n, 0);
            reader.read_exact(&mut body[at..])?;
            let mut crlf = String::new();
            reader.read_line(&mut crlf)?;
        }
    } else {
        let n: usize = find("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; n.min(1024 * 1024)];
        reader.read_exact(&mut body)?;
        body
    };
    let reply = {
        let mut s = state.lock().unwrap();
        s.received.push(Callback {
            path: path.clone(),
            headers,
            body,
        });
        let scripted = s.scripts.get_mut(&path).and_then(VecDeque::pop_front);
        scripted
            .or_else(|| s.always.get(&path).cloned())
            .unwrap_or(Reply::Status(204))
    };
    match reply {
        Reply::Hang(d) => {
            std::thread::sleep(d);
            return Ok(());
        }
        Reply::Status(status) => {
            write!(
                out,
                "HTTP/1.1 {status} Status\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )?;
            out.flush()?;
        }
    }
    out.shutdown(Shutdown::Write)?;
    out.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut sink = [0u8; 1024];
    while matches!(reader.read(&mut sink), Ok(n) if n > 0) {}
    Ok(())
}
