//! gzip in pieces cut where the content says, each its own gzip member, compressed side by side
//! at a fixed level: the bytes depend neither on how many threads there are nor on where in the
//! archive a run of entries happens to fall, so the pieces of what did not change are the same
//! pieces in the next image and can be copied from it ([`Earlier`]) instead of compressed again.
//!
//! Where a piece ends: before an entry of at least [`ParallelGz::BIG`] bytes (so the cuts inside a
//! big file fall every [`ParallelGz::PIECE`] from its own start), before an entry whose path
//! hashes to a cut once the piece holds at least [`ParallelGz::MIN`], and wherever the piece
//! reaches [`ParallelGz::PIECE`]. A change moves the bytes after it, but the cuts come back into
//! step at the first path-chosen cut after it: everything from there on is the same pieces.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use lastmile_fs::Sha256;

use super::content::{Content, Contents};
use super::piece::Piece;
use super::reuse::{Earlier, PieceRecord};

/// A piece handed to a worker: its place in the archive, its key and its bytes.
type Job = (u64, Sha256, Vec<u8>);

/// A piece as written: its gzip member, and whether it was copied from an earlier image.
struct Done {
    member: Vec<u8>,
    key: Sha256,
    reused: bool,
}

/// How the pieces were made.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PieceStats {
    pub(crate) pieces: u64,
    /// Copied from an earlier image instead of compressed.
    pub(crate) reused: u64,
    /// Bytes of the archive (before compression) in the copied pieces.
    pub(crate) reused_bytes: u64,
}

/// gzip compression in content-cut pieces, each compressed (or found in an earlier image) by a
/// pool of worker threads while the caller keeps reading and archiving, and written in order:
/// the reading, compressing and writing overlap, and the bytes are the same for any number of
/// workers and whether or not earlier images were at hand.
pub(crate) struct ParallelGz<W: Write> {
    out: W,
    current: Piece,
    earlier: Option<Arc<Earlier>>,
    contents: Contents,
    jobs: Option<mpsc::SyncSender<Job>>,
    results: mpsc::Receiver<(u64, io::Result<Done>)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    sent: u64,
    written: u64,
    /// Where the next member starts in the output.
    offset: u64,
    ready: BTreeMap<u64, Done>,
    records: Vec<PieceRecord>,
    stats: PieceStats,
}

impl<W: Write> ParallelGz<W> {
    /// The largest piece: part of the format, so it never changes with the machine.
    pub(crate) const PIECE: usize = 1 << 20;
    /// The smallest piece a path-chosen cut ends.
    pub(crate) const MIN: usize = 256 << 10;
    /// An entry this big starts a piece of its own.
    pub(crate) const BIG: usize = 256 << 10;
    /// One path in this many is a cut (once the piece holds [`Self::MIN`]): pieces of about
    /// 0.5 MiB on a tree of small files.
    const ONE_IN: u8 = 16;

