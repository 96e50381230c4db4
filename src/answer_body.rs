//! The body of every answer the server writes: on the direct path the
//! encoder's own buffer, sent as it is; from the router axum's body.
//!
//! `Bytes::from(Vec)` (what `Full<Bytes>` would need) allocates a shared
//! header for every buffer whose capacity is not its length, which an
//! encoder's never is: one allocation per call for nothing.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use hyper::body::{Body as HttpBody, Buf, Frame, SizeHint};

/// A response body: one buffer written whole, or axum's body.
pub enum AnyBody {
    /// The buffer, until it is handed to hyper (`None` after, or when empty).
    Whole(Option<Written>),
    Router(Body),
}

impl AnyBody {
    /// A body of exactly these bytes.
    pub fn whole(bytes: Vec<u8>) -> AnyBody {
        AnyBody::Whole((!bytes.is_empty()).then(|| Written::new(bytes)))
    }
}

/// An encoder's buffer and how much of it is sent (`bytes` makes a
/// `Cursor` over bytes a `Buf`).
pub type Written = std::io::Cursor<Vec<u8>>;

/// A piece of an [`AnyBody`]: the whole buffer, or one of axum's chunks.
pub enum Chunk {
    Written(Written),
    Shared(Bytes),
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        match self {
            Chunk::Written(written) => written.remaining(),
            Chunk::Shared(bytes) => bytes.remaining(),
        }
    }

    fn chunk(&self) -> &[u8] {
        match self {
            Chunk::Written(written) => written.chunk(),
            Chunk::Shared(bytes) => bytes.chunk(),
        }
    }

    fn advance(&mut self, count: usize) {
        match self {
            Chunk::Written(written) => written.advance(count),
            Chunk::Shared(bytes) => bytes.advance(count),
        }
    }
}

impl HttpBody for AnyBody {
    type Data = Chunk;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Chunk>, axum::Error>>> {
        match self.get_mut() {
            AnyBody::Whole(written) => {
                Poll::Ready(written.take().map(|w| Ok(Frame::data(Chunk::Written(w)))))
            }
            AnyBody::Router(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|frame| frame.map(|frame| frame.map(|f| f.map_data(Chunk::Shared)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            AnyBody::Whole(written) => written.is_none(),
            AnyBody::Router(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            AnyBody::Whole(written) => {
                SizeHint::with_exact(written.as_ref().map_or(0, |w| w.remaining() as u64))
            }
            AnyBody::Router(body) => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test]
    async fn a_whole_body_is_its_bytes_once() {
        let body = AnyBody::whole(b"<answer/>".to_vec());
        assert_eq!(body.size_hint().exact(), Some(9));
        assert!(!body.is_end_stream());
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"<answer/>");
        let empty = AnyBody::whole(Vec::new());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
    }

    #[test]
    fn a_written_buffer_advances_to_its_end() {
        let mut written = Written::new(b"abcdef".to_vec());
        written.advance(2);
        assert_eq!(written.chunk(), b"cdef");
        assert_eq!(written.remaining(), 4);
        written.advance(4);
        assert!(!written.has_remaining());
    }
}
