//! `client.calls()`: place calls and follow them to a transcript and summary.

use std::num::NonZeroU64;

use crate::client::Client;
use crate::error::Error;
use crate::generated::builder;
use crate::pagination::{List, Listing, Sealed};
use crate::request::Request;
use crate::types::Call;
use crate::types::{CallGatewayStatus, CallList, CallOutcomeFilter, CreateCallRequest};
use crate::validate;
use crate::wait::Wait;

/// Calls: create, read, list, stop, cancel, wait. From [`Client::calls`].
#[derive(Debug, Clone, Copy)]
pub struct Calls<'a> {
    pub(crate) client: &'a Client,
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
    /// use std::time::Duration;
    /// use topcalls_api::NewCall;
    ///
    /// let call = client
    ///     .calls()
    ///     .create(NewCall::to("+15551234567").task("Confirm tomorrow's 10:00 dentist appointment with Sam."))
    ///     .idempotency_key("appointment-4711-reminder")
    ///     .deadline(Duration::from_secs(30))
    ///     .await?;
    /// println!("placed {} ({})", call.call_id, call.status);
    /// # Ok(()) }
    /// ```
    pub fn create<R>(&self, request: R) -> Request<'a, builder::CreateCall<'a>>
    where
        R: TryInto<CreateCallRequest>,
        R::Error: Into<Error>,
    {
        let operation =
            validate::new_call(request).map(|body| self.client.raw.create_call().body(body));
        Request::new(self.client, operation)
    }

    /// One call, with its transcript and summary once they exist.
    pub fn get(&self, call_id: &str) -> Request<'a, builder::GetCall<'a>> {
        let operation =
            validate::id("call_id", call_id).map(|id| self.client.raw.get_call().call_id(id));
        Request::new(self.client, operation)
    }

    /// Lists calls, newest first: one page with [`List::page`], or every
    /// call with [`List::stream`].
    pub fn list(&self) -> ListCalls<'a> {
        List::new(self.client, CallFilters::default())
    }

    /// Stops a queued or in-progress call (`409` otherwise).
    pub fn stop(&self, call_id: &str) -> Request<'a, builder::StopCall<'a>> {
        let operation =
            validate::id("call_id", call_id).map(|id| self.client.raw.stop_call().call_id(id));
        Request::new(self.client, operation)
    }

    /// Cancels a call that has not started (`409` otherwise).
    pub fn cancel(&self, call_id: &str) -> Request<'a, builder::CancelCall<'a>> {
        let operation =
            validate::id("call_id", call_id).map(|id| self.client.raw.cancel_call().call_id(id));
        Request::new(self.client, operation)
    }

    /// Polls the call until it has finished (`completed`, `failed` or
    /// `cancelled`) and its post-call processing is done, then returns it.
    /// Polling and the deadline are set on the [`Wait`].
    pub fn wait_until_finished(&self, call_id: &str) -> Wait<'a, builder::GetCall<'a>> {
        let operation =
            validate::id("call_id", call_id).map(|id| self.client.raw.get_call().call_id(id));
        Wait::new(
            self.client,
            operation,
            "call",
            call_id,
            is_finished,
            |call| call.status.to_string(),
        )
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

/// Filters of a call listing; set through [`ListCalls`].
#[derive(Debug, Clone, Default)]
#[allow(unreachable_pub, reason = "named by `ListCalls`, never by users")]
pub struct CallFilters {
    status: Option<CallOutcomeFilter>,
    campaign_id: Option<String>,
}

/// A call listing: filters, then [`List::page`] or [`List::stream`].
pub type ListCalls<'a> = List<'a, CallFilters>;

impl ListCalls<'_> {
    /// Only calls with this telephony outcome.
    pub fn status(mut self, status: CallOutcomeFilter) -> Self {
        self.filters.status = Some(status);
        self
    }
    /// Only calls of this campaign.
    pub fn campaign_id(mut self, campaign_id: impl Into<String>) -> Self {
        self.filters.campaign_id = Some(campaign_id.into());
        self
    }
}

impl Sealed for CallFilters {}

impl Listing for CallFilters {
    type Page = CallList;

    fn operation<'a>(
        &self,
        client: &'a Client,
        limit: Option<NonZeroU64>,
        cursor: Option<String>,
    ) -> impl crate::Operation<Output = CallList> + Send + use<'a> {
        let mut request = client.raw.list_calls();
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
    }
}
