//! End-to-end tests of an `api!`-declared API: the generated client against
//! the generated server trait, over an in-memory `tokio::io::duplex` pipe.
//!
//! A second declaration, `CalcV2`, plays a newer client talking to the older
//! server: it calls a method the server lacks and sends params of a type the
//! server does not accept, which is how a typed client meets -32601 and
//! -32602 in practice.

use std::future::Future;
use std::time::Duration;

use jsonrpc_core::codec::LineCodec;
use jsonrpc_core::{api, CallError, ErrorObject, Peer, PeerHandle, RequestContext};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DivideParams {
    pub dividend: i64,
    pub divisor: i64,
}

/// `divide`'s own error. On the wire it is a JSON-RPC 2.0 error object (so
/// any 2.0 client can read it); the client gets it back as this enum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "ErrorObject", try_from = "ErrorObject")]
pub enum CalcError {
    DivisionByZero {
        dividend: i64,
    },
    Overflow,
    /// Any other error object, such as the standard ones (-32602 ...) the
    /// router sends for every method whatever its error type.
    Other(ErrorObject),
}

const DIVISION_BY_ZERO: i64 = 1;
const OVERFLOW: i64 = 2;

impl From<CalcError> for ErrorObject {
    fn from(e: CalcError) -> Self {
        match e {
            CalcError::DivisionByZero { dividend } => {
                ErrorObject::new(DIVISION_BY_ZERO, "division by zero")
                    .with_data(json!({ "dividend": dividend }))
            }
            CalcError::Overflow => ErrorObject::new(OVERFLOW, "the quotient overflows an i64"),
            CalcError::Other(e) => e,
        }
    }
}

impl TryFrom<ErrorObject> for CalcError {
    type Error = String;

    fn try_from(e: ErrorObject) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct ZeroData {
            dividend: i64,
        }
        match e.code {
            DIVISION_BY_ZERO => {
                let data = e.data.as_ref().ok_or("division by zero without data")?;
                let data: ZeroData = serde_json::from_str(data.get()).map_err(|e| e.to_string())?;
                Ok(CalcError::DivisionByZero {
                    dividend: data.dividend,
                })
            }
            OVERFLOW => Ok(CalcError::Overflow),
            _ => Ok(CalcError::Other(e)),
        }
    }
}

// Single values travel as one-element tuples, i.e. `["text"]`: JSON-RPC 2.0
// params must be an array or an object (see the test at the end).
api! {
    /// The calculator the tests serve.
    pub trait Calc;
    /// Its typed client.
    pub struct CalcClient;

    /// `a + b`.
    method add: Add("add", (i64, i64)) -> i64;
    /// `dividend / divisor`, with an error type of its own.
    method divide: Divide("divide", DivideParams) -> i64 | CalcError;
    /// Panics with the given text.
    method explode: Explode("explode", (String,)) -> ();
    /// Hands the text to the test.
    notification record: Record("record", (String,));
}

api! {
    /// A newer revision of the calculator, which the server does not serve.
    pub trait CalcV2;
    /// A client written against the newer revision.
    pub struct CalcV2Client;

    /// Not served by the old server at all.
    method sqrt: Sqrt("sqrt", (f64,)) -> f64;
    /// `add` with float params, which the old server's `(i64, i64)` refuses.
    method add_floats: AddFloats("add", (f64, f64)) -> f64;
}

struct Server {
    records: mpsc::UnboundedSender<String>,
}

impl Calc for Server {
    async fn add(&self, (a, b): (i64, i64), _: RequestContext) -> Result<i64, ErrorObject> {
        a.checked_add(b)
            .ok_or_else(|| ErrorObject::invalid_params("the sum overflows an i64"))
    }

    async fn divide(&self, p: DivideParams, _: RequestContext) -> Result<i64, CalcError> {
        if p.divisor == 0 {
            return Err(CalcError::DivisionByZero {
                dividend: p.dividend,
            });
        }
        p.dividend.checked_div(p.divisor).ok_or(CalcError::Overflow)
    }

    async fn explode(&self, (why,): (String,), _: RequestContext) -> Result<(), ErrorObject> {
        panic!("{why}")
    }

