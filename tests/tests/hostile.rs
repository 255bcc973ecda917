//! A hostile server cannot crash or exhaust the client. A raw TCP server on
//! 127.0.0.1 writes hand-made HTTP: bodies that never end or declare
//! gigabytes, every absurd `Retry-After` / `retry-after-ms`, redirects of
//! every kind, headers and bodies dripped a byte at a time. Each test
//! asserts the error kind; none asserts a duration.
#![allow(clippy::unwrap_used)]

use std::net::Ipv4Addr;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use topcalls_api::types::{
    CreateCarrierRequest, SipGatewayInput, SipInboundAuth, SipRegistration, TrunkType,
};
use topcalls_api::{Client, Error, NewCall, RequestOptions, ResponseTooLargeError, RetryPolicy};
use topcalls_contract_tests::server::{Recorded, read_request};

const MIB: usize = 1024 * 1024;
/// The SDK's default body limit.
const DEFAULT_LIMIT: usize = 32 * MIB;
const SIP_PASSWORD: &str = "carrier-sip-Passw0rd-1";

/// What the server does after reading a request.
#[derive(Debug, Clone)]
enum Behaviour {
    /// Writes `head` (status line and headers, up to the blank line) and
    /// `body` in one go.
    Respond { head: Vec<u8>, body: Vec<u8> },
    /// Writes `head`, then body bytes until the client hangs up, as chunks
    /// when `chunked`.
    Endless { head: String, chunked: bool },
    /// Writes `head` one byte per tick, then an endless header the same way.
    DripHead { head: String },
    /// Writes `head`, then the body one byte per tick, as chunks when
    /// `chunked`.
    DripBody { head: String, chunked: bool },
}

/// A complete response with a JSON body (`Content-Length` added).
fn respond(status: u16, headers: &[(&str, &[u8])], body: &str) -> Behaviour {
    let mut head =
        format!("HTTP/1.1 {status} Hostile\r\ncontent-type: application/json\r\n").into_bytes();
    for (name, value) in headers {
        head.extend_from_slice(name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
    Behaviour::Respond {
        head,
        body: body.as_bytes().to_vec(),
    }
}

fn endless(status: u16, content_length: Option<&str>) -> Behaviour {
    let framing = match content_length {
        Some(length) => format!("content-length: {length}"),
        None => "transfer-encoding: chunked".to_string(),
    };
    Behaviour::Endless {
        head: format!(
            "HTTP/1.1 {status} Hostile\r\ncontent-type: application/json\r\nx-request-id: req_hostile\r\n{framing}\r\n\r\n"
        ),
        chunked: content_length.is_none(),
    }
}

/// The server. Every connection reports the body bytes it wrote once its
/// client hung up (or once it answered in full).
struct Hostile {
    url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    written: mpsc::UnboundedReceiver<u64>,
    task: JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    /// Answers request `n` (0-based) with `behaviour(n)`.
    async fn start(behaviour: impl Fn(usize) -> Behaviour + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (report, written) = mpsc::unbounded_channel();
        let behaviour = Arc::new(behaviour);
        let count = Arc::new(AtomicUsize::new(0));
        let log = requests.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (behaviour, count, log, report) = (
                    behaviour.clone(),
                    count.clone(),
                    log.clone(),
                    report.clone(),
                );
                tokio::spawn(async move {
                    let mut stream = stream;
                    let mut buffer = Vec::new();
                    while let Some(request) = read_request(&mut stream, &mut buffer).await {
                        log.lock().unwrap().push(request);
                        let n = count.fetch_add(1, Ordering::SeqCst);
                        let (written, open) = act(&mut stream, behaviour(n)).await;
                        let _ = report.send(written);
                        if !open {
                            break;
                        }
                    }
                });
            }
        });
        Self {
            url,
            requests,
            written,
            task,
        }
    }

    async fn always(behaviour: Behaviour) -> Self {
        Self::start(move |_| behaviour.clone()).await
    }

    fn url(&self) -> &str {
        &self.url
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The body bytes written on the next connection to finish.
    async fn next_written(&mut self) -> u64 {
        self.written.recv().await.unwrap()
    }
}

