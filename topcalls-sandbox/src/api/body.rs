//! Reading requests and writing answers: request bodies into the generated
//! types (one JSON object, no `null` members), path ids, JSON answers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::problem::ApiProblem;

/// What a route answers: its success, or a problem.
pub(crate) type Answer = Result<Response, ApiProblem>;

/// The raw request body; one that cannot be read (too large, cut short) is a 400 problem.
pub(crate) struct RawBody(pub(crate) Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiProblem;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiProblem> {
        Bytes::from_request(request, state)
            .await
            .map(RawBody)
            .map_err(|rejection| ApiProblem::field("body", rejection.body_text()))
    }
}

/// The id in the path; one that cannot be decoded (bad percent-encoding) names nothing: 404.
pub(crate) struct Id(pub(crate) String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiProblem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiProblem> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|rejection| {
                ApiProblem::new(StatusCode::NOT_FOUND, "not_found", rejection.body_text())
            })
    }
}

pub(crate) fn ok<T: serde::Serialize>(status: StatusCode, body: &T) -> Answer {
    Ok((status, Json(body)).into_response())
}

/// A JSON body as the generated request type `T`; errors name the field.
///
/// The body must be exactly one JSON object: anything after it (garbage, a
/// second object) is a 400. No member the request types declare is
/// nullable, so `null` is refused wherever `shape` names a member — serde
/// alone would read it as "absent" for an optional one.
pub(crate) fn parse<T: DeserializeOwned>(
    bytes: &Bytes,
    shape: &[Members],
) -> Result<T, ApiProblem> {
    if bytes.is_empty() {
        return Err(ApiProblem::field("body", "a JSON body is required"));
    }
    // `from_slice` reads to the end: trailing characters are an error.
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiProblem::field("body", format!("not one JSON value: {e}")))?;
    if !value.is_object() {
        return Err(ApiProblem::field("body", "must be a JSON object"));
    }
    for members in shape {
        let object = if members.at.is_empty() {
            Some(&value)
        } else {
            value.get(members.at)
        };
        if let Some(serde_json::Value::Object(object)) = object {
            for name in members.names {
                if object.get(*name).is_some_and(serde_json::Value::is_null) {
                    let path = if members.at.is_empty() {
                        (*name).to_string()
                    } else {
                        format!("{}.{name}", members.at)
                    };
                    return Err(ApiProblem::field(
                        path,
                        "must not be null: omit the member instead",
                    ));
                }
            }
        }
    }
    // Typed from the bytes, not from `value`: a duplicated member is an error
    // here, while building a `Value` silently keeps the last one.
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let mut path = e.path().to_string();
        let message = e.inner().to_string();
        // A missing field is reported at its parent: name the field itself.
        if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            path = if path == "." {
                field.to_string()
            } else {
                format!("{path}.{field}")
            };
        }
        let path = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiProblem::field(path, message)
    })
}

/// The members a request type declares, and where its object sits in the
/// body (`""` for the body itself, `sip_gateway` for a nested object).
pub(crate) struct Members {
    at: &'static str,
    names: &'static [&'static str],
}

impl Members {
    /// The members `T` declares, read from its derived `Deserialize`.
    pub(crate) fn of<T: DeserializeOwned>(at: &'static str) -> Self {
        Self {
            at,
            names: declared_members::<T>(),
        }
    }
}

/// The member names a derived `Deserialize` of a struct asks for: serde
/// passes them to `deserialize_struct`, where a probe keeps them.
fn declared_members<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};

    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("only structs are probed"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    // The probe always answers with an error, once it has the names.
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// 400 on `field` unless `url` is an absolute http(s) URL (webhooks go nowhere else).
pub(crate) fn check_http_url(field: &str, url: &str) -> Result<(), ApiProblem> {
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(()),
        _ => Err(ApiProblem::field(field, "must be an absolute http(s) URL")),
    }
}
