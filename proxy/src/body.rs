//! The body type of every response the proxy sends to its clients.
//!
//! Bodies are either complete (small cached ones, error texts) or a channel fed by a task
//! that streams from upstream or from a blob. An `Err` sent on the channel makes hyper abort
//! the response (connection closed for HTTP/1.1, stream reset for HTTP/2) so a client never
//! mistakes a truncated body for a complete one.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

/// Why a body stream stopped early. Only its message is ever shown (in logs).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BodyError(pub(crate) String);

/// Sending half of a [`ProxyBody::channel`].
pub(crate) type BodySender = mpsc::Sender<Result<Bytes, BodyError>>;

/// How many chunks may wait between producer and client: enough to keep both sides busy,
/// small enough that a slow client slows the upstream read instead of filling memory.
pub(crate) const CHANNEL_CHUNKS: usize = 8;

/// A response body.
#[derive(Debug)]
pub(crate) enum ProxyBody {
    Full(Option<Bytes>),
    Channel {
        rx: mpsc::Receiver<Result<Bytes, BodyError>>,
        /// The exact length when known: lets HTTP/2 announce it.
        len: Option<u64>,
    },
}

impl ProxyBody {
    pub(crate) fn empty() -> Self {
        ProxyBody::Full(None)
    }

    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ProxyBody::Full((!bytes.is_empty()).then_some(bytes))
    }

    /// A streamed body and the sender that feeds it.
    pub(crate) fn channel(len: Option<u64>) -> (BodySender, Self) {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        (tx, ProxyBody::Channel { rx, len })
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.get_mut() {
            ProxyBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            ProxyBody::Channel { rx, .. } => rx
                .poll_recv(cx)
                .map(|item| item.map(|chunk| chunk.map(Frame::data))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(bytes) => bytes.is_none(),
            ProxyBody::Channel { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            ProxyBody::Channel { len: Some(len), .. } => SizeHint::with_exact(*len),
            ProxyBody::Channel { len: None, .. } => SizeHint::default(),
        }
    }
}
