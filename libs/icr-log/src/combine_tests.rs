use std::sync::Arc;
use std::time::Duration;

use super::*;

/// Appends each item to the state and answers with the state's length.
fn push_all(applied: &mut Vec<u32>, work: Vec<u32>) -> Vec<usize> {
    work.into_iter()
        .map(|item| {
            applied.push(item);
            applied.len()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_piece_of_work_is_applied_once_in_one_order() {
    let combining = Arc::new(Combining::new(Vec::<u32>::new()));
    let writers = (0..64u32).map(|w| {
        let combining = Arc::clone(&combining);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for i in 0..100 {
                let at = combining
                    .submit(w * 1000 + i, push_all)
                    .await
                    .expect("applied");
                seen.push(at);
            }
            seen
        })
    });
    let mut positions = Vec::new();
    for writer in writers {
        let seen = tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("no writer is left waiting")
            .expect("join");
        assert!(
            seen.windows(2).all(|p| p[0] < p[1]),
            "a writer's work in its order"
        );
        positions.extend(seen);
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=6400).collect::<Vec<_>>(), "each once");
    let state = combining.state();
    let applied = state.as_ref().expect("no panic");
    for w in 0..64 {
        let mine: Vec<_> = applied.iter().filter(|i| *i / 1000 == w).collect();
        assert!(mine.windows(2).all(|p| p[0] < p[1]));
    }
}

#[tokio::test]
async fn after_a_panic_while_applying_nothing_more_is_applied_and_no_one_waits() {
    let combining = Combining::new(Vec::<u32>::new());
    let panicked = combining
        .submit(1, |_: &mut Vec<u32>, _: Vec<u32>| -> Vec<usize> {
            panic!("storage engine bug")
        })
        .await;
    assert!(panicked.is_none(), "the panicking work has no result");
    let later = tokio::time::timeout(Duration::from_secs(5), combining.submit(2, push_all))
        .await
        .expect("a later caller is answered, not left waiting");
    assert!(
        later.is_none(),
        "and refused: the state is not trusted any more"
    );
    assert!(combining.state().is_none());
}
