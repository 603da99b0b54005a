//! Reading input files with a bound, so a huge or endless input (a device, a runaway pipe) is
//! refused with a clear error instead of filling memory.

use std::io::{self, Read};
use std::path::Path;

/// The most any text input (requirements, TOML, a JSON document) may hold: far above any real
/// one, far below what would exhaust memory.
pub const TEXT_LIMIT: u64 = 64 << 20;

/// Read at most `limit` bytes of text from `reader`; more is an error naming the limit.
pub fn read_text_limited(reader: impl Read, limit: u64) -> io::Result<String> {
    let mut bytes = Vec::new();
    reader.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB; not read", limit >> 20),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (byte {} is invalid)",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Read a text file of at most [`TEXT_LIMIT`] bytes. A pipe is read (`<(command)` is one); a
/// device or a directory is refused before any byte is read.
pub fn read_text(path: &Path) -> io::Result<String> {
    read_text_limited_path(path, TEXT_LIMIT)
}

/// [`read_text`] with another bound.
pub fn read_text_limited_path(path: &Path, limit: u64) -> io::Result<String> {
    use rustix::fs::FileType;
    let file = std::fs::File::open(path)?;
    let kind = FileType::from_raw_mode(rustix::fs::fstat(&file)?.st_mode);
    let what = match kind {
        FileType::RegularFile | FileType::Fifo => return read_text_limited(file, limit),
        FileType::Directory => "a directory",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        _ => "not a file",
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a file to read ({what})"),
    ))
}

/// Open `path` for reading only if it is a regular file, and say how long it is. A device
/// (`/dev/zero` never ends), a FIFO (opening one waits for a writer) or a socket is refused
/// without blocking: the file is opened non-blocking, checked on the open descriptor (so it is
/// the file checked that is read), and only then made blocking.
pub fn open_regular(path: &Path) -> io::Result<(std::fs::File, u64)> {
    use rustix::fs::{FileType, Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    let stat = rustix::fs::fstat(&fd)?;
    let kind = FileType::from_raw_mode(stat.st_mode);
    if kind != FileType::RegularFile {
        let what = match kind {
            FileType::Directory => "a directory",
            FileType::CharacterDevice => "a character device",
            FileType::BlockDevice => "a block device",
            FileType::Fifo => "a FIFO",
            FileType::Socket => "a socket",
            _ => "not a file",
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a regular file ({what}); not read"),
        ));
    }
    rustix::fs::fcntl_setfl(&fd, OFlags::empty())?;
    Ok((std::fs::File::from(fd), u64::try_from(stat.st_size).unwrap_or(0)))
}

/// The last `max` bytes of the regular file at `path` (all of it when shorter), and the offset
/// they start at: a log's end without reading the whole log.
pub fn read_tail(path: &Path, max: u64) -> io::Result<(u64, Vec<u8>)> {
    use std::io::{Seek, SeekFrom};
    let (mut file, len) = open_regular(path)?;
    let start = len.saturating_sub(max);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok((start, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_past_the_limit_or_not_text_are_refused() {
        assert_eq!(read_text_limited(&b"abc"[..], 3).unwrap(), "abc");
        let err = read_text_limited(&b"abcd"[..], 3).unwrap_err();
        assert!(err.to_string().starts_with("larger than"), "{err}");
        let err = read_text_limited(&b"ab\xffc"[..], 10).unwrap_err();
        assert_eq!(err.to_string(), "not UTF-8 text (byte 2 is invalid)");
        // An endless source stops at the bound.
        assert!(read_text_limited(std::io::repeat(b'x'), 1 << 20).is_err());
    }

    #[test]
    fn devices_are_not_read_as_text() {
        let err = read_text(Path::new("/dev/zero")).unwrap_err().to_string();
        assert_eq!(err, "not a file to read (a character device)");
    }

    #[test]
    fn only_regular_files_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"four").unwrap();
        let (_, len) = open_regular(&file).unwrap();
        assert_eq!(len, 4);
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for (path, what) in [
            (Path::new("/dev/zero"), "a character device"),
            (fifo.as_path(), "a FIFO"),
            (dir.path(), "a directory"),
        ] {
            let err = open_regular(path).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("not a regular file ({what}); not read"),
                "{}",
                path.display()
            );
        }
    }

    #[test]
    fn the_tail_of_a_file_and_where_it_starts() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("log");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_tail(&path, 4).unwrap(), (6, b"6789".to_vec()));
        assert_eq!(read_tail(&path, 40).unwrap(), (0, b"0123456789".to_vec()));
        assert!(read_tail(Path::new("/dev/zero"), 4).is_err());
    }
}
