//! Shared by the sandbox's tests: a client that checks every answer against
//! openapi.yaml, and small helpers.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use reqwest::Method;
use serde_json::{Value, json};
use topcalls_contract_tests::Spec;
use topcalls_sandbox::{ClockMode, Sandbox};

/// Sends requests and checks every response against the spec.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub spec: Spec,
}

pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Api {
    pub fn new(sandbox: &Sandbox) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: sandbox.base_url().to_string(),
            spec: Spec::load(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = self.answer(&method, path, request).await;
        assert!(
            answer.headers.contains_key("x-request-id"),
            "{method} {path}: no X-Request-Id"
        );
        answer
    }

    /// Sends `request` (a `method` to `path`), reads its answer and checks it
    /// against the spec.
    pub async fn answer(
        &self,
        method: &Method,
        path: &str,
        request: reqwest::RequestBuilder,
    ) -> Answer {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
        };
        self.check(method, path, status, &headers, &body);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// The response must be one the spec declares, with a valid body.
    pub fn check(
        &self,
        method: &Method,
        path: &str,
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &Value,
    ) {
        let path = path.split('?').next().unwrap();
        let Some(op) = self
            .spec
            .operations()
            .into_iter()
            .find(|op| op.method == method.as_str() && template_matches(&op.path, path))
        else {
            // Unknown routes and methods: a problem document all the same.
            assert!(status == 404 || status == 405, "{method} {path}: {status}");
            assert_eq!(headers["content-type"], "application/problem+json");
            return;
        };
        let declared = op
            .responses
            .iter()
            .find(|r| r.status == status)
            .unwrap_or_else(|| panic!("{} answered undeclared {status}: {body}", op.id));
        if let Some(schema) = &declared.schema {
            let errors: Vec<String> = self
                .spec
                .validator(schema)
                .iter_errors(body)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{} {status} does not match the spec: {errors:?}\n{body}",
                op.id
            );
            let absent = self.spec.absent_nullable_members(schema, body);
            assert!(
                absent.is_empty(),
                "{} {status} leaves out nullable members instead of sending null: {absent:?}\n{body}",
                op.id
            );
            assert_eq!(
                headers["content-type"].to_str().unwrap(),
                declared.media_type.as_deref().unwrap(),
                "{}",
                op.id
            );
            if status >= 400 {
                assert_eq!(
                    body["instance"].as_str(),
                    headers["x-request-id"].to_str().ok(),
                    "instance is the request id"
                );
            }
        } else {
            assert_eq!(body, &Value::Null, "{} {status} must have no body", op.id);
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Answer {
        self.send(Method::GET, path, Some(key), None, &[]).await
    }
    /// `POST /v1/calls` to `to` (see [`call_body`]) with extra `headers`.
    pub async fn create_call(&self, key: &str, to: &str, headers: &[(&str, &str)]) -> Answer {
        self.send(
            Method::POST,
            "/v1/calls",
            Some(key),
            Some(call_body(to)),
            headers,
        )
        .await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Answer {
        self.send(Method::DELETE, path, Some(key), None, &[]).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Option<Value>) -> Answer {
        self.send(Method::POST, path, Some(key), body, &[]).await
    }
}

pub fn template_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| t.starts_with('{') || t == p)
}

/// A sandbox on a manual clock whose account holds `minutes` of calls.
pub async fn manual_with_balance(minutes: f64) -> Sandbox {
    Sandbox::builder()
        .clock(ClockMode::Manual)
        .balance_minutes(minutes)
        .start()
        .await
        .unwrap()
}

pub async fn manual() -> Sandbox {
    Sandbox::builder()
        .clock(ClockMode::Manual)
        .start()
        .await
        .unwrap()
}

pub fn call_body(to: &str) -> Value {
    json!({"phone_number": to, "task": "Confirm tomorrow's appointment with Sam.", "voice": "alloy"})
}

/// Runs curl as a person would (`-sS --fail-with-body`), expecting success,
/// and reads the answer as JSON.
pub async fn curl(args: Vec<String>) -> Value {
    let out = tokio::process::Command::new("curl")
        .args(["-sS", "--fail-with-body"])
        .args(&args)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice::<Value>(&out.stdout).unwrap()
}

/// A concrete path for a path template: each `{parameter}` becomes `unknown-id`.
pub fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|part| {
            if part.starts_with('{') {
                "unknown-id"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