/// Carries out `behaviour`; returns the body bytes written and whether the
/// connection can take another request.
async fn act(stream: &mut TcpStream, behaviour: Behaviour) -> (u64, bool) {
    let tick = || tokio::time::sleep(Duration::from_millis(5));
    match behaviour {
        Behaviour::Respond { head, body } => {
            let mut all = head;
            all.extend_from_slice(&body);
            let ok = stream.write_all(&all).await.is_ok();
            (body.len() as u64, ok)
        }
        Behaviour::Endless { head, chunked } => {
            if stream.write_all(head.as_bytes()).await.is_err() {
                return (0, false);
            }
            let data = vec![b' '; 64 * 1024];
            let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
            chunk.extend_from_slice(&data);
            chunk.extend_from_slice(b"\r\n");
            let piece = if chunked { &chunk } else { &data };
            let mut written = 0u64;
            while stream.write_all(piece).await.is_ok() {
                written += data.len() as u64;
            }
            (written, false)
        }
        Behaviour::DripHead { head } => {
            let endless = std::iter::repeat(b'a');
            for byte in head
                .bytes()
                .chain(b"x-drip: ".iter().copied())
                .chain(endless)
            {
                if stream.write_all(&[byte]).await.is_err() {
                    break;
                }
                tick().await;
            }
            (0, false)
        }
        Behaviour::DripBody { head, chunked } => {
            if stream.write_all(head.as_bytes()).await.is_err() {
                return (0, false);
            }
            let mut written = 0u64;
            loop {
                let piece: &[u8] = if chunked { b"1\r\n \r\n" } else { b" " };
                if stream.write_all(piece).await.is_err() {
                    return (written, false);
                }
                written += 1;
                tick().await;
            }
        }
    }
}

fn client(
    server: &Hostile,
    configure: impl FnOnce(topcalls_api::ClientBuilder) -> topcalls_api::ClientBuilder,
) -> Client {
    configure(
        Client::builder()
            .api_key("tc_test_hostile")
            .base_url(server.url())
            .retry(RetryPolicy::none()),
    )
    .build()
    .unwrap()
}

fn carrier() -> CreateCarrierRequest {
    CreateCarrierRequest::builder()
        .carrier_name("Acme SIP")
        .sip_gateway(
            SipGatewayInput::builder()
                .ipv4("203.0.113.10")
                .port(NonZeroU64::new(5060)),
        )
        .trunk_type(Some(TrunkType::Reg))
        .registration(Some(
            SipRegistration::builder()
                .username("acme")
                .password(SIP_PASSWORD)
                .try_into()
                .unwrap(),
        ))
        .inbound_auth(Some(
            SipInboundAuth::builder()
                .username("acme-in")
                .password(SIP_PASSWORD)
                .try_into()
                .unwrap(),
        ))
        .try_into()
        .unwrap()
}

fn too_large(error: &Error) -> &ResponseTooLargeError {
    match error {
        Error::ResponseTooLarge(large) => large,
        other => panic!("expected ResponseTooLarge, got {other:?}"),
    }
}

/// The kernel's largest TCP receive and send buffers: what can sit between
/// the server's writes and the client's reads without the client reading.
fn socket_buffers() -> u64 {
    let max = |path: &str| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().last().and_then(|n| n.parse().ok()))
            .unwrap_or(64 * MIB as u64)
    };
    max("/proc/sys/net/ipv4/tcp_rmem") + max("/proc/sys/net/ipv4/tcp_wmem")
}

/// Resident memory of the process: resets the peak, then reports how far
/// it rose above the level at the reset. Tests that measure take `MEMORY`
/// so that they do not measure each other.
struct Peak(u64);

static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

impl Peak {
    fn kib(field: &str) -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// `None` where the kernel cannot report or reset the peak.
    fn start() -> Option<Self> {
        std::fs::write("/proc/self/clear_refs", "5").ok()?;
        Some(Self(Self::kib("VmRSS:")?))
    }

    /// Bytes the peak rose above the start.
    fn rise(&self) -> u64 {
        Self::kib("VmHWM:").unwrap_or(0).saturating_sub(self.0) * 1024
    }
}

