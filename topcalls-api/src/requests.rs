//! Request builders that read like the domain and take plain values.
//!
//! Each converts into the generated request type, so the spec's patterns and
//! lengths apply, and a failure names the field. The generated builders
//! (`types::CreateCallRequest::builder()`) are accepted everywhere too.

use std::fmt;

use serde_json::{Map, Value};

use crate::error::Error;
use secrecy::{ExposeSecret as _, SecretString};

use crate::types::{
    CallMode, CallWebhookEvent, CreateCallRequest, CreateCarrierRequest, CreatePhoneNumberRequest,
    CreateWebhookSubscriptionRequest, SipGatewayInput, SipInboundAuth, SipRegistration, TrunkType,
};

/// Converts one field, naming it in the error.
fn field<T>(name: &str, value: String) -> Result<T, Error>
where
    T: TryFrom<String>,
    T::Error: fmt::Display,
{
    T::try_from(value).map_err(|e| Error::InvalidRequest(format!("`{name}`: {e}")))
}

fn optional<T>(name: &str, value: Option<String>) -> Result<Option<T>, Error>
where
    T: TryFrom<String>,
    T::Error: fmt::Display,
{
    value.map(|v| field(name, v)).transpose()
}

/// A call to place: the number to ring and what the agent should do.
///
/// ```
/// use topcalls_api::NewCall;
/// use topcalls_api::types::CreateCallRequest;
///
/// let call = NewCall::to("+15551234567")
///     .task("Confirm tomorrow's 10:00 dentist appointment with Sam.")
///     .voice("alloy")
///     .max_duration_minutes(5.0);
/// let body = CreateCallRequest::try_from(call)?;
/// assert_eq!(body.phone_number.as_str(), "+15551234567");
///
/// let bad = CreateCallRequest::try_from(NewCall::to("555-1234").task("Say hello politely"));
/// assert!(bad.unwrap_err().to_string().contains("phone_number"));
/// # Ok::<(), topcalls_api::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct NewCall {
    phone_number: String,
    task: Option<String>,
    instructions: Option<String>,
    from_number: Option<String>,
    first_sentence: Option<String>,
    mode: Option<CallMode>,
    voice: Option<String>,
    model: Option<String>,
    temperature: Option<f64>,
    max_duration: Option<f64>,
    background_audio: Option<String>,
    background_audio_gain: Option<String>,
    knowledge_base_ids: Vec<String>,
    request_data: Map<String, Value>,
    webhook_url: Option<String>,
    webhook_events: Vec<CallWebhookEvent>,
}

impl NewCall {
    /// A call to `phone_number` (E.164, e.g. `+15551234567`).
    pub fn to(phone_number: impl Into<String>) -> Self {
        Self {
            phone_number: phone_number.into(),
            ..Self::default()
        }
    }
    /// What the agent should accomplish, in plain words (simple mode; at least 10 characters).
    #[must_use]
    pub fn task(mut self, task: impl Into<String>) -> Self {
        self.task = Some(task.into());
        self
    }
    /// A full system prompt (advanced mode; at least 10 characters). Use instead of `task`.
    #[must_use]
    pub fn instructions(mut self, instructions: impl Into<String>) -> Self {
        self.instructions = Some(instructions.into());
        self
    }
    /// The caller id to show (E.164, one of the account's numbers).
    #[must_use]
    pub fn from_number(mut self, number: impl Into<String>) -> Self {
        self.from_number = Some(number.into());
        self
    }
    /// What the agent says first.
    #[must_use]
    pub fn first_sentence(mut self, sentence: impl Into<String>) -> Self {
        self.first_sentence = Some(sentence.into());
        self
    }
    /// `realtime` (default) or `legacy`.
    #[must_use]
    pub fn mode(mut self, mode: CallMode) -> Self {
        self.mode = Some(mode);
        self
    }
    /// A voice name or provider voice id (default `alloy`).
    #[must_use]
    pub fn voice(mut self, voice: impl Into<String>) -> Self {
        self.voice = Some(voice.into());
        self
    }
    /// A model id from [`crate::Client::models`].
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
    /// Sampling temperature, 0–2 (some models ignore it).
    #[must_use]
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }
    /// Longest call in minutes, up to 60 (default 10). These minutes are
    /// reserved from the balance while the call runs.
    #[must_use]
    pub fn max_duration_minutes(mut self, minutes: f64) -> Self {
        self.max_duration = Some(minutes);
        self
    }
    /// Background ambience (e.g. `office`) and its level (e.g. `medium`).
    #[must_use]
    pub fn background_audio(mut self, audio: impl Into<String>, gain: impl Into<String>) -> Self {
        self.background_audio = Some(audio.into());
        self.background_audio_gain = Some(gain.into());
        self
    }
    /// Knowledge bases the agent may consult.
    #[must_use]
    pub fn knowledge_base_ids<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.knowledge_base_ids = ids.into_iter().map(Into::into).collect();
        self
    }
    /// A variable the task or instructions can use.
    #[must_use]
    pub fn variable(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.request_data.insert(name.into(), value.into());
        self
    }
    /// Where to send this call's events, and which ones.
    #[must_use]
    pub fn webhook(
        mut self,
        url: impl Into<String>,
        events: impl IntoIterator<Item = CallWebhookEvent>,
    ) -> Self {
        self.webhook_url = Some(url.into());
        self.webhook_events = events.into_iter().collect();
        self
    }
}

