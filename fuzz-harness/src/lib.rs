//! The fuzz harness of topcalls-api: one function per target, each taking
//! raw fuzzer bytes, shaping them with [`arbitrary`] into what a hostile
//! server or webhook sender could send, running the SDK's own code on it,
//! and asserting what must hold. A panic is a finding.
//!
//! The same functions run twice: briefly under `proptest` on stable (this
//! crate's tests, part of `cargo test --workspace`), and coverage-guided
//! under libFuzzer on nightly (`fuzz/`, `fuzz/run.sh TARGET SECONDS`).
//!
//! - [`decode_response`]: a final response (any status, headers, a body in
//!   any chunking, with or without `Content-Length`, under any size limit)
//!   read and decoded into every operation's type, the way `Client` does
//!   and the way `Client::raw` builders do; plus the redacted body preview
//!   of logs and `Debug`.
//! - [`header_parsing`]: `retry-after-ms` and `Retry-After` values, from
//!   raw bytes to numbers, floats and HTTP dates at any distance.
//! - [`webhook`]: Standard Webhooks verification of arbitrary headers and
//!   bodies (signed correctly or not), then event parsing.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, UNIX_EPOCH};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use http_body::{Frame, SizeHint};
use serde::de::DeserializeOwned;
use serde_json::Value;
use topcalls_api::fuzzing;
use topcalls_api::types;
use topcalls_api::webhooks::{self, Verifier, WebhookError, WebhookEvent, WebhookSecret};
use topcalls_api::{Error, ResponseTooLargeError};

/// Every example of `openapi.yaml` (response, request and webhook bodies,
/// and the scalar examples of fields), as JSON text: valid shapes for the
/// fuzzer to start from and mutate.
pub fn samples() -> &'static [String] {
    static SAMPLES: OnceLock<Vec<String>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        fn collect(value: &Value, out: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, inner) in map {
                        match (key.as_str(), inner) {
                            ("example", example) => out.push(example.to_string()),
                            ("examples", Value::Object(examples)) => out.extend(
                                examples
                                    .values()
                                    .filter_map(|e| e.get("value"))
                                    .map(Value::to_string),
                            ),
                            _ => {}
                        }
                        collect(inner, out);
                    }
                }
                Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
                _ => {}
            }
        }
        let spec: Value =
            serde_yaml_ng::from_str(include_str!("../../openapi.yaml")).unwrap_or_default();
        let mut out = Vec::new();
        collect(&spec, &mut out);
        out.sort();
        out.dedup();
        out
    })
}

/// A body: raw bytes, or an example of the spec, edited.
#[derive(Arbitrary, Debug)]
enum Body {
    Raw(Vec<u8>),
    Sample { index: usize, edit: Edit },
}

#[derive(Arbitrary, Debug)]
enum Edit {
    None,
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Replace {
        at: usize,
        len: u8,
        with: Vec<u8>,
    },
    /// The sample, twice in a row (trailing data).
    Twice,
    /// The sample inside `depth` arrays.
    Nest(u16),
}

impl Body {
    fn build(self) -> Vec<u8> {
        let (index, edit) = match self {
            Body::Raw(bytes) => return bytes,
            Body::Sample { index, edit } => (index, edit),
        };
        let samples = samples();
        let mut body = match samples.get(index % samples.len().max(1)) {
            Some(sample) => sample.as_bytes().to_vec(),
            None => return Vec::new(),
        };
        let at = |i: usize, len: usize| i % (len + 1);
        match edit {
            Edit::None => {}
            Edit::Truncate(i) => body.truncate(at(i, body.len())),
            Edit::Insert(i, bytes) => {
                let i = at(i, body.len());
                body.splice(i..i, bytes);
            }
            Edit::Replace { at: i, len, with } => {
                let start = at(i, body.len());
                let end = (start + usize::from(len)).min(body.len());
                body.splice(start..end, with);
            }
            Edit::Twice => body.extend_from_within(..),
            Edit::Nest(depth) => {
                let depth = usize::from(depth % 2048);
                let mut nested = vec![b'['; depth];
                nested.extend_from_slice(&body);
                nested.extend(std::iter::repeat_n(b']', depth));
                body = nested;
            }
        }
        body
    }
}

/// A body delivered in the given chunks, with an honest `Content-Length`
/// or none (chunked).
struct Chunks {
    chunks: VecDeque<Bytes>,
    remaining: u64,
    declared: bool,
}

