//! The data a sandbox starts with: two accounts with their keys, campaigns,
//! leads, a number, a carrier and a balance; and the catalog of models and
//! voices.

use chrono::{DateTime, Duration as Span, Utc};
use topcalls_types::{
    Campaign, CampaignStatus, Carrier, Model, ModelMode, PhoneNumber, Voice, VoiceMode,
};

use crate::state::{Account, ApiKey, CampaignRecord, CarrierRecord, NumberRecord, Scope, World};

/// Two accounts with keys, campaigns, a number, a carrier and a balance.
pub(crate) fn seed(world: &mut World, now: DateTime<Utc>, balance_minutes: f64) -> SeedKeys {
    use Scope::*;
    let full = vec![
        CallsRead,
        CallsWrite,
        CampaignsRead,
        CampaignsWrite,
        NumbersRead,
        NumbersWrite,
    ];
    let read = vec![CallsRead, CampaignsRead, NumbersRead];
    let suffix = || uuid::Uuid::new_v4().simple().to_string();
    let keys = SeedKeys {
        full: format!("tc_test_{}", suffix()),
        read_only: format!("tc_test_{}", suffix()),
        other_account: format!("tc_test_{}", suffix()),
    };
    for (index, name) in ["Bright Dental", "Acme Logistics"].into_iter().enumerate() {
        let account_id = uuid::Uuid::new_v4().to_string();
        let mut account = Account::new(account_id.clone());
        account.plan_minutes = (balance_minutes - 30.0).max(0.0);
        account.bonus_minutes = balance_minutes.min(30.0);
        // Oldest first: the draft is the newest, the first a list shows.
        let campaigns = [
            ("Spring survey", CampaignStatus::Completed, 0),
            ("Renewal follow-ups", CampaignStatus::Paused, 4),
            ("Appointment reminders", CampaignStatus::Draft, 6),
        ];
        for (i, (title, status, leads)) in campaigns.into_iter().enumerate() {
            let seq = world.seq();
            let created = now - Span::days(10 - i as i64);
            let completed_at =
                (status == CampaignStatus::Completed).then_some(created + Span::days(1));
            account.campaigns.push(CampaignRecord {
                seq,
                task: format!("{name}: {title}. Confirm the details and thank them."),
                total_leads: leads,
                pending_leads: (0..leads)
                    .map(|l| {
                        (
                            format!("+1555010{:04}", l + 100 * i as i64),
                            uuid::Uuid::new_v4().to_string(),
                        )
                    })
                    .collect(),
                campaign: Campaign {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: Some(format!("{name} – {title}")),
                    status,
                    created_at: Some(created),
                    updated_at: Some(created),
                    started_at: None,
                    completed_at,
                    conversion_outcomes: vec!["confirmed".into()],
                    max_calls_per_minute: Some(6),
                    max_concurrent_calls: Some(2),
                    stats: None,
                },
            });
        }
        let seq = world.seq();
        let carrier_sid = uuid::Uuid::new_v4().to_string();
        account.numbers.push(NumberRecord {
            seq,
            number: PhoneNumber {
                id: uuid::Uuid::new_v4().to_string(),
                account_id: Some(account_id.clone()),
                number: format!("+1555765432{index}"),
                source: Some(topcalls_types::PhoneNumberSource::Topcalls),
                status: Some(topcalls_types::PhoneNumberStatus::Active),
                phone_number_sid: Some(format!("PN{}", suffix())),
                voip_carrier_sid: None,
                carrier_name: None,
                label: Some("Main line".into()),
                error_message: None,
                created_by_user_id: None,
                created_at: Some(now - Span::days(30)),
                updated_at: Some(now - Span::days(30)),
            },
        });
        account.carriers.push(CarrierRecord {
            deleted: false,
            carrier: Carrier {
                id: uuid::Uuid::new_v4().to_string(),
                account_id: Some(account_id.clone()),
                voip_carrier_sid: carrier_sid,
                sip_gateway_sid: Some(uuid::Uuid::new_v4().to_string()),
                carrier_name: Some("Sandbox SIP".into()),
                trunk_type: Some(topcalls_types::CarrierTrunkType::StaticIp),
                sip_gateway: Some(topcalls_types::SipGateway {
                    ipv4: Some("203.0.113.10".into()),
                    port: Some(5060),
                    inbound: Some(true),
                    outbound: Some(true),
                }),
                created_at: Some(now - Span::days(30)),
            },
        });
        world.accounts.push(account);
        let (full_key, limited) = if index == 0 {
            (&keys.full, Some(&keys.read_only))
        } else {
            (&keys.other_account, None)
        };
        world.keys.insert(
            full_key.clone(),
            ApiKey {
                id: uuid::Uuid::new_v4().to_string(),
                account: index,
                scopes: full.clone(),
            },
        );
        if let Some(key) = limited {
            world.keys.insert(
                key.clone(),
                ApiKey {
                    id: uuid::Uuid::new_v4().to_string(),
                    account: index,
                    scopes: read.clone(),
                },
            );
        }
    }
    keys
}