impl TryFrom<NewCall> for CreateCallRequest {
    type Error = Error;

    fn try_from(call: NewCall) -> Result<Self, Error> {
        Ok(CreateCallRequest {
            phone_number: field("phone_number", call.phone_number)?,
            task: optional("task", call.task)?,
            instructions: optional("instructions", call.instructions)?,
            from_number: optional("from_number", call.from_number)?,
            first_sentence: optional("first_sentence", call.first_sentence)?,
            mode: call.mode,
            voice: optional("voice", call.voice)?,
            model: optional("model", call.model)?,
            temperature: call.temperature,
            max_duration: call.max_duration,
            background_audio: optional("background_audio", call.background_audio)?,
            background_audio_gain: optional("background_audio_gain", call.background_audio_gain)?,
            knowledge_base_ids: call
                .knowledge_base_ids
                .into_iter()
                .map(|id| field("knowledge_base_ids", id))
                .collect::<Result<_, _>>()?,
            request_data: call.request_data,
            webhook_url: call.webhook_url,
            webhook_events: call.webhook_events,
        })
    }
}

/// A phone number to add to the account.
///
/// ```
/// use topcalls_api::NewPhoneNumber;
/// use topcalls_api::types::CreatePhoneNumberRequest;
///
/// let body = CreatePhoneNumberRequest::try_from(NewPhoneNumber::new("+15557654321").label("Support line"))?;
/// assert_eq!(body.number.as_str(), "+15557654321");
/// # Ok::<(), topcalls_api::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct NewPhoneNumber {
    number: String,
    voip_carrier_sid: Option<String>,
    label: Option<String>,
}

impl NewPhoneNumber {
    /// The number, E.164.
    pub fn new(number: impl Into<String>) -> Self {
        Self {
            number: number.into(),
            ..Self::default()
        }
    }
    /// The carrier it belongs to (the carrier's `voip_carrier_sid`).
    #[must_use]
    pub fn voip_carrier_sid(mut self, sid: impl Into<String>) -> Self {
        self.voip_carrier_sid = Some(sid.into());
        self
    }
    /// A label of up to 100 characters.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

impl TryFrom<NewPhoneNumber> for CreatePhoneNumberRequest {
    type Error = Error;

    fn try_from(number: NewPhoneNumber) -> Result<Self, Error> {
        Ok(CreatePhoneNumberRequest {
            number: field("number", number.number)?,
            voip_carrier_sid: optional("voip_carrier_sid", number.voip_carrier_sid)?,
            label: optional("label", number.label)?,
        })
    }
}

/// An account webhook subscription.
///
/// ```
/// use topcalls_api::NewWebhookSubscription;
/// use topcalls_api::types::CreateWebhookSubscriptionRequest;
///
/// let sub = NewWebhookSubscription::new("call.completed", "https://example.com/hooks/topcalls")
///     .filter("phone_number", "+1555%")
///     .filter("is_conversion", true);
/// let body = CreateWebhookSubscriptionRequest::try_from(sub)?;
/// assert_eq!(body.filters.len(), 2);
/// # Ok::<(), topcalls_api::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct NewWebhookSubscription {
    event: String,
    url: String,
    filters: Map<String, Value>,
}

impl NewWebhookSubscription {
    /// Subscribe `url` to `event` (`call.completed`, `call.completed.<disposition>`, …).
    pub fn new(event: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            event: event.into(),
            url: url.into(),
            filters: Map::new(),
        }
    }
    /// Only deliver events whose payload field `key` matches: a value is an
    /// exact match, an array any-of, a string with `%` a SQL LIKE pattern.
    #[must_use]
    pub fn filter(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.filters.insert(key.into(), value.into());
        self
    }
}

impl TryFrom<NewWebhookSubscription> for CreateWebhookSubscriptionRequest {
    type Error = Error;

    fn try_from(sub: NewWebhookSubscription) -> Result<Self, Error> {
        let url = url::Url::parse(&sub.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                Error::InvalidRequest(format!("`url`: not an absolute http(s) URL: {:?}", sub.url))
            })?;
        Ok(CreateWebhookSubscriptionRequest {
            event: field("event", sub.event)?,
            url: url.into(),
            filters: sub.filters,
        })
    }
}

