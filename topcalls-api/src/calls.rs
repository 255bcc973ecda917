//! `client.calls()`: place calls and follow them to a transcript and summary.

use std::fmt;

use std::num::NonZeroU64;

use crate::client::{Client, RequestOptions};
use crate::error::Result;
use crate::pagination::{List, Listing};
use crate::types::Call;
use crate::types::{
    CallGatewayStatus, CallList, CallOutcomeFilter, CancelCallResponse, CreateCallRequest,
    CreateCallResponse, StopCallResponse,
};
use crate::validate;
use crate::wait::{self, WaitOptions};

/// Calls: create, read, list, stop, cancel, wait. From [`Client::calls`].
#[derive(Debug, Clone, Copy)]
pub struct Calls<'a> {
    client: &'a Client,
}

impl Client {
    /// Calls: create, read, list, stop, cancel, wait.
    pub fn calls(&self) -> Calls<'_> {
        Calls { client: self }
    }
}

impl<'a> Calls<'a> {
    /// Places a call that the AI agent conducts. Checked before sending:
    /// E.164 numbers, exactly one of `task` / `instructions`, lengths and
    /// ranges. Retries reuse one idempotency key, so the call is placed once.
    ///
    /// ```no_run
    /// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
    /// use topcalls_api::NewCall;
    ///
    /// let call = client
    ///     .calls()
    ///     .create(NewCall::to("+15551234567").task("Confirm tomorrow's 10:00 dentist appointment with Sam."))
    ///     .await?;
    /// println!("placed {} ({})", call.call_id, call.status);
    /// # Ok(()) }
    /// ```
    pub async fn create<R>(&self, request: R) -> Result<CreateCallResponse>
    where
        R: TryInto<CreateCallRequest>,
        R::Error: fmt::Display,
    {
        self.create_with(request, RequestOptions::default()).await
    }

    /// [`Calls::create`] with per-request options (idempotency key, retries, deadline).
    pub async fn create_with<R>(
        &self,
        request: R,
        options: RequestOptions,
    ) -> Result<CreateCallResponse>
    where
        R: TryInto<CreateCallRequest>,
        R::Error: fmt::Display,
    {
        let body = validate::convert(request)?;
        validate::create_call(&body)?;
        self.client
            .run_post(options, |raw, key| {
                raw.create_call().idempotency_key(key).body(body)
            })
            .await
    }

    /// One call, with its transcript and summary once they exist.
    pub async fn get(&self, call_id: &str) -> Result<Call> {
        let call_id = validate::id("call_id", call_id)?;
        self.client
            .run(RequestOptions::default(), |raw| {
                raw.get_call().call_id(call_id)
            })
            .await
    }

    /// Lists calls, newest first: one page with [`List::page`], or every
    /// call with [`List::stream`].
    pub fn list(&self) -> ListCalls<'a> {
        List::new(self.client, CallFilters::default())
    }

    /// Stops a queued or in-progress call (`409` otherwise).
    pub async fn stop(&self, call_id: &str) -> Result<StopCallResponse> {
        let call_id = validate::id("call_id", call_id)?;
        self.client
            .run_post(RequestOptions::default(), |raw, key| {
                raw.stop_call().call_id(call_id).idempotency_key(key)
            })
            .await
    }

    /// Cancels a call that has not started (`409` otherwise).
    pub async fn cancel(&self, call_id: &str) -> Result<CancelCallResponse> {
        let call_id = validate::id("call_id", call_id)?;
        self.client
            .run_post(RequestOptions::default(), |raw, key| {
                raw.cancel_call().call_id(call_id).idempotency_key(key)
            })
            .await
    }

    /// Polls the call until it has finished (`completed`, `failed` or
    /// `cancelled`) and its post-call processing is done, then returns it.
    pub async fn wait_until_finished(&self, call_id: &str) -> Result<Call> {
        self.wait_until_finished_with(call_id, &WaitOptions::default())
            .await
    }

    /// [`Calls::wait_until_finished`] with your own polling and timeout.
    pub async fn wait_until_finished_with(
        &self,
        call_id: &str,
        options: &WaitOptions,
    ) -> Result<Call> {
        wait::until(options, || self.get(call_id), is_finished).await
    }
}

/// Whether a call has reached a final state with its results in place.
pub fn is_finished(call: &Call) -> bool {
    let terminal = matches!(
        call.status,
        CallGatewayStatus::Completed | CallGatewayStatus::Failed | CallGatewayStatus::Cancelled
    );
    terminal && call.completed != Some(false)
}

/// Filters of a call listing. See [`ListCalls`].
#[derive(Debug, Clone, Default)]
pub struct CallFilters {
    status: Option<CallOutcomeFilter>,
    campaign_id: Option<String>,
}

/// A call listing: filters, then [`List::page`] or [`List::stream`].
pub type ListCalls<'a> = List<'a, CallFilters>;

impl ListCalls<'_> {
    /// Only calls with this telephony outcome.
    #[must_use]
    pub fn status(mut self, status: CallOutcomeFilter) -> Self {
        self.filters.status = Some(status);
        self
    }
    /// Only calls of this campaign.
    #[must_use]
    pub fn campaign_id(mut self, campaign_id: impl Into<String>) -> Self {
        self.filters.campaign_id = Some(campaign_id.into());
        self
    }
}

impl Listing for CallFilters {
    type Page = CallList;

    async fn fetch(
        &self,
        client: &Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> Result<CallList> {
        client
            .run(RequestOptions::default(), |raw| {
                let mut request = raw.list_calls();
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(cursor) = cursor {
                    request = request.cursor(cursor);
                }
                if let Some(status) = self.status {
                    request = request.status(status);
                }
                if let Some(campaign_id) = self.campaign_id.clone() {
                    request = request.campaign_id(campaign_id);
                }
                request
            })
            .await
    }
}
