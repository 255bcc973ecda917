//! How each change affects users of this SDK, as a table: the first rule
//! whose matcher accepts a change classifies it. The classes follow what
//! `cargo xtask generate` makes of the spec (see `/work/shared/notes` and
//! `postprocess.rs`):
//!
//! - a required member is a field `T`, an optional or nullable one `Option<T>`
//!   (required + nullable is `Option<T>` that must be present);
//! - enums the client receives are `#[non_exhaustive]` with `UnknownValue`,
//!   enums only sent are strict;
//! - `pattern` and lengths are checked when a value is built *and* decoded;
//!   integer bounds pick the Rust type (`minimum: 1` is `NonZeroU64`);
//! - every operation is a builder whose setters take `TryInto<T>`: a
//!   parameter's setter is the same whether it is required or not, and an
//!   unset required value is an error when the request is built;
//! - adding a member or an operation adds items: request types are built
//!   through their builders (`types::builder`) and the `New…` values of the
//!   hand-written layer, response types are decoded, not built; a struct
//!   literal of a generated type is not covered, so an added field is not a
//!   break for this SDK.

use super::{Change, Dir, Kind};

/// Who a change breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    /// Code that builds and sends requests must change.
    BreakingSenders,
    /// Code that reads responses or webhook payloads must change.
    BreakingReceivers,
    /// Existing code compiles and behaves as before.
    Safe,
}

impl Class {
    pub(crate) fn title(self) -> &'static str {
        match self {
            Class::BreakingSenders => "breaking for senders",
            Class::BreakingReceivers => "breaking for receivers",
            Class::Safe => "safe",
        }
    }
}

/// One classification rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: &'static str,
    pub(crate) description: &'static str,
    pub(crate) class: Class,
    pub(crate) matches: fn(&Change) -> bool,
}

fn sent(c: &Change) -> bool {
    c.dir == Dir::Sent
}

fn received(c: &Change) -> bool {
    c.dir == Dir::Received
}

use Class::{BreakingReceivers as Receivers, BreakingSenders as Senders, Safe};

