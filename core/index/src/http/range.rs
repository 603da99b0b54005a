//! Reading a remote file by HTTP range requests, as a `Read + Seek`: enough for a zip reader to
//! find a wheel's central directory and one member without downloading the wheel.

use std::io::{Read, Seek, SeekFrom};

use ureq::http::StatusCode;
use url::Url;

use super::credentials::{redact, split_credentials};
use super::{HttpClient, HttpError, HttpErrorKind, header};

impl HttpClient {
    /// A reader over a remote file that fetches only the byte ranges read. The first request
    /// asks for the file's tail (where a zip keeps its index) and learns the length from the
    /// answer; a server that ignores ranges sends the whole file, which is then read from memory.
    pub fn range_reader(&self, url: &Url) -> Result<RangeReader<'_>, HttpError> {
        self.online(url)?;
        let tail = RangeReader::CHUNK;
        let mut response = self.send(url, &[("Range", format!("bytes=-{tail}"))])?;
        let status = response.status();
        if status != StatusCode::PARTIAL_CONTENT && !status.is_success() {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!("server answered {status}"),
            ));
        }
        let total = header(&response, "content-range")
            .and_then(|range| range.rsplit('/').next())
            .and_then(|total| total.trim().parse::<u64>().ok());
        // A server that ignores ranges sends the whole file: kept in memory only up to a bound
        // (past it the caller downloads the file to disk instead).
        let bytes = self.read_body(
            &mut response,
            url,
            if status == StatusCode::PARTIAL_CONTENT {
                tail
            } else {
                RangeReader::WHOLE_FILE_LIMIT
            },
        )?;
        let length = match (status, total) {
            (StatusCode::PARTIAL_CONTENT, Some(total)) => total,
            (StatusCode::PARTIAL_CONTENT, None) => {
                return Err(HttpError::new(
                    url,
                    HttpErrorKind::Other,
                    "range answer without a length",
                ));
            }
            _ => bytes.len() as u64,
        };
        let Some(start) = length.checked_sub(bytes.len() as u64) else {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!(
                    "the answer's Content-Range says the file has {length} bytes, but {} arrived",
                    bytes.len()
                ),
            ));
        };
        Ok(RangeReader {
            client: self,
            url: split_credentials(url).0,
            length,
            position: 0,
            chunks: vec![(start, bytes)],
        })
    }

    fn get_range(&self, url: &Url, start: u64, end: u64) -> Result<Vec<u8>, HttpError> {
        let mut response = self.send(url, &[("Range", format!("bytes={start}-{end}"))])?;
        if response.status() != StatusCode::PARTIAL_CONTENT {
            return Err(HttpError::new(
                url,
                HttpErrorKind::Other,
                format!("asked for a byte range, got {}", response.status()),
            ));
        }
        let bytes = self.read_body(&mut response, url, end - start + 1)?;
        Ok(bytes)
    }
}

/// `Read + Seek` over a remote file, fetched in ranges as it is read: enough for a zip reader
/// to find a wheel's central directory and one member without downloading the wheel.
pub struct RangeReader<'a> {
    client: &'a HttpClient,
    url: Url,
    length: u64,
    position: u64,
    /// Fetched `(start, bytes)` pieces.
    chunks: Vec<(u64, Vec<u8>)>,
}

impl RangeReader<'_> {
    /// The size of each fetch; the first one takes the file's tail, where a zip keeps its index.
    const CHUNK: u64 = 64 * 1024;
    /// The most of a file held in memory when the server sends all of it.
    const WHOLE_FILE_LIMIT: u64 = 64 * 1024 * 1024;

    fn fetch(&mut self, at: u64) -> std::io::Result<()> {
        let (start, end) = (at, (at + Self::CHUNK).min(self.length) - 1);
        let bytes = self
            .client
            .get_range(&self.url, start, end)
            .map_err(std::io::Error::other)?;
        if bytes.len() as u64 != end - start + 1 {
            return Err(std::io::Error::other(format!(
                "{}: short range response",
                redact(self.url.as_str())
            )));
        }
        self.chunks.push((start, bytes));
        Ok(())
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.position >= self.length || buf.is_empty() {
            return Ok(0);
        }
        let position = self.position;
        let found = |chunks: &[(u64, Vec<u8>)]| {
            chunks
                .iter()
                .position(|(start, bytes)| position >= *start && position < start + bytes.len() as u64)
        };
        let index = match found(&self.chunks) {
            Some(index) => index,
            None => {
                self.fetch(position)?;
                found(&self.chunks)
                    .ok_or_else(|| std::io::Error::other("range fetch did not cover the read"))?
            }
        };
        let (start, bytes) = &self.chunks[index];
        let offset = (position - start) as usize;
        let count = buf.len().min(bytes.len() - offset);
        buf[..count].copy_from_slice(&bytes[offset..offset + count]);
        self.position += count as u64;
        Ok(count)
    }
}

impl Seek for RangeReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let position = match to {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::End(offset) => self.length.checked_add_signed(offset),
            SeekFrom::Current(offset) => self.position.checked_add_signed(offset),
        };
        self.position = position
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "seek before the start"))?;
        Ok(self.position)
    }
}