#[tokio::test]
async fn a_huge_content_length_is_refused_before_its_body() {
    let _memory = MEMORY.lock().await;
    for status in [200, 500] {
        let mut server = Hostile::always(endless(status, Some("5368709120"))).await;
        let client = client(&server, |b| b);
        let peak = Peak::start();
        let error = client.balance().await.unwrap_err();
        let large = too_large(&error);
        assert_eq!(large.status().as_u16(), status);
        assert_eq!(large.limit(), DEFAULT_LIMIT);
        assert_eq!(large.declared_length(), Some(5_368_709_120));
        assert_eq!(error.request_id(), Some("req_hostile"));
        assert!(
            error
                .to_string()
                .contains("larger than the limit of 33554432 bytes"),
            "{error}"
        );
        drop(client);
        // Nothing of the body was read: all the server could write sat in
        // socket buffers when the client hung up.
        let written = server.next_written().await;
        assert!(written <= socket_buffers(), "{written} bytes written");
        if let Some(peak) = peak {
            let rise = peak.rise();
            eprintln!("{status} declaring 5 GB: memory rose {rise} bytes, server wrote {written}");
            assert!(rise < 16 * MIB as u64, "memory rose {rise} bytes");
        }
    }
}

#[tokio::test]
async fn an_endless_body_is_cut_off_at_the_limit_and_never_held_past_it() {
    const LIMIT: usize = 64 * MIB;
    let _memory = MEMORY.lock().await;
    let mut server = Hostile::always(endless(200, None)).await;
    let client = client(&server, |b| b.max_response_bytes(LIMIT));
    let peak = Peak::start();
    let error = client.balance().await.unwrap_err();
    let large = too_large(&error);
    assert_eq!((large.limit(), large.declared_length()), (LIMIT, None));
    assert!(error.may_have_taken_effect(), "a success answer arrived");
    // The memory the client held stayed under the limit plus the runtime's
    // own (threads, buffers of at most one read, other tests' servers).
    if let Some(peak) = peak {
        let rise = peak.rise();
        eprintln!("endless body, limit {LIMIT}: memory rose {rise} bytes");
        assert!(rise < (LIMIT + 16 * MIB) as u64, "memory rose {rise} bytes");
    }
    drop(client);
    // The client read up to the limit, not beyond: the server got rid of
    // no more than the limit and what socket buffers hold.
    let written = server.next_written().await;
    eprintln!("endless body, limit {LIMIT}: server wrote {written} bytes");
    assert!(written >= LIMIT as u64, "{written} bytes written");
    assert!(
        written <= LIMIT as u64 + socket_buffers() + MIB as u64,
        "{written} bytes written"
    );
}

#[tokio::test]
async fn error_bodies_are_limited_too_on_every_path() {
    // An error status, endless: the same kind, with the status.
    let server = Hostile::always(endless(503, None)).await;
    let error = client(&server, |b| b.max_response_bytes(MIB))
        .balance()
        .await
        .unwrap_err();
    assert_eq!(too_large(&error).status().as_u16(), 503);
    assert!(!error.may_have_taken_effect());

    // A 409 is read by the retry loop (is the key still in use?): within
    // the limit there too, and not retried.
    let server = Hostile::always(endless(409, None)).await;
    let error = client(&server, |b| {
        b.max_response_bytes(MIB).retry(RetryPolicy::default())
    })
    .calls()
    .create(NewCall::to("+15551234567").task("Confirm the appointment for tomorrow."))
    .await
    .unwrap_err();
    let large = too_large(&error);
    assert_eq!((large.status().as_u16(), large.limit()), (409, MIB));
    assert!(error.idempotency_key().is_some());
    assert_eq!(server.requests().len(), 1);

    // A declared length just over the limit is refused as well as a huge one.
    let server = Hostile::always(respond(
        200,
        &[],
        &format!("{{\"x\":\"{}\"}}", " ".repeat(100)),
    ))
    .await;
    let error = client(&server, |b| b.max_response_bytes(100))
        .balance()
        .await
        .unwrap_err();
    assert_eq!(too_large(&error).declared_length(), Some(108));

    // A length too large to be a number is a broken response, not a panic.
    let server = Hostile::always(endless(200, Some("18446744073709551616000"))).await;
    let error = client(&server, |b| b).balance().await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
}

