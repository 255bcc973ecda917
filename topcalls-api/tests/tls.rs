//! The SDK's own TLS under its default `rustls` feature: reqwest has rustls
//! without aws-lc-rs, and the SDK gives it a configuration of its own
//! (`src/tls.rs`). Against a loopback server with a self-signed certificate
//! (`fixtures/self-signed.*.der`, valid until 2126), the client must build
//! with no crypto provider installed, offer the documented ALPN, check the
//! certificate and refuse it: a TLS error, no panic, nothing sent.
//!
//! CI also runs this file as `cargo test -p topcalls-api --test tls`, where
//! no other crate of the workspace turns on reqwest's own rustls.
#![cfg(all(feature = "rustls", not(feature = "native-tls")))]
#![allow(clippy::unwrap_used, reason = "tests")]

use std::error::Error as _;
use std::net::TcpListener;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use topcalls_api::{Client, Error, RetryPolicy};

const CERT: &[u8] = include_bytes!("fixtures/self-signed.cert.der");
const KEY: &[u8] = include_bytes!("fixtures/self-signed.key.der");

/// What the server saw of one connection: the client's ALPN list, and how
/// the handshake ended.
#[derive(Debug)]
struct Seen {
    alpn: Vec<Vec<u8>>,
    handshake: Result<(), String>,
}

/// Accepts one connection on a thread and runs the server's half of the
/// handshake with *ring*.
fn serve_once() -> (u16, std::thread::JoinHandle<Option<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(CERT)],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(KEY)),
        )
        .unwrap();
        let mut acceptor = rustls::server::Acceptor::default();
        let accepted = loop {
            if acceptor.read_tls(&mut socket).unwrap() == 0 {
                return None; // closed before a whole ClientHello
            }
            if let Some(accepted) = acceptor.accept().map_err(|(e, _)| e).unwrap() {
                break accepted;
            }
        };
        let alpn = accepted
            .client_hello()
            .alpn()
            .map(|protocols| protocols.map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        let mut connection = accepted.into_connection(Arc::new(config)).unwrap();
        let handshake = loop {
            match connection.complete_io(&mut socket) {
                Ok(_) if !connection.is_handshaking() => break Ok(()),
                Ok((0, 0)) => break Err("the client closed the connection".to_owned()),
                Ok(_) => {}
                Err(e) => break Err(e.to_string()),
            }
        };
        Some(Seen { alpn, handshake })
    });
    (port, server)
}

fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused_after_a_real_handshake() {
    assert!(
        rustls::crypto::CryptoProvider::get_default().is_none(),
        "this test checks the SDK's own choice of provider: nothing may install one"
    );
    let (port, server) = serve_once();
    let client = Client::builder()
        .api_key("tc_test_tls")
        .base_url(format!("https://127.0.0.1:{port}"))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    let error = client.balance().await.unwrap_err();
    // Checked before joining the server: any other error may mean the
    // client never connected, and the server would wait for it forever.
    let Error::Transport(transport) = &error else {
        panic!("expected a transport error, got {error:?}");
    };
    let seen = server
        .join()
        .unwrap()
        .expect("the client sent a whole ClientHello");

    let text = chain(transport.source().unwrap());
    assert!(
        text.contains("certificate"),
        "the client should refuse the certificate, got: {text}"
    );
    let expected_alpn: Vec<Vec<u8>> = if cfg!(feature = "http2") {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    assert_eq!(seen.alpn, expected_alpn);
    let handshake = seen.handshake.unwrap_err();
    assert!(
        handshake.contains("fatal alert"),
        "the server should see the client give up on the certificate, got: {handshake}"
    );
}