    async fn record(&self, (line,): (String,), _: RequestContext) {
        // The test may have stopped listening; nothing to tell anyone then.
        let _ = self.records.send(line);
    }
}

/// A client and a server joined by an in-memory pipe.
struct Setup {
    client: CalcClient,
    v2: CalcV2Client,
    server: PeerHandle,
    records: mpsc::UnboundedReceiver<String>,
}

fn setup() -> Setup {
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (tx, records) = mpsc::unbounded_channel();
    let server = Peer::new(LineCodec::new())
        .router(Server { records: tx }.into_router())
        .spawn(a);
    let peer = Peer::new(LineCodec::new()).spawn(b);
    Setup {
        client: CalcClient::new(peer.clone()),
        v2: CalcV2Client::new(peer),
        server,
        records,
    }
}

/// Turns a hang into a failure; never decides a pass.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no outcome within 10 s"))
}

#[tokio::test]
async fn typed_results() {
    let s = setup();
    assert_eq!(within("add", s.client.add((2, 3))).await.ok(), Some(5));
    let quotient = within(
        "divide",
        s.client.divide(DivideParams {
            dividend: 7,
            divisor: -2,
        }),
    )
    .await;
    assert_eq!(quotient.ok(), Some(-3));
}

#[tokio::test]
async fn custom_error_is_decoded_into_its_type() {
    let s = setup();
    let zero = DivideParams {
        dividend: 7,
        divisor: 0,
    };
    match within("divide by 0", s.client.divide(zero)).await {
        Err(CallError::Rpc(e)) => assert_eq!(e, CalcError::DivisionByZero { dividend: 7 }),
        other => panic!("expected a typed DivisionByZero, got {other:?}"),
    }
    let overflow = DivideParams {
        dividend: i64::MIN,
        divisor: -1,
    };
    match within("overflow", s.client.divide(overflow)).await {
        Err(CallError::Rpc(e)) => assert_eq!(e, CalcError::Overflow),
        other => panic!("expected a typed Overflow, got {other:?}"),
    }

    // On the wire it is a plain 2.0 error object, for clients without the type.
    let params = jsonrpc_core::RawJson::from_value(&zero).ok();
    match within(
        "raw divide",
        s.client.peer().call_raw("divide", params, None),
    )
    .await
    {
        Err(CallError::Rpc(raw)) => {
            let error: serde_json::Value =
                serde_json::from_str(raw.get()).expect("the error is JSON");
            assert_eq!(
                error,
                json!({"code": 1, "message": "division by zero", "data": {"dividend": 7}})
            );
        }
        other => panic!("expected an error reply, got {other:?}"),
    }
}

#[tokio::test]
async fn notification_is_delivered_in_order() {
    let mut s = setup();
    for line in ["first", "second", "third"] {
        within("notify", s.client.record((line.to_owned(),)))
            .await
            .expect("the notification is sent");
    }
    for expected in ["first", "second", "third"] {
        let got = within("notification handler", s.records.recv()).await;
        assert_eq!(got.as_deref(), Some(expected));
    }
}

#[tokio::test]
async fn unknown_method_is_method_not_found() {
    let s = setup();
    match within("sqrt", s.v2.sqrt((2.0,))).await {
        Err(CallError::Rpc(e)) => {
            assert_eq!(e.code, ErrorObject::METHOD_NOT_FOUND);
            assert_eq!(e.code, -32601);
            assert!(e.message.contains("sqrt"), "message: {}", e.message);
        }
        other => panic!("expected -32601, got {other:?}"),
    }
}