#[tokio::test]
async fn the_generated_builders_get_the_limit_too() {
    for behaviour in [endless(200, None), endless(200, Some("5368709120"))] {
        let server = Hostile::always(behaviour).await;
        let client = client(&server, |b| b.max_response_bytes(MIB));
        let error = client.send(client.raw().get_balance()).await.unwrap_err();
        let large = too_large(&error);
        assert_eq!(
            (large.limit(), large.request_id()),
            (MIB, Some("req_hostile"))
        );
    }
}

/// A wait value, the header it goes in, and what `ApiError::retry_after`
/// must make of it.
fn absurd_waits() -> Vec<(&'static str, &'static [u8], Option<Duration>)> {
    let day = Some(Duration::from_secs(24 * 60 * 60));
    vec![
        ("retry-after-ms", b"1e300", day),
        ("retry-after-ms", b"18446744073709551616000", day),
        ("retry-after-ms", b"1.7976931348623157e308", day),
        ("retry-after-ms", b"-1", None),
        ("retry-after-ms", b"-1e300", None),
        ("retry-after-ms", b"NaN", None),
        ("retry-after-ms", b"inf", None),
        ("retry-after-ms", b"-infinity", None),
        ("retry-after-ms", b"0x1f", None),
        ("retry-after-ms", b"\xff\xfe", None),
        ("retry-after-ms", b"-0", Some(Duration::ZERO)),
        ("retry-after-ms", b"1.5", Some(Duration::from_micros(1500))),
        ("retry-after", b"18446744073709551616000", day),
        (
            "retry-after",
            b"99999999999999999999999999999999999999999",
            day,
        ),
        ("retry-after", b"1e300", None),
        ("retry-after", b"-5", None),
        ("retry-after", b"NaN", None),
        ("retry-after", b"inf", None),
        ("retry-after", b"soon, probably", None),
        ("retry-after", b"\xff\xfe", None),
        ("retry-after", b"Fri, 31 Dec 9999 23:59:59 GMT", day),
        (
            "retry-after",
            b"Thu, 01 Jan 1970 00:00:00 GMT",
            Some(Duration::ZERO),
        ),
        (
            "retry-after",
            b"Sun, 06 Nov 1994 08:49:37 GMT",
            Some(Duration::ZERO),
        ),
        ("retry-after", b"Fri, 31 Dec 99999 23:59:59 GMT", None),
        ("retry-after", b"Mon, 32 Foo 2025 25:61:61 GMT", None),
        ("retry-after", b"0", Some(Duration::ZERO)),
    ]
}

#[tokio::test]
async fn every_absurd_retry_after_gives_a_bounded_wait_or_none_never_a_panic() {
    let problem =
        json!({"type": "https://api.topcalls.ai/errors/rate_limited", "status": 429}).to_string();
    for (name, value, expected) in absurd_waits() {
        let shown = String::from_utf8_lossy(value);
        // Retries off: `ApiError::retry_after` on the raw header.
        let server = Hostile::always(respond(429, &[(name, value)], &problem)).await;
        let error = client(&server, |b| b).balance().await.unwrap_err();
        assert!(error.is_rate_limited(), "{name}: {shown}: {error:?}");
        assert_eq!(
            error.as_api().unwrap().retry_after(),
            expected,
            "{name}: {shown}"
        );

        // Retries on: a wait over `max_retry_after` ends the retries at
        // once; a usable short one, or none, gets the one retry.
        let server = Hostile::always(respond(429, &[(name, value)], &problem)).await;
        let error = client(&server, |b| {
            b.retry(
                RetryPolicy::default()
                    .max_retries(1)
                    .base_delay(Duration::from_millis(1))
                    .max_delay(Duration::from_millis(1))
                    .max_retry_after(Duration::from_millis(50)),
            )
        })
        .balance()
        .await
        .unwrap_err();
        assert!(error.is_rate_limited(), "{name}: {shown}: {error:?}");
        let attempts = if expected.is_some_and(|wait| wait > Duration::from_millis(50)) {
            1
        } else {
            2
        };
        assert_eq!(server.requests().len(), attempts, "{name}: {shown}");
    }
}

