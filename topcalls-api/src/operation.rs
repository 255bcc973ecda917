//! The operations of `openapi.yaml` as values: what [`crate::Client::send`]
//! runs.

use crate::types::Problem;

/// One operation of the API, built with the generated builders of
/// [`crate::Client::raw`] (`client.raw().list_calls().limit(5)`) and run by
/// [`crate::Client::send`] on the same path as every hand-written method:
/// authentication, idempotency keys, retries, deadline, observers, and the
/// one [`crate::Error`].
///
/// Sealed: `cargo xtask generate` implements it for every builder in
/// [`crate::generated::builder`], from openapi.yaml; nothing else can.
pub trait Operation: Sealed {
    /// The success body.
    type Output: serde::de::DeserializeOwned;
    /// The `operationId`, e.g. `list_calls`.
    const ID: &'static str;
    /// The request: method, URL, query, headers and body, checked by the
    /// generated parameter types. Nothing is sent.
    #[doc(hidden)]
    #[allow(
        clippy::result_large_err,
        reason = "the generated code's own error type; only before sending"
    )]
    fn into_request(self) -> Result<reqwest::Request, progenitor_client::Error<Problem>>;
}

/// Keeps [`Operation`] to the generated builders. Public in a private
/// module: nameable here, by `generated.rs`, and nowhere else.
pub trait Sealed {}