/// The rules, most specific first; the last two take whatever no other
/// rule does, as breaking.
pub(crate) static RULES: &[Rule] = &[
    // ------------------------------------------------------- operations
    Rule {
        id: "operation-added",
        description: "a new operation is a new builder and method; existing code is untouched",
        class: Safe,
        matches: |c| c.kind == Kind::OperationAdded,
    },
    Rule {
        id: "operation-removed",
        description: "the operation's builder and method disappear",
        class: Senders,
        matches: |c| c.kind == Kind::OperationRemoved,
    },
    Rule {
        id: "operation-moved",
        description: "same operationId on another path or method: the builder keeps its name and setters",
        class: Safe,
        matches: |c| c.kind == Kind::OperationMoved,
    },
    // ------------------------------------------------------- parameters
    Rule {
        id: "optional-parameter-added",
        description: "a new optional parameter is a new builder setter",
        class: Safe,
        matches: |c| c.kind == Kind::ParameterAdded { required: false },
    },
    Rule {
        id: "required-parameter-added",
        description: "a request built without the new parameter fails before it is sent",
        class: Senders,
        matches: |c| c.kind == Kind::ParameterAdded { required: true },
    },
    Rule {
        id: "parameter-made-required",
        description: "a request that leaves the parameter out fails before it is sent",
        class: Senders,
        matches: |c| c.kind == Kind::ParameterMadeRequired,
    },
    Rule {
        id: "parameter-made-optional",
        description: "the setter is the same; leaving the value out becomes allowed",
        class: Safe,
        matches: |c| c.kind == Kind::ParameterMadeOptional,
    },
    Rule {
        id: "parameter-removed",
        description: "the builder loses the parameter's setter",
        class: Senders,
        matches: |c| c.kind == Kind::ParameterRemoved,
    },
    // ------------------------------------------------------- request bodies
    Rule {
        id: "optional-body-added",
        description: "a new optional request body is a new builder setter",
        class: Safe,
        matches: |c| c.kind == Kind::BodyAdded { required: false },
    },
    Rule {
        id: "required-body-added",
        description: "a request built without the new body fails before it is sent",
        class: Senders,
        matches: |c| {
            matches!(
                c.kind,
                Kind::BodyAdded { required: true } | Kind::BodyMadeRequired
            )
        },
    },
    Rule {
        id: "body-made-optional",
        description: "the body setter is the same; leaving the body out becomes allowed",
        class: Safe,
        matches: |c| c.kind == Kind::BodyMadeOptional,
    },
    Rule {
        id: "body-removed",
        description: "the builder loses its body setters",
        class: Senders,
        matches: |c| c.kind == Kind::BodyRemoved,
    },
    // ------------------------------------------------------- responses
    Rule {
        id: "success-status-added",
        description: "another 2xx with the body type the operation already returns",
        class: Safe,
        matches: |c| c.kind == Kind::SuccessStatusAdded { same_type: true },
    },
    Rule {
        id: "success-status-added-other-type",
        description: "a 2xx with another body type changes the operation's success type",
        class: Receivers,
        matches: |c| c.kind == Kind::SuccessStatusAdded { same_type: false },
    },
    Rule {
        id: "success-status-removed",
        description: "a success the client handled becomes an unexpected response",
        class: Receivers,
        matches: |c| c.kind == Kind::SuccessStatusRemoved,
    },
    Rule {
        id: "error-status-changed",
        description: "error statuses all reach users as ApiError with the status and Problem body",
        class: Safe,
        matches: |c| matches!(c.kind, Kind::ErrorStatusAdded | Kind::ErrorStatusRemoved),
    },
    // ------------------------------------------------------- types
    Rule {
        id: "schema-added",
        description: "a new type",
        class: Safe,
        matches: |c| c.kind == Kind::SchemaAdded,
    },
    Rule {
        id: "sent-schema-removed",
        description: "a type users build disappears",
        class: Senders,
        matches: |c| c.kind == Kind::SchemaRemoved && sent(c),
    },
    Rule {
        id: "received-schema-removed",
        description: "a type users read disappears",
        class: Receivers,
        matches: |c| c.kind == Kind::SchemaRemoved && received(c),
    },
    Rule {
        id: "sent-type-changed",
        description: "a member users set has another Rust type",
        class: Senders,
        matches: |c| c.kind == Kind::TypeChanged && sent(c),
    },
    Rule {
        id: "received-type-changed",
        description: "a member users read has another Rust type",
        class: Receivers,
        matches: |c| c.kind == Kind::TypeChanged && received(c),
    },
    // ------------------------------------------------------- members
    Rule {
        id: "sent-optional-member-added",
        description: "a new optional request member is a new builder setter",
        class: Safe,
        matches: |c| c.kind == Kind::MemberAdded { required: false } && sent(c),
    },
    Rule {
        id: "sent-required-member-added",
        description: "a request value built without the new member fails before it is sent",
        class: Senders,
        matches: |c| c.kind == Kind::MemberAdded { required: true } && sent(c),
    },
    Rule {
        id: "received-member-added",
        description: "a new response member is a new field; decoding ignored it before",
        class: Safe,
        matches: |c| matches!(c.kind, Kind::MemberAdded { .. }) && received(c),
    },
    Rule {
        id: "sent-member-removed",
        description: "the request type loses a field and its setter",
        class: Senders,
        matches: |c| c.kind == Kind::MemberRemoved && sent(c),
    },
    Rule {
        id: "received-member-removed",
        description: "the response type loses a field users may read",
        class: Receivers,
        matches: |c| c.kind == Kind::MemberRemoved && received(c),
    },
    Rule {
        id: "sent-member-made-required",
        description: "a request value built without the member fails before it is sent",
        class: Senders,
        matches: |c| matches!(c.kind, Kind::MemberMadeRequired { .. }) && sent(c),
    },
    Rule {
        id: "received-member-made-required-nullable",
        description: "a nullable member stays Option<T>; only its presence is now promised",
        class: Safe,
        matches: |c| c.kind == Kind::MemberMadeRequired { nullable: true } && received(c),
    },
    Rule {
        id: "received-member-made-required",
        description: "the field goes from Option<T> to T: code reading an Option breaks",
        class: Receivers,
        matches: |c| c.kind == Kind::MemberMadeRequired { nullable: false } && received(c),
    },
    Rule {
        id: "member-made-optional-nullable",
        description: "a nullable member was Option<T> already; it may now be absent too",
        class: Safe,
        matches: |c| c.kind == Kind::MemberMadeOptional { nullable: true },
    },
    Rule {
        id: "sent-member-made-optional",
        description: "the field goes from T to Option<T>: setters still work, code that builds or reads the struct directly does not",
        class: Senders,
        matches: |c| c.kind == Kind::MemberMadeOptional { nullable: false } && sent(c),
    },
    Rule {
        id: "received-member-made-optional",
        description: "the field goes from T to Option<T>, and the server may leave it out",
        class: Receivers,
        matches: |c| c.kind == Kind::MemberMadeOptional { nullable: false } && received(c),
    },
    Rule {
        id: "optional-member-nullability-changed",
        description: "an optional member is Option<T> with or without `nullable`",
        class: Safe,
        matches: |c| {
            matches!(
                c.kind,
                Kind::NullableAdded { required: false } | Kind::NullableRemoved { required: false }
            )
        },
    },
    Rule {
        id: "sent-required-member-nullability-changed",
        description: "a required member's field changes between T and Option<T>",
        class: Senders,
        matches: |c| {
            matches!(
                c.kind,
                Kind::NullableAdded { required: true } | Kind::NullableRemoved { required: true }
            ) && sent(c)
        },
    },
    Rule {
        id: "received-required-member-nullability-changed",
        description: "a required member's field changes between T and Option<T>",
        class: Receivers,
        matches: |c| {
            matches!(
                c.kind,
                Kind::NullableAdded { required: true } | Kind::NullableRemoved { required: true }
            ) && received(c)
        },
    },
    // ------------------------------------------------------- enums
    Rule {
        id: "received-enum-value-added",
        description: "received enums are #[non_exhaustive] with UnknownValue: the new value gets a variant, old code keeps compiling",
        class: Safe,
        matches: |c| c.kind == Kind::EnumValueAdded && received(c),
    },
    Rule {
        id: "sent-enum-value-added",
        description: "a request enum gains a variant users may send",
        class: Safe,
        matches: |c| c.kind == Kind::EnumValueAdded && sent(c),
    },
    Rule {
        id: "sent-enum-value-removed",
        description: "a value users could send is gone, with its variant",
        class: Senders,
        matches: |c| c.kind == Kind::EnumValueRemoved && sent(c),
    },
    Rule {
        id: "received-enum-value-removed",
        description: "the variant disappears: code matching on it breaks",
        class: Receivers,
        matches: |c| c.kind == Kind::EnumValueRemoved && received(c),
    },
    // ------------------------------------------------------- bounds
    Rule {
        id: "sent-constraint-narrowed",
        description: "values users could send are refused, by the builder or by the server",
        class: Senders,
        matches: |c| matches!(c.kind, Kind::ConstraintNarrowed { .. }) && sent(c),
    },
    Rule {
        id: "received-checked-constraint-narrowed",
        description: "lengths and patterns of strings are checked when decoding: fewer responses decode",
        class: Receivers,
        matches: |c| c.kind == Kind::ConstraintNarrowed { decoded: true } && received(c),
    },
    Rule {
        id: "received-bound-narrowed",
        description: "the server promises fewer values; decoding does not check this bound",
        class: Safe,
        matches: |c| c.kind == Kind::ConstraintNarrowed { decoded: false } && received(c),
    },
    Rule {
        id: "constraint-widened",
        description: "more values are accepted, sent or decoded (a bound that changes the Rust type is also a type change)",
        class: Safe,
        matches: |c| c.kind == Kind::ConstraintWidened,
    },
    // ------------------------------------------------------- anything else
    Rule {
        id: "other-sent-change",
        description: "a change no rule knows, taken as breaking",
        class: Senders,
        matches: sent,
    },
    Rule {
        id: "other-received-change",
        description: "a change no rule knows, taken as breaking",
        class: Receivers,
        matches: received,
    },
];

