//! Changes made to progenitor's output, as syntax-tree edits so that they
//! survive every regeneration:
//!
//! 1. Types and client are split: the items of `pub mod types` become the
//!    `topcalls-types` crate, and the client re-exports that crate as `types`.
//! 2. Every string enum the client *receives* (reachable from a response or a
//!    webhook payload) becomes forward compatible: it is `#[non_exhaustive]`,
//!    gains `UnknownValue(String)` that keeps a value this SDK does not know, and
//!    serializes that value back unchanged. Enums only ever sent stay strict.
//! 3. Every operation builder implements `crate::operation::Operation` (a
//!    sealed trait): the request its `send()` would build (path, query,
//!    headers, body, all from the spec), its `operationId` and its success
//!    type. `send()` itself is removed: the hand-written client runs every
//!    operation on its one path (`Client::send`), so progenitor's hooks are
//!    never called. Of the generated `Client`'s constructors only
//!    `new_with_client` stays, `pub(crate)`: the hand-written
//!    `ClientBuilder`, which checks the base URL and sets the key, is the one
//!    way to make a client.
//! 4. Secrets stay out of `Debug`: a struct with a `format: password`
//!    property, and its generated builder, get a hand-written `Debug` that
//!    shows `[redacted]` for it; the newtype holding such a value (e.g.
//!    `SipRegistrationPassword`) shows `[redacted]` too.
//! 5. Members the spec marks `nullable` serialize as `null` when `None`
//!    instead of being left out: the shape the TopCalls docs show (and the
//!    one the sandbox answers in). Decoding still accepts them absent.
//! 6. `schemars::JsonSchema` is derived only with the `schemars` feature of
//!    `topcalls-types`: each `derive(schemars::JsonSchema)` progenitor emits
//!    becomes `#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]`
//!    (and any `#[schemars(..)]` helper attribute is gated the same way), so
//!    the default build compiles no JSON Schema code.
//! 7. String patterns are checked with `regex-lite` instead of `regress`:
//!    the spec's patterns are simple (anchors, classes, bounded repetition,
//!    alternation), where ECMA-262 and `regex-lite` agree, and `regex-lite`
//!    builds in a fraction of the time. Every pattern is compiled here, so a
//!    pattern `regex-lite` cannot parse fails generation instead of
//!    panicking at run time.
//! 8. Struct builders (`types::builder::X`, `X::builder()`) only for the types
//!    the client *sends* (reachable from a request body or parameter):
//!    progenitor's operation builders hold their body as one, and users build
//!    requests with them. Types only ever received are decoded, never built
//!    field by field, so their builders (more than half of the generated
//!    types) are dropped from the build.

use std::collections::{BTreeMap, BTreeSet};

use quote::quote;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Fields, Item, ItemEnum, ItemImpl, parse_quote};

pub(crate) struct Split {
    pub(crate) types: syn::File,
    pub(crate) client: syn::File,
}