impl Chunks {
    fn new(body: &[u8], sizes: &[u16], declared: bool) -> Self {
        let mut chunks = VecDeque::new();
        let mut rest = body;
        let mut sizes = sizes.iter().map(|s| usize::from(*s).max(1)).cycle();
        while !rest.is_empty() {
            let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
            let (chunk, tail) = rest.split_at(size);
            chunks.push_back(Bytes::copy_from_slice(chunk));
            rest = tail;
        }
        Self {
            chunks,
            remaining: body.len() as u64,
            declared,
        }
    }
}

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = self.chunks.pop_front();
        if let Some(chunk) = &chunk {
            self.remaining -= chunk.len() as u64;
        }
        Poll::Ready(chunk.map(|c| Ok(Frame::data(c))))
    }

    fn size_hint(&self) -> SizeHint {
        if self.declared {
            SizeHint::with_exact(self.remaining)
        } else {
            SizeHint::default()
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty()
    }
}

/// The response headers a server controls that the SDK reads.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Header {
    RetryAfter,
    RetryAfterMs,
    Location,
    RequestId,
    ContentType,
}

impl Header {
    fn name(self) -> HeaderName {
        HeaderName::from_static(match self {
            Header::RetryAfter => "retry-after",
            Header::RetryAfterMs => "retry-after-ms",
            Header::Location => "location",
            Header::RequestId => "x-request-id",
            Header::ContentType => "content-type",
        })
    }
}

/// The size limit, relative to the body so that both sides of it are hit.
#[derive(Arbitrary, Debug)]
enum Limit {
    Default,
    Exact,
    Below(u16),
    Above(u16),
    Any(u32),
}

impl Limit {
    fn resolve(self, length: usize) -> usize {
        match self {
            Limit::Default => 32 * 1024 * 1024,
            Limit::Exact => length,
            Limit::Below(n) => length.saturating_sub(usize::from(n).max(1)),
            Limit::Above(n) => length.saturating_add(usize::from(n)),
            Limit::Any(n) => n as usize,
        }
    }
}

/// A status: the common successes, or any code from 100 to 599.
#[derive(Arbitrary, Debug)]
enum Status {
    Ok,
    Created,
    NoContent,
    Any(u16),
}

