//! gzip in fixed 1 MiB pieces, each its own gzip member, compressed side by side at a fixed
//! level: the bytes do not depend on how many threads there are.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, mpsc};

/// gzip compression in fixed-size pieces, each compressed by a pool of worker threads while the
/// caller keeps reading and archiving, and written in order: the reading, compressing and writing
/// overlap, and the bytes are the same for any number of workers.
pub(crate) struct ParallelGz<W: Write> {
    out: W,
    current: Vec<u8>,
    jobs: Option<mpsc::SyncSender<(u64, Vec<u8>)>>,
    results: mpsc::Receiver<(u64, io::Result<Vec<u8>>)>,
    workers: Vec<std::thread::JoinHandle<()>>,
    sent: u64,
    written: u64,
    ready: BTreeMap<u64, Vec<u8>>,
}

impl<W: Write> ParallelGz<W> {
    /// The piece size: part of the format, so it never changes with the machine.
    pub(crate) const PIECE: usize = 1 << 20;

    /// One worker per core.
    pub(crate) fn new(out: W, level: u32) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, usize::from);
        Self::with_workers(out, level, threads)
    }

    pub(crate) fn with_workers(out: W, level: u32, workers: usize) -> Self {
        let workers = workers.max(1);
        // Pieces queued for the workers: enough to keep them busy, few enough to bound memory
        // (a few MiB per worker whatever the archive size).
        let (jobs, queue) = mpsc::sync_channel::<(u64, Vec<u8>)>(2 * workers);
        let (done, results) = mpsc::channel();
        let queue = Arc::new(Mutex::new(queue));
        let handles = (0..workers)
            .map(|_| {
                let queue = Arc::clone(&queue);
                let done = done.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        let Ok(Ok((index, piece))) = job else { break };
                        if done.send((index, compress_piece(&piece, level))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        Self {
            out,
            current: Vec::with_capacity(Self::PIECE),
            jobs: Some(jobs),
            results,
            workers: handles,
            sent: 0,
            written: 0,
            ready: BTreeMap::new(),
        }
    }

    fn send_current(&mut self) -> io::Result<()> {
        let piece = std::mem::replace(&mut self.current, Vec::with_capacity(Self::PIECE));
        let jobs = self.jobs.as_ref().expect("not finished");
        jobs.send((self.sent, piece))
            .map_err(|_| io::Error::other("a compression worker stopped"))?;
        self.sent += 1;
        while let Ok(result) = self.results.try_recv() {
            self.take(result)?;
        }
        Ok(())
    }

    /// Keep a compressed piece and write every piece that is now in order.
    fn take(&mut self, (index, member): (u64, io::Result<Vec<u8>>)) -> io::Result<()> {
        self.ready.insert(index, member?);
        while let Some(member) = self.ready.remove(&self.written) {
            self.out.write_all(&member)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Compress what is left, wait for the workers and return the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if !self.current.is_empty() {
            self.send_current()?;
        }
        self.jobs = None;
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
        Ok(self.out)
    }
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
        self.current.extend_from_slice(&buf[..take]);
        if self.current.len() == Self::PIECE {
            self.send_current()?;
        }
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
