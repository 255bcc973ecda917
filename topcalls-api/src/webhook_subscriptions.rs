//! The `webhooks` tag: account webhook subscriptions. (Receiving deliveries
//! is [`crate::webhooks`].)

use crate::client::Client;
use crate::error::Error;
use crate::generated::builder;
use crate::request::Request;
use crate::types::CreateWebhookSubscriptionRequest;
use crate::validate;

impl Client {
    /// Webhook subscriptions of the account.
    pub fn webhook_subscriptions(&self) -> WebhookSubscriptions<'_> {
        WebhookSubscriptions { client: self }
    }
}

/// Account webhook subscriptions. From [`Client::webhook_subscriptions`].
#[derive(Debug, Clone, Copy)]
pub struct WebhookSubscriptions<'a> {
    client: &'a Client,
}

impl<'a> WebhookSubscriptions<'a> {
    /// Subscribes a URL to an event (e.g. `call.completed`), with optional
    /// filters on payload fields.
    pub fn create<R>(&self, request: R) -> Request<'a, builder::CreateWebhookSubscription<'a>>
    where
        R: TryInto<CreateWebhookSubscriptionRequest>,
        R::Error: Into<Error>,
    {
        let operation = validate::convert(request).map(|body: CreateWebhookSubscriptionRequest| {
            self.client.raw.create_webhook_subscription().body(body)
        });
        Request::new(self.client, operation)
    }
}