impl Status {
    fn code(self) -> StatusCode {
        match self {
            Status::Ok => StatusCode::OK,
            Status::Created => StatusCode::CREATED,
            Status::NoContent => StatusCode::NO_CONTENT,
            Status::Any(n) => StatusCode::from_u16(100 + n % 500).unwrap_or(StatusCode::OK),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct ResponseInput {
    status: Status,
    target: u8,
    body: Body,
    chunk_sizes: Vec<u16>,
    declare_length: bool,
    limit: Limit,
    headers: Vec<(Header, Vec<u8>)>,
}

fn response(status: StatusCode, headers: &HeaderMap, body: Chunks) -> reqwest::Response {
    let mut response = http::Response::new(reqwest::Body::wrap(body));
    *response.status_mut() = status;
    *response.headers_mut() = headers.clone();
    reqwest::Response::from(response)
}

/// Reads a response as `Client` does, into `T`; a success must decode as
/// `serde_json` alone decodes the body.
fn answer<T: DeserializeOwned>(
    response: reqwest::Response,
    limit: usize,
    body: &[u8],
) -> Result<(), Error> {
    let result = futures::executor::block_on(fuzzing::answer::<T>(response, limit));
    if result.is_ok() {
        let json: &[u8] = if body.is_empty() { b"null" } else { body };
        assert!(
            serde_json::from_slice::<T>(json).is_ok(),
            "decoded what serde_json refuses"
        );
    }
    result.map(drop)
}

fn answer_as(
    target: u8,
    response: reqwest::Response,
    limit: usize,
    body: &[u8],
) -> Result<(), Error> {
    match target % 20 {
        0 => answer::<()>(response, limit, body),
        1 => answer::<types::AccountVoiceList>(response, limit, body),
        2 => answer::<types::Balance>(response, limit, body),
        3 => answer::<types::Call>(response, limit, body),
        4 => answer::<types::CallList>(response, limit, body),
        5 => answer::<types::Campaign>(response, limit, body),
        6 => answer::<types::CampaignActionResponse>(response, limit, body),
        7 => answer::<types::CampaignList>(response, limit, body),
        8 => answer::<types::CancelCallResponse>(response, limit, body),
        9 => answer::<types::Carrier>(response, limit, body),
        10 => answer::<types::CarrierList>(response, limit, body),
        11 => answer::<types::CreateCallResponse>(response, limit, body),
        12 => answer::<types::ModelList>(response, limit, body),
        13 => answer::<types::PhoneNumber>(response, limit, body),
        14 => answer::<types::PhoneNumberList>(response, limit, body),
        15 => answer::<types::StopCallResponse>(response, limit, body),
        16 => answer::<types::VoiceList>(response, limit, body),
        17 => answer::<types::WebhookSubscription>(response, limit, body),
        18 => answer::<types::Problem>(response, limit, body),
        _ => answer::<Value>(response, limit, body),
    }
}

/// Every accessor of an error, its `Display` (one line) and `Debug`.
fn exercise(error: &Error) {
    let shown = error.to_string();
    assert!(
        !shown.contains('\n') && !shown.contains('\r'),
        "Display is not one line: {shown:?}"
    );
    let _ = format!("{error:?}");
    let _ = (
        error.status(),
        error.request_id(),
        error.idempotency_key(),
        error.may_have_taken_effect(),
        error.retry_options(),
        error.is_rate_limited(),
        std::error::Error::source(error).map(ToString::to_string),
    );
    if let Some(api) = error.as_api() {
        let _ = (
            api.problem(),
            api.problem_type(),
            api.code(),
            api.title(),
            api.detail(),
            api.instance(),
            api.field_errors().len(),
            api.extra(),
            api.body_text(),
            api.request_id(),
        );
        if let Some(wait) = api.retry_after() {
            assert!(wait <= fuzzing::MAX_RETRY_AFTER, "{wait:?}");
        }
    }
}

/// Target `decode_response`.
pub fn decode_response(data: &[u8]) {
    let Ok(input) = ResponseInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let ResponseInput {
        status,
        target,
        body,
        chunk_sizes,
        declare_length,
        limit,
        headers: pairs,
    } = input;
    let body = body.build();
    let limit = limit.resolve(body.len());
    let status = status.code();
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            headers.append(name.name(), value);
        }
    }
    let chunks = || Chunks::new(&body, &chunk_sizes, declare_length);

    // The client's path.
    let result = answer_as(target, response(status, &headers, chunks()), limit, &body);
    match &result {
        _ if status.is_redirection() => {
            let Err(Error::Redirect(redirect)) = &result else {
                panic!("a {status} is not a redirect error: {result:?}");
            };
            assert_eq!(redirect.status(), status);
            let location = headers
                .get("location")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            assert_eq!(redirect.location(), location.as_deref());
        }
        _ if body.len() > limit => {
            let Err(Error::ResponseTooLarge(large)) = &result else {
                panic!(
                    "{} bytes over a limit of {limit} read: {result:?}",
                    body.len()
                );
            };
            assert_eq!(large.limit(), limit);
            assert_eq!(large.status(), status);
            let declared = declare_length.then_some(body.len() as u64);
            assert_eq!(large.declared_length(), declared);
        }
        Ok(()) => assert!(status.is_success()),
        Err(Error::Decode(decode)) => {
            assert!(status.is_success());
            assert_eq!(decode.body(), &body[..]);
        }
        Err(Error::Api(api)) => {
            assert!(!status.is_success());
            assert_eq!(api.status(), status);
            assert_eq!(api.body_text(), String::from_utf8_lossy(&body));
        }
        Err(other) => panic!("unexpected error for {status}: {other:?}"),
    }
    if let Err(error) = &result {
        exercise(error);
    }

    // The generated builders' path: the same limit, as a body error.
    let limited = fuzzing::limit_body(response(status, &headers, chunks()), limit);
    match futures::executor::block_on(limited.bytes()) {
        Ok(read) => {
            assert!(
                body.len() <= limit,
                "{} bytes over {limit} read",
                body.len()
            );
            assert_eq!(read, body);
        }
        Err(error) => {
            assert!(body.len() > limit, "{error:?}");
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            let mut found = None;
            while let Some(error) = cause {
                found = found.or_else(|| error.downcast_ref::<ResponseTooLargeError>());
                cause = error.source();
            }
            assert_eq!(
                found.map(ResponseTooLargeError::limit),
                Some(limit),
                "{error:?}"
            );
        }
    }

    check_preview(&body);
}

/// The preview of logs and `Debug` is short, and shows no value of a
/// secret-named member (unless that same value also sits in the body
/// outside a secret).
fn check_preview(body: &[u8]) {
    let preview = fuzzing::preview(body);
    assert!(preview.len() <= 1024 + 40, "{} bytes shown", preview.len());
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    fn walk(value: &mut Value, secrets: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (name, member) in map.iter_mut() {
                    if fuzzing::is_secret_name(name) {
                        secrets.push(member.to_string());
                        *member = Value::String(fuzzing::REDACTED.into());
                    } else {
                        walk(member, secrets);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|item| walk(item, secrets)),
            _ => {}
        }
    }
    let mut redacted = value;
    let mut secrets = Vec::new();
    walk(&mut redacted, &mut secrets);
    let redacted = redacted.to_string();
    for secret in secrets {
        // A JSON string as it appears inside the serialized body.
        let secret = secret.trim_matches('"');
        if secret.len() >= 8 && !redacted.contains(secret) {
            assert!(
                !preview.contains(secret),
                "secret {secret:?} shown: {preview}"
            );
        }
    }
}

/// A `Retry-After` / `retry-after-ms` value.
#[derive(Arbitrary, Debug)]
enum Wait {
    Raw(Vec<u8>),
    Text(String),
    Float(f64),
    Scientific(f64),
    Small(u32),
    Integer(u128),
    Negative(u64),
    Special(u8),
    Spaced(u8, u64),
    Date(DateParts),
}

#[derive(Arbitrary, Debug)]
struct DateParts {
    year: u32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
    /// Whether the weekday is computed from the date (or arbitrary).
    true_weekday: bool,
    weekday: u8,
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl DateParts {
    fn valid(&self) -> bool {
        let leap =
            |y: u32| (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let days = [
            31,
            if leap(self.year) { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        (1970..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days[usize::from(self.month - 1)]
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// Unix seconds, for a valid date.
    fn unix(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        ) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    fn render(&self) -> String {
        let weekday = if self.true_weekday {
            let days = days_from_civil(
                i64::from(self.year),
                i64::from(self.month.clamp(1, 12)),
                i64::from(self.day),
            );
            WEEKDAYS[days.rem_euclid(7) as usize]
        } else {
            WEEKDAYS[usize::from(self.weekday % 7)]
        };
        let month = MONTHS[usize::from(self.month.wrapping_sub(1) % 12)];
        format!(
            "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
            self.day, self.year, self.hour, self.minute, self.second
        )
    }
}

impl Wait {
    fn render(&self) -> Vec<u8> {
        match self {
            Wait::Raw(bytes) => bytes.clone(),
            Wait::Text(text) => text.clone().into_bytes(),
            Wait::Float(f) => f.to_string().into_bytes(),
            Wait::Scientific(f) => format!("{f:e}").into_bytes(),
            Wait::Small(n) => n.to_string().into_bytes(),
            Wait::Integer(n) => n.to_string().into_bytes(),
            Wait::Negative(n) => format!("-{n}").into_bytes(),
            Wait::Special(n) => {
                const SPECIAL: [&str; 12] = [
                    "inf",
                    "-inf",
                    "NaN",
                    "infinity",
                    "-0",
                    "+0",
                    "0.0",
                    "1e300",
                    "18446744073709551616000",
                    "1e-400",
                    "",
                    " ",
                ];
                SPECIAL[usize::from(*n) % SPECIAL.len()].as_bytes().to_vec()
            }
            Wait::Spaced(n, value) => {
                let pad = " ".repeat(usize::from(n % 4));
                format!("{pad}{value}{pad}").into_bytes()
            }
            Wait::Date(parts) => parts.render().into_bytes(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct HeaderInput {
    milliseconds: Option<Wait>,
    seconds: Option<Wait>,
    now: u32,
}

/// Target `header_parsing`.
pub fn header_parsing(data: &[u8]) {
    let Ok(input) = HeaderInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let now_secs = i64::from(input.now);
    let now = UNIX_EPOCH + Duration::from_secs(u64::from(input.now));
    let mut headers = HeaderMap::new();
    let value = |wait: &Wait| HeaderValue::from_bytes(&wait.render()).ok();
    let ms = input.milliseconds.as_ref().and_then(value);
    let seconds = input.seconds.as_ref().and_then(value);
    if let Some(ms) = &ms {
        headers.insert("retry-after-ms", ms.clone());
    }
    if let Some(seconds) = &seconds {
        headers.insert("retry-after", seconds.clone());
    }
    let wait = fuzzing::retry_after(&headers, now);
    if let Some(wait) = wait {
        assert!(wait <= fuzzing::MAX_RETRY_AFTER, "{wait:?} from {input:?}");
    }

    // What `Retry-After` alone must give, when the value says it plainly.
    let ms_usable = ms
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .is_some_and(|ms| ms.is_finite() && ms >= 0.0);
    if !ms_usable && seconds.is_some() {
        let expected = match &input.seconds {
            Some(Wait::Small(n)) => {
                Some(Duration::from_secs(u64::from(*n)).min(fuzzing::MAX_RETRY_AFTER))
            }
            Some(Wait::Integer(n)) => Some(
                Duration::from_secs(u64::try_from(*n).unwrap_or(u64::MAX))
                    .min(fuzzing::MAX_RETRY_AFTER),
            ),
            Some(Wait::Negative(_)) => None,
            Some(Wait::Date(parts)) if parts.valid() && parts.true_weekday => {
                let ahead = parts.unix() - now_secs;
                Some(
                    Duration::from_secs(u64::try_from(ahead).unwrap_or(0))
                        .min(fuzzing::MAX_RETRY_AFTER),
                )
            }
            _ => wait,
        };
        assert_eq!(wait, expected, "{input:?}");
    }
    if let (true, Some(Wait::Float(f) | Wait::Scientific(f))) = (ms_usable, &input.milliseconds) {
        let expected = Duration::try_from_secs_f64(f / 1000.0)
            .unwrap_or(fuzzing::MAX_RETRY_AFTER)
            .min(fuzzing::MAX_RETRY_AFTER);
        assert_eq!(wait, Some(expected), "{input:?}");
    }

    // The same headers on a 429, through the client's path.
    let response = response(
        StatusCode::TOO_MANY_REQUESTS,
        &headers,
        Chunks::new(b"", &[], true),
    );
    let result = futures::executor::block_on(fuzzing::answer::<()>(response, 1024));
    let Err(error) = result else {
        panic!("a 429 read as a success");
    };
    assert!(error.is_rate_limited(), "{error:?}");
    exercise(&error);
}

/// A header of a delivery.
#[derive(Arbitrary, Debug)]
enum Field {
    /// `msg_<n>`, a plausible id.
    Plain(u32),
    Absent,
    Text(String),
    Bytes(Vec<u8>),
}

impl Field {
    fn value(&self) -> Option<HeaderValue> {
        match self {
            Field::Plain(n) => HeaderValue::try_from(format!("msg_{n}")).ok(),
            Field::Absent => None,
            Field::Text(text) => HeaderValue::from_str(text).ok(),
            Field::Bytes(bytes) => HeaderValue::from_bytes(bytes).ok(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Stamp {
    Absent,
    Number(i64),
    Other(Field),
}

#[derive(Arbitrary, Debug)]
enum Signature {
    Absent,
    /// The right signature.
    Valid,
    /// The right signature among others.
    Among(Vec<Field>, usize),
    /// A signature over something else.
    Wrong(Vec<u8>),
    Other(Field),
}

/// How far the verifier's clock is from the delivery's timestamp.
#[derive(Arbitrary, Debug)]
enum Skew {
    /// Within the 5-minute tolerance, or just past it (-301..=301 s).
    Near(u16),
    Any(i64),
}

#[derive(Arbitrary, Debug)]
struct WebhookInput {
    key: Vec<u8>,
    secret_text: String,
    id: Field,
    timestamp: Stamp,
    signature: Signature,
    body: Body,
    skew: Skew,
    /// Flips a byte of the body after signing.
    tamper: Option<(usize, u8)>,
}

/// Target `webhook`.
pub fn webhook(data: &[u8]) {
    use base64::Engine as _;
    let Ok(input) = WebhookInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    // Secrets from any text never panic, and never show.
    if let Ok(secret) = WebhookSecret::new(&input.secret_text) {
        assert_eq!(format!("{secret:?}"), "WebhookSecret([redacted])");
    }
    let key = if input.key.is_empty() {
        vec![7]
    } else {
        input.key.clone()
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(&key);
    let Ok(secret) = WebhookSecret::new(&format!("whsec_{encoded}")) else {
        panic!("a base64 key of {} bytes was refused", key.len());
    };

    let mut body = input.body.build();
    let mut headers = HeaderMap::new();
    let id = input.id.value();
    if let Some(id) = &id {
        headers.insert(webhooks::ID_HEADER, id.clone());
    }
    let id_text = id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
    let stamp = match &input.timestamp {
        Stamp::Absent => None,
        Stamp::Number(n) => Some(HeaderValue::from(*n)),
        Stamp::Other(field) => field.value(),
    };
    if let Some(stamp) = &stamp {
        headers.insert(webhooks::TIMESTAMP_HEADER, stamp.clone());
    }
    let timestamp = stamp
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let signed = webhooks::sign(&secret, id_text, timestamp.unwrap_or(0), &body);
    let signature = match &input.signature {
        Signature::Absent => None,
        Signature::Valid => HeaderValue::try_from(signed.as_str()).ok(),
        Signature::Among(others, at) => {
            let mut all: Vec<String> = others
                .iter()
                .filter_map(Field::value)
                .filter_map(|v| v.to_str().ok().map(str::to_string))
                .collect();
            let at = at % (all.len() + 1);
            all.insert(at, signed.clone());
            HeaderValue::try_from(all.join(" ")).ok()
        }
        Signature::Wrong(other) => HeaderValue::try_from(webhooks::sign(
            &secret,
            id_text,
            timestamp.unwrap_or(0),
            other,
        ))
        .ok(),
        Signature::Other(field) => field.value(),
    };
    if let Some(signature) = &signature {
        headers.insert(webhooks::SIGNATURE_HEADER, signature.clone());
    }
    let mut tampered = false;
    if let Some((at, bit)) = input.tamper
        && !body.is_empty()
    {
        let at = at % body.len();
        body[at] ^= 1 << (bit % 8);
        tampered = true;
    }

    let skew = match input.skew {
        Skew::Near(n) => i64::from(n % 603) - 301,
        Skew::Any(n) => n,
    };
    let now = timestamp.unwrap_or(0).saturating_add(skew);
    let verifier = Verifier::new(secret.clone()).clock(move || at(now));
    let verified = verifier.verify(&headers, &body);

    // What must happen, header by header, in the verifier's order.
    let id_ok = id
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .is_some_and(|id| !id.trim().is_empty());
    if id.is_some() && !id_ok {
        assert!(
            matches!(
                verified,
                Err(WebhookError::InvalidHeader(webhooks::ID_HEADER))
            ),
            "a blank or unreadable webhook-id was not refused: {verified:?}"
        );
    }
    let in_time = timestamp.is_some_and(|ts| now.abs_diff(ts) <= 300);
    let signature_right = matches!(input.signature, Signature::Valid | Signature::Among(..))
        && signature.is_some()
        && !tampered;
    if id_ok && in_time && signature_right {
        let Ok(meta) = &verified else {
            panic!("a correctly signed delivery was refused: {verified:?}");
        };
        assert_eq!(meta.id, id_text);
        assert_eq!(Some(meta.timestamp), timestamp);
    }
    if let Ok(meta) = &verified {
        // Only what carries the signature of this id, timestamp and body
        // (after any tampering) verifies.
        assert!(id_ok && in_time, "{verified:?}");
        let right = webhooks::sign(&secret, &meta.id, meta.timestamp, &body);
        let given = signature
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        assert!(
            given.split_whitespace().any(|s| s == right),
            "verified without the right signature: {given:?}"
        );
    }
    let _ = verified.as_ref().map_err(ToString::to_string);

    // Parsing, on its own and after verification.
    let parsed = WebhookEvent::parse(&body);
    if let Ok(event) = &parsed {
        let _ = (
            event.name(),
            event.kind(),
            event.disposition(),
            format!("{event:?}"),
        );
    }
    match verifier.verify_and_parse(&headers, &body) {
        Ok(delivery) => {
            assert!(verified.is_ok());
            let Ok(event) = &parsed else {
                panic!("verify_and_parse accepted what parse refuses");
            };
            assert_eq!(delivery.event.name(), event.name());
        }
        Err(WebhookError::InvalidPayload(_)) => assert!(verified.is_ok() && parsed.is_err()),
        Err(_) => assert!(verified.is_err()),
    }
}

/// `now` (unix seconds, any `i64`) as a `SystemTime`, for a verifier's clock.
fn at(now: i64) -> std::time::SystemTime {
    let offset = std::time::Duration::from_secs(now.unsigned_abs());
    let time = if now >= 0 {
        std::time::UNIX_EPOCH.checked_add(offset)
    } else {
        std::time::UNIX_EPOCH.checked_sub(offset)
    };
    time.unwrap_or(std::time::UNIX_EPOCH)
}