/// A SIP carrier to add (bring your own carrier).
///
/// ```
/// use topcalls_api::NewCarrier;
/// use topcalls_api::types::CreateCarrierRequest;
///
/// let carrier = NewCarrier::new("Acme SIP", "203.0.113.10")
///     .port(5060)
///     .inbound(true)
///     .registration("acme-user", "s3cret-pass", Some("sip.acme.example"));
/// let body = CreateCarrierRequest::try_from(carrier)?;
/// assert_eq!(body.sip_gateway.ipv4.as_str(), "203.0.113.10");
///
/// let bad = CreateCarrierRequest::try_from(NewCarrier::new("Acme SIP", "203.0.113.10").port(0));
/// assert!(bad.unwrap_err().to_string().contains("`sip_gateway.port` must be between 1 and 65535"));
/// # Ok::<(), topcalls_api::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct NewCarrier {
    carrier_name: String,
    gateway: String,
    port: Option<u16>,
    inbound: Option<bool>,
    outbound: Option<bool>,
    trunk_type: Option<TrunkType>,
    registration: Option<(String, SecretString, Option<String>)>,
    inbound_auth: Option<(String, SecretString)>,
}

impl NewCarrier {
    /// A carrier named `carrier_name` (1–100 characters) whose SIP gateway
    /// is `gateway`: an IPv4 address, or a hostname for an outbound-only
    /// gateway.
    pub fn new(carrier_name: impl Into<String>, gateway: impl Into<String>) -> Self {
        Self {
            carrier_name: carrier_name.into(),
            gateway: gateway.into(),
            ..Self::default()
        }
    }
    /// The gateway's SIP port (default 5060); 0 is refused before sending.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
    /// Whether calls come in through the gateway (then it must be an IPv4 address).
    #[must_use]
    pub fn inbound(mut self, inbound: bool) -> Self {
        self.inbound = Some(inbound);
        self
    }
    /// Whether calls go out through the gateway.
    #[must_use]
    pub fn outbound(mut self, outbound: bool) -> Self {
        self.outbound = Some(outbound);
        self
    }
    /// The trunk type (`static_ip` by default). [`NewCarrier::registration`]
    /// and [`NewCarrier::inbound_auth`] set it for you.
    #[must_use]
    pub fn trunk_type(mut self, trunk_type: TrunkType) -> Self {
        self.trunk_type = Some(trunk_type);
        self
    }
    /// Registers with the carrier (trunk type `reg`).
    #[must_use]
    pub fn registration(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
        realm: Option<&str>,
    ) -> Self {
        self.registration = Some((
            username.into(),
            SecretString::from(password.into()),
            realm.map(str::to_string),
        ));
        self.trunk_type = Some(TrunkType::Reg);
        self
    }
    /// Authenticates the carrier's inbound calls (trunk type `auth`).
    #[must_use]
    pub fn inbound_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.inbound_auth = Some((username.into(), SecretString::from(password.into())));
        self.trunk_type = Some(TrunkType::Auth);
        self
    }
}

impl TryFrom<NewCarrier> for CreateCarrierRequest {
    type Error = Error;

    fn try_from(carrier: NewCarrier) -> Result<Self, Error> {
        let port = match carrier.port {
            None => None,
            Some(port) => Some(std::num::NonZeroU64::new(u64::from(port)).ok_or_else(|| {
                Error::InvalidRequest(
                    "`sip_gateway.port` must be between 1 and 65535 (got 0)".to_string(),
                )
            })?),
        };
        let registration = carrier
            .registration
            .map(|(username, password, realm)| {
                Ok::<_, Error>(SipRegistration {
                    username: field("registration.username", username)?,
                    password: field(
                        "registration.password",
                        password.expose_secret().to_string(),
                    )?,
                    realm: optional("registration.realm", realm)?,
                })
            })
            .transpose()?;
        let inbound_auth = carrier
            .inbound_auth
            .map(|(username, password)| {
                Ok::<_, Error>(SipInboundAuth {
                    username: field("inbound_auth.username", username)?,
                    password: field(
                        "inbound_auth.password",
                        password.expose_secret().to_string(),
                    )?,
                })
            })
            .transpose()?;
        Ok(CreateCarrierRequest {
            carrier_name: field("carrier_name", carrier.carrier_name)?,
            sip_gateway: SipGatewayInput {
                ipv4: field("sip_gateway.ipv4", carrier.gateway)?,
                port,
                inbound: carrier.inbound,
                outbound: carrier.outbound,
            },
            trunk_type: carrier.trunk_type,
            registration,
            inbound_auth,
        })
    }
}
