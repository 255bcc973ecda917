//! A tiny HTTP/1.1 server on 127.0.0.1 whose every answer a test decides:
//! respond, close the connection without answering, or never answer. It
//! records every request it reads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Method, e.g. `POST`.
    pub method: String,
    /// Path and query, e.g. `/v1/calls?limit=5`.
    pub target: String,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The value of query parameter `name`.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| v.replace("%3A", ":").replace("%2B", "+"))
        })
    }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Action {
    /// Answer with a status, extra headers and a JSON body.
    Respond(u16, Vec<(&'static str, String)>, String),
    /// Close the connection without answering (after reading the request).
    Close,
    /// Never answer (keep the connection open).
    Hang,
}

impl Action {
    /// A JSON response with `x-request-id: req_<n>`.
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Action::Respond(status, Vec::new(), body.to_string())
    }
    /// A JSON response with extra headers.
    pub fn json_with(
        status: u16,
        headers: &[(&'static str, &str)],
        body: serde_json::Value,
    ) -> Self {
        Action::Respond(
            status,
            headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            body.to_string(),
        )
    }
}

type Handler = dyn Fn(usize, &Recorded) -> Action + Send + Sync;

/// The server. Dropping it stops accepting.
pub struct ScriptedServer {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl Drop for ScriptedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ScriptedServer {
    /// Answers request `n` (0-based, across connections) with `handler(n, request)`.
    pub async fn start(
        handler: impl Fn(usize, &Recorded) -> Action + Send + Sync + 'static,
    ) -> Self {
        Self::start_with(true, handler).await
    }

    /// Like [`ScriptedServer::start`]; with `record` false nothing is kept
    /// (for load, where a growing record would skew the measurement).
    pub async fn start_with(
        record: bool,
        handler: impl Fn(usize, &Recorded) -> Action + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let log = Arc::new(Log {
            record,
            count: AtomicUsize::new(0),
            requests: requests.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, handler.clone(), log.clone()));
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    /// Answers the requests in order with `script`; past its end, with the last action.
    pub async fn script(script: Vec<Action>) -> Self {
        Self::start(move |n, _| script[n.min(script.len() - 1)].clone()).await
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request read so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests").clone()
    }
}

struct Log {
    record: bool,
    count: AtomicUsize,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

async fn serve(mut stream: TcpStream, handler: Arc<Handler>, log: Arc<Log>) {
    let _ = stream.set_nodelay(true);
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut stream, &mut buffer).await else {
            return;
        };
        let n = log.count.fetch_add(1, Ordering::SeqCst);
        if log.record {
            log.requests.lock().expect("requests").push(request.clone());
        }
        match handler(n, &request) {
            Action::Respond(status, headers, body) => {
                let mut response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nx-request-id: req_{n}\r\n",
                    body.len()
                );
                if !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                {
                    response.push_str("content-type: application/json\r\n");
                }
                for (k, v) in headers {
                    response.push_str(&format!("{k}: {v}\r\n"));
                }
                response.push_str("\r\n");
                response.push_str(&body);
                // One write: a head and a body sent apart meet Nagle and delayed ACKs.
                if stream.write_all(response.as_bytes()).await.is_err() {
                    return;
                }
            }
            Action::Close => return,
            Action::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
        }
    }
}

/// Reads one request (head and `Content-Length` body) from `stream`, with
/// `buffer` holding what was read past the previous one; `None` once the
/// client closed the connection.
pub async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Recorded> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(Recorded {
        method,
        target,
        headers,
        body,
    })
}