pub(crate) fn process(
    mut client: syn::File,
    received: &BTreeSet<String>,
    sent: &BTreeSet<String>,
    secrets: &BTreeMap<String, BTreeSet<String>>,
    nullable: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Split, String> {
    let index = client
        .items
        .iter()
        .position(|item| matches!(item, Item::Mod(m) if m.ident == "types"))
        .ok_or("progenitor output has no `mod types`")?;
    let Item::Mod(types_mod) = client.items.remove(index) else {
        return Err("`types` is not a module".into());
    };
    let (_, mut items) = types_mod.content.ok_or("`mod types` has no body")?;
    make_received_enums_lenient(&mut items, received)?;
    redact_secrets(&mut items, secrets)?;
    serialize_nullable_as_null(&mut items, nullable)?;
    schemars_behind_feature(&mut items)?;
    patterns_with_regex_lite(&mut items)?;
    builders_only_for_sent_types(&mut items, sent)?;
    add_operation_impls(&mut client)?;
    hide_constructors(&mut client)?;
    client.items.insert(
        index,
        parse_quote! {
            /// Types used as operation parameters and responses: the `topcalls-types` crate.
            pub use topcalls_types as types;
        },
    );
    let types = syn::File {
        shebang: None,
        frontmatter: None,
        attrs: Vec::new(),
        items,
    };
    Ok(Split { types, client })
}

/// Adds `impl crate::operation::Operation` (and its seal) to every builder in
/// `mod builder`, from its `send()`: the statements that build the request
/// (everything before `let info = OperationInfo { .. }`), the operation id,
/// and the `T` of `ResponseValue<T>`. Then removes `send()`: the client runs
/// the request on its own path.
fn add_operation_impls(client: &mut syn::File) -> Result<(), String> {
    let builder = client
        .items
        .iter_mut()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == "builder" => m.content.as_mut(),
            _ => None,
        })
        .ok_or("progenitor output has no `mod builder`")?;
    let mut impls: Vec<Item> = Vec::new();
    for item in &mut builder.1 {
        let Item::Impl(i) = item else { continue };
        if i.trait_.is_some() {
            continue;
        }
        let name = self_type_name(i).unwrap_or_default();
        let generics = i.generics.clone();
        let self_ty = i.self_ty.clone();
        let Some(position) = i
            .items
            .iter()
            .position(|item| matches!(item, syn::ImplItem::Fn(f) if f.sig.ident == "send"))
        else {
            continue;
        };
        let syn::ImplItem::Fn(mut send) = i.items.remove(position) else {
            continue;
        };
        let output = success_type(&send.sig.output).ok_or_else(|| {
            format!("`{name}::send` does not return `Result<ResponseValue<T>, _>`")
        })?;
        let (split, id) = send
            .block
            .stmts
            .iter()
            .enumerate()
            .find_map(|(index, stmt)| operation_id(stmt).map(|id| (index, id)))
            .ok_or_else(|| format!("`{name}::send` has no `let info = OperationInfo {{ .. }}`"))?;
        send.block.stmts.truncate(split);
        let build = send.block.stmts;
        impls.push(parse_quote! {
            impl #generics crate::operation::Sealed for #self_ty {}
        });
        impls.push(parse_quote! {
            impl #generics crate::operation::Operation for #self_ty {
                type Output = #output;
                const ID: &'static str = #id;
                fn into_request(self) -> Result<::reqwest::Request, Error<types::Problem>> {
                    #(#build)*
                    Ok(request)
                }
            }
        });
    }
    if impls.is_empty() {
        return Err("no operation builders found in `mod builder`".into());
    }
    builder.1.extend(impls);
    Ok(())
}

/// Removes `Client::new` (it builds a `reqwest::Client` with `.unwrap()`)
/// and makes `Client::new_with_client` `pub(crate)`. A user with a
/// generated client of their own could point operations at any base URL
/// (plain http included) and run them with the SDK's key through
/// `Client::send`; the hand-written builder, which checks the base URL, is
/// the one way to make a client.
fn hide_constructors(client: &mut syn::File) -> Result<(), String> {
    let (mut removed, mut hidden) = (0, 0);
    for item in &mut client.items {
        let Item::Impl(i) = item else { continue };
        if i.trait_.is_some() || self_type_name(i).as_deref() != Some("Client") {
            continue;
        }
        i.items.retain(|item| {
            let is_new = matches!(item, syn::ImplItem::Fn(f) if f.sig.ident == "new");
            removed += usize::from(is_new);
            !is_new
        });
        for item in &mut i.items {
            if let syn::ImplItem::Fn(f) = item
                && f.sig.ident == "new_with_client"
            {
                f.vis = parse_quote!(pub(crate));
                hidden += 1;
            }
        }
    }
    if (removed, hidden) != (1, 1) {
        return Err(format!(
            "expected one `Client::new` and one `Client::new_with_client`, found {removed} and {hidden}"
        ));
    }
    Ok(())
}

/// `T` in `-> Result<ResponseValue<T>, E>`.
fn success_type(output: &syn::ReturnType) -> Option<syn::Type> {
    fn first_generic(ty: &syn::Type, wrapper: &str) -> Option<syn::Type> {
        let syn::Type::Path(p) = ty else { return None };
        let last = p.path.segments.last()?;
        if last.ident != wrapper {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
    }
    let syn::ReturnType::Type(_, ty) = output else {
        return None;
    };
    first_generic(&first_generic(ty, "Result")?, "ResponseValue")
}

/// The `operation_id` of `let info = OperationInfo { operation_id: "..." };`.
fn operation_id(stmt: &syn::Stmt) -> Option<syn::LitStr> {
    let syn::Stmt::Local(local) = stmt else {
        return None;
    };
    let syn::Expr::Struct(init) = &*local.init.as_ref()?.expr else {
        return None;
    };
    if !init.path.is_ident("OperationInfo") {
        return None;
    }
    init.fields
        .iter()
        .find_map(|field| match (&field.member, &field.expr) {
            (
                syn::Member::Named(n),
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }),
            ) if n == "operation_id" => Some(s.clone()),
            _ => None,
        })
}

