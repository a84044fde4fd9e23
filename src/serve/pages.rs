//! The page file: rendered bodies kept in a file in memory, so that the kernel
//! can send them itself.
//!
//! A body in the process's heap reaches a socket by `writev`, which copies
//! every byte into the kernel: for a large feed, most of what the request
//! costs. A body in a file can go by `sendfile`, which hands
//! the socket references to the file's pages and copies nothing, as a static
//! file server sends its files. So each large body is written once, when it
//! is rendered, into an anonymous in-memory file (`memfd`), and served from a
//! read-only mapping of that file: a [`Bytes`] like any other for everything
//! above the socket, whose address tells `http::socket` where in the file it
//! lies.
//!
//! Space in the file is handed out at page-aligned offsets and given back when
//! the last handle on a body drops. Giving back punches a hole: the pages
//! leave the file, while a socket still sending them keeps its own references,
//! so a body written later into the same range gets fresh pages and never
//! changes bytes already on their way. Writes go through the file, not the
//! mapping, so running out of memory is an error (and the body stays in the
//! heap), not a fault.
//!
//! Linux only; elsewhere [`PageFile::new`] fails and bodies stay in the heap.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Bodies smaller than this stay in the heap: for them `sendfile` costs a
/// second system call and a reference per page to save a copy that is cheap
/// at that size. Compressed feeds (17–40 KB) are above it: a body copied into
/// the socket is dirty in the server core's cache when the reader's core
/// copies it out, which costs the reader more than the server saves
/// (BENCHMARKS.md, "one core").
pub const MIN_BODY: usize = 16 * 1024;

/// Offsets are multiples of the page size, so a body starts on a page of its
/// own and punching its range frees whole pages.
const PAGE: usize = 4096;

/// Address space reserved for the file: a bound on the bytes it holds at once,
/// far above the cache's. The file is sparse, so this costs no memory.
const CAPACITY: usize = 16 << 30;

/// An in-memory file holding rendered bodies, mapped read-only.
pub struct PageFile {
    file: File,
    map: Mapping,
    space: Mutex<Space>,
    /// Bytes of the bodies it holds now (page-rounded), for `/metrics`.
    held: AtomicU64,
}