/// Adds `count` finished calls to `account` (see
/// [`crate::SandboxBuilder::seed_calls`]): a second apart, the newest an hour
/// before `now`, one in ten each busy, no answer, a carrier failure and
/// voicemail, the rest answered by a person. Their events count as sent.
pub(crate) fn calls(account: &mut Account, count: usize, now: DateTime<Utc>) {
    let Ok(seconds) = i64::try_from(count) else {
        return;
    };
    let first = now - Span::hours(1) - Span::seconds(seconds);
    let from = account.default_caller_id();
    account.calls.reserve(count);
    for i in 0..count {
        let to = match i % 10 {
            0 => "+15550000001".to_string(),
            1 => "+15550000002".to_string(),
            2 => "+15550000003".to_string(),
            3 => "+15550000005".to_string(),
            _ => format!("+1202555{:04}", i % 10_000),
        };
        let created = account.call_created_at(first + Span::seconds(i as i64));
        let task = "Remind the patient of tomorrow's appointment at 10:00.";
        let mut record = crate::state::new_call(&account.id, &to, from.clone(), task, 0.0, created);
        crate::state::advance_call(&mut record, Span::seconds(3), created + Span::minutes(10));
        record.settled = true;
        record.emitted = 3;
        account.add_call(record);
    }
}

/// The keys seeded for the handle.
#[derive(Debug, Clone)]
pub(crate) struct SeedKeys {
    pub(crate) full: String,
    pub(crate) read_only: String,
    pub(crate) other_account: String,
}

pub(crate) fn models() -> Vec<Model> {
    let model = |id: &str, name: &str, provider: &str, mode: ModelMode, temperature: bool| Model {
        id: id.into(),
        name: Some(name.into()),
        provider: Some(provider.into()),
        mode: Some(mode),
        supports_temperature: Some(temperature),
        description: None,
    };
    vec![
        model(
            "gpt-realtime-mini-2025-12-15",
            "GPT Realtime Mini",
            "openai",
            ModelMode::Realtime,
            true,
        ),
        model(
            "gpt-realtime-2025-08-28",
            "GPT Realtime",
            "openai",
            ModelMode::Realtime,
            true,
        ),
        model(
            "gpt-4.1-mini",
            "GPT-4.1 mini",
            "openai",
            ModelMode::Legacy,
            false,
        ),
    ]
}

pub(crate) fn builtin_voices() -> Vec<Voice> {
    let realtime = [
        "alloy", "echo", "shimmer", "ash", "ballad", "coral", "sage", "verse",
    ];
    let legacy = [
        ("rachel", "female"),
        ("domi", "female"),
        ("bella", "female"),
        ("antoni", "male"),
        ("josh", "male"),
        ("adam", "male"),
    ];
    let mut voices: Vec<Voice> = realtime
        .iter()
        .enumerate()
        .map(|(i, name)| Voice {
            id: (*name).into(),
            name: Some((*name).into()),
            provider: Some("openai".into()),
            mode: Some(VoiceMode::Realtime),
            gender: Some(if i % 2 == 0 { "female" } else { "male" }.into()),
            language: Some("en".into()),
            accent: Some("american".into()),
            description: None,
            preview_url: None,
        })
        .collect();
    voices.extend(legacy.iter().map(|(name, gender)| Voice {
        id: (*name).into(),
        name: Some((*name).into()),
        provider: Some("elevenlabs".into()),
        mode: Some(VoiceMode::Legacy),
        gender: Some((*gender).into()),
        language: Some("en".into()),
        accent: None,
        description: None,
        preview_url: None,
    }));
    voices
}
