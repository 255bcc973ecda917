//! What of a body may be shown in TRACE events and `Debug` output: JSON with
//! the values of secret-named members replaced, cut to 1 KiB.

use std::fmt::Write as _;

use serde_json::Value;

/// Shown in place of a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// The most of a body shown, in bytes.
const SHOWN: usize = 1024;

/// Whether a JSON member named `name` holds a secret: any name containing
/// `password`, `passwd`, `passphrase`, `secret`, `token`, `apikey`,
/// `authorization`, `credential` or `privatekey`, ignoring case, `_` and `-`
/// (`inbound_auth.password`, `signing_secret`, `api-key`, `accessToken`).
pub(crate) fn is_secret_name(name: &str) -> bool {
    const WORDS: [&str; 9] = [
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "authorization",
        "credential",
        "privatekey",
    ];
    let folded: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect();
    WORDS.iter().any(|word| folded.contains(word))
}

/// Replaces the value of every secret-named member, at any depth.
pub(crate) fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (name, member) in map.iter_mut() {
                if is_secret_name(name) {
                    *member = Value::String(REDACTED.to_string());
                } else {
                    redact(member);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A body as it may appear in logs and `Debug` output: JSON with its secrets
/// redacted, other text as it came, cut to 1 KiB either way. A body that
/// looks like JSON but does not parse (truncated, or broken) is not shown:
/// its secrets could not be found.
pub(crate) fn preview(body: &[u8]) -> String {
    let start = body.iter().position(|b| !b.is_ascii_whitespace());
    let shown = match start.map(|i| body[i]) {
        None => return String::from_utf8_lossy(body).into_owned(),
        Some(b'{' | b'[' | b'"') => match serde_json::from_slice::<Value>(body) {
            Ok(mut value) => {
                redact(&mut value);
                value.to_string()
            }
            Err(_) => return format!("({} bytes of malformed JSON, not shown)", body.len()),
        },
        Some(_) => String::from_utf8_lossy(&body[..body.len().min(SHOWN)]).into_owned(),
    };
    cut(shown, body.len())
}

/// `text` cut to [`SHOWN`] bytes (on a character boundary), noting the
/// original `length` when anything was cut.
fn cut(mut text: String, length: usize) -> String {
    if text.len() <= SHOWN && length <= SHOWN {
        return text;
    }
    let mut end = SHOWN.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    let _ = write!(text, "… ({length} bytes)");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_recognised() {
        for secret in [
            "password",
            "inbound_password",
            "Password",
            "signing_secret",
            "webhookSecret",
            "api_key",
            "api-key",
            "apiKey",
            "access_token",
            "Authorization",
            "credentials",
            "private_key",
        ] {
            assert!(is_secret_name(secret), "{secret}");
        }
        for plain in [
            "username",
            "realm",
            "phone_number",
            "task",
            "url",
            "id",
            "key",
        ] {
            assert!(!is_secret_name(plain), "{plain}");
        }
    }

    #[test]
    fn json_secrets_are_redacted_at_any_depth() {
        let body = br#"{"carrier_name":"Acme","registration":{"username":"u","password":"hunter2"},
            "inbound_auth":{"username":"i","password":"swordfish"},"list":[{"secret":{"deep":1}}],
            "request_data":{"customer_token":12345}}"#;
        let shown = preview(body);
        for secret in ["hunter2", "swordfish", "deep", "12345"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("Acme") && shown.contains("\"username\":\"u\""),
            "{shown}"
        );
        assert_eq!(shown.matches(REDACTED).count(), 4, "{shown}");
    }

    #[test]
    fn other_bodies_are_cut_or_withheld() {
        assert_eq!(preview(b""), "");
        assert_eq!(preview(b"<html>busy</html>"), "<html>busy</html>");
        let long = "é".repeat(2000);
        let shown = preview(long.as_bytes());
        assert!(shown.ends_with("… (4000 bytes)"), "{shown}");
        let json = format!("{{\"detail\":\"{}\"}}", "x".repeat(3000));
        let shown = preview(json.as_bytes());
        assert!(
            shown.len() < 1100 && shown.ends_with("(3013 bytes)"),
            "{shown}"
        );
        let broken = preview(br#"{"password":"hunter2""#);
        assert!(!broken.contains("hunter2"), "{broken}");
        assert!(broken.contains("malformed JSON"), "{broken}");
        // Nesting deeper than the parser allows is malformed, not a crash.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(preview(deep.as_bytes()).contains("malformed JSON"));
    }
}
