//! The JSON functions `eventlake query` registers with DataFusion, so that the views
//! generated for Athena read the same values locally ([`Dialect::Local`]). Trino's names
//! where the local function does what Athena's does; a `try_` name where Athena's expression
//! wraps a failing function in `TRY` and the local one returns NULL instead.
//!
//! Members are found with the transform's own scanner ([`json::scan_object`]); of a repeated
//! key the last wins, as in the local lake's conversion (what Athena does then: unverified).
//! Values are the producer's text as it arrived: Athena's `json_extract` re-serializes a
//! value, which can write a number or nested value differently (unverified).
//!
//! [`Dialect::Local`]: eventlake_glue_schema::athena::Dialect::Local

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{Array, ArrayRef, StringArray, TimestampMicrosecondArray};
use arrow_cast::cast;
use arrow_schema::{DataType, Field, Fields, TimeUnit};
use eventlake_transform::json::{self, Member, ValueKind};

/// What a function returns: its column, or why it failed (the engine's execution error).
pub type Result<T> = std::result::Result<T, String>;

/// What computes a function's result column from its argument columns.
pub type Apply = Box<dyn Fn(&[ArrayRef]) -> Result<ArrayRef> + Send + Sync>;

/// One SQL function: its name, argument types and result type, and what computes it over
/// arrays (literal arguments repeated to the batch's length). The in-process engine and the
/// wheel engine both call [`Function::apply`]: one implementation for either.
pub struct Function {
    /// The SQL name.
    pub name: &'static str,
    /// The argument types (an engine casts to them).
    pub args: Vec<DataType>,
    /// The result type.
    pub returns: DataType,
    /// Computes the result column.
    pub apply: Apply,
}

/// Registers every function of this module with `ctx`.
#[cfg(feature = "engine")]
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    use datafusion::logical_expr::{create_udf, ColumnarValue, Volatility};
    for f in functions() {
        let apply = Arc::new(f.apply);
        ctx.register_udf(create_udf(
            f.name,
            f.args,
            f.returns,
            Volatility::Immutable,
            Arc::new(move |args: &[ColumnarValue]| {
                let arrays = ColumnarValue::values_to_arrays(args)?;
                (apply)(&arrays)
                    .map(ColumnarValue::Array)
                    .map_err(datafusion::error::DataFusionError::Execution)
            }),
        ));
    }
}

/// The member fields of `json_members`' structs.
fn member_fields() -> Fields {
    Fields::from(vec![
        Field::new("field", DataType::Utf8, true),
        Field::new("value", DataType::Utf8, true),
    ])
}

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

fn function_of(
    name: &'static str,
    args: Vec<DataType>,
    returns: DataType,
    apply: impl Fn(&[ArrayRef]) -> Result<ArrayRef> + Send + Sync + 'static,
) -> Function {
    Function {
        name,
        args,
        returns,
        apply: Box::new(apply),
    }
}

/// Every function the generated views use.
pub fn functions() -> Vec<Function> {
    let text = DataType::Utf8;
    vec![
        // json_extract_scalar(json, '$.name'): a string's text, a number's or boolean's JSON
        // text; NULL for null, an array, an object or no such member.
        member_function("json_extract_scalar", scalar_text),
        // json_extract(json, '$.name'): the member's JSON text; NULL when there is none.
        member_function("json_extract", |text, m| {
            Some(text[m.value_start..m.value_end].to_string())
        }),
        // json_format(json): the JSON text (values here are text already).
        function_of("json_format", vec![text.clone()], text.clone(), |args| {
            strings_to_strings(args, |row| Ok(row[0].map(str::to_string)))
        }),
        // try_from_iso8601_timestamp(text): Athena's
        // `TRY(CAST(from_iso8601_timestamp(text) AT TIME ZONE 'UTC' AS TIMESTAMP))`.
        function_of(
            "try_from_iso8601_timestamp",
            vec![text.clone()],
            DataType::Timestamp(TimeUnit::Microsecond, None),
            try_from_iso8601_timestamp,
        ),
        // try_json_array(json, 'VARCHAR'): `TRY_CAST(json AS ARRAY(VARCHAR))`, the elements'
        // text; NULL when the value is not an array or an element does not cast.
        function_of(
            "try_json_array",
            vec![text.clone(), text.clone()],
            list_of(text.clone()),
            try_json_array,
        ),
        // json_members(json): the object's members as (field, value JSON text), for Athena's
        // `UNNEST(TRY_CAST(json_parse(json) AS MAP(VARCHAR, JSON)))`; no members for text
        // that is not an object or repeats a key (a map cannot hold that object).
        function_of(
            "json_members",
            vec![text],
            list_of(DataType::Struct(member_fields())),
            json_members,
        ),
    ]
}

