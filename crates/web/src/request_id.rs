//! Request ids: a UUIDv7 for every request that does not bring its own `x-request-id`.

use std::cell::Cell;

use axum::http::{HeaderValue, Request};
use domain::{Clock, Entropy, SystemClock, SystemEntropy};
use uuid::Uuid;

/// Makes request ids.
#[derive(Debug, Clone, Default)]
pub struct MakeRequestId;

impl tower_http::request_id::MakeRequestId for MakeRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<tower_http::request_id::RequestId> {
        let id = domain::id::new_v7(SystemClock.now(), &RequestIdBits);
        let mut text = Uuid::encode_buffer();
        HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).ok().map(Into::into)
    }
}

/// The random part of request ids. A request id must be unique, not secret: the time and the
/// process's strictly increasing counter already make ids of one process unique, and the random
/// bits only keep those of different processes apart. So each thread draws them from SplitMix64
/// seeded once from the operating system, instead of asking the operating system on every request
/// (which cost a fortieth of a bare request). Secrets and entity ids still use [`SystemEntropy`].
#[derive(Debug)]
struct RequestIdBits;

impl Entropy for RequestIdBits {
    fn fill(&self, dest: &mut [u8]) {
        thread_local! {
            static STATE: Cell<u64> = Cell::new({
                let mut seed = [0u8; 8];
                SystemEntropy::new().fill(&mut seed);
                u64::from_le_bytes(seed)
            });
        }
        STATE.with(|state| {
            for chunk in dest.chunks_mut(8) {
                let next = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
                state.set(next);
                chunk.copy_from_slice(&split_mix(next).to_le_bytes()[..chunk.len()]);
            }
        });
    }
}

/// SplitMix64's output function (Steele, Lea and Flood, 2014).
fn split_mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use tower_http::request_id::MakeRequestId as _;

    use super::*;

    #[test]
    fn request_ids_are_distinct_uuid_v7_across_threads() {
        let made: Vec<String> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let request = Request::new(());
                        (0..2_000)
                            .map(|_| {
                                let id = MakeRequestId.make_request_id(&request).expect("an id");
                                id.header_value().to_str().expect("ASCII").to_owned()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            workers.into_iter().flat_map(|w| w.join().expect("a worker")).collect()
        });
        let distinct: HashSet<&String> = made.iter().collect();
        assert_eq!(distinct.len(), made.len());
        for id in &made {
            let uuid = Uuid::try_parse(id).expect("a UUID");
            assert_eq!(uuid.get_version_num(), 7, "{id}");
            assert_eq!(id, &uuid.hyphenated().to_string(), "lowercase and hyphenated");
        }
    }

    #[test]
    fn two_threads_draw_different_bits() {
        let draw = || {
            let mut bits = [0u8; 10];
            RequestIdBits.fill(&mut bits);
            bits
        };
        let here = draw();
        let there = std::thread::spawn(draw).join().expect("a thread");
        assert_ne!(here, there);
        assert_ne!(here, [0u8; 10]);
    }
}