#[tokio::test]
async fn redirects_are_never_followed_and_nothing_is_re_sent() {
    for status in [301, 302, 303, 307, 308] {
        // Where the redirect points: it must never hear from the client.
        let target = Hostile::always(respond(200, &[], "{}")).await;
        let stolen = format!("{}/v1/phone-numbers/carriers", target.url());
        let server = Hostile::always(respond(status, &[("location", stolen.as_bytes())], "")).await;
        // Retries on, as by default: a redirect is not retried either.
        let client = client(&server, |b| b.retry(RetryPolicy::default()));

        let error = client
            .phone_numbers()
            .carriers()
            .create(carrier())
            .await
            .unwrap_err();
        let Error::Redirect(redirect) = &error else {
            panic!("{status}: expected Redirect, got {error:?}");
        };
        assert_eq!(redirect.status().as_u16(), status);
        assert_eq!(redirect.location(), Some(stolen.as_str()));
        assert!(error.to_string().contains(&stolen), "{error}");
        assert!(error.idempotency_key().is_some());
        assert!(
            !error.to_string().contains(SIP_PASSWORD)
                && !format!("{error:?}").contains(SIP_PASSWORD)
        );

        let error = client.balance().await.unwrap_err();
        assert!(matches!(error, Error::Redirect(_)), "{error:?}");

        // The generated builders: an unexpected response, not followed.
        let error = client
            .send(client.raw().create_carrier().body(carrier()))
            .await
            .unwrap_err();
        assert_eq!(
            error.status().map(|s| s.as_u16()),
            Some(status),
            "{error:?}"
        );

        assert!(
            target.requests().is_empty(),
            "{status}: the redirect was followed"
        );
        let sent = server.requests();
        assert_eq!(
            sent.len(),
            3,
            "{status}: one request per operation, no retry"
        );
        assert_eq!(
            sent.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
            ["POST", "GET", "POST"]
        );
    }

    // A relative location would lead back to the same server: still one request.
    let server = Hostile::always(respond(307, &[("location", b"/v1/balance?again")], "")).await;
    let error = client(&server, |b| b).balance().await.unwrap_err();
    assert_eq!(
        match &error {
            Error::Redirect(redirect) => redirect.location(),
            _ => None,
        },
        Some("/v1/balance?again")
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn dripped_headers_and_bodies_end_at_the_timeouts() {
    let head = "HTTP/1.1 200 Hostile\r\ncontent-type: application/json\r\n";
    // Attempts: a drip in the head times out each attempt, and the attempt
    // is retried; a drip in the body comes after the response arrived, and
    // reading a body is not retried.
    let cases = [
        (
            "headers",
            Behaviour::DripHead {
                head: head.to_string(),
            },
            2,
        ),
        (
            "a body with a length",
            Behaviour::DripBody {
                head: format!("{head}content-length: 1000000\r\n\r\n"),
                chunked: false,
            },
            1,
        ),
        (
            "a chunked body",
            Behaviour::DripBody {
                head: format!("{head}transfer-encoding: chunked\r\n\r\n"),
                chunked: true,
            },
            1,
        ),
    ];
    for (what, behaviour, attempts) in cases {
        // The per-attempt timeout, with one retry allowed.
        let server = Hostile::always(behaviour.clone()).await;
        let error = client(&server, |b| {
            b.request_timeout(Duration::from_millis(300)).retry(
                RetryPolicy::default()
                    .max_retries(1)
                    .base_delay(Duration::from_millis(1)),
            )
        })
        .balance()
        .await
        .unwrap_err();
        let Error::Transport(transport) = &error else {
            panic!("{what}: expected a transport timeout, got {error:?}");
        };
        assert!(transport.is_timeout(), "{what}: {error:?}");
        assert_eq!(transport.attempts(), attempts, "{what}");
        assert_eq!(server.requests().len(), attempts as usize, "{what}");

        // The overall deadline holds as well, whatever the attempt timeout.
        let server = Hostile::always(behaviour).await;
        let error = client(&server, |b| b)
            .calls()
            .create(NewCall::to("+15551234567").task("Confirm the appointment for tomorrow."))
            .options(RequestOptions::new().deadline(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Deadline(_)), "{what}: {error:?}");
        assert!(error.may_have_taken_effect(), "{what}");
    }
}