/// A function of (JSON text, JSONPath of one member) that gives `read` of the member, NULL
/// when there is none.
fn member_function(name: &'static str, read: fn(&str, &Member) -> Option<String>) -> Function {
    function_of(
        name,
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        move |args| {
            strings_to_strings(args, |row| {
                let [Some(json), Some(path)] = row else { return Ok(None) };
                Ok(member(json, member_name(path)?).and_then(|m| read(json, &m)))
            })
        },
    )
}

/// The member name of a JSONPath that names one top-level member: `$.name` or `$["name"]`.
fn member_name(path: &str) -> Result<&str> {
    if let Some(name) = path.strip_prefix("$.") {
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Ok(name);
        }
    }
    if let Some(name) = path.strip_prefix("$[\"").and_then(|p| p.strip_suffix("\"]")) {
        if !name.contains(['"', '\\']) {
            return Ok(name);
        }
    }
    Err(format!(
        "JSON path {path:?}: eventlake query reads paths of one member (`$.name` or `$[\"name\"]`)"
    ))
}

/// The last top-level member of `json` named `name`; None when `json` is not an object or
/// has no such member.
fn member(json: &str, name: &str) -> Option<Member> {
    let mut found = None;
    json::scan_object::<()>(json, |m| {
        let key = &json[m.key.start..m.key.end];
        if json::string_text(key, m.key.escaped) == name {
            found = Some(m);
        }
        Ok(())
    })
    .ok()?;
    found
}

/// What `json_extract_scalar` gives for a member.
fn scalar_text(text: &str, m: &Member) -> Option<String> {
    let raw = &text[m.value_start..m.value_end];
    match m.kind {
        ValueKind::String => Some(json::string_text(raw, m.escaped).into_owned()),
        ValueKind::Number | ValueKind::Bool => Some(raw.to_string()),
        ValueKind::Null | ValueKind::Array | ValueKind::Object => None,
    }
}

/// The arguments as string arrays.
fn string_args(args: &[ArrayRef]) -> Result<Vec<StringArray>> {
    args.iter()
        .map(|a| {
            let a = cast(a, &DataType::Utf8).map_err(|e| e.to_string())?;
            Ok(a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone())
        })
        .collect()
}

/// Applies `f` to each row of string arguments, giving a string column.
fn strings_to_strings(args: &[ArrayRef], f: impl Fn(&[Option<&str>]) -> Result<Option<String>>) -> Result<ArrayRef> {
    let columns = string_args(args)?;
    let rows = columns.first().map_or(0, |c| c.len());
    let mut out = StringBuilder::with_capacity(rows, rows * 8);
    let mut row = Vec::with_capacity(columns.len());
    for i in 0..rows {
        row.clear();
        row.extend(columns.iter().map(|c| c.is_valid(i).then(|| c.value(i))));
        out.append_option(f(&row)?);
    }
    Ok(Arc::new(out.finish()))
}

fn try_from_iso8601_timestamp(args: &[ArrayRef]) -> Result<ArrayRef> {
    let columns = string_args(args)?;
    let texts = &columns[0];
    let out: TimestampMicrosecondArray = texts.iter().map(|t| t.and_then(iso8601_micros)).collect();
    Ok(Arc::new(out))
}

/// Microseconds since the epoch (UTC) of an ISO 8601 date or date-time: with an offset or
/// `Z`, or without (read as UTC, Athena's session time zone); seconds and a fraction
/// optional. Other ISO 8601 forms Athena may accept (week dates, ordinal dates) are NULL here.
fn iso8601_micros(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros());
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.timestamp_micros());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

fn try_json_array(args: &[ArrayRef]) -> Result<ArrayRef> {
    let columns = string_args(args)?;
    let (texts, types) = (&columns[0], &columns[1]);
    let mut out = ListBuilder::new(StringBuilder::new());
    for i in 0..texts.len() {
        if types.is_valid(i) && types.value(i) != "VARCHAR" {
            return Err(format!(
                "try_json_array: arrays of {} are not read locally yet (only ARRAY(VARCHAR))",
                types.value(i)
            ));
        }
        let elements = texts.is_valid(i).then(|| varchar_elements(texts.value(i))).flatten();
        match elements {
            Some(elements) => {
                for e in elements {
                    out.values().append_option(e);
                }
                out.append(true);
            }
            None => out.append(false),
        }
    }
    Ok(Arc::new(out.finish()))
}

