//! Configuration: `/v1/models`, `/v1/voices/builtin`, `/v1/voices`.

use axum::extract::RawQuery;
use axum::http::StatusCode;
use topcalls_types::{
    AccountVoice, AccountVoiceList, ModelList, VoiceList, VoiceMode, VoiceModeFilter, VoiceType,
};

use crate::api::body::{Answer, ok};
use crate::api::query::Query;
use crate::problem::ApiProblem;
use crate::seed;

pub(crate) async fn list_models() -> Answer {
    ok(
        StatusCode::OK,
        &ModelList {
            data: seed::models(),
        },
    )
}

pub(crate) async fn list_builtin_voices(RawQuery(raw): RawQuery) -> Answer {
    let query = Query::parse(raw);
    let mode = match query.get("mode") {
        None => None,
        Some(raw) => Some(
            raw.parse::<VoiceModeFilter>()
                .map_err(|_| ApiProblem::field("mode", "one of realtime, legacy"))?,
        ),
    };
    for name in ["provider", "gender", "language"] {
        if query.get(name) == Some("") {
            return Err(ApiProblem::field(name, "must not be empty"));
        }
    }
    let matches = |value: &Option<String>, filter: Option<&str>| {
        filter.is_none_or(|f| value.as_deref() == Some(f))
    };
    let data = seed::builtin_voices()
        .into_iter()
        .filter(|v| {
            mode.as_ref().is_none_or(|m| {
                v.mode
                    .as_ref()
                    .is_some_and(|vm| vm.to_string() == m.to_string())
            })
        })
        .filter(|v| matches(&v.provider, query.get("provider")))
        .filter(|v| matches(&v.gender, query.get("gender")))
        .filter(|v| matches(&v.language, query.get("language")))
        .collect();
    ok(StatusCode::OK, &VoiceList { data })
}

pub(crate) async fn list_voices() -> Answer {
    let mut data: Vec<AccountVoice> = seed::builtin_voices()
        .into_iter()
        .map(|v| AccountVoice {
            id: v.id,
            name: v.name,
            provider: v.provider,
            mode: v.mode,
            gender: v.gender,
            language: v.language,
            accent: v.accent,
            description: v.description,
            preview_url: v.preview_url,
            type_: Some(VoiceType::Builtin),
        })
        .collect();
    data.push(AccountVoice {
        id: "voice_custom_front_desk".into(),
        name: Some("Front desk".into()),
        provider: Some("elevenlabs".into()),
        mode: Some(VoiceMode::Legacy),
        gender: Some("female".into()),
        language: Some("en".into()),
        accent: None,
        description: Some("A cloned voice of the clinic's receptionist.".into()),
        preview_url: None,
        type_: Some(VoiceType::Cloned),
    });
    ok(StatusCode::OK, &AccountVoiceList { data })
}