#[tokio::test]
async fn params_that_do_not_deserialize_are_invalid_params_with_serdes_reason() {
    let s = setup();
    let sent = (1.5f64, 2.0f64);
    // What serde says about the very text the client sends.
    let text = serde_json::to_string(&sent).expect("floats serialize");
    let reason = serde_json::from_str::<(i64, i64)>(&text)
        .expect_err("floats are not i64")
        .to_string();
    assert!(reason.contains("expected i64"), "serde's reason: {reason}");

    match within("add_floats", s.v2.add_floats(sent)).await {
        Err(CallError::Rpc(e)) => {
            assert_eq!(e.code, ErrorObject::INVALID_PARAMS);
            assert_eq!(e.code, -32602);
            assert!(
                e.message.contains(&reason),
                "message {:?} lacks serde's reason {reason:?}",
                e.message
            );
        }
        other => panic!("expected -32602, got {other:?}"),
    }

    // A method with its own error type gets the standard error too, as the
    // catch-all variant of that type.
    let bad = jsonrpc_core::RawJson::from_value(&json!({"dividend": "seven", "divisor": 1})).ok();
    let reply = within("raw divide", s.client.peer().call_raw("divide", bad, None)).await;
    let Err(CallError::Rpc(raw)) = reply else {
        panic!("expected an error reply, got {reply:?}");
    };
    let typed: CalcError = serde_json::from_str(raw.get()).expect("a CalcError");
    match typed {
        CalcError::Other(e) => assert_eq!(e.code, -32602, "{e}"),
        other => panic!("expected the catch-all variant, got {other:?}"),
    }
}

#[tokio::test]
async fn handler_panic_is_internal_error_and_the_connection_lives_on() {
    let s = setup();
    match within("explode", s.client.explode(("kaboom #41".into(),))).await {
        Err(CallError::Rpc(e)) => {
            assert_eq!(e.code, ErrorObject::INTERNAL_ERROR);
            assert_eq!(e.code, -32603);
            assert!(e.message.contains("kaboom #41"), "message: {}", e.message);
        }
        other => panic!("expected -32603, got {other:?}"),
    }
    assert!(!s.server.is_closed(), "the server closed after a panic");
    assert!(
        !s.client.peer().is_closed(),
        "the client closed after a panic"
    );
    assert_eq!(
        within("add after panic", s.client.add((40, 2))).await.ok(),
        Some(42)
    );
    let stats = s.client.peer().stats();
    assert_eq!((stats.calls_sent, stats.replies_received), (2, 2));
}

/// Repro for a jsonrpc-core bug: a `Method` or `NotificationMethod` whose
/// params serialize to a scalar (`String`, `f64`, ...) is sent as
/// `"params": "text"`, which the receiving peer (this same framework) must
/// and does refuse with -32600. The call fails only after the round trip,
/// and the notification is lost while `notify` reports success.
/// Either outcome of a fix passes: the value arrives, or the client refuses
/// to send it (an error before anything is written).
#[tokio::test]
async fn scalar_params_are_refused_before_they_are_sent() {
    api! {
        /// Scalar params, served.
        pub trait Scalars;
        /// Scalar params, called.
        pub struct ScalarsClient;

        method echo: Echo("echo", String) -> String;
        notification note: Note("note", String);
    }
    struct S(mpsc::UnboundedSender<String>);
    impl Scalars for S {
        async fn echo(&self, text: String, _: RequestContext) -> Result<String, ErrorObject> {
            Ok(text)
        }
        async fn note(&self, text: String, _: RequestContext) {
            let _ = self.0.send(text);
        }
    }
    let (a, b) = tokio::io::duplex(64 * 1024);
    let (tx, mut notes) = mpsc::unbounded_channel();
    let server = Peer::new(LineCodec::new())
        .router(S(tx).into_router())
        .spawn(a);
    let client = ScalarsClient::new(Peer::new(LineCodec::new()).spawn(b));

    // JSON-RPC params are an array or an object: a bare string is refused
    // here, with the fix in the message, instead of by the peer.
    match within("echo", client.echo("hi".into())).await {
        Err(CallError::Encode(e)) => assert!(e.to_string().contains("(value,)"), "{e}"),
        other => panic!("expected a local refusal, got {other:?}"),
    }
    match within("note", client.note("hi".into())).await {
        Err(CallError::Encode(_)) => {}
        other => panic!("expected a local refusal, got {other:?}"),
    }
    assert!(notes.try_recv().is_err(), "nothing reached the server");
    assert_eq!(server.stats().invalid_received, 0);
    assert_eq!(client.peer().stats().calls_sent, 0);
}
