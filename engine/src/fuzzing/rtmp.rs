//! What an RTMP client's bytes go through after the handshake: rml_rtmp's chunk stream and
//! session state machine, and the (patched, vendored) AMF0 decoder behind its commands.

use std::io::Cursor;

use rml_rtmp::rml_amf0::{Amf0Value, deserialize, serialize};
use rml_rtmp::sessions::{
    ClientSession, ClientSessionConfig, ClientSessionEvent, ClientSessionResult,
    PublishRequestType, ServerSession, ServerSessionConfig, ServerSessionEvent,
    ServerSessionResult,
};

/// The chunk size the RTMP port announces (`rtmp::conn`).
const CHUNK_SIZE: u32 = 4096;

/// A server session as the RTMP port runs it, fed the input in pieces through the port's
/// guarded read; every connect, publish and play request is accepted so the bytes reach the
/// publishing state. If the first byte is odd, the input comes after a real client's
/// `connect` and `publish` (so the fuzzer starts from a publishing session). Checks that
/// nothing panics outside the port's containment, hangs (a chunk size of 0 must not loop
/// forever) or aborts (an allocation the size of a wrapped length).
pub fn rtmp_session(data: &[u8]) {
    tolerate_contained_panics();
    let mut config = ServerSessionConfig::new();
    config.chunk_size = CHUNK_SIZE;
    let Ok((mut server, initial)) = ServerSession::new(config) else {
        return;
    };
    if data.first().is_some_and(|b| b & 1 == 1) && publish(&mut server, initial).is_none() {
        panic!("a real client's connect and publish were not accepted");
    }
    let Some(pieces) = super::pieces(data) else {
        return;
    };
    for piece in pieces {
        let Ok(results) = read(&mut server, piece) else {
            return;
        };
        if accept_all(&mut server, results).is_none() {
            return;
        }
    }
}

thread_local! {
    /// Whether this thread is inside the RTMP port's guarded feed of a session.
    static FEEDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// libFuzzer's panic hook aborts on any panic, caught or not. The panics rml_rtmp raises
/// while the RTMP port feeds it are contained there (`crate::rtmp::feed`: the connection
/// ends as an error), so they are let through to that containment; a panic anywhere else
/// still aborts and is a finding.
fn tolerate_contained_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let next = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FEEDING.with(std::cell::Cell::get) {
                next(info);
            }
        }));
    });
}

/// The port's read of `bytes`, with its contained panics tolerated.
fn read(server: &mut ServerSession, bytes: &[u8]) -> Result<Vec<ServerSessionResult>, String> {
    FEEDING.with(|f| f.set(true));
    let read = crate::rtmp::conn::read(server, bytes);
    FEEDING.with(|f| f.set(false));
    read
}

/// Accepts every request the results raise (and those their answers raise); the bytes the
/// server would send. `None` if the session refused to go on.
fn accept_all(server: &mut ServerSession, results: Vec<ServerSessionResult>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut work = results;
    while !work.is_empty() {
        for r in std::mem::take(&mut work) {
            match r {
                ServerSessionResult::OutboundResponse(p) => out.extend_from_slice(&p.bytes),
                ServerSessionResult::RaisedEvent(
                    ServerSessionEvent::ConnectionRequested { request_id, .. }
                    | ServerSessionEvent::PublishStreamRequested { request_id, .. }
                    | ServerSessionEvent::PlayStreamRequested { request_id, .. },
                ) => work.extend(server.accept_request(request_id).ok()?),
                ServerSessionResult::RaisedEvent(_)
                | ServerSessionResult::UnhandleableMessageReceived(_) => {}
            }
        }
    }
    Some(out)
}

/// Runs rml_rtmp's client against `server` (whose first packets are `greeting`) in memory
/// up to an accepted publish.
fn publish(server: &mut ServerSession, greeting: Vec<ServerSessionResult>) -> Option<()> {
    let (mut client, initial) = ClientSession::new(ClientSessionConfig::new()).ok()?;
    let mut to_server = Vec::new();
    let mut events = collect(initial, &mut to_server);
    let to_client = accept_all(server, greeting)?;
    events.extend(collect(
        client.handle_input(&to_client).ok()?,
        &mut to_server,
    ));
    events.extend(collect(
        vec![client.request_connection("live".into()).ok()?],
        &mut to_server,
    ));
    for _ in 0..8 {
        let results = server.handle_input(&std::mem::take(&mut to_server)).ok()?;
        let to_client = accept_all(server, results)?;
        events.extend(collect(
            client.handle_input(&to_client).ok()?,
            &mut to_server,
        ));
        for e in std::mem::take(&mut events) {
            match e {
                ClientSessionEvent::ConnectionRequestAccepted => {
                    let r = client
                        .request_publishing("key".into(), PublishRequestType::Live)
                        .ok()?;
                    events.extend(collect(vec![r], &mut to_server));
                }
                ClientSessionEvent::PublishRequestAccepted => return Some(()),
                _ => {}
            }
        }
    }
    None
}

/// The client's outbound bytes go to `to`; its events are returned.
fn collect(results: Vec<ClientSessionResult>, to: &mut Vec<u8>) -> Vec<ClientSessionEvent> {
    let mut events = Vec::new();
    for r in results {
        match r {
            ClientSessionResult::OutboundResponse(p) => to.extend_from_slice(&p.bytes),
            ClientSessionResult::RaisedEvent(e) => events.push(e),
            ClientSessionResult::UnhandleableMessageReceived(_) => {}
        }
    }
    events
}

/// AMF0 values as commands carry them. Checks that whatever decodes encodes and decodes
/// back to the same values (the depth limit holds on the way back too).
pub fn amf0(data: &[u8]) {
    let Ok(values) = deserialize(&mut Cursor::new(data)) else {
        return;
    };
    let bytes = serialize(&values).expect("decoded values encode");
    let again = deserialize(&mut Cursor::new(&bytes)).expect("encoded values decode");
    assert!(
        values.len() == again.len() && values.iter().zip(&again).all(|(a, b)| same(a, b)),
        "AMF0 round trip: {values:?} became {again:?}"
    );
}

/// Equality with NaN equal to itself (a NaN number is a value like any other here).
fn same(a: &Amf0Value, b: &Amf0Value) -> bool {
    match (a, b) {
        (Amf0Value::Number(x), Amf0Value::Number(y)) => x.to_bits() == y.to_bits() || x == y,
        (Amf0Value::Object(x), Amf0Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Amf0Value::StrictArray(x), Amf0Value::StrictArray(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        _ => a == b,
    }
}
