//! Delivery bodies as typed events.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::types::{
    CallCompletedEvent, CallFailedEvent, CallGatewayStatus, CallQueuedEvent, CallStartedEvent,
    CallTelephonyStatus, CallTransferredEvent, CampaignEvent, WebhookEventName,
};

use super::WebhookError;

/// Every TopCalls event, typed with the payloads of `openapi.yaml`. A body
/// this SDK cannot type keeps its JSON: [`WebhookEvent::UnknownValue`] for a named
/// event, [`WebhookEvent::Unnamed`] for a body without a name.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum WebhookEvent {
    /// `call.queued`.
    CallQueued(Box<CallQueuedEvent>),
    /// `call.started`.
    CallStarted(Box<CallStartedEvent>),
    /// `call.completed`, and `call.completed.<disposition>` from account
    /// subscriptions (see [`WebhookEvent::disposition`]); also a body without
    /// `event` that holds a finished call (see [`WebhookEvent::parse`]).
    CallCompleted(Box<CallCompletedEvent>),
    /// `call.failed` (busy, no answer, error).
    CallFailed(Box<CallFailedEvent>),
    /// `call.transferred`.
    CallTransferred(Box<CallTransferredEvent>),
    /// `campaign.started`.
    CampaignStarted(Box<CampaignEvent>),
    /// `campaign.paused`.
    CampaignPaused(Box<CampaignEvent>),
    /// `campaign.resumed`.
    CampaignResumed(Box<CampaignEvent>),
    /// `campaign.completed`.
    CampaignCompleted(Box<CampaignEvent>),
    /// `campaign.stopped`.
    CampaignStopped(Box<CampaignEvent>),
    /// A named event this SDK cannot type: a name it does not know yet, or a
    /// known name whose body does not match its schema (say, no `call_id`).
    UnknownValue {
        /// The `event` name.
        event: String,
        /// The whole body.
        payload: Value,
    },
    /// A body without an `event` name that is not a finished call (or not an
    /// object at all), as it came.
    Unnamed {
        /// The whole body.
        payload: Value,
    },
}

impl WebhookEvent {
    /// Parses a delivery body. Verify first: parse only bodies whose
    /// signature checked out.
    ///
    /// - A body with a string `event` is the event it names, typed with that
    ///   event's payload; `call.completed.<disposition>` is
    ///   [`WebhookEvent::CallCompleted`]. A name this SDK does not know, or a
    ///   body that does not match the named event's schema, is
    ///   [`WebhookEvent::UnknownValue`].
    /// - A body without `event` (the shape of the `call.completed` payload
    ///   TopCalls documents) is classified from what it holds: a finished
    ///   call (a `call_id`, and a `status` of `completed`, `failed` or
    ///   `cancelled`, a final `call_status` such as `no-answer`, or an
    ///   `end_at`) is [`WebhookEvent::CallCompleted`], named
    ///   `call.completed.<disposition>` when it carries a `disposition` made
    ///   of `a-z`, `0-9` and `_`, else `call.completed`. That name is stored
    ///   in the payload's `event` (so [`WebhookEvent::name`] reports it); the
    ///   body had none. Anything else is [`WebhookEvent::Unnamed`].
    ///
    /// ```
    /// use topcalls_api::webhooks::WebhookEvent;
    ///
    /// let documented = br#"{"call_id": "c_1", "status": "completed", "call_status": "completed",
    ///                       "call_summary": "Confirmed for Tuesday.", "disposition": "confirmed"}"#;
    /// let event = WebhookEvent::parse(documented)?;
    /// assert!(matches!(event, WebhookEvent::CallCompleted(_)));
    /// assert_eq!(event.name(), "call.completed.confirmed");
    ///
    /// let queued = br#"{"call_id": "c_1", "status": "queued"}"#;
    /// assert!(matches!(WebhookEvent::parse(queued)?, WebhookEvent::Unnamed { .. }));
    /// # Ok::<(), topcalls_api::webhooks::WebhookError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WebhookError::InvalidPayload`] when the body is not JSON; any JSON
    /// body parses.
    pub fn parse(body: &[u8]) -> Result<Self, WebhookError> {
        let payload: Value = serde_json::from_slice(body).map_err(WebhookError::InvalidPayload)?;
        Ok(match payload.get("event").and_then(Value::as_str) {
            Some(name) => {
                let name = name.to_string();
                Self::named(&name, &payload).unwrap_or(Self::UnknownValue {
                    event: name,
                    payload,
                })
            }
            None => Self::classify(payload),
        })
    }