impl std::fmt::Debug for PageFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageFile")
            .field("held", &self.held.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl PageFile {
    /// Creates the file and maps it. Fails off Linux, where the process may
    /// not create or map an in-memory file, or where the kernel may back it
    /// with huge pages (read from `shmem_enabled`, see [`crate::serve::shmem`]).
    pub fn new(shmem_enabled: &std::path::Path) -> io::Result<Arc<PageFile>> {
        crate::serve::shmem::small_pages_only(shmem_enabled).map_err(io::Error::other)?;
        let file = sys::memfd("kabar-bodies")?;
        file.set_len(CAPACITY as u64)?;
        let map = Mapping::new(&file, CAPACITY)?;
        Ok(Arc::new(PageFile {
            file,
            map,
            space: Mutex::new(Space::new(CAPACITY)),
            held: AtomicU64::new(0),
        }))
    }

    /// `body` as bytes in the file, or `None` when it is too small to be worth
    /// it or the file cannot take it (full, or out of memory): the caller keeps
    /// the heap copy.
    pub fn keep(self: &Arc<Self>, body: &[u8]) -> Option<Bytes> {
        if body.len() < MIN_BODY {
            return None;
        }
        let span = body.len().div_ceil(PAGE) * PAGE;
        let offset = self.lock().take(span)?;
        self.held.fetch_add(span as u64, Relaxed);
        let region = Region {
            pages: Arc::clone(self),
            offset,
            len: body.len(),
            span,
        };
        // On failure the region drops here and gives its range back.
        sys::write_at(&self.file, body, offset).ok()?;
        Some(Bytes::from_owner(region))
    }

    /// Where `bytes` lie in the file: the offset of their first byte, when
    /// all of them are in it.
    pub fn offset_of(&self, bytes: &[u8]) -> Option<u64> {
        let start = (bytes.as_ptr() as usize).checked_sub(self.map.base as usize)?;
        let end = start.checked_add(bytes.len())?;
        (end <= self.map.len).then_some(start as u64)
    }

    /// The file, for `sendfile`.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Bytes of the bodies the file holds now, page-rounded.
    pub fn held(&self) -> u64 {
        self.held.load(Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Space> {
        self.space.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Frees the pages of `span` bytes at `offset` and makes the range free
    /// for another body. If the pages cannot be freed, the range is never
    /// reused: writing over pages a socket may still be sending would change
    /// bytes on their way.
    fn give_back(&self, offset: usize, span: usize) {
        if let Err(error) = sys::punch_hole(&self.file, offset, span) {
            tracing::warn!(%error, offset, span, "could not free a body's pages; the range is not reused");
            return;
        }
        self.lock().give(offset, span);
    }
}

/// One body's range of the file: what a [`Bytes`] in the file owns.
struct Region {
    pages: Arc<PageFile>,
    offset: usize,
    /// The body's length; `span` is it rounded up to pages.
    len: usize,
    span: usize,
}

impl AsRef<[u8]> for Region {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: the range lies inside the mapping (`Space` hands out ranges
        // within `CAPACITY`), which lives as long as `pages`; the mapping is
        // read-only, and the range is written once, before the region is
        // handed out, and not again until the region drops.
        unsafe { std::slice::from_raw_parts(self.pages.map.base.add(self.offset), self.len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        self.pages.held.fetch_sub(self.span as u64, Relaxed);
        self.pages.give_back(self.offset, self.span);
    }
}

/// Which ranges of the file are free: everything from `end` on, and the
/// ranges below it in `free` (offset → length), adjacent ones merged.
#[derive(Debug)]
struct Space {
    capacity: usize,
    end: usize,
    free: BTreeMap<usize, usize>,
}

impl Space {
    fn new(capacity: usize) -> Space {
        Space {
            capacity,
            end: 0,
            free: BTreeMap::new(),
        }
    }

    /// The offset of a free range of `span` bytes: the lowest free range that
    /// fits, else the end.
    fn take(&mut self, span: usize) -> Option<usize> {
        let fit = self
            .free
            .iter()
            .find(|&(_, &len)| len >= span)
            .map(|(&offset, &len)| (offset, len));
        if let Some((offset, len)) = fit {
            self.free.remove(&offset);
            if len > span {
                self.free.insert(offset + span, len - span);
            }
            return Some(offset);
        }
        let offset = self.end;
        let end = offset
            .checked_add(span)
            .filter(|&end| end <= self.capacity)?;
        self.end = end;
        Some(offset)
    }

    /// Makes `span` bytes at `offset` free again.
    fn give(&mut self, mut offset: usize, mut span: usize) {
        if let Some((&before, &len)) = self.free.range(..offset).next_back()
            && before + len == offset
        {
            self.free.remove(&before);
            offset = before;
            span += len;
        }
        if let Some(len) = self.free.remove(&(offset + span)) {
            span += len;
        }
        if offset + span == self.end {
            self.end = offset;
        } else {
            self.free.insert(offset, span);
        }
    }
}

/// A read-only shared mapping of a whole file.
struct Mapping {
    base: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only memory that lives until drop; reading it
// from any thread is as safe as reading a `&[u8]`.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(file: &File, len: usize) -> io::Result<Mapping> {
        let base = sys::map(file, len)?;
        Ok(Mapping { base, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        sys::unmap(self.base, self.len);
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::ffi::CString;
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsRawFd, FromRawFd};
    use std::os::unix::fs::FileExt;

    pub fn memfd(name: &str) -> io::Result<File> {
        let name = CString::new(name).map_err(io::Error::other)?;
        // SAFETY: `name` is a valid C string; the descriptor returned is new
        // and owned by the `File` alone.
        let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is an open descriptor nothing else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    pub fn map(file: &File, len: usize) -> io::Result<*const u8> {
        // SAFETY: a new read-only shared mapping of an open file; it aliases no
        // Rust memory, and the kernel chooses its address.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(base.cast_const().cast())
    }

    pub fn unmap(base: *const u8, len: usize) {
        // SAFETY: `base` and `len` are a mapping made by `map`, unmapped once,
        // when nothing refers to it any more.
        let _ = unsafe { libc::munmap(base.cast_mut().cast(), len) };
    }

    pub fn write_at(file: &File, bytes: &[u8], offset: usize) -> io::Result<()> {
        file.write_all_at(bytes, offset as u64)
    }

    pub fn punch_hole(file: &File, offset: usize, len: usize) -> io::Result<()> {
        let (offset, len) = (to_off(offset)?, to_off(len)?);
        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        // SAFETY: fallocate on an open descriptor; it touches no memory of ours.
        if unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, len) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn to_off(n: usize) -> io::Result<libc::off_t> {
        libc::off_t::try_from(n).map_err(io::Error::other)
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    use std::fs::File;
    use std::io;

    fn unsupported() -> io::Error {
        io::Error::new(io::ErrorKind::Unsupported, "the page file needs Linux")
    }

    pub fn memfd(_: &str) -> io::Result<File> {
        Err(unsupported())
    }

    pub fn map(_: &File, _: usize) -> io::Result<*const u8> {
        Err(unsupported())
    }

    pub fn unmap(_: *const u8, _: usize) {}

    pub fn write_at(_: &File, _: &[u8], _: usize) -> io::Result<()> {
        Err(unsupported())
    }

    pub fn punch_hole(_: &File, _: usize, _: usize) -> io::Result<()> {
        Err(unsupported())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    fn body(seed: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| seed.wrapping_add(i as u8)).collect()
    }

    #[test]
    fn bodies_read_back_as_written_and_lie_in_the_file() {
        let pages =
            PageFile::new(std::path::Path::new(crate::serve::shmem::SHMEM_ENABLED)).unwrap();
        let a = body(1, MIN_BODY + 5);
        let b = body(7, MIN_BODY + 3 * PAGE);
        let kept_a = pages.keep(&a).unwrap();
        let kept_b = pages.keep(&b).unwrap();
        assert_eq!(&kept_a[..], &a[..]);
        assert_eq!(&kept_b[..], &b[..]);
        let offset_a = pages.offset_of(&kept_a).unwrap();
        let offset_b = pages.offset_of(&kept_b).unwrap();
        assert_eq!(offset_a % PAGE as u64, 0);
        assert_eq!(offset_b % PAGE as u64, 0);
        assert_ne!(offset_a, offset_b);
        // A slice of a kept body is found at its own offset; heap bytes are not.
        assert_eq!(pages.offset_of(&kept_a[10..20]), Some(offset_a + 10));
        assert_eq!(pages.offset_of(&a), None);
        // The kernel reads the same bytes from the file.
        let mut read = vec![0; b.len()];
        pages.file().read_exact_at(&mut read, offset_b).unwrap();
        assert_eq!(read, b);
        assert_eq!(pages.held(), (2 * MIN_BODY + 4 * PAGE) as u64);
    }

    #[test]
    fn small_bodies_stay_in_the_heap() {
        let pages =
            PageFile::new(std::path::Path::new(crate::serve::shmem::SHMEM_ENABLED)).unwrap();
        assert!(pages.keep(&body(0, MIN_BODY - 1)).is_none());
        assert_eq!(pages.held(), 0);
    }

    #[test]
    fn a_dropped_body_frees_its_pages_and_its_range_is_reused() {
        let pages =
            PageFile::new(std::path::Path::new(crate::serve::shmem::SHMEM_ENABLED)).unwrap();
        let first = pages.keep(&body(3, MIN_BODY)).unwrap();
        let offset = pages.offset_of(&first).unwrap();
        // A second handle keeps the body alive.
        let handle = Bytes::from_owner(first.clone());
        drop(first);
        assert_eq!(pages.held(), MIN_BODY as u64);
        drop(handle);
        assert_eq!(pages.held(), 0);
        // The hole reads as zeros through the file: the pages are gone.
        let mut read = vec![1; PAGE];
        pages.file().read_exact_at(&mut read, offset).unwrap();
        assert!(read.iter().all(|&b| b == 0));
        let next = body(9, MIN_BODY);
        let again = pages.keep(&next).unwrap();
        assert_eq!(pages.offset_of(&again), Some(offset));
        assert_eq!(&again[..], &next[..]);
    }

    #[test]
    fn free_ranges_merge_and_the_end_moves_back() {
        let mut space = Space::new(10 * PAGE);
        let a = space.take(2 * PAGE).unwrap();
        let b = space.take(PAGE).unwrap();
        let c = space.take(3 * PAGE).unwrap();
        assert_eq!((a, b, c), (0, 2 * PAGE, 3 * PAGE));
        space.give(a, 2 * PAGE);
        space.give(b, PAGE);
        assert_eq!(space.free.get(&0), Some(&(3 * PAGE)), "a and b merge");
        // The lowest range that fits comes first; what is left of it stays free.
        assert_eq!(space.take(PAGE), Some(0));
        assert_eq!(space.free.get(&PAGE), Some(&(2 * PAGE)));
        assert_eq!(
            space.take(5 * PAGE),
            None,
            "fits neither a free range nor the end"
        );
        assert_eq!(space.take(4 * PAGE), Some(6 * PAGE));
        assert_eq!(space.take(2 * PAGE), Some(PAGE));
        assert_eq!(space.take(PAGE), None, "full");
        // Giving back the last ranges moves the end back, over merged ranges too.
        space.give(6 * PAGE, 4 * PAGE);
        assert_eq!(space.end, 6 * PAGE);
        space.give(c, 3 * PAGE);
        assert_eq!(space.end, 3 * PAGE);
        space.give(0, PAGE);
        assert_eq!(space.free.get(&0), Some(&PAGE));
        space.give(PAGE, 2 * PAGE);
        assert_eq!((space.end, space.free.len()), (0, 0));
    }
}
