//! A fake provider that streams: it answers each request with server-sent events written
//! by hand onto the socket, a pause between each, and either ends the body properly or drops
//! the connection mid-stream, the way a crashing or restarted model server does. Raw TCP
//! rather than axum, so a test controls exactly where the bytes stop.
//!
//! Shared with the server's stories (included there with `#[path]`), so it uses only
//! serde_json and tokio.
#![allow(dead_code)] // each test binary uses its own part

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How a streamed answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The body ends properly after the last event.
    Complete,
    /// The connection is dropped after the first `n` events, the body unfinished.
    DropAfter(usize),
}

/// One streamed answer: the events (each a whole `event:`/`data:` block without its blank
/// line), the pause before each, and how it ends.
#[derive(Debug, Clone)]
pub struct Stream {
    pub events: Vec<String>,
    pub pause: Duration,
    pub ending: Ending,
}

impl Stream {
    pub fn new(events: Vec<String>, pause: Duration) -> Self {
        Self {
            events,
            pause,
            ending: Ending::Complete,
        }
    }

    pub fn dropped_after(mut self, events: usize) -> Self {
        self.ending = Ending::DropAfter(events);
        self
    }
}

/// What the fake answers one request with.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Server-sent events.
    Stream(Stream),
    /// A whole JSON body, for a request that did not ask to stream.
    Whole(Value),
}

/// How each request is answered, made from its JSON body (for a step that must follow the
/// request's schema, or a whole answer where the request did not ask to stream).
pub type Planner = Arc<dyn Fn(&Value) -> Reply + Send + Sync>;

pub struct StreamingServer {
    pub base_url: String,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl StreamingServer {
    /// Answers the requests with `streams` in order; once they run out, the last repeats.
    pub async fn start(streams: Vec<Stream>) -> Self {
        let queue = Arc::new(Mutex::new(VecDeque::from(streams)));
        Self::planned(Arc::new(move |_body: &Value| {
            let mut queue = queue.lock().expect("stream queue");
            let stream = if queue.len() > 1 {
                queue.pop_front().expect("a stream")
            } else {
                queue.front().cloned().expect("at least one stream")
            };
            Reply::Stream(stream)
        }))
        .await
    }

    /// Answers each request with what `plan` makes of its JSON body.
    pub async fn planned(plan: Planner) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the streaming fake");
        let addr = listener.local_addr().expect("fake address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let plan = plan.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, plan, recorded).await;
                });
            }
        });
        Self {
            base_url: format!("http://{addr}"),
            seen,
        }
    }

    /// The JSON bodies of the requests received, in order.
    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().expect("seen lock").clone()
    }
}

async fn serve(
    mut socket: TcpStream,
    plan: Planner,
    seen: Arc<Mutex<Vec<Value>>>,
) -> std::io::Result<()> {
    let body = read_request(&mut socket).await?;
    seen.lock().expect("seen lock").push(body.clone());
    let stream = match plan(&body) {
        Reply::Stream(stream) => stream,
        Reply::Whole(json) => {
            let text = json.to_string();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n",
                text.len()
            );
            socket.write_all(head.as_bytes()).await?;
            socket.write_all(text.as_bytes()).await?;
            return socket.shutdown().await;
        }
    };
    socket
        .write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
              transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        )
        .await?;
    for (i, event) in stream.events.iter().enumerate() {
        if stream.ending == Ending::DropAfter(i) {
            // Gone without the chunked body's last chunk: the client sees a broken body.
            return socket.shutdown().await;
        }
        tokio::time::sleep(stream.pause).await;
        let block = format!("{event}\n\n");
        socket
            .write_all(format!("{:x}\r\n{block}\r\n", block.len()).as_bytes())
            .await?;
        socket.flush().await?;
    }
    if let Ending::DropAfter(_) = stream.ending {
        return socket.shutdown().await;
    }
    socket.write_all(b"0\r\n\r\n").await?;
    socket.shutdown().await
}

/// Reads one HTTP request and answers its body as JSON (`Null` when it is not).
async fn read_request(socket: &mut TcpStream) -> std::io::Result<Value> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Ok(Value::Null);
        }
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buffer.len() < end + 4 + length {
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        let body = &buffer[end + 4..(end + 4 + length).min(buffer.len())];
        return Ok(serde_json::from_slice(body).unwrap_or(Value::Null));
    }
}

/// `text` cut into `pieces` parts of about equal length, on character boundaries.
pub fn split(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(pieces.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// An OpenAI-compatible stream of `text` in `pieces` deltas, then the usage and `[DONE]`.
pub fn openai_events(text: &str, pieces: usize, usage: (i64, i64)) -> Vec<String> {
    let mut events = vec![format!(
        "data: {}",
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "stream-model",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]})
    )];
    for piece in split(text, pieces) {
        events.push(format!(
            "data: {}",
            json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "stream-model",
                   "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]})
        ));
    }
    events.push(format!(
        "data: {}",
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "stream-model",
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    ));
    events.push(format!(
        "data: {}",
        json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "model": "stream-model",
               "choices": [], "usage": {"prompt_tokens": usage.0, "completion_tokens": usage.1,
                                        "total_tokens": usage.0 + usage.1}})
    ));
    events.push("data: [DONE]".to_string());
    events
}

/// An Anthropic Messages stream whose forced tool `tool` gets `json` in `pieces` partial
/// JSON deltas, with a ping in between, then the stop reason, usage and `message_stop`.
pub fn anthropic_events(
    tool: &str,
    json_text: &str,
    pieces: usize,
    usage: (i64, i64),
) -> Vec<String> {
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}");
    let mut events = vec![
        event(
            "message_start",
            json!({"type": "message_start", "message": {
            "id": "msg_s", "type": "message", "role": "assistant", "model": "claude-stream",
            "content": [], "stop_reason": null,
            "usage": {"input_tokens": usage.0, "output_tokens": 1}}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_s", "name": tool, "input": {}}}),
        ),
        event("ping", json!({"type": "ping"})),
    ];
    for piece in split(json_text, pieces) {
        events.push(event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": piece}}),
        ));
    }
    events.push(event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(event(
        "message_delta",
        json!({"type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": null},
        "usage": {"output_tokens": usage.1}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    events
}

/// A Gemini `streamGenerateContent?alt=sse` stream of `text` in `pieces` chunks, the last
/// with the finish reason and the usage (Gemini sends no end marker).
pub fn gemini_events(text: &str, pieces: usize, usage: (i64, i64)) -> Vec<String> {
    let parts = split(text, pieces);
    let last = parts.len().saturating_sub(1);
    parts
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut chunk = json!({
                "candidates": [{"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}],
                "modelVersion": "gemini-stream"
            });
            if i == last {
                chunk["candidates"][0]["finishReason"] = json!("STOP");
                chunk["usageMetadata"] =
                    json!({"promptTokenCount": usage.0, "candidatesTokenCount": usage.1});
            }
            format!("data: {chunk}")
        })
        .collect()
}
