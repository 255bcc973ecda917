//! The TLS of the SDK's own HTTP client.
//!
//! reqwest's `rustls` feature brings aws-lc-rs, whose C build is most of a
//! clean build's CPU time (BENCHMARKS.md). Under the SDK's `rustls` feature,
//! reqwest has rustls without a crypto provider, and the SDK hands it a
//! configuration of its own:
//!
//! - the provider the program installed as rustls' process default before
//!   building the client, if any (a program that wants aws-lc-rs, FIPS or
//!   post-quantum key exchange installs it and the SDK follows), else *ring*;
//! - certificates checked by the platform's verifier, as reqwest's own
//!   rustls does (the system's roots, corporate roots included);
//! - TLS 1.2 and 1.3, and ALPN as reqwest sets it (`h2` only with the
//!   `http2` feature).
//!
//! With the `native-tls` feature on, reqwest's native TLS is used as before.

use crate::error::Result;

/// Gives the SDK's own client its TLS.
#[cfg(all(feature = "rustls", not(feature = "native-tls")))]
pub(crate) fn configure(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
    use rustls_platform_verifier::BuilderVerifierExt as _;

    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(rustls::crypto::ring::default_provider()));
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|config| config.with_platform_verifier())
        .map_err(|e| crate::Error::Config(format!("cannot set up TLS: {e}")))?
        .with_no_client_auth();
    config.alpn_protocols = if cfg!(feature = "http2") {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(builder.tls_backend_preconfigured(config))
}

/// Gives the SDK's own client its TLS: reqwest's (native TLS, or none).
#[cfg(not(all(feature = "rustls", not(feature = "native-tls"))))]
#[allow(clippy::unnecessary_wraps)] // the same signature under every feature set
pub(crate) fn configure(builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder> {
    Ok(builder)
}
