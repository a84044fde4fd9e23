//! A connection's socket: writes the bodies that lie in the page file with
//! `sendfile`, and everything else as tokio's `TcpStream` does.
//!
//! hyper writes a response as one vectored write: its buffer of header lines,
//! then the body, a [`Bytes`](bytes::Bytes) it got from the cache. When that
//! body lies in the page file (`crate::serve::pages`), the header lines go first with
//! `MSG_MORE`, so the kernel holds them for the body instead of sending a
//! packet of their own, and the body follows by `sendfile` from the file: the
//! socket takes references to the file's pages instead of a copy of the
//! bytes, as when a static file server sends a file. hyper sees an ordinary
//! socket that wrote some bytes and writes the rest on its next call. Pieces
//! of a body smaller than the page file's threshold (HTTP/2 frames, the rest
//! of a body the socket took only part of) are copied from the mapping, which
//! costs less than `sendfile` at that size.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use crate::serve::pages::{MIN_BODY, PageFile};

/// A TCP connection that sends page-file bodies with `sendfile`.
#[derive(Debug)]
pub struct Socket {
    stream: TcpStream,
    /// The page file whose bodies go by `sendfile`; `None` writes every
    /// byte from memory.
    pages: Option<Arc<PageFile>>,
}

impl Socket {
    pub fn new(stream: TcpStream, pages: Option<Arc<PageFile>>) -> Socket {
        Socket { stream, pages }
    }

    /// Runs the non-blocking write `f` once the socket can take bytes, as
    /// often as the socket turns out not to be ready after all.
    fn poll_io(
        &self,
        cx: &mut Context<'_>,
        mut f: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_io(Interest::WRITABLE, &mut f) {
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                    ) => {}
                result => return Poll::Ready(result),
            }
        }
    }
}

