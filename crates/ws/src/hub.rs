//! Broadcast on one thread: a [`Hub`] holds a bounded queue per subscriber, and
//! [`Hub::publish`] puts one shared [`PreparedMessage`] in every queue (a reference count each,
//! never a copy). A subscriber that falls `bound` messages behind is handled by the hub's
//! [`SlowPolicy`]: its oldest messages are dropped (and counted), or it is cut off and its next
//! [`Subscription::recv`] says [`Lagged`] (close it with 1008 or 1013). So a slow or stalled
//! connection holds at most `bound` messages, whatever the publishers do. No sockets: a
//! connection's writer task takes from its subscription and feeds the connection
//! (`feed_prepared`, then one `flush` for everything that was waiting).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use crate::protocol::prepared::PreparedMessage;

/// What happens to a subscriber whose queue is full when a message is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlowPolicy {
    /// Drop its oldest queued message to make room (counted in [`Subscription::dropped`]).
    DropOldest,
    /// Cut it off: its queue is emptied and its next `recv` returns [`Lagged`].
    Disconnect,
}

/// A subscriber was cut off for falling too far behind ([`SlowPolicy::Disconnect`]), or the hub
/// is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Lagged {
    /// The subscriber's queue overflowed.
    #[error("subscriber fell more than its bound behind")]
    Overflow,
    /// Every `Hub` handle was dropped and the queue is empty.
    #[error("the hub is closed")]
    Closed,
}

#[derive(Debug, Default)]
struct Queue {
    messages: VecDeque<Rc<PreparedMessage>>,
    waker: Option<Waker>,
    dropped: u64,
    cut_off: bool,
}

#[derive(Debug)]
struct Inner {
    queues: Vec<Option<Queue>>,
    free: Vec<usize>,
    bound: usize,
    policy: SlowPolicy,
    hubs: usize,
}

/// A broadcast hub for connections on this thread. Clone it to publish from several places.
#[derive(Debug)]
pub struct Hub(Rc<RefCell<Inner>>);

impl Hub {
    /// A hub keeping at most `bound` (at least 1) unsent messages per subscriber.
    pub fn new(bound: usize, policy: SlowPolicy) -> Self {
        let inner =
            Inner { queues: Vec::new(), free: Vec::new(), bound: bound.max(1), policy, hubs: 1 };
        Self(Rc::new(RefCell::new(inner)))
    }

    /// A new subscriber; it receives what is published from now on.
    pub fn subscribe(&self) -> Subscription {
        let mut inner = self.0.borrow_mut();
        let slot = match inner.free.pop() {
            Some(slot) => {
                inner.queues[slot] = Some(Queue::default());
                slot
            }
            None => {
                inner.queues.push(Some(Queue::default()));
                inner.queues.len() - 1
            }
        };
        Subscription { inner: self.0.clone(), slot }
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        let inner = self.0.borrow();
        inner.queues.len() - inner.free.len()
    }

    /// Queues `msg` for every subscriber (one shared allocation) and wakes them; returns how
    /// many got it.
    pub fn publish(&self, msg: PreparedMessage) -> usize {
        let msg = Rc::new(msg);
        let mut inner = self.0.borrow_mut();
        let (bound, policy) = (inner.bound, inner.policy);
        let mut delivered = 0;
        for queue in inner.queues.iter_mut().flatten() {
            if queue.cut_off {
                continue;
            }
            if queue.messages.len() >= bound {
                match policy {
                    SlowPolicy::DropOldest => {
                        queue.messages.pop_front();
                        queue.dropped += 1;
                    }
                    SlowPolicy::Disconnect => {
                        queue.messages.clear();
                        queue.cut_off = true;
                        if let Some(w) = queue.waker.take() {
                            w.wake();
                        }
                        continue;
                    }
                }
            }
            queue.messages.push_back(msg.clone());
            delivered += 1;
            if let Some(w) = queue.waker.take() {
                w.wake();
            }
        }
        delivered
    }
}

impl Clone for Hub {
    fn clone(&self) -> Self {
        self.0.borrow_mut().hubs += 1;
        Self(self.0.clone())
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let mut inner = self.0.borrow_mut();
        inner.hubs -= 1;
        if inner.hubs == 0 {
            for queue in inner.queues.iter_mut().flatten() {
                if let Some(w) = queue.waker.take() {
                    w.wake();
                }
            }
        }
    }
}

/// One subscriber's end of a [`Hub`]; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    inner: Rc<RefCell<Inner>>,
    slot: usize,
}

