//! The `configuration` tag: models and voices a call can use.

use crate::client::Client;
use crate::generated::builder;
use crate::request::Request;
use crate::types::VoiceModeFilter;

impl Client {
    /// The models calls can use right now (availability changes over time).
    pub fn models(&self) -> Request<'_, builder::ListModels<'_>> {
        Request::new(self, Ok(self.raw.list_models()))
    }

    /// Built-in voices; narrow them with [`ListBuiltinVoices`]'s filters,
    /// then `.await`.
    ///
    /// ```no_run
    /// # async fn run(client: topcalls_api::Client) -> topcalls_api::Result<()> {
    /// use topcalls_api::types::VoiceModeFilter;
    ///
    /// let voices = client.builtin_voices().mode(VoiceModeFilter::Realtime).language("en").await?;
    /// # let _ = voices; Ok(()) }
    /// ```
    pub fn builtin_voices(&self) -> ListBuiltinVoices<'_> {
        Request::new(self, Ok(self.raw.list_builtin_voices()))
    }

    /// The account's voices: built-in, custom and cloned.
    pub fn voices(&self) -> Request<'_, builder::ListVoices<'_>> {
        Request::new(self, Ok(self.raw.list_voices()))
    }
}

/// A built-in voice listing (not paginated): filters, options, then `.await`.
pub type ListBuiltinVoices<'a> = Request<'a, builder::ListBuiltinVoices<'a>>;

impl ListBuiltinVoices<'_> {
    /// Only voices for this call mode.
    pub fn mode(self, mode: VoiceModeFilter) -> Self {
        self.map(|op| op.mode(mode))
    }
    /// Only voices of this provider.
    pub fn provider(self, provider: impl Into<String>) -> Self {
        let provider = provider.into();
        self.map(|op| op.provider(provider))
    }
    /// Only voices of this gender.
    pub fn gender(self, gender: impl Into<String>) -> Self {
        let gender = gender.into();
        self.map(|op| op.gender(gender))
    }
    /// Only voices speaking this language (e.g. `en`).
    pub fn language(self, language: impl Into<String>) -> Self {
        let language = language.into();
        self.map(|op| op.language(language))
    }
}
