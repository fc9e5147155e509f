//! A minimal Lambda Runtime API server on loopback, for the runtime test and the benchmark.
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};

/// A request as the server saw it.
#[derive(Debug)]
pub struct Request {
    /// HTTP method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Request headers, names in lower case.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_string(), parts.next()?.to_string());
    let (mut length, mut chunked) = (0usize, false);
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    stream.flush().unwrap();
}

pub type Events = Arc<Mutex<std::vec::IntoIter<(String, Vec<u8>)>>>;

/// Serves `events` one per `/next`, reports every `/response` and `/error` on `seen`, and
/// leaves the `/next` after the last event unanswered (the runtime then waits, as in Lambda).
pub fn serve(listener: TcpListener, events: Events, seen: mpsc::Sender<Request>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let (events, seen) = (events.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut writer = stream.try_clone().unwrap();
            let mut reader = BufReader::new(stream);
            while let Some(req) = read_request(&mut reader) {
                if !req.path.ends_with("/runtime/invocation/next") {
                    // Report before answering: the runtime's next request may come on another
                    // connection as soon as it has the answer, and must be seen after this one.
                    let _ = seen.send(req);
                    respond(
                        &mut writer,
                        "202 Accepted",
                        &[("Content-Type", "application/json")],
                        b"{\"status\":\"OK\"}",
                    );
                    continue;
                }
                let next = events.lock().unwrap().next();
                let Some((id, body)) = next else {
                    let _ = seen.send(req);
                    return;
                };
                let invocation_id = format!("inv-{id}");
                let headers = [
                    ("Lambda-Runtime-Aws-Request-Id", id.as_str()),
                    ("Lambda-Runtime-Invocation-Id", invocation_id.as_str()),
                    ("Lambda-Runtime-Deadline-Ms", "4102444800000"),
                    (
                        "Lambda-Runtime-Invoked-Function-Arn",
                        "arn:aws:lambda:eu-west-1:123456789012:function:transform",
                    ),
                    ("Lambda-Runtime-Trace-Id", "Root=1-5759e988-bd862e3fe1be46a994272793"),
                    ("Content-Type", "application/json"),
                ];
                respond(&mut writer, "200 OK", &headers, &body);
            }
        });
    }
}

/// Starts a server that hands out `events` (request id, body) and returns its address and
/// the channel of everything the runtime sent back.
pub fn start(events: Vec<(String, Vec<u8>)>) -> (SocketAddr, mpsc::Receiver<Request>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let events: Events = Arc::new(Mutex::new(events.into_iter()));
    std::thread::spawn(move || serve(listener, events, tx));
    (addr, rx)
}

/// Starts the Lambda binary `exe` against the server at `addr`, with the variables Lambda sets.
pub fn spawn_lambda(exe: &str, addr: SocketAddr) -> Child {
    Command::new(exe)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "eventlake-transform")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]abc")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/eventlake-transform")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Lambda binary")
}
