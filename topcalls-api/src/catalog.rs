//! Models, voices, balance and webhook subscriptions.

use std::fmt;

use crate::client::{Client, RequestOptions};
use crate::error::Result;
use crate::types::{
    AccountVoiceList, Balance, CreateWebhookSubscriptionRequest, ModelList, VoiceList,
    VoiceModeFilter, WebhookSubscription,
};
use crate::validate;

impl Client {
    /// The models calls can use right now (availability changes over time).
    pub async fn models(&self) -> Result<ModelList> {
        self.run(RequestOptions::default(), |raw| raw.list_models())
            .await
    }

    /// Built-in voices, optionally filtered.
    pub fn builtin_voices(&self) -> ListBuiltinVoices<'_> {
        ListBuiltinVoices {
            client: self,
            filter: VoiceFilter::default(),
        }
    }

    /// The account's voices: built-in, custom and cloned.
    pub async fn voices(&self) -> Result<AccountVoiceList> {
        self.run(RequestOptions::default(), |raw| raw.list_voices())
            .await
    }

    /// Remaining call minutes and how they break down.
    pub async fn balance(&self) -> Result<Balance> {
        self.run(RequestOptions::default(), |raw| raw.get_balance())
            .await
    }

    /// Webhook subscriptions of the account.
    pub fn webhook_subscriptions(&self) -> WebhookSubscriptions<'_> {
        WebhookSubscriptions { client: self }
    }
}

#[derive(Debug, Clone, Default)]
struct VoiceFilter {
    mode: Option<VoiceModeFilter>,
    provider: Option<String>,
    gender: Option<String>,
    language: Option<String>,
}

/// A built-in voice listing with filters; `.send()` runs it.
#[derive(Debug, Clone)]
pub struct ListBuiltinVoices<'a> {
    client: &'a Client,
    filter: VoiceFilter,
}

impl ListBuiltinVoices<'_> {
    /// Only voices for this call mode.
    #[must_use]
    pub fn mode(mut self, mode: VoiceModeFilter) -> Self {
        self.filter.mode = Some(mode);
        self
    }
    /// Only voices of this provider.
    #[must_use]
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.filter.provider = Some(provider.into());
        self
    }
    /// Only voices of this gender.
    #[must_use]
    pub fn gender(mut self, gender: impl Into<String>) -> Self {
        self.filter.gender = Some(gender.into());
        self
    }
    /// Only voices speaking this language (e.g. `en`).
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.filter.language = Some(language.into());
        self
    }
    /// Runs the listing.
    pub async fn send(self) -> Result<VoiceList> {
        let VoiceFilter {
            mode,
            provider,
            gender,
            language,
        } = self.filter;
        self.client
            .run(RequestOptions::default(), |raw| {
                let mut request = raw.list_builtin_voices();
                if let Some(mode) = mode {
                    request = request.mode(mode);
                }
                if let Some(provider) = provider {
                    request = request.provider(provider);
                }
                if let Some(gender) = gender {
                    request = request.gender(gender);
                }
                if let Some(language) = language {
                    request = request.language(language);
                }
                request
            })
            .await
    }
}

/// Account webhook subscriptions. From [`Client::webhook_subscriptions`].
#[derive(Debug, Clone, Copy)]
pub struct WebhookSubscriptions<'a> {
    client: &'a Client,
}

impl WebhookSubscriptions<'_> {
    /// Subscribes a URL to an event (e.g. `call.completed`), with optional
    /// filters on payload fields.
    pub async fn subscribe<R>(&self, request: R) -> Result<WebhookSubscription>
    where
        R: TryInto<CreateWebhookSubscriptionRequest>,
        R::Error: fmt::Display,
    {
        self.subscribe_with(request, RequestOptions::default())
            .await
    }

    /// [`WebhookSubscriptions::subscribe`] with per-request options.
    pub async fn subscribe_with<R>(
        &self,
        request: R,
        options: RequestOptions,
    ) -> Result<WebhookSubscription>
    where
        R: TryInto<CreateWebhookSubscriptionRequest>,
        R::Error: fmt::Display,
    {
        let body: CreateWebhookSubscriptionRequest = validate::convert(request)?;
        self.client
            .run_post(options, |raw, key| {
                raw.create_webhook_subscription()
                    .idempotency_key(key)
                    .body(body)
            })
            .await
    }
}