/// Where `slice` lies in `pages`, when it is worth sending from there. Below
/// [`MIN_BODY`] a copy costs less than `sendfile` (see there), so what is left
/// of a body the socket took only part of, or an HTTP/2 frame of one, is
/// written from the mapping like any other bytes.
fn sendfile_offset(pages: &PageFile, slice: &[u8]) -> Option<u64> {
    if slice.len() < MIN_BODY {
        return None;
    }
    pages.offset_of(slice)
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes the slices before the first page-file body with `MSG_MORE`, or
    /// that body with `sendfile`, or all of them when none is to be sent from
    /// the file.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(pages) = this.pages.as_deref() else {
            return Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        };
        let body = bufs
            .iter()
            .enumerate()
            .find_map(|(i, buf)| Some((i, sendfile_offset(pages, buf)?)));
        match body {
            Some((0, offset)) => {
                let len = bufs[0].len();
                this.poll_io(cx, || sys::sendfile(&this.stream, pages, offset, len))
            }
            Some((i, _)) => this.poll_io(cx, || sys::send_more(&this.stream, &bufs[..i])),
            None => Pin::new(&mut this.stream).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        // hyper copies bodies into its own buffer for sockets that are not:
        // the page file's bodies must reach this socket as they are.
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

#[cfg(target_os = "linux")]
mod sys {
    use std::io::{self, IoSlice};
    use std::os::fd::AsRawFd;

    use socket2::SockRef;
    use tokio::net::TcpStream;

    use crate::serve::pages::PageFile;

    /// Sends `bufs`, telling the kernel more follows at once (`MSG_MORE`), so
    /// it waits for the body before sending a packet.
    pub fn send_more(stream: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        SockRef::from(stream).send_vectored_with_flags(bufs, libc::MSG_MORE | libc::MSG_NOSIGNAL)
    }

    /// Sends up to `len` bytes of `pages`' file from `offset`.
    pub fn sendfile(
        stream: &TcpStream,
        pages: &PageFile,
        offset: u64,
        len: usize,
    ) -> io::Result<usize> {
        let mut offset = libc::off_t::try_from(offset).map_err(io::Error::other)?;
        // SAFETY: both descriptors are open for the call; the kernel reads
        // the file and writes `offset`, a local.
        let sent = unsafe {
            libc::sendfile(
                stream.as_raw_fd(),
                pages.file().as_raw_fd(),
                &mut offset,
                len,
            )
        };
        usize::try_from(sent).map_err(|_| io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
mod sys {
    //! There is no page file off Linux (`PageFile::new` fails), so no body
    //! is ever found in one and these are never called.
    use std::io::{self, IoSlice};

    use tokio::net::TcpStream;

    use crate::serve::pages::PageFile;

    pub fn send_more(_: &TcpStream, _: &[IoSlice<'_>]) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }

    pub fn sendfile(_: &TcpStream, _: &PageFile, _: u64, _: usize) -> io::Result<usize> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    async fn pair(pages: Option<Arc<PageFile>>) -> (Socket, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Socket::new(server, pages), client)
    }

    fn body(seed: u8, len: usize) -> Vec<u8> {
        (0..len).map(|i| seed.wrapping_add((i / 7) as u8)).collect()
    }

    #[tokio::test]
    async fn heap_and_file_slices_arrive_in_order_byte_for_byte() {
        let pages =
            PageFile::new(std::path::Path::new(crate::serve::shmem::SHMEM_ENABLED)).unwrap();
        let (mut socket, mut client) = pair(Some(Arc::clone(&pages))).await;
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 300000\r\n\r\n".to_vec();
        let large = body(3, 300_000);
        let kept = pages.keep(&large).unwrap();
        let tail = b"next response".to_vec();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        // As hyper does: write what is left until all of it is written.
        let slices: [&[u8]; 3] = [&head, &kept, &tail];
        let mut sent = 0;
        let total: usize = slices.iter().map(|s| s.len()).sum();
        let mut calls = 0;
        while sent < total {
            let bufs = remaining(&slices, sent);
            sent += socket.write_vectored(&bufs).await.unwrap();
            calls += 1;
        }
        socket.shutdown().await.unwrap();
        drop(socket);
        assert!(calls >= 3, "head, body and tail go in separate calls");
        assert_eq!(reader.await.unwrap(), [head, large, tail].concat());
    }

    /// The slices of `slices` from byte `skip` on.
    fn remaining<'a>(slices: &[&'a [u8]], mut skip: usize) -> Vec<IoSlice<'a>> {
        let mut out = Vec::new();
        for slice in slices {
            if skip >= slice.len() {
                skip -= slice.len();
                continue;
            }
            out.push(IoSlice::new(&slice[skip..]));
            skip = 0;
        }
        out
    }

    #[tokio::test]
    async fn bytes_on_their_way_stay_as_sent_when_their_range_is_reused() {
        let pages =
            PageFile::new(std::path::Path::new(crate::serve::shmem::SHMEM_ENABLED)).unwrap();
        let (mut socket, mut client) = pair(Some(Arc::clone(&pages))).await;
        let first = body(1, crate::serve::pages::MIN_BODY);
        let kept = pages.keep(&first).unwrap();
        let offset = pages.offset_of(&kept).unwrap();
        // Sent by sendfile, and not read yet: the socket holds the pages.
        let mut sent = 0;
        while sent < kept.len() {
            sent += socket.write(&kept[sent..]).await.unwrap();
        }
        drop(kept);
        let second = body(200, crate::serve::pages::MIN_BODY);
        let reused = pages.keep(&second).unwrap();
        assert_eq!(pages.offset_of(&reused), Some(offset), "the same range");
        let mut got = vec![0; first.len()];
        client.read_exact(&mut got).await.unwrap();
        assert!(got == first, "the client got the bytes that were sent");
    }

    #[tokio::test]
    async fn without_a_page_file_everything_is_written_from_memory() {
        let (mut socket, mut client) = pair(None).await;
        let large = body(5, 100_000);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got
        });
        socket.write_all(&large).await.unwrap();
        socket.shutdown().await.unwrap();
        drop(socket);
        assert_eq!(reader.await.unwrap(), large);
    }
}
