//! A child's output, kept within a bound: the first and the last [`KEEP`] bytes of a stream, and
//! how many bytes in between were cut. A test that prints 300 MB costs 2 MiB of memory, and the
//! message a failure quotes (its last lines) is still there.

use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};

/// Bytes kept from each end of a stream.
pub const KEEP: usize = 1 << 20;

/// One stream being read: its head, a ring of its tail, its length so far.
#[derive(Debug)]
pub(crate) struct Capture {
    keep: usize,
    head: Vec<u8>,
    tail: Vec<u8>,
    /// Where the next byte goes in `tail` once the ring is full.
    next: usize,
    total: u64,
}

impl Capture {
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            keep,
            head: Vec::new(),
            tail: Vec::new(),
            next: 0,
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let room = self.keep - self.head.len();
        let into_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        if bytes.len() >= self.keep {
            bytes = &bytes[bytes.len() - self.keep..];
            self.tail.clear();
            self.tail.extend_from_slice(bytes);
            self.next = 0;
            return;
        }
        let fill = (self.keep - self.tail.len()).min(bytes.len());
        self.tail.extend_from_slice(&bytes[..fill]);
        bytes = &bytes[fill..];
        while !bytes.is_empty() {
            let n = (self.keep - self.next).min(bytes.len());
            self.tail[self.next..self.next + n].copy_from_slice(&bytes[..n]);
            self.next = (self.next + n) % self.keep;
            bytes = &bytes[n..];
        }
    }

    /// How many bytes were not kept.
    pub(crate) fn cut(&self) -> u64 {
        self.total - (self.head.len() + self.tail.len()) as u64
    }

    /// The kept bytes, with a line saying how much was cut between head and tail.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut out = self.head.clone();
        let cut = self.cut();
        if cut > 0 {
            out.extend_from_slice(format!("\n[lastmile: {cut} bytes of output cut here]\n").as_bytes());
        }
        out.extend_from_slice(&self.tail[self.next..]);
        out.extend_from_slice(&self.tail[..self.next]);
        out
    }
}

/// Read `pipe` to its end into a shared [`Capture`] on a thread of its own; the capture can be
/// taken before the end when a process outside the child's tree holds the pipe open.
pub(crate) fn spawn_reader(mut pipe: impl Read + Send + 'static, keep: usize) -> Reader {
    let capture = Arc::new(Mutex::new(Capture::new(keep)));
    let (done, finished) = std::sync::mpsc::channel();
    let shared = Arc::clone(&capture);
    std::thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            match pipe.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => shared
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(&buffer[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
    Reader { capture, finished }
}

/// A stream being read by [`spawn_reader`].
pub(crate) struct Reader {
    capture: Arc<Mutex<Capture>>,
    finished: std::sync::mpsc::Receiver<()>,
}

impl Reader {
    /// Wait for the end of the stream for at most `grace`; the bytes kept, and whether the end
    /// was reached.
    pub(crate) fn finish(self, grace: std::time::Duration) -> (Vec<u8>, bool) {
        let ended = self.finished.recv_timeout(grace).is_ok();
        let capture = self.capture.lock().unwrap_or_else(PoisonError::into_inner);
        (capture.bytes(), ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut capture = Capture::new(8);
        capture.push(b"hello ");
        capture.push(b"world");
        assert_eq!(capture.bytes(), b"hello world");
        assert_eq!(capture.cut(), 0);
    }

    #[test]
    fn long_output_keeps_head_and_tail_and_says_how_much_was_cut() {
        for chunk in [1, 3, 7, 100] {
            let mut capture = Capture::new(4);
            let text: Vec<u8> = (b'a'..=b'z').collect();
            for piece in text.chunks(chunk) {
                capture.push(piece);
            }
            assert_eq!(capture.total, 26);
            assert_eq!(
                String::from_utf8(capture.bytes()).unwrap(),
                "abcd\n[lastmile: 18 bytes of output cut here]\nwxyz",
                "chunks of {chunk}"
            );
        }
    }
}
