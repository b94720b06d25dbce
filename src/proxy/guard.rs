//! The edge of a connection task. A panic anywhere below it (a bug, since
//! input never panics and module handlers are guarded on their own) is
//! caught here: the connection is dropped, which closes it and frees its
//! buffers, and the worker goes on serving every other connection.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Run `fut`, turning a panic in any of its polls into `Err(payload)`.
/// The future is not polled again after it panicked; it is dropped.
///
/// A plain future type rather than an `async fn`: an `async fn` would keep
/// both the argument and its pinned copy in its state, doubling the size
/// of every connection task.
pub(crate) fn catch_panic<F: Future>(fut: F) -> CatchPanic<F> {
    CatchPanic(fut)
}

pub(crate) struct CatchPanic<F>(F);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: the inner future is never moved out of `self`; this is the
        // structural pin projection of the only field.
        let fut = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// Decrements a gauge when dropped, so it is right however the scope ends
/// (also when a panic unwinds through it).
pub(crate) struct GaugeGuard<'a>(pub &'a std::cell::Cell<u64>);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_future_is_caught() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        rt.block_on(async {
            let ok = catch_panic(async { 7 }).await;
            assert_eq!(ok.ok(), Some(7));
            let gauge = std::cell::Cell::new(1);
            let err = catch_panic(async {
                let _g = GaugeGuard(&gauge);
                monoio::time::sleep(std::time::Duration::from_millis(1)).await;
                panic!("boom");
            })
            .await;
            assert_eq!(
                crate::module::panic_message(err.unwrap_err().as_ref()),
                "boom"
            );
            assert_eq!(gauge.get(), 0);
        });
    }
}