/// The first rule that matches `change` (the last rules match anything).
pub(crate) fn classify(change: &Change) -> &'static Rule {
    RULES
        .iter()
        .find(|rule| (rule.matches)(change))
        .unwrap_or(&RULES[RULES.len() - 1])
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::super::{Report, diff};
    use super::*;

    /// The document every case edits: `create_thing` sends `Req` (with the
    /// sent enum `Mode`) and receives `Res` (with the received enum
    /// `Status`).
    const BASE: &str = r##"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things:
    post:
      operationId: create_thing
      parameters:
        - {name: dry_run, in: query, required: false, schema: {type: boolean}}
      requestBody:
        required: true
        content: {application/json: {schema: {$ref: '#/components/schemas/Req'}}}
      responses:
        '201':
          description: created
          content: {application/json: {schema: {$ref: '#/components/schemas/Res'}}}
        '400': {description: bad}
  /things/{id}:
    get:
      operationId: get_thing
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        '200':
          description: ok
          content: {application/json: {schema: {$ref: '#/components/schemas/Res'}}}
components:
  schemas:
    Req:
      type: object
      required: [name]
      properties:
        name: {type: string, maxLength: 10}
        note: {type: string}
        count: {type: integer, minimum: 1}
        mode: {$ref: '#/components/schemas/Mode'}
        label: {type: string, nullable: true}
    Res:
      type: object
      required: [id, name]
      properties:
        id: {type: string}
        name: {type: string}
        note: {type: string}
        size: {type: integer, minimum: 0}
        status: {$ref: '#/components/schemas/Status'}
        label: {type: string, nullable: true}
        code: {type: string, pattern: '^[a-z]+$'}
        score: {type: number, minimum: 0}
    Mode: {type: string, enum: [x, y]}
    Status: {type: string, enum: [a, b]}
    Other: {type: object, properties: {a: {type: string}}}
