//! Server-sent events as the streaming providers send them: lines of `field: value`, an
//! event ending at a blank line. A parser of our own rather than a crate: the part of the
//! format providers use is a few lines, and reading a reqwest body chunk by chunk needs no
//! stream adapter (docs/decisions.md, "Streaming").

/// One dispatched event: its `event:` name (none for plain `data:` events) and its data
/// lines joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Turns the bytes of a body, in whatever pieces they arrive, into events. Bytes are kept
/// until a line ends, so a chunk boundary inside a multi-byte character or a line is harmless.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
    has_data: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next piece of the body; answers the events it completed.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = self.pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(event) = self.line(&String::from_utf8_lossy(&line)) {
                events.push(event);
            }
        }
        events
    }

    /// The event still open when the body ended without its blank line, if it has data.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            if let Some(event) = self.line(&String::from_utf8_lossy(&rest)) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None; // a comment: keep-alive pings
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                self.data.push(value.to_string());
                self.has_data = true;
            }
            _ => {} // id, retry: nothing a provider reply needs
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(SseEvent {
            event,
            data: std::mem::take(&mut self.data).join("\n"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut events: Vec<SseEvent> = chunks.iter().flat_map(|c| decoder.push(c)).collect();
        events.extend(decoder.finish());
        events
    }

    #[test]
    fn reads_named_and_plain_events() {
        let body = b"event: message_start\ndata: {\"a\":1}\n\n: ping\n\ndata: [DONE]\n\n";
        let events = all(&[body]);
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: Some("message_start".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "[DONE]".into()
                },
            ]
        );
    }

    #[test]
    fn chunk_boundaries_anywhere_give_the_same_events() {
        let body =
            "data: {\"t\":\"caf\u{e9} \u{1f600}\"}\r\n\r\nevent: x\r\ndata: a\r\ndata: b\r\n\r\n";
        let whole = all(&[body.as_bytes()]);
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0].data, "{\"t\":\"caf\u{e9} \u{1f600}\"}");
        assert_eq!(whole[1].data, "a\nb");
        let bytes = body.as_bytes();
        for split in 1..bytes.len() {
            assert_eq!(
                all(&[&bytes[..split], &bytes[split..]]),
                whole,
                "split {split}"
            );
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(all(&singles), whole);
    }

    #[test]
    fn an_event_without_its_blank_line_is_still_read_at_the_end() {
        assert_eq!(all(&[b"data: last"]).len(), 1);
        assert!(all(&[b"event: ping\n\n"]).is_empty());
    }
}
