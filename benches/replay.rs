//! The replay memory's cost (issue 17): µs per answer (the fingerprint, a SHA-256 of the
//! signature headers, and the memory's look-up and insert at a steady 2,000 answers a second),
//! and the memory it holds at that rate (a counting allocator; printed before the criterion
//! runs).
//!
//! `cargo bench --bench replay`

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use wechatpay::replay::{Fingerprint, InMemory, ReplayMemory};

/// Counts the bytes allocated and not freed.
struct Counting;

static HELD: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HELD.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HELD.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const RATE: i64 = 2_000;
const WINDOW: i64 = 300;
const SIGNATURE: &str = "Pb2hwCUl0gBdELR3iU0+3VJ7xIf6s7Ltr3XUZI5eiljvtp1JCbZqQw4sPWU/O/ixXQoOJ2dlA2H/XnkOWhS6j7wmMVq7TGsTZ0BXo4LdVL1xX3SA1yTbErVyrGpkQvmNTvDZKgrCONWmu7zZaGh5aFUOBpYFSqSdfbOPv0h3W4dh2vXYOpzQBIo1zmD8JOpYBAE2jCmKl7J/6kY3PLHgjMBw6u/xJWMpHXqu2KgXh1bFAwyF7bSiaXNsE6Nd5f5pqLd1d5tCW5ESoSmoh7jk4IUfLbSlR7WXeSgnwzIl9JqPEPgNfTx3DMvkrbyrjUbxqWDpjRRqRuEFzo2TRDhe7A==";

fn fingerprint(n: i64) -> Fingerprint {
    Fingerprint::of(
        "PUB_KEY_ID_0114232134912410000000000000",
        &format!("{n:032}"),
        SIGNATURE,
    )
}

/// A memory holding one window at `RATE`: answer `n` arrives at second `n / RATE` and expires
/// `WINDOW` seconds later.
fn steady_state() -> (InMemory, i64) {
    let memory = InMemory::default();
    let answers = RATE * WINDOW;
    for n in 0..answers {
        let now = n / RATE;
        memory.sight(&fingerprint(n), now + WINDOW, now);
    }
    (memory, answers)
}

fn memory_at_the_rate() {
    let before = HELD.load(Ordering::Relaxed);
    let (memory, answers) = steady_state();
    let held = HELD.load(Ordering::Relaxed) - before;
    println!(
        "replay memory at {RATE} answers/s ({answers} in the {WINDOW} s window): {} answers \
         remembered, {:.1} MiB allocated ({:.1} bytes per answer)",
        memory.len(),
        held as f64 / (1 << 20) as f64,
        held as f64 / memory.len() as f64
    );
}

fn bench(c: &mut Criterion) {
    memory_at_the_rate();
    let mut g = c.benchmark_group("replay");
    let headers = (
        "PUB_KEY_ID_0114232134912410000000000000",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
    );
    g.bench_function("fingerprint", |b| {
        b.iter(|| {
            Fingerprint::of(
                black_box(headers.0),
                black_box(headers.1),
                black_box(SIGNATURE),
            )
        })
    });
    // A new answer against a full window, the window sliding on (expired ones swept).
    let (memory, mut n) = steady_state();
    let fingerprints: Vec<Fingerprint> = (n..n + 200_000).map(fingerprint).collect();
    let mut i = 0;
    g.bench_function("sight_new_answer_at_2000_per_s", |b| {
        b.iter(|| {
            let now = n / RATE;
            let outcome = memory.sight(&fingerprints[i % fingerprints.len()], now + WINDOW, now);
            n += 1;
            i += 1;
            outcome
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