"##;

    /// A JSON pointer into the document and its new value (YAML), or
    /// `None` to remove it.
    type Edit = (&'static str, Option<&'static str>);

    struct Case {
        rule: &'static str,
        /// Edits giving the old document (most cases: none).
        old: &'static [Edit],
        /// Edits giving the new document.
        new: &'static [Edit],
    }

    const CASES: &[Case] = &[
        Case {
            rule: "operation-added",
            old: &[],
            new: &[(
                "/paths/~1others",
                Some("{get: {operationId: list_others, responses: {'200': {description: ok}}}}"),
            )],
        },
        Case {
            rule: "operation-removed",
            old: &[],
            new: &[("/paths/~1things~1{id}", None)],
        },
        Case {
            rule: "operation-moved",
            old: &[],
            new: &[
                ("/paths/~1things~1{id}", None),
                (
                    "/paths/~1items~1{id}",
                    Some(
                        "{get: {operationId: get_thing, parameters: [{name: id, in: path, required: true, schema: {type: string}}], responses: {'200': {description: ok, content: {application/json: {schema: {$ref: '#/components/schemas/Res'}}}}}}}",
                    ),
                ),
            ],
        },
        Case {
            rule: "optional-parameter-added",
            old: &[],
            new: &[(
                "/paths/~1things/post/parameters/1",
                Some("{name: trace, in: query, schema: {type: boolean}}"),
            )],
        },
        Case {
            rule: "required-parameter-added",
            old: &[],
            new: &[(
                "/paths/~1things/post/parameters/1",
                Some("{name: trace, in: query, required: true, schema: {type: boolean}}"),
            )],
        },
        Case {
            rule: "parameter-made-required",
            old: &[],
            new: &[("/paths/~1things/post/parameters/0/required", Some("true"))],
        },
        Case {
            rule: "parameter-made-optional",
            old: &[("/paths/~1things/post/parameters/0/required", Some("true"))],
            new: &[],
        },
        Case {
            rule: "parameter-removed",
            old: &[],
            new: &[("/paths/~1things/post/parameters/0", None)],
        },
        Case {
            rule: "optional-body-added",
            old: &[],
            new: &[(
                "/paths/~1things~1{id}/get/requestBody",
                Some("{content: {application/json: {schema: {type: object}}}}"),
            )],
        },
        Case {
            rule: "required-body-added",
            old: &[],
            new: &[(
                "/paths/~1things~1{id}/get/requestBody",
                Some("{required: true, content: {application/json: {schema: {type: object}}}}"),
            )],
        },
        Case {
            rule: "body-made-optional",
            old: &[],
            new: &[("/paths/~1things/post/requestBody/required", Some("false"))],
        },
        Case {
            rule: "body-removed",
            old: &[],
            new: &[("/paths/~1things/post/requestBody", None)],
        },
        Case {
            rule: "success-status-added",
            old: &[],
            new: &[(
                "/paths/~1things/post/responses/200",
                Some(
                    "{description: existed, content: {application/json: {schema: {$ref: '#/components/schemas/Res'}}}}",
                ),
            )],
        },
        Case {
            rule: "success-status-added-other-type",
            old: &[],
            new: &[(
                "/paths/~1things/post/responses/202",
                Some(
                    "{description: accepted, content: {application/json: {schema: {$ref: '#/components/schemas/Other'}}}}",
                ),
            )],
        },
        Case {
            rule: "success-status-removed",
            old: &[],
            new: &[
                ("/paths/~1things/post/responses/201", None),
                (
                    "/paths/~1things/post/responses/204",
                    Some("{description: none}"),
                ),
            ],
        },
        Case {
            rule: "error-status-changed",
            old: &[],
            new: &[(
                "/paths/~1things/post/responses/409",
                Some("{description: conflict}"),
            )],
        },
        Case {
            rule: "schema-added",
            old: &[],
            new: &[("/components/schemas/New", Some("{type: string}"))],
        },
        Case {
            rule: "sent-schema-removed",
            old: &[
                (
                    "/components/schemas/Req/properties/extra",
                    Some("{$ref: '#/components/schemas/Extra'}"),
                ),
                ("/components/schemas/Extra", Some("{type: string}")),
            ],
            new: &[],
        },
        Case {
            rule: "received-schema-removed",
            old: &[
                (
                    "/components/schemas/Res/properties/extra",
                    Some("{$ref: '#/components/schemas/Extra'}"),
                ),
                ("/components/schemas/Extra", Some("{type: string}")),
            ],
            new: &[],
        },
        Case {
            rule: "sent-type-changed",
            old: &[],
            new: &[(
                "/components/schemas/Req/properties/note/type",
                Some("integer"),
            )],
        },
        Case {
            rule: "received-type-changed",
            old: &[],
            new: &[(
                "/components/schemas/Res/properties/note/format",
                Some("date-time"),
            )],
        },
        Case {
            rule: "sent-optional-member-added",
            old: &[],
            new: &[(
                "/components/schemas/Req/properties/extra",
                Some("{type: string}"),
            )],
        },
        Case {
            rule: "sent-required-member-added",
            old: &[],
            new: &[
                (
                    "/components/schemas/Req/properties/extra",
                    Some("{type: string}"),
                ),
                ("/components/schemas/Req/required/1", Some("extra")),
            ],
        },
        Case {
            rule: "received-member-added",
            old: &[],
            new: &[(
                "/components/schemas/Res/properties/extra",
                Some("{type: string}"),
            )],
        },
        Case {
            rule: "sent-member-removed",
            old: &[],
            new: &[("/components/schemas/Req/properties/note", None)],
        },
        Case {
            rule: "received-member-removed",
            old: &[],
            new: &[("/components/schemas/Res/properties/note", None)],
        },
        Case {
            rule: "sent-member-made-required",
            old: &[],
            new: &[("/components/schemas/Req/required/1", Some("note"))],
        },
        Case {
            rule: "received-member-made-required-nullable",
            old: &[],
            new: &[("/components/schemas/Res/required/2", Some("label"))],
        },
        Case {
            rule: "received-member-made-required",
            old: &[],
            new: &[("/components/schemas/Res/required/2", Some("note"))],
        },
        Case {
            rule: "member-made-optional-nullable",
            old: &[("/components/schemas/Res/required/2", Some("label"))],
            new: &[],
        },
        Case {
            rule: "sent-member-made-optional",
            old: &[],
            new: &[("/components/schemas/Req/required", Some("[]"))],
        },
        Case {
            rule: "received-member-made-optional",
            old: &[],
            new: &[("/components/schemas/Res/required", Some("[id]"))],
        },
        Case {
            rule: "optional-member-nullability-changed",
            old: &[],
            new: &[(
                "/components/schemas/Res/properties/note/nullable",
                Some("true"),
            )],
        },
        Case {
            rule: "sent-required-member-nullability-changed",
            old: &[],
            new: &[(
                "/components/schemas/Req/properties/name/nullable",
                Some("true"),
            )],
        },
        Case {
            rule: "received-required-member-nullability-changed",
            old: &[],
            new: &[(
                "/components/schemas/Res/properties/id/nullable",
                Some("true"),
            )],
        },
        Case {
            rule: "received-enum-value-added",
            old: &[],
            new: &[("/components/schemas/Status/enum/2", Some("c"))],
        },
        Case {
            rule: "sent-enum-value-added",
            old: &[],
            new: &[("/components/schemas/Mode/enum/2", Some("z"))],
        },
        Case {
            rule: "sent-enum-value-removed",
            old: &[],
            new: &[("/components/schemas/Mode/enum/1", None)],
        },
        Case {
            rule: "received-enum-value-removed",
            old: &[],
            new: &[("/components/schemas/Status/enum/1", None)],
        },
        Case {
            rule: "sent-constraint-narrowed",
            old: &[],
            new: &[(
                "/components/schemas/Req/properties/name/maxLength",
                Some("5"),
            )],
        },
        Case {
            rule: "received-checked-constraint-narrowed",
            old: &[],
            new: &[(
                "/components/schemas/Res/properties/code/pattern",
                Some("'^[a-c]+$'"),
            )],
        },
        Case {
            rule: "received-bound-narrowed",
            old: &[],
            new: &[(
                "/components/schemas/Res/properties/score/maximum",
                Some("100"),
            )],
        },
        Case {
            rule: "constraint-widened",
            old: &[],
            new: &[(
                "/components/schemas/Req/properties/name/maxLength",
                Some("20"),
            )],
        },
    ];

    fn apply(edits: &[Edit]) -> Value {
        let mut doc: Value = serde_yaml_ng::from_str(BASE).unwrap();
        for (pointer, value) in edits {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let key = key.replace("~1", "/").replace("~0", "~");
            let parent = doc
                .pointer_mut(parent)
                .unwrap_or_else(|| panic!("{parent} is not in the base document"));
            match (parent, value) {
                (Value::Object(map), Some(v)) => {
                    map.insert(key, serde_yaml_ng::from_str(v).unwrap());
                }
                (Value::Object(map), None) => {
                    assert!(
                        map.remove(&key).is_some(),
                        "{pointer} is not in the document"
                    );
                }
                (Value::Array(list), Some(v)) => {
                    list.insert(key.parse().unwrap(), serde_yaml_ng::from_str(v).unwrap());
                }
                (Value::Array(list), None) => {
                    list.remove(key.parse().unwrap());
                }
                (other, _) => panic!("{pointer}: cannot edit {other}"),
            }
        }
        doc
    }

    #[test]
    fn every_rule_has_a_case_and_every_case_a_rule() {
        let rules: BTreeSet<&str> = RULES
            .iter()
            .map(|r| r.id)
            .filter(|id| !id.starts_with("other-"))
            .collect();
        let cases: BTreeSet<&str> = CASES.iter().map(|c| c.rule).collect();
        assert_eq!(rules.len(), RULES.len() - 2, "rule ids are unique");
        assert_eq!(cases.len(), CASES.len(), "one case per rule");
        assert_eq!(rules, cases);
    }

    /// Each case's edit yields at least one change classified by its rule,
    /// in the rule's class, and no breaking change from another rule when
    /// the rule is safe (a safe edit must be safe as a whole).
    #[test]
    fn each_rule_classifies_its_case() {
        let mut failures = Vec::new();
        for case in CASES {
            let rule = RULES.iter().find(|r| r.id == case.rule).unwrap();
            let report = Report::compare(&apply(case.old), &apply(case.new));
            let ids: Vec<&str> = report.changes.iter().map(|c| c.rule.id).collect();
            let found = report
                .changes
                .iter()
                .any(|c| c.rule.id == rule.id && c.rule.class == rule.class);
            let safe_as_a_whole = rule.class != Class::Safe || !report.breaking();
            if !found || !safe_as_a_whole {
                failures.push(format!("{}: got {ids:?} {:#?}", rule.id, report.changes));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// Every kind of change, in both directions, has a rule of its own: the
    /// fallbacks are there for kinds added later without a rule.
    #[test]
    fn no_change_reaches_a_fallback() {
        // The match makes this list fail to compile when a kind is added.
        let kinds = [
            Kind::OperationAdded,
            Kind::OperationRemoved,
            Kind::OperationMoved,
            Kind::ParameterAdded { required: false },
            Kind::ParameterAdded { required: true },
            Kind::ParameterRemoved,
            Kind::ParameterMadeRequired,
            Kind::ParameterMadeOptional,
            Kind::BodyAdded { required: false },
            Kind::BodyAdded { required: true },
            Kind::BodyRemoved,
            Kind::BodyMadeRequired,
            Kind::BodyMadeOptional,
            Kind::SuccessStatusAdded { same_type: false },
            Kind::SuccessStatusAdded { same_type: true },
            Kind::SuccessStatusRemoved,
            Kind::ErrorStatusAdded,
            Kind::ErrorStatusRemoved,
            Kind::SchemaAdded,
            Kind::SchemaRemoved,
            Kind::MemberAdded { required: false },
            Kind::MemberAdded { required: true },
            Kind::MemberRemoved,
            Kind::MemberMadeRequired { nullable: false },
            Kind::MemberMadeRequired { nullable: true },
            Kind::MemberMadeOptional { nullable: false },
            Kind::MemberMadeOptional { nullable: true },
            Kind::NullableAdded { required: false },
            Kind::NullableAdded { required: true },
            Kind::NullableRemoved { required: false },
            Kind::NullableRemoved { required: true },
            Kind::TypeChanged,
            Kind::EnumValueAdded,
            Kind::EnumValueRemoved,
            Kind::ConstraintNarrowed { decoded: false },
            Kind::ConstraintNarrowed { decoded: true },
            Kind::ConstraintWidened,
        ];
        for kind in &kinds {
            match kind {
                Kind::OperationAdded
                | Kind::OperationRemoved
                | Kind::OperationMoved
                | Kind::ParameterAdded { .. }
                | Kind::ParameterRemoved
                | Kind::ParameterMadeRequired
                | Kind::ParameterMadeOptional
                | Kind::BodyAdded { .. }
                | Kind::BodyRemoved
                | Kind::BodyMadeRequired
                | Kind::BodyMadeOptional
                | Kind::SuccessStatusAdded { .. }
                | Kind::SuccessStatusRemoved
                | Kind::ErrorStatusAdded
                | Kind::ErrorStatusRemoved
                | Kind::SchemaAdded
                | Kind::SchemaRemoved
                | Kind::MemberAdded { .. }
                | Kind::MemberRemoved
                | Kind::MemberMadeRequired { .. }
                | Kind::MemberMadeOptional { .. }
                | Kind::NullableAdded { .. }
                | Kind::NullableRemoved { .. }
                | Kind::TypeChanged
                | Kind::EnumValueAdded
                | Kind::EnumValueRemoved
                | Kind::ConstraintNarrowed { .. }
                | Kind::ConstraintWidened => {}
            }
        }
        let mut unruled = Vec::new();
        for kind in kinds {
            for dir in [Dir::Sent, Dir::Received] {
                let change = Change {
                    dir,
                    kind: kind.clone(),
                    location: "X".into(),
                    detail: String::new(),
                };
                if classify(&change).id.starts_with("other-") {
                    unruled.push(format!("{kind:?} {dir:?}"));
                }
            }
        }
        assert!(unruled.is_empty(), "changes with no rule: {unruled:?}");
        // The fallbacks themselves are breaking, each for its direction.
        let fallback = |id: &str| RULES.iter().find(|r| r.id == id).unwrap().class;
        assert_eq!(fallback("other-sent-change"), Class::BreakingSenders);
        assert_eq!(fallback("other-received-change"), Class::BreakingReceivers);
    }

    /// What the generator makes of a schema decides whether a change of
    /// format or bound is a change of Rust type.
    #[test]
    fn types_are_compared_as_the_generator_makes_them() {
        let kinds = |edits: &'static [Edit]| -> Vec<(String, Kind)> {
            diff(&apply(&[]), &apply(edits))
                .into_iter()
                .map(|c| (c.location, c.kind))
                .collect()
        };
        let type_changed = |edits| kinds(edits).iter().any(|(_, k)| *k == Kind::TypeChanged);
        // `minimum: 1` is NonZeroU64, `minimum: 0` u64.
        assert!(type_changed(&[(
            "/components/schemas/Req/properties/count/minimum",
            Some("0")
        )]));
        // A bound that keeps the type is only a bound.
        assert!(!type_changed(&[(
            "/components/schemas/Req/properties/count/maximum",
            Some("9223372036854775807")
        )]));
        // A first length makes a checked newtype of a String.
        assert!(type_changed(&[(
            "/components/schemas/Req/properties/note/maxLength",
            Some("5")
        )]));
        assert!(type_changed(&[(
            "/components/schemas/Req/properties/name/maxLength",
            None
        )]));
        // Formats the generator maps to types of their own change the type;
        // others (password, email) stay String.
        assert!(type_changed(&[(
            "/components/schemas/Res/properties/note/format",
            Some("uuid")
        )]));
        assert!(
            kinds(&[(
                "/components/schemas/Res/properties/note/format",
                Some("password")
            )])
            .is_empty()
        );
        // Cursors lose their format before generation (spec.rs): a
        // `date-time` on `next_cursor` changes nothing.
        let cursor = "/components/schemas/Res/properties/next_cursor";
        let old = apply(&[(cursor, Some("{type: string, nullable: true}"))]);
        let new = apply(&[(
            cursor,
            Some("{type: string, format: date-time, nullable: true}"),
        )]);
        assert_eq!(diff(&old, &new), []);
    }

    #[test]
    fn an_unchanged_document_has_no_changes() {
        assert!(diff(&apply(&[]), &apply(&[])).is_empty());
    }
}