impl Subscription {
    /// The next message, waiting for one. Cancel-safe: dropping the future loses nothing.
    pub async fn recv(&mut self) -> Result<Rc<PreparedMessage>, Lagged> {
        poll_fn(|cx| {
            let mut inner = self.inner.borrow_mut();
            let hub_gone = inner.hubs == 0;
            let Some(queue) = inner.queues.get_mut(self.slot).and_then(Option::as_mut) else {
                return Poll::Ready(Err(Lagged::Closed));
            };
            if queue.cut_off {
                return Poll::Ready(Err(Lagged::Overflow));
            }
            if let Some(msg) = queue.messages.pop_front() {
                return Poll::Ready(Ok(msg));
            }
            if hub_gone {
                return Poll::Ready(Err(Lagged::Closed));
            }
            queue.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// The next message if one is queued (to feed a burst before one flush).
    pub fn try_recv(&mut self) -> Option<Rc<PreparedMessage>> {
        let mut inner = self.inner.borrow_mut();
        let queue = inner.queues.get_mut(self.slot)?.as_mut()?;
        if queue.cut_off { None } else { queue.messages.pop_front() }
    }

    /// Messages dropped for this subscriber under [`SlowPolicy::DropOldest`].
    pub fn dropped(&self) -> u64 {
        let inner = self.inner.borrow();
        inner.queues.get(self.slot).and_then(Option::as_ref).map_or(0, |q| q.dropped)
    }

    /// Messages waiting.
    pub fn queued(&self) -> usize {
        let inner = self.inner.borrow();
        inner.queues.get(self.slot).and_then(Option::as_ref).map_or(0, |q| q.messages.len())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut inner = self.inner.borrow_mut();
        if let Some(slot) = inner.queues.get_mut(self.slot) {
            *slot = None;
            inner.free.push(self.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(i: usize) -> PreparedMessage {
        PreparedMessage::text(format!("m{i}"))
    }

    fn payload(m: &PreparedMessage) -> &[u8] {
        m.payload()
    }

    #[compio::test]
    async fn every_subscriber_gets_each_message_once_in_order_and_shares_it() {
        let hub = Hub::new(100, SlowPolicy::Disconnect);
        let (mut a, mut b) = (hub.subscribe(), hub.subscribe());
        for i in 0..50 {
            assert_eq!(hub.publish(text(i)), 2);
        }
        for i in 0..50 {
            let (x, y) = (a.recv().await.unwrap(), b.recv().await.unwrap());
            assert!(Rc::ptr_eq(&x, &y), "one allocation for both");
            assert_eq!(payload(&x), format!("m{i}").as_bytes());
        }
        assert_eq!(a.try_recv().map(|_| ()), None);
        // A subscriber waiting is woken by a publish.
        let waiter =
            compio::runtime::spawn(async move { a.recv().await.map(|m| payload(&m).to_vec()) });
        compio::time::sleep(std::time::Duration::from_millis(10)).await;
        hub.publish(text(99));
        assert_eq!(waiter.await.unwrap().unwrap(), b"m99");
        assert_eq!(b.recv().await.unwrap().len(), 3);
    }

    #[compio::test]
    async fn a_slow_subscriber_holds_at_most_its_bound_under_either_policy() {
        let drop_oldest = Hub::new(10, SlowPolicy::DropOldest);
        let (mut slow, mut fast) = (drop_oldest.subscribe(), drop_oldest.subscribe());
        for i in 0..1000 {
            drop_oldest.publish(text(i));
            assert_eq!(payload(&fast.recv().await.unwrap()), format!("m{i}").as_bytes());
            assert!(slow.queued() <= 10);
        }
        assert_eq!(slow.dropped(), 990);
        assert_eq!(payload(&slow.recv().await.unwrap()), b"m990", "the newest ten are kept");

        let cut = Hub::new(10, SlowPolicy::Disconnect);
        let (mut slow, mut fast) = (cut.subscribe(), cut.subscribe());
        for i in 0..11 {
            cut.publish(text(i));
            fast.recv().await.unwrap();
        }
        assert_eq!(slow.queued(), 0, "its queue is freed when it is cut off");
        assert_eq!(slow.recv().await.map(|_| ()), Err(Lagged::Overflow));
        assert_eq!(cut.publish(text(11)), 1, "only the subscriber keeping up gets it");
        drop(slow);
        assert_eq!(cut.subscribers(), 1);
        drop(cut);
        fast.recv().await.unwrap();
        assert_eq!(fast.recv().await.map(|_| ()), Err(Lagged::Closed), "hub gone, queue drained");
    }
}