    /// The typed event for a body that names itself `name`, if it matches.
    fn named(name: &str, payload: &Value) -> Option<Self> {
        fn typed<T: DeserializeOwned>(payload: &Value) -> Option<Box<T>> {
            T::deserialize(payload).ok().map(Box::new)
        }
        Some(match name {
            "call.queued" => Self::CallQueued(typed(payload)?),
            "call.started" => Self::CallStarted(typed(payload)?),
            "call.failed" => Self::CallFailed(typed(payload)?),
            "call.transferred" => Self::CallTransferred(typed(payload)?),
            "campaign.started" => Self::CampaignStarted(typed(payload)?),
            "campaign.paused" => Self::CampaignPaused(typed(payload)?),
            "campaign.resumed" => Self::CampaignResumed(typed(payload)?),
            "campaign.completed" => Self::CampaignCompleted(typed(payload)?),
            "campaign.stopped" => Self::CampaignStopped(typed(payload)?),
            name if is_call_completed(name) => Self::CallCompleted(typed(payload)?),
            _ => return None,
        })
    }

    /// A body without a name: a finished call is `call.completed`.
    fn classify(payload: Value) -> Self {
        match CallCompletedEvent::deserialize(&payload) {
            Ok(mut call) if is_finished_call(&call) => {
                let name = match call.disposition.as_deref() {
                    Some(d) if is_disposition(d) => format!("call.completed.{d}"),
                    _ => "call.completed".to_string(),
                };
                call.event = Some(name);
                Self::CallCompleted(Box::new(call))
            }
            _ => Self::Unnamed { payload },
        }
    }

    /// The event name: as delivered (e.g. `call.completed.confirmed`), or the
    /// name a body without one was classified as; empty for
    /// [`WebhookEvent::Unnamed`].
    pub fn name(&self) -> &str {
        let event = match self {
            Self::CallQueued(e) => &e.event,
            Self::CallStarted(e) => &e.event,
            Self::CallCompleted(e) => &e.event,
            Self::CallFailed(e) => &e.event,
            Self::CallTransferred(e) => &e.event,
            Self::CampaignStarted(e)
            | Self::CampaignPaused(e)
            | Self::CampaignResumed(e)
            | Self::CampaignCompleted(e)
            | Self::CampaignStopped(e) => &e.event,
            Self::UnknownValue { event, .. } => return event,
            Self::Unnamed { .. } => return "",
        };
        event.as_deref().unwrap_or_default()
    }

    /// Which kind of event this is; `None` for [`WebhookEvent::UnknownValue`] and
    /// [`WebhookEvent::Unnamed`]. `call.completed.<disposition>` is
    /// [`WebhookEventName::CallCompleted`].
    pub fn kind(&self) -> Option<WebhookEventName> {
        Some(match self {
            Self::CallQueued(_) => WebhookEventName::CallQueued,
            Self::CallStarted(_) => WebhookEventName::CallStarted,
            Self::CallCompleted(_) => WebhookEventName::CallCompleted,
            Self::CallFailed(_) => WebhookEventName::CallFailed,
            Self::CallTransferred(_) => WebhookEventName::CallTransferred,
            Self::CampaignStarted(_) => WebhookEventName::CampaignStarted,
            Self::CampaignPaused(_) => WebhookEventName::CampaignPaused,
            Self::CampaignResumed(_) => WebhookEventName::CampaignResumed,
            Self::CampaignCompleted(_) => WebhookEventName::CampaignCompleted,
            Self::CampaignStopped(_) => WebhookEventName::CampaignStopped,
            Self::UnknownValue { .. } | Self::Unnamed { .. } => return None,
        })
    }

    /// A completed call's disposition: the payload's `disposition`, or else
    /// the suffix of `call.completed.<disposition>`. `None` for other events.
    pub fn disposition(&self) -> Option<&str> {
        let Self::CallCompleted(event) = self else {
            return None;
        };
        event.disposition.as_deref().or_else(|| {
            event
                .event
                .as_deref()?
                .strip_prefix("call.completed.")
                .filter(|d| !d.is_empty())
        })
    }
}

fn is_call_completed(name: &str) -> bool {
    name == "call.completed" || name.starts_with("call.completed.")
}

/// A disposition that can end an event name, as subscriptions spell them
/// (`call.completed.<[a-z0-9_]+>`).
fn is_disposition(disposition: &str) -> bool {
    !disposition.is_empty()
        && disposition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether a body without a name holds a call that has finished.
fn is_finished_call(call: &CallCompletedEvent) -> bool {
    use CallGatewayStatus as G;
    use CallTelephonyStatus as T;
    let final_status = matches!(call.status, Some(G::Completed | G::Failed | G::Cancelled));
    let final_outcome = matches!(
        call.call_status,
        Some(
            T::Completed
                | T::Failed
                | T::NoAnswer
                | T::Busy
                | T::Rejected
                | T::Cancelled
                | T::DispatchTimeout
        )
    );
    final_status || final_outcome || call.end_at.is_some()
}