/// The elements of a JSON array as `CAST(JSON AS ARRAY(VARCHAR))` gives them: a string's
/// text, a number's or boolean's JSON text, NULL for null; None when the value is not an array
/// or holds an array or object.
fn varchar_elements(text: &str) -> Option<Vec<Option<String>>> {
    let serde_json::Value::Array(items) = serde_json::from_str(text).ok()? else {
        return None;
    };
    items
        .into_iter()
        .map(|v| match v {
            serde_json::Value::Null => Some(None),
            serde_json::Value::String(s) => Some(Some(s)),
            serde_json::Value::Number(n) => Some(Some(n.to_string())),
            serde_json::Value::Bool(b) => Some(Some(b.to_string())),
            serde_json::Value::Array(_) | serde_json::Value::Object(_) => None,
        })
        .collect()
}

fn json_members(args: &[ArrayRef]) -> Result<ArrayRef> {
    let columns = string_args(args)?;
    let texts = &columns[0];
    let fields = member_fields();
    let entries = StructBuilder::new(
        fields.clone(),
        vec![Box::new(StringBuilder::new()), Box::new(StringBuilder::new())],
    );
    let mut out = ListBuilder::new(entries).with_field(Arc::new(Field::new("item", DataType::Struct(fields), true)));
    // One buffer for every row; keys borrowed unless escaped. Sorted by key, which finds a
    // repeated key without another list (a map's members have no order to keep).
    let mut members: Vec<(std::borrow::Cow<'_, str>, &str)> = Vec::new();
    for i in 0..texts.len() {
        members.clear();
        if texts.is_valid(i) {
            let text = texts.value(i);
            let scanned = json::scan_object::<()>(text, |m| {
                let key = json::string_text(&text[m.key.start..m.key.end], m.key.escaped);
                members.push((key, &text[m.value_start..m.value_end]));
                Ok(())
            });
            members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let repeated = members.windows(2).any(|w| w[0].0 == w[1].0);
            if scanned.is_err() || repeated {
                members.clear();
            }
        }
        let entries = out.values();
        for (field, value) in &members {
            entries
                .field_builder::<StringBuilder>(0)
                .expect("field is a string")
                .append_value(field.as_ref());
            entries
                .field_builder::<StringBuilder>(1)
                .expect("value is a string")
                .append_value(value);
            entries.append(true);
        }
        out.append(true);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_paths_are_one_member_only() {
        assert_eq!(member_name("$.user_id").unwrap(), "user_id");
        assert_eq!(member_name("$[\"a b\"]").unwrap(), "a b");
        assert!(member_name("$.a.b").is_err());
        assert!(member_name("$[0]").is_err());
    }

    #[test]
    fn scalars_read_as_athena_documents_them() {
        let json = r#"{"s":"a\"b","n":12.50,"b":true,"z":null,"a":[1],"o":{},"s":"last"}"#;
        let read = |name| member(json, name).and_then(|m| scalar_text(json, &m));
        assert_eq!(read("s").as_deref(), Some("last"));
        assert_eq!(read("n").as_deref(), Some("12.50"));
        assert_eq!(read("b").as_deref(), Some("true"));
        assert_eq!(
            (read("z"), read("a"), read("o"), read("missing")),
            (None, None, None, None)
        );
    }

    #[test]
    fn iso8601_forms() {
        let at = |t| iso8601_micros(t);
        assert_eq!(at("2024-03-17T10:15:00Z"), Some(1_710_670_500_000_000));
        assert_eq!(at("2024-03-17T11:15:00+01:00"), Some(1_710_670_500_000_000));
        assert_eq!(at("2024-03-17T10:15:00.5"), Some(1_710_670_500_500_000));
        assert_eq!(at("2024-03-17T10:15"), Some(1_710_670_500_000_000));
        assert_eq!(at("2024-03-17"), Some(1_710_633_600_000_000));
        assert_eq!((at("yesterday"), at("1710670500"), at("")), (None, None, None));
    }

    #[test]
    fn arrays_of_varchar() {
        assert_eq!(
            varchar_elements(r#"["a",1,true,null]"#),
            Some(vec![Some("a".into()), Some("1".into()), Some("true".into()), None])
        );
        assert_eq!(varchar_elements(r#""a""#), None);
        assert_eq!(varchar_elements(r#"[[1]]"#), None);
    }
}
