//! A reconnecting client stops when its last handle goes: no task left
//! reconnecting forever in the background, no connection left open.

use std::time::Duration;

use futures::StreamExt;
use jsonrpc_core::codec::JsonStreamCodec;
use jsonrpc_transport::{
    ConnectionState, Endpoint, ListenEndpoint, ReconnectOptions, ReconnectingClient, Server,
};

#[tokio::test]
async fn dropping_the_last_handle_stops_the_client_and_closes_its_connection() {
    let server = Server::new(JsonStreamCodec::new())
        .bind(["ptcp:0:127.0.0.1".parse::<ListenEndpoint>().unwrap()])
        .await
        .unwrap();
    let ListenEndpoint::Tcp { port, .. } = server.local_endpoints()[0] else {
        panic!("a TCP endpoint");
    };
    let endpoint: Endpoint = format!("tcp:127.0.0.1:{port}").parse().unwrap();
    let client = ReconnectingClient::spawn(
        endpoint,
        JsonStreamCodec::new(),
        ReconnectOptions::default(),
        |_| async { Ok(()) },
    );
    let mut states = Box::pin(client.states());
    let connected = async {
        while let Some(state) = states.next().await {
            if state == ConnectionState::Connected {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .expect("connected");
    assert_eq!(server.stats().connections_open, 1);
    let clone = client.clone();
    drop(client);
    // A clone still holds it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.stats().connections_open, 1);
    drop(clone);
    let closed = async {
        while server.stats().connections_open > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed)
        .await
        .expect("the connection closes once the last handle is gone");
    // And the supervisor says so on the stream it still feeds.
    let closed_state = async {
        while let Some(state) = states.next().await {
            if state == ConnectionState::Closed {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), closed_state)
        .await
        .expect("the client reports Closed");
}