fn make_received_enums_lenient(
    items: &mut [Item],
    received: &BTreeSet<String>,
) -> Result<(), String> {
    let references = type_references(items);
    let missing: Vec<&String> = received
        .iter()
        .filter(|name| !references.contains_key(name.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "received schemas without a generated type of the same name: {missing:?} \
             (name component schemas in PascalCase)"
        ));
    }

    // Inline schemas become types of their own: follow field types so that
    // an enum nested in a received struct is lenient too.
    let mut lenient = BTreeSet::new();
    let mut stack: Vec<String> = received.iter().cloned().collect();
    while let Some(name) = stack.pop() {
        if lenient.insert(name.clone()) {
            stack.extend(references.get(&name).into_iter().flatten().cloned());
        }
    }

    let string_enums: BTreeSet<String> = items
        .iter()
        .filter_map(|item| match item {
            Item::Enum(e) if lenient.contains(&e.ident.to_string()) && is_string_enum(e) => {
                Some(e.ident.to_string())
            }
            _ => None,
        })
        .collect();
    for item in items.iter_mut() {
        match item {
            Item::Enum(e) if string_enums.contains(&e.ident.to_string()) => add_unknown_variant(e)?,
            Item::Impl(i) if self_type_name(i).is_some_and(|n| string_enums.contains(&n)) => {
                match trait_name(i).as_deref() {
                    Some("Display") => DisplayUnknown.visit_item_impl_mut(i),
                    Some("FromStr") => FromStrUnknown.visit_item_impl_mut(i),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// What a redacted value shows in `Debug`.
const REDACTED: &str = "[redacted]";

/// Gives the structs in `secrets` (schema name → secret properties), and
/// their builders in `mod builder`, a `Debug` that hides those properties;
/// and the newtypes that hold them a `Debug` that hides their value. Fails
/// when a schema or property has no generated counterpart: a secret must
/// never be left shown because a name changed.
fn redact_secrets(
    items: &mut Vec<Item>,
    secrets: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), String> {
    let mut newtypes = BTreeSet::new();
    let mut impls = Vec::new();
    for (index, item) in items.iter_mut().enumerate() {
        let Item::Struct(s) = item else { continue };
        if let Some(properties) = secrets.get(&s.ident.to_string()) {
            let (holders, debug) = redact_struct(s, properties)?;
            newtypes.extend(holders);
            impls.push((index, debug));
        }
    }
    if impls.len() != secrets.len() {
        let found: BTreeSet<String> = impls
            .iter()
            .filter_map(|(index, _)| match &items[*index] {
                Item::Struct(s) => Some(s.ident.to_string()),
                _ => None,
            })
            .collect();
        let missing: Vec<&String> = secrets.keys().filter(|n| !found.contains(*n)).collect();
        return Err(format!(
            "schemas with `format: password` properties but no generated struct of the same name: {missing:?}"
        ));
    }
    for (index, item) in items.iter_mut().enumerate() {
        let Item::Struct(s) = item else { continue };
        if newtypes.contains(&s.ident.to_string()) && matches!(s.fields, Fields::Unnamed(_)) {
            remove_derive(&mut s.attrs, "Debug");
            let ident = &s.ident;
            impls.push((
                index,
                parse_quote! {
                    impl ::std::fmt::Debug for #ident {
                        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                            f.write_str(#REDACTED)
                        }
                    }
                },
            ));
        }
    }
    if let Some((_, builders)) = items.iter_mut().find_map(|item| match item {
        Item::Mod(m) if m.ident == "builder" => m.content.as_mut(),
        _ => None,
    }) {
        let mut builder_impls = Vec::new();
        for (index, item) in builders.iter_mut().enumerate() {
            let Item::Struct(s) = item else { continue };
            if let Some(properties) = secrets.get(&s.ident.to_string()) {
                builder_impls.push((index, redact_struct(s, properties)?.1));
            }
        }
        insert_after(builders, builder_impls);
    }
    insert_after(items, impls);
    Ok(())
}

/// Inserts each item after the one at its index (indices into `items` as
/// it was).
fn insert_after(items: &mut Vec<Item>, mut additions: Vec<(usize, Item)>) {
    additions.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
    for (index, item) in additions {
        items.insert(index + 1, item);
    }
}

/// Drops the derived `Debug` of `s` and returns one that shows `[redacted]`
/// for the fields of `properties`, with the names of those fields' types
/// (inside any `Option` or `Result`): the newtypes that hold the secrets.
fn redact_struct(
    s: &mut syn::ItemStruct,
    properties: &BTreeSet<String>,
) -> Result<(BTreeSet<String>, Item), String> {
    let name = s.ident.to_string();
    if !s.generics.params.is_empty() {
        return Err(format!("struct `{name}` holds a secret but is generic"));
    }
    let Fields::Named(fields) = &s.fields else {
        return Err(format!(
            "struct `{name}` holds a secret but has no named fields"
        ));
    };
    let mut seen = BTreeSet::new();
    let mut holders = BTreeSet::new();
    let mut shown = Vec::new();
    for field in &fields.named {
        let Some(ident) = &field.ident else { continue };
        let property = property_name(field);
        let label = ident.to_string();
        if properties.contains(&property) {
            seen.insert(property);
            holders.extend(innermost_type_name(&field.ty));
            shown.push(quote!(.field(#label, &::std::format_args!(#REDACTED))));
        } else {
            shown.push(quote!(.field(#label, &self.#ident)));
        }
    }
    let unseen: Vec<&String> = properties.difference(&seen).collect();
    if !unseen.is_empty() {
        return Err(format!(
            "struct `{name}` has no field for the secret properties {unseen:?}"
        ));
    }
    remove_derive(&mut s.attrs, "Debug");
    let ident = &s.ident;
    let debug = parse_quote! {
        impl ::std::fmt::Debug for #ident {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(#name)
                    #(#shown)*
                    .finish()
            }
        }
    };
    Ok((holders, debug))
}

/// The JSON name of a field: its `#[serde(rename = "…")]`, or its identifier
/// without a raw-identifier prefix or keyword-avoiding `_` suffix.
fn property_name(field: &syn::Field) -> String {
    for attr in &field.attrs {
        if !attr.path().is_ident("serde") {
            continue;
        }
        let mut renamed = None;
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                renamed = Some(meta.value()?.parse::<syn::LitStr>()?.value());
            } else if meta.input.peek(syn::Token![=]) {
                meta.value()?.parse::<syn::Expr>()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.input.parse::<proc_macro2::Group>()?;
            }
            Ok(())
        });
        if let Some(renamed) = renamed {
            return renamed;
        }
    }
    let ident = field
        .ident
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let ident = ident.strip_prefix("r#").unwrap_or(&ident);
    ident.strip_suffix('_').unwrap_or(ident).to_string()
}

/// `T` of `T`, `Option<T>`, `Result<T, _>` (nested), when it is a path.
fn innermost_type_name(ty: &syn::Type) -> Option<String> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if matches!(last.ident.to_string().as_str(), "Option" | "Result")
        && let syn::PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(syn::GenericArgument::Type(inner)) = args.args.first()
    {
        return innermost_type_name(inner);
    }
    Some(last.ident.to_string())
}

/// Drops `name` from the `#[derive(…)]` lists in `attrs`.
fn remove_derive(attrs: &mut [syn::Attribute], name: &str) {
    for attr in attrs {
        if !attr.path().is_ident("derive") {
            continue;
        }
        if let Ok(paths) = attr.parse_args_with(
            syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
        ) {
            let kept = paths
                .into_iter()
                .filter(|p| p.segments.last().is_none_or(|s| s.ident != name));
            *attr = parse_quote!(#[derive(#(#kept),*)]);
        }
    }
}

/// Drops `skip_serializing_if` from every field whose property the spec marks
/// `nullable`, so that `None` is sent as `null`. Serde still decodes an absent
/// `Option` field as `None`.
fn serialize_nullable_as_null(
    items: &mut [Item],
    nullable: &BTreeMap<String, BTreeSet<String>>,
) -> Result<(), String> {
    for item in items.iter_mut() {
        let Item::Struct(s) = item else { continue };
        let Some(members) = nullable.get(&s.ident.to_string()) else {
            continue;
        };
        let mut found = BTreeSet::new();
        for field in &mut s.fields {
            if field.ident.is_none() {
                continue;
            }
            let name = property_name(field);
            if !members.contains(&name) {
                continue;
            }
            found.insert(name);
            field.attrs.retain_mut(|attr| {
                if !attr.path().is_ident("serde") {
                    return true;
                }
                let Ok(args) = attr.parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                ) else {
                    return true;
                };
                let kept: Vec<syn::Meta> = args
                    .into_iter()
                    .filter(|meta| !meta.path().is_ident("skip_serializing_if"))
                    .collect();
                if kept.is_empty() {
                    return false;
                }
                *attr = parse_quote!(#[serde(#(#kept),*)]);
                true
            });
        }
        if let Some(missing) = members.difference(&found).next() {
            return Err(format!(
                "`{}` has no field for its nullable property `{missing}`",
                s.ident
            ));
        }
    }
    Ok(())
}

/// The feature of `topcalls-types` that turns the `JsonSchema` derives on.
const SCHEMARS_FEATURE: &str = "schemars";

/// Moves every `schemars::JsonSchema` derive (in `items` and the modules
/// nested in them) behind the `schemars` feature, and gates `#[schemars(..)]`
/// helper attributes with it. Fails when there is no such derive at all: the
/// generator settings no longer ask for it, and the feature would be empty.
fn schemars_behind_feature(items: &mut [Item]) -> Result<(), String> {
    struct Gate {
        derives: usize,
    }
    impl Gate {
        fn gate(&mut self, attrs: &mut Vec<syn::Attribute>) {
            let Some(index) = attrs.iter().position(derives_json_schema) else {
                return;
            };
            self.derives += 1;
            remove_derive(&mut attrs[index..=index], "JsonSchema");
            let gated: syn::Attribute = parse_quote! {
                #[cfg_attr(feature = #SCHEMARS_FEATURE, derive(schemars::JsonSchema))]
            };
            if derive_is_empty(&attrs[index]) {
                attrs[index] = gated;
            } else {
                attrs.insert(index + 1, gated);
            }
        }
    }
    impl VisitMut for Gate {
        fn visit_item_struct_mut(&mut self, s: &mut syn::ItemStruct) {
            self.gate(&mut s.attrs);
            syn::visit_mut::visit_item_struct_mut(self, s);
        }
        fn visit_item_enum_mut(&mut self, e: &mut ItemEnum) {
            self.gate(&mut e.attrs);
            syn::visit_mut::visit_item_enum_mut(self, e);
        }
        fn visit_attribute_mut(&mut self, attr: &mut syn::Attribute) {
            if !attr.path().is_ident("schemars") {
                return;
            }
            if let syn::Meta::List(list) = &attr.meta {
                let tokens = &list.tokens;
                *attr = parse_quote!(#[cfg_attr(feature = #SCHEMARS_FEATURE, schemars(#tokens))]);
            }
        }
    }
    fn derives_json_schema(attr: &syn::Attribute) -> bool {
        attr.path().is_ident("derive")
            && attr
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
                )
                .is_ok_and(|paths| {
                    paths
                        .iter()
                        .any(|p| p.segments.last().is_some_and(|s| s.ident == "JsonSchema"))
                })
    }
    fn derive_is_empty(attr: &syn::Attribute) -> bool {
        matches!(&attr.meta, syn::Meta::List(list) if list.tokens.is_empty())
    }

    let mut gate = Gate { derives: 0 };
    for item in items.iter_mut() {
        gate.visit_item_mut(item);
    }
    if gate.derives == 0 {
        return Err(
            "no type derives `schemars::JsonSchema`: the generator settings \
             must keep `with_derive(\"schemars::JsonSchema\")` for the `schemars` feature"
                .into(),
        );
    }
    Ok(())
}

/// For every struct and enum, the names of the types its fields mention.
fn type_references(items: &[Item]) -> BTreeMap<String, BTreeSet<String>> {
    #[derive(Default)]
    struct Idents(BTreeSet<String>);
    impl<'ast> Visit<'ast> for Idents {
        fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
            self.0.insert(segment.ident.to_string());
            syn::visit::visit_path_segment(self, segment);
        }
    }
    let mut map = BTreeMap::new();
    for item in items {
        let (name, fields): (_, Vec<&Fields>) = match item {
            Item::Struct(s) => (s.ident.to_string(), vec![&s.fields]),
            Item::Enum(e) => (
                e.ident.to_string(),
                e.variants.iter().map(|v| &v.fields).collect(),
            ),
            _ => continue,
        };
        let mut idents = Idents::default();
        for field in fields.into_iter().flat_map(Fields::iter) {
            idents.visit_type(&field.ty);
        }
        map.insert(name, idents.0);
    }
    map
}

fn is_string_enum(e: &ItemEnum) -> bool {
    !e.variants.is_empty() && e.variants.iter().all(|v| matches!(v.fields, Fields::Unit))
}

/// The fallback variant's name; a schema value that maps to it is an error.
const FALLBACK: &str = "UnknownValue";

fn add_unknown_variant(e: &mut ItemEnum) -> Result<(), String> {
    if e.variants.iter().any(|v| v.ident == FALLBACK) {
        return Err(format!(
            "enum `{}` already has a variant named `{FALLBACK}`",
            e.ident
        ));
    }
    remove_derive(&mut e.attrs, "Copy");
    e.attrs.push(parse_quote!(#[non_exhaustive]));
    e.variants.push(parse_quote! {
        /// A value this version of the SDK does not know. The raw string is
        /// kept and serializes back unchanged.
        #[serde(untagged)]
        UnknownValue(::std::string::String)
    });
    Ok(())
}

fn self_type_name(i: &ItemImpl) -> Option<String> {
    match &*i.self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

fn trait_name(i: &ItemImpl) -> Option<String> {
    i.trait_
        .as_ref()
        .and_then(|(path, _)| path.segments.last())
        .map(|s| s.ident.to_string())
}

/// `Display` writes an unknown value as it came.
struct DisplayUnknown;
impl VisitMut for DisplayUnknown {
    fn visit_expr_match_mut(&mut self, m: &mut syn::ExprMatch) {
        m.arms
            .push(parse_quote!(Self::UnknownValue(ref value) => f.write_str(value),));
    }
}

/// `FromStr` keeps an unknown value instead of failing, like `Deserialize`.
struct FromStrUnknown;
impl VisitMut for FromStrUnknown {
    fn visit_expr_match_mut(&mut self, m: &mut syn::ExprMatch) {
        for arm in &mut m.arms {
            if matches!(arm.pat, syn::Pat::Wild(_)) {
                *arm.body = syn::parse2(quote!(Ok(Self::UnknownValue(value.to_string()))))
                    .unwrap_or_else(|_| (*arm.body).clone());
            }
        }
    }
}

/// Step 7: `::regress::Regex` becomes `::regex_lite::Regex` (same
/// `new(..).unwrap()` and `find(..)` calls), after checking that
/// `regex-lite` compiles every pattern the types hold.
fn patterns_with_regex_lite(items: &mut [Item]) -> Result<(), String> {
    #[derive(Default)]
    struct Swap {
        patterns: Vec<String>,
    }
    impl VisitMut for Swap {
        fn visit_path_mut(&mut self, path: &mut syn::Path) {
            if let Some(first) = path.segments.first_mut()
                && first.ident == "regress"
            {
                first.ident = syn::Ident::new("regex_lite", first.ident.span());
            }
            syn::visit_mut::visit_path_mut(self, path);
        }
        fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
            let is_new = matches!(&*call.func, syn::Expr::Path(p)
                if p.path.segments.iter().any(|s| s.ident == "regress")
                    && p.path.segments.last().is_some_and(|s| s.ident == "new"));
            if is_new
                && let Some(syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(pattern),
                    ..
                })) = call.args.first()
            {
                self.patterns.push(pattern.value());
            }
            syn::visit_mut::visit_expr_call_mut(self, call);
        }
    }
    let mut swap = Swap::default();
    for item in items.iter_mut() {
        swap.visit_item_mut(item);
    }
    for pattern in &swap.patterns {
        regex_lite::Regex::new(pattern).map_err(|e| {
            format!("regex-lite cannot compile the spec's pattern {pattern:?}: {e}")
        })?;
    }
    Ok(())
}

/// Step 8: drops `builder::X` (the struct and its impls) and `X::builder()`
/// for every `X` the client never sends.
fn builders_only_for_sent_types(
    items: &mut Vec<Item>,
    sent: &BTreeSet<String>,
) -> Result<(), String> {
    let builders = items
        .iter_mut()
        .find_map(|item| match item {
            Item::Mod(m) if m.ident == "builder" => m.content.as_mut(),
            _ => None,
        })
        .ok_or("`mod types` has no `mod builder`")?;
    let subject = |item: &Item| match item {
        Item::Struct(s) => Some(s.ident.to_string()),
        Item::Impl(i) => self_type_name(i),
        _ => None,
    };
    builders
        .1
        .retain(|item| subject(item).is_none_or(|name| sent.contains(&name)));
    let kept: BTreeSet<String> = builders.1.iter().filter_map(subject).collect();
    if let Some(missing) = sent.iter().find(|name| {
        items.iter().any(|item| {
            matches!(item, Item::Struct(s) if s.ident == name.as_str() && matches!(s.fields, Fields::Named(_)))
        })
            && !kept.contains(*name)
    }) {
        return Err(format!("no struct builder generated for the sent type `{missing}`"));
    }
    for item in items.iter_mut() {
        if let Item::Impl(i) = item
            && i.trait_.is_none()
            && self_type_name(i).is_some_and(|name| !kept.contains(&name))
        {
            i.items
                .retain(|f| !matches!(f, syn::ImplItem::Fn(f) if f.sig.ident == "builder"));
        }
    }
    items.retain(|item| !matches!(item, Item::Impl(i) if i.trait_.is_none() && i.items.is_empty()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builder_module(send_body: proc_macro2::TokenStream) -> syn::File {
        parse_quote! {
            pub mod builder {
                pub struct GetThing<'a> { client: &'a super::Client }
                impl<'a> GetThing<'a> {
                    pub fn new(client: &'a super::Client) -> Self { Self { client } }
                    pub async fn send(self) -> Result<ResponseValue<types::Thing>, Error<types::Problem>> {
                        #send_body
                    }
                }
            }
        }
    }

    fn rendered(file: &syn::File) -> String {
        prettyplease::unparse(file)
    }

    #[test]
    fn every_builder_gets_the_request_its_send_builds() {
        let mut file = builder_module(quote! {
            let Self { client } = self;
            let url = format!("{}/v1/things", client.baseurl);
            let mut request = client.client.get(url).build()?;
            let info = OperationInfo { operation_id: "get_thing" };
            client.pre(&mut request, &info).await?;
            let result = client.exec(request, &info).await;
            ResponseValue::from_response(result?).await
        });
        add_operation_impls(&mut file).unwrap();
        let out = rendered(&file);
        assert!(
            out.contains("impl<'a> crate::operation::Operation for GetThing<'a>"),
            "{out}"
        );
        assert!(
            out.contains("impl<'a> crate::operation::Sealed for GetThing<'a> {}"),
            "{out}"
        );
        assert!(out.contains("type Output = types::Thing;"), "{out}");
        assert!(
            out.contains(r#"const ID: &'static str = "get_thing";"#),
            "{out}"
        );
        let into_request = &out[out.find("fn into_request").unwrap()..];
        assert!(into_request.contains(".build()?;"), "{out}");
        assert!(into_request.contains("Ok(request)"), "{out}");
        // Nothing from the sending half of `send()`.
        assert!(!into_request.contains("client.pre"), "{out}");
        assert!(!into_request.contains("OperationInfo"), "{out}");
        // `send()` is gone: the client runs the request on its own path.
        assert!(!out.contains("fn send"), "{out}");
    }

    fn secrets(pairs: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        pairs
            .iter()
            .map(|(schema, props)| {
                (
                    schema.to_string(),
                    props.iter().map(|p| p.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn secrets_are_kept_out_of_debug_in_types_builders_and_newtypes() {
        let file: syn::File = parse_quote! {
            #[derive(Clone, Debug)]
            pub struct Login {
                pub password: LoginPassword,
                #[serde(rename = "type")]
                pub type_: Option<String>,
                pub user: String,
            }
            #[derive(Clone, Debug, PartialEq)]
            pub struct LoginPassword(String);
            #[derive(Clone, Debug)]
            pub struct Other { pub password: String }
            pub mod builder {
                #[derive(Clone, Debug)]
                pub struct Login {
                    password: Result<super::LoginPassword, String>,
                    type_: Result<Option<String>, String>,
                    user: Result<String, String>,
                }
            }
        };
        let mut items = file.items;
        redact_secrets(&mut items, &secrets(&[("Login", &["password", "type"])])).unwrap();
        let out = rendered(&syn::File {
            shebang: None,
            frontmatter: None,
            attrs: Vec::new(),
            items,
        });
        // Two structs and the newtype lose the derive; `Other` keeps it.
        assert_eq!(
            out.matches("Debug,").count() + out.matches("Debug)").count(),
            1,
            "{out}"
        );
        assert!(
            out.contains("#[derive(Clone, PartialEq)]\npub struct LoginPassword"),
            "{out}"
        );
        assert_eq!(
            out.matches("impl ::std::fmt::Debug for Login {").count(),
            2,
            "{out}"
        );
        assert_eq!(
            out.matches(r#".field("password", &::std::format_args!("[redacted]"))"#)
                .count(),
            2,
            "{out}"
        );
        // Matched by JSON name (`type` is the field `type_`).
        assert_eq!(
            out.matches(r#".field("type_", &::std::format_args!("[redacted]"))"#)
                .count(),
            2,
            "{out}"
        );
        assert_eq!(
            out.matches(r#".field("user", &self.user)"#).count(),
            2,
            "{out}"
        );
        assert!(
            out.contains("impl ::std::fmt::Debug for LoginPassword"),
            "{out}"
        );
        // Each impl follows its struct.
        let login = out.find("pub struct Login {").unwrap();
        let debug = out.find("impl ::std::fmt::Debug for Login {").unwrap();
        assert!(
            login < debug && debug < out.find("pub struct LoginPassword").unwrap(),
            "{out}"
        );
    }

    #[test]
    fn a_secret_without_a_generated_home_fails_generation() {
        let file: syn::File = parse_quote! {
            #[derive(Debug)]
            pub struct Login { pub user: String }
        };
        let mut items = file.items.clone();
        let error = redact_secrets(&mut items, &secrets(&[("Login", &["password"])])).unwrap_err();
        assert!(error.contains("password"), "{error}");
        let mut items = file.items;
        let error = redact_secrets(&mut items, &secrets(&[("Gone", &["password"])])).unwrap_err();
        assert!(error.contains("Gone"), "{error}");
    }

    #[test]
    fn nullable_members_serialize_as_null_and_others_are_left_out_when_none() {
        let mut items: Vec<Item> = vec![parse_quote! {
            pub struct Thing {
                #[serde(skip_serializing_if = "::std::option::Option::is_none")]
                pub label: ::std::option::Option<::std::string::String>,
                #[serde(rename = "type", skip_serializing_if = "::std::option::Option::is_none")]
                pub type_: ::std::option::Option<::std::string::String>,
                #[serde(skip_serializing_if = "::std::option::Option::is_none")]
                pub optional: ::std::option::Option<bool>,
            }
        }];
        let nullable: BTreeMap<String, BTreeSet<String>> = [(
            "Thing".to_string(),
            ["label".to_string(), "type".to_string()].into(),
        )]
        .into();
        serialize_nullable_as_null(&mut items, &nullable).unwrap();
        let out = prettyplease::unparse(&syn::File {
            shebang: None,
            frontmatter: None,
            attrs: Vec::new(),
            items,
        });
        assert_eq!(out.matches("skip_serializing_if").count(), 1, "{out}");
        assert!(out.contains("#[serde(rename = \"type\")]"), "{out}");
        let optional = &out[out.find("pub type_").unwrap()..];
        assert!(optional.contains("skip_serializing_if"), "{out}");

        // A nullable property without its field is a generation error.
        let mut items: Vec<Item> = vec![parse_quote! { pub struct Thing { pub other: bool } }];
        let error = serialize_nullable_as_null(&mut items, &nullable).unwrap_err();
        assert!(error.contains("`Thing`"), "{error}");
    }

    #[test]
    fn json_schema_derives_and_helpers_sit_behind_the_schemars_feature() {
        let mut items: Vec<Item> = vec![
            parse_quote! {
                #[derive(::serde::Deserialize, Clone, schemars::JsonSchema)]
                #[serde(deny_unknown_fields)]
                pub struct Thing {
                    #[schemars(length(max = 3))]
                    pub label: ::std::string::String,
                }
            },
            parse_quote! {
                #[derive(schemars::JsonSchema)]
                pub enum Kind { A, B }
            },
            parse_quote! {
                pub mod builder {
                    #[derive(Clone, Debug)]
                    pub struct Thing { label: ::std::string::String }
                    #[derive(Debug, schemars::JsonSchema)]
                    pub struct Nested;
                }
            },
        ];
        schemars_behind_feature(&mut items).unwrap();
        let out = prettyplease::unparse(&syn::File {
            shebang: None,
            frontmatter: None,
            attrs: Vec::new(),
            items,
        });
        let gated = "#[cfg_attr(feature = \"schemars\", derive(schemars::JsonSchema))]";
        assert_eq!(out.matches(gated).count(), 3, "{out}");
        assert_eq!(out.matches("JsonSchema").count(), 3, "{out}");
        assert!(!out.contains("derive()"), "{out}");
        assert!(
            out.contains("#[derive(::serde::Deserialize, Clone)]\n#[cfg_attr(feature"),
            "{out}"
        );
        assert!(
            out.contains("#[cfg_attr(feature = \"schemars\", schemars(length(max = 3)))]"),
            "{out}"
        );
        assert!(
            out.contains("#[derive(Clone, Debug)]\n    pub struct Thing"),
            "{out}"
        );

        // Without any derive to gate, the feature would be empty: an error.
        let mut plain: Vec<Item> = vec![parse_quote! { #[derive(Clone)] pub struct Thing; }];
        assert!(schemars_behind_feature(&mut plain).is_err());
    }

    #[test]
    fn a_send_of_another_shape_fails_generation() {
        let mut no_info = builder_module(quote! {
            let Self { client } = self;
            let request = client.client.get("x").build()?;
            client.exec(request).await
        });
        let error = add_operation_impls(&mut no_info).unwrap_err();
        assert!(error.contains("OperationInfo"), "{error}");

        let mut no_builders: syn::File = parse_quote! { pub mod builder {} };
        assert!(add_operation_impls(&mut no_builders).is_err());
        let mut no_module: syn::File = parse_quote! { pub mod types {} };
        assert!(add_operation_impls(&mut no_module).is_err());
    }
}
