//! Local receivers for what FlowPilot sends out: a webhook sink (any POST, kept with its
//! headers and raw body) and an SMTP sink speaking just enough SMTP (EHLO/HELO, MAIL, RCPT,
//! DATA, RSET, NOOP, QUIT; no TLS, no AUTH) to take a message from a real client. Either can
//! be "down": the webhook sink then answers 503, the SMTP sink greets with 421 and hangs up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One POST the webhook sink took.
#[derive(Debug, Clone)]
pub struct Posted {
    pub headers: HeaderMap,
    pub raw: Vec<u8>,
    pub body: Value,
}

impl Posted {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(String::from)
    }

    pub fn event(&self) -> Option<String> {
        self.header("x-flowpilot-event")
    }
}

#[derive(Clone, Default)]
pub struct WebhookSink {
    pub base: String,
    down: Arc<AtomicBool>,
    /// Every POST, answered or refused: `(path, posted, accepted)`.
    seen: Arc<Mutex<Vec<(String, Posted, bool)>>>,
}

impl WebhookSink {
    pub async fn start() -> WebhookSink {
        let sink = WebhookSink::default();
        let kept = sink.clone();
        let app = axum::Router::new().route(
            "/{*path}",
            axum::routing::post(
                move |axum::extract::Path(path): axum::extract::Path<String>,
                      headers: HeaderMap,
                      raw: Bytes| {
                    let sink = kept.clone();
                    async move {
                        let up = !sink.down.load(Ordering::SeqCst);
                        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
                        sink.seen.lock().unwrap().push((
                            format!("/{path}"),
                            Posted {
                                headers,
                                raw: raw.to_vec(),
                                body,
                            },
                            up,
                        ));
                        if up {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        }
                    }
                },
            ),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        WebhookSink { base, ..sink }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The POSTs to `path` that were accepted.
    pub fn accepted(&self, path: &str) -> Vec<Posted> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, ok)| p == path && *ok)
            .map(|(_, posted, _)| posted.clone())
            .collect()
    }

    /// Every POST to `path`, refused ones included.
    pub fn tried(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _, _)| p == path)
            .count()
    }
}

/// One message the SMTP sink took.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent (dot-stuffing undone).
    pub data: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let prefix = format!("{}:", name.to_lowercase());
        head.lines()
            .find(|l| l.to_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    }

    /// The body, quoted-printable soft breaks and `=XX` undone.
    pub fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let qp = self
            .header("content-transfer-encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"));
        if !qp {
            return body.to_string();
        }
        let joined = body.replace("=\r\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() {
                if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub port: u16,
    down: Arc<AtomicBool>,
    mails: Arc<Mutex<Vec<Mail>>>,
    refused: Arc<Mutex<usize>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            port: listener.local_addr().unwrap().port(),
            ..SmtpSink::default()
        };
        let kept = sink.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let sink = kept.clone();
                tokio::spawn(async move { sink.session(conn).await });
            }
        });
        sink
    }

    /// `FLOWPILOT_SMTP_URL` for this sink: plain SMTP, no STARTTLS.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn refused(&self) -> usize {
        *self.refused.lock().unwrap()
    }

    /// The messages sent to `address`.
    pub fn to(&self, address: &str) -> Vec<Mail> {
        self.mails()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    async fn session(&self, conn: tokio::net::TcpStream) {
        let (read, mut write) = conn.into_split();
        let mut lines = BufReader::new(read);
        if self.down.load(Ordering::SeqCst) {
            *self.refused.lock().unwrap() += 1;
            let _ = write.write_all(b"421 sink busy, try later\r\n").await;
            return;
        }
        let _ = write.write_all(b"220 sink ESMTP\r\n").await;
        let (mut from, mut to) = (String::new(), Vec::new());
        loop {
            let mut line = String::new();
            match lines.read_line(&mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let upper = line.trim_end().to_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
                b"250 ok\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                from = address(&line);
                b"250 ok\r\n"
            } else if upper.starts_with("RCPT TO:") {
                to.push(address(&line));
                b"250 ok\r\n"
            } else if upper.starts_with("RSET") {
                from.clear();
                to.clear();
                b"250 ok\r\n"
            } else if upper == "DATA" {
                let _ = write.write_all(b"354 end with .\r\n").await;
                let mut data = String::new();
                loop {
                    let mut l = String::new();
                    match lines.read_line(&mut l).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if l == ".\r\n" || l == ".\n" {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                }
                self.mails.lock().unwrap().push(Mail {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                });
                b"250 queued\r\n"
            } else if upper.starts_with("QUIT") {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"502 not here\r\n"
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }
}

fn address(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.find('>').unwrap_or(line.len());
    line[start..end].trim().to_string()
}

/// Waits up to 30 s for `done`.
pub async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