    /// One worker per core.
    pub(crate) fn new(out: W, level: u32, earlier: Option<Arc<Earlier>>) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_workers(out, level, threads, earlier)
    }

    pub(crate) fn with_workers(out: W, level: u32, workers: usize, earlier: Option<Arc<Earlier>>) -> Self {
        let workers = workers.max(1);
        // Pieces queued for the workers: enough to keep them busy, few enough to bound memory
        // (a few MiB per worker whatever the archive size).
        let (jobs, queue) = mpsc::sync_channel::<Job>(2 * workers);
        let (done, results) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let handles = (0..workers)
            .map(|_| {
                let queue = Arc::clone(&queue);
                let done = done.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        let Ok(Ok((index, key, piece))) = job else { break };
                        let member = compress_piece(&piece, level).map(|member| Done {
                            member,
                            key,
                            reused: false,
                        });
                        if done.send((index, member)).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Self {
            out,
            current: Piece::default(),
            earlier,
            contents: Contents::default(),
            jobs: Some(jobs),
            results,
            workers: handles,
            sent: 0,
            written: 0,
            offset: 0,
            ready: BTreeMap::new(),
            records: Vec::new(),
            stats: PieceStats::default(),
        }
    }

    /// An entry of `size` bytes at `path` comes next: end the piece here if the content says so.
    pub(crate) fn entry(&mut self, path: &Path, size: u64) -> io::Result<()> {
        if self.current.is_empty() {
            return Ok(());
        }
        if size >= Self::BIG as u64 || (self.current.len() >= Self::MIN && is_cut(path)) {
            self.send_current()?;
        }
        Ok(())
    }

    /// The piece is whole: copied from an earlier image that holds it (nothing of it read), else
    /// read and handed to the workers to compress.
    fn send_current(&mut self) -> io::Result<()> {
        let piece = std::mem::take(&mut self.current);
        let key = piece.key();
        let copied = self
            .earlier
            .as_deref()
            .and_then(|earlier| earlier.member(&key, piece.len()));
        if let Some(member) = copied {
            let done = Done {
                member,
                key,
                reused: true,
            };
            self.ready.insert(self.sent, done);
        } else {
            let bytes = piece.bytes(&mut self.contents)?;
            let jobs = self.jobs.as_ref().expect("not finished");
            jobs.send((self.sent, key, bytes))
                .map_err(|_| io::Error::other("a compression worker stopped"))?;
        }
        self.sent += 1;
        while let Ok(result) = self.results.try_recv() {
            self.take(result)?;
        }
        self.write_ready()
    }

    /// Keep a finished piece and write every piece that is now in order.
    fn take(&mut self, (index, done): (u64, io::Result<Done>)) -> io::Result<()> {
        self.ready.insert(index, done?);
        self.write_ready()
    }

    /// Write every piece that is now in order.
    fn write_ready(&mut self) -> io::Result<()> {
        while let Some(done) = self.ready.remove(&self.written) {
            self.out.write_all(&done.member)?;
            let length = done.member.len() as u64;
            self.records.push(PieceRecord {
                key: done.key,
                offset: self.offset,
                length,
                crc32: crc32fast::hash(&done.member),
            });
            self.stats.pieces += 1;
            if done.reused {
                self.stats.reused += 1;
                self.stats.reused_bytes += u64::from(isize_of(&done.member));
            }
            self.offset += length;
            self.written += 1;
        }
        Ok(())
    }

    /// Compress what is left, wait for the workers; the inner writer, where each piece is in
    /// it (for the next image to reuse) and how the pieces were made.
    pub(crate) fn finish(mut self) -> io::Result<(W, Vec<PieceRecord>, PieceStats)> {
        if !self.current.is_empty() {
            self.send_current()?;
        }
        self.jobs = None;
        self.write_ready()?;
        while self.written < self.sent {
            let result = self
                .results
                .recv()
                .map_err(|_| io::Error::other("a compression worker stopped"))?;
            self.take(result)?;
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        self.out.flush()?;
        Ok((self.out, self.records, self.stats))
    }
}

/// Is `path` one where a piece may end? One path in [`ParallelGz::ONE_IN`], by its bytes.
fn is_cut(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    Sha256::of(path.as_os_str().as_bytes()).as_bytes()[0].is_multiple_of(ParallelGz::<Vec<u8>>::ONE_IN)
}

/// The size of the input a gzip member holds, from its trailer (modulo 2^32, as gzip has it).
fn isize_of(member: &[u8]) -> u32 {
    let n = member.len();
    u32::from_le_bytes(member[n - 4..].try_into().expect("4 bytes"))
}

/// One piece as a gzip member: mtime 0, OS byte 3 (Unix), the given level.
fn compress_piece(piece: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new().mtime(0).operating_system(3).write(
        Vec::with_capacity(piece.len() / 2),
        flate2::Compression::new(level),
    );
    encoder.write_all(piece)?;
    encoder.finish()
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = Self::PIECE - self.current.len();
        let take = room.min(buf.len());
        self.current.push_bytes(&buf[..take]);
        if self.current.len() == Self::PIECE {
            self.send_current()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Where a tar stream's entries start (the writer cuts its pieces there), and contents given by
/// name rather than as bytes. A plain writer (tests) reads each content as it comes.
pub(crate) trait EntryStarts: Write {
    /// An entry of `size` bytes at `path` is about to be written.
    fn entry(&mut self, path: &Path, size: u64) -> io::Result<()>;

    /// The next `content.size` bytes of the stream are `content`'s.
    fn content(&mut self, content: Content) -> io::Result<()>;
}

impl EntryStarts for Vec<u8> {
    fn entry(&mut self, _path: &Path, _size: u64) -> io::Result<()> {
        Ok(())
    }

    fn content(&mut self, content: Content) -> io::Result<()> {
        let size = usize::try_from(content.size).map_err(io::Error::other)?;
        Contents::default().read(&Arc::new(content), 0, size, self)
    }
}

impl<W: Write> EntryStarts for ParallelGz<W> {
    fn entry(&mut self, path: &Path, size: u64) -> io::Result<()> {
        ParallelGz::entry(self, path, size)
    }

    /// The content's stretches go into the pieces unread, cut where the pieces end.
    fn content(&mut self, content: Content) -> io::Result<()> {
        let content = Arc::new(content);
        let mut from = 0;
        while from < content.size {
            let room = (Self::PIECE - self.current.len()) as u64;
            let take = room.min(content.size - from) as usize;
            self.current.push_content(&content, from, take);
            from += take as u64;
            if self.current.len() == Self::PIECE {
                self.send_current()?;
            }
        }
        Ok(())
    }
}

impl<T: EntryStarts + ?Sized> EntryStarts for &mut T {
    fn entry(&mut self, path: &Path, size: u64) -> io::Result<()> {
        (**self).entry(path, size)
    }

    fn content(&mut self, content: Content) -> io::Result<()> {
        (**self).content(content)
    }
}
