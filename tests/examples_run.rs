//! The examples that show a pattern whole run to the end and say so.

#[path = "../examples/pubsub.rs"]
#[allow(dead_code)]
mod pubsub;

/// Watches kept per connection and dropped with it, fan-out to the other
/// connections' watches, changes read as a typed stream in order with
/// replies: `run` checks each and fails if one does not hold.
#[tokio::test]
async fn pubsub_example_runs() {
    if let Err(e) = pubsub::run().await {
        panic!("examples/pubsub.rs failed: {e}");
    }
}
