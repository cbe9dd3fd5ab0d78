//! Unpacking a sitemap's raw body into XML bytes: gunzipped when it starts with the gzip
//! magic (whatever the name or content type say), a kilobyte at a time, and cut at the size
//! cap, so a gzip bomb stops there.

use std::{
    fmt::Display,
    io::{self, Write},
    mem,
};

use bytes::Bytes;
use flate2::write::MultiGzDecoder;
use futures::{Stream, StreamExt};

/// The first two bytes of every gzip stream.
pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Compressed bytes inflated at a time. Deflate expands at most about 1032 to 1, so one step
/// yields at most about a megabyte, however well a hostile file compresses.
const INFLATE_STEP: usize = 1024;

/// The XML bytes of a raw body: unpacked a step at a time, ending with an error that says
/// why when the body fails, the gzip data is damaged, or the size cap is reached.
pub(super) struct Unpacked<S> {
    body: S,
    unpacker: Unpacker,
    /// Raw bytes received but not unpacked yet.
    pending: Bytes,
    body_ended: bool,
    done: bool,
}

impl<S, E> Unpacked<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    /// The XML bytes of `body`, at most `max_bytes` of them.
    pub(super) fn new(body: S, max_bytes: usize) -> Self {
        Self {
            body,
            unpacker: Unpacker::new(max_bytes),
            pending: Bytes::new(),
            body_ended: false,
            done: false,
        }
    }

    /// The next XML bytes, an error that says why the body cannot go on, or `None` at the end.
    pub(super) async fn next(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            if self.done {
                return None;
            }
            if self.unpacker.capped {
                let cap = self.unpacker.max_bytes;
                return self.fail(format!(
                    "larger than {cap} bytes uncompressed; stopped reading there"
                ));
            }
            if self.pending.is_empty() {
                if self.body_ended {
                    self.done = true;
                    return None;
                }
                match self.body.next().await {
                    Some(Ok(chunk)) => self.pending = chunk,
                    Some(Err(e)) => return self.fail(format!("reading the body failed: {e}")),
                    None => {
                        self.body_ended = true;
                        match self.unpacker.finish() {
                            Ok(rest) if !rest.is_empty() => return Some(Ok(rest)),
                            Ok(_) => {}
                            Err(e) => return self.fail(e),
                        }
                    }
                }
                continue;
            }
            let step = self.unpacker.step().min(self.pending.len());
            match self.unpacker.unpack(self.pending.split_to(step)) {
                Ok(xml) if xml.is_empty() => {}
                Ok(xml) => return Some(Ok(xml)),
                Err(e) => return self.fail(e),
            }
        }
    }

    fn fail(&mut self, why: impl Display) -> Option<io::Result<Bytes>> {
        self.done = true;
        Some(Err(io::Error::other(why.to_string())))
    }
}

/// Turns raw body bytes into XML bytes: gunzips when the body starts with the gzip magic, and
/// cuts the output at the size cap.
struct Unpacker {
    format: Format,
    max_bytes: usize,
    produced: usize,
    /// The output reached the cap and more was coming.
    capped: bool,
}

enum Format {
    /// Fewer than two bytes seen: gzip or not is still open.
    Undecided(Vec<u8>),
    Plain,
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
}

impl Unpacker {
    fn new(max_bytes: usize) -> Self {
        Self {
            format: Format::Undecided(Vec::with_capacity(2)),
            max_bytes,
            produced: 0,
            capped: false,
        }
    }

    /// Most raw bytes to pass to one [`Self::unpack`] call.
    fn step(&self) -> usize {
        match self.format {
            Format::Plain => usize::MAX,
            Format::Undecided(_) | Format::Gzip(_) => INFLATE_STEP,
        }
    }

    /// Unpacks the next raw bytes; may return nothing while it waits for more.
    fn unpack(&mut self, input: Bytes) -> io::Result<Bytes> {
        let output = match &mut self.format {
            Format::Undecided(head) => {
                head.extend_from_slice(&input);
                if head.len() < GZIP_MAGIC.len() {
                    return Ok(Bytes::new());
                }
                let head = Bytes::from(mem::take(head));
                if head.starts_with(&GZIP_MAGIC) {
                    self.format = Format::Gzip(Box::new(MultiGzDecoder::new(Vec::new())));
                    return self.unpack(head);
                }
                self.format = Format::Plain;
                head
            }
            Format::Plain => input,
            Format::Gzip(gzip) => {
                gzip.write_all(&input)
                    .and_then(|()| gzip.flush())
                    .map_err(|e| damaged_gzip(&e))?;
                Bytes::from(mem::take(gzip.get_mut()))
            }
        };
        Ok(self.capped(output))
    }

    /// Returns what is left once the raw body has ended.
    fn finish(&mut self) -> io::Result<Bytes> {
        let output = match mem::replace(&mut self.format, Format::Plain) {
            Format::Undecided(head) => Bytes::from(head),
            Format::Plain => Bytes::new(),
            Format::Gzip(mut gzip) => {
                gzip.try_finish().map_err(|e| damaged_gzip(&e))?;
                Bytes::from(mem::take(gzip.get_mut()))
            }
        };
        Ok(self.capped(output))
    }

    fn capped(&mut self, mut output: Bytes) -> Bytes {
        let room = self.max_bytes.saturating_sub(self.produced);
        if output.len() > room {
            output.truncate(room);
            self.capped = true;
        }
        self.produced += output.len();
        output
    }
}

fn damaged_gzip(error: &io::Error) -> io::Error {
    io::Error::other(format!("the gzip data is damaged or cut short ({error})"))
}
