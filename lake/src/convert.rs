//! Firehose's record-format conversion as the lake relies on it: a transformed record (JSON
//! text) becomes a row of the Glue table's data columns under the OpenX JSON deserializer's
//! rules. Keys that are not data columns (the partition keys among them) are ignored; `null`
//! or a missing key is NULL; a value of the wrong JSON kind, a number out of the column's
//! range or a text that is not a timestamp/date is a conversion failure (Firehose's
//! `format-conversion-failed`). The timestamp and date rules live in `glue-schema`
//! ([`eventlake_glue_schema::openx_timestamp_micros`], [`eventlake_glue_schema::window::parse_date`]).

use std::borrow::Cow;
use std::fmt;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use eventlake_glue_schema::{openx_timestamp_micros, window::parse_date, Column, HiveType, Table};
use eventlake_transform::json::{self, Member, ValueKind};
use serde_json::{Number, Value};

use crate::error::LakeError;

/// The Arrow type a Hive column becomes in Parquet, as Athena reads it; `None` for the types
/// the local lake does not write (decimal, array).
pub fn arrow_type(ty: &HiveType) -> Option<DataType> {
    Some(match ty {
        HiveType::String => DataType::Utf8,
        HiveType::BigInt => DataType::Int64,
        HiveType::Int => DataType::Int32,
        HiveType::SmallInt => DataType::Int16,
        HiveType::TinyInt => DataType::Int8,
        HiveType::Double => DataType::Float64,
        HiveType::Float => DataType::Float32,
        HiveType::Boolean => DataType::Boolean,
        HiveType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        HiveType::Date => DataType::Date32,
        HiveType::Decimal { .. } | HiveType::Array(_) => return None,
    })
}

/// The Arrow schema of the table's data columns (partition columns live in the path).
pub fn arrow_schema(table: &Table) -> Result<SchemaRef, LakeError> {
    let fields = table
        .columns
        .iter()
        .map(|c| {
            let ty = c.hive_type();
            arrow_type(&ty)
                .map(|t| Field::new(&c.name, t, true))
                .ok_or_else(|| LakeError::UnsupportedColumn {
                    column: c.name.clone(),
                    type_name: ty.name(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(std::sync::Arc::new(Schema::new(fields)))
}

/// One converted value, borrowed from the record where it can be (an unescaped string).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'r> {
    /// NULL.
    Null,
    /// A string column's value.
    Str(Cow<'r, str>),
    /// An integer column's value (within the column's range).
    Int(i64),
    /// A floating-point column's value.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// A timestamp, microseconds since the epoch (UTC).
    Micros(i64),
    /// A date, days since the epoch.
    Days(i32),
}

impl Cell<'_> {
    /// The same value, owning its text.
    pub fn into_owned(self) -> Cell<'static> {
        match self {
            Cell::Str(s) => Cell::Str(Cow::Owned(s.into_owned())),
            Cell::Null => Cell::Null,
            Cell::Int(v) => Cell::Int(v),
            Cell::Float(v) => Cell::Float(v),
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Micros(v) => Cell::Micros(v),
            Cell::Days(v) => Cell::Days(v),
        }
    }
}

/// A JSON value as far as conversion needs to see it.
enum Json<'v> {
    Null,
    Bool(bool),
    Number(Number),
    Str(Cow<'v, str>),
    /// An array or an object: no column the lake writes accepts one.
    Other,
}

impl<'v> Json<'v> {
    fn of_value(value: &'v Value) -> Json<'v> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Json::Other,
        }
    }

    /// A member's value, read only as far as needed: an unescaped string is borrowed from
    /// the record, an integer parsed from its digits.
    fn of_member(text: &'v str, m: &Member) -> Option<Json<'v>> {
        let raw = &text[m.value_start..m.value_end];
        Some(match m.kind {
            ValueKind::String => Json::Str(json::string_text(raw, m.escaped)),
            ValueKind::Null => Json::Null,
            ValueKind::Bool => Json::Bool(raw == "true"),
            ValueKind::Object | ValueKind::Array => Json::Other,
            // serde_json reads `-0` as the float -0.0: leave it (and anything not an i64) to it.
            ValueKind::Number => match (m.non_integer || raw.starts_with("-0"), raw.parse::<i64>()) {
                (false, Ok(v)) => Json::Number(Number::from(v)),
                _ => Json::Number(serde_json::from_str(raw).ok()?),
            },
        })
    }
}

/// The cell of a value in a column of type `ty`, or `None` if it does not convert.
fn cell<'v>(ty: &HiveType, value: Json<'v>) -> Option<Cell<'v>> {
    let int = |n: &Number, fits: fn(i64) -> bool| n.as_i64().filter(|v| fits(*v)).map(Cell::Int);
    Some(match (ty, value) {
        (_, Json::Null) => Cell::Null,
        (HiveType::String, Json::Str(s)) => Cell::Str(s),
        (HiveType::BigInt, Json::Number(n)) => int(&n, |_| true)?,
        (HiveType::Int, Json::Number(n)) => int(&n, |v| i32::try_from(v).is_ok())?,
        (HiveType::SmallInt, Json::Number(n)) => int(&n, |v| i16::try_from(v).is_ok())?,
        (HiveType::TinyInt, Json::Number(n)) => int(&n, |v| i8::try_from(v).is_ok())?,
        (HiveType::Double | HiveType::Float, Json::Number(n)) => Cell::Float(n.as_f64()?),
        (HiveType::Boolean, Json::Bool(b)) => Cell::Bool(b),
        // Epoch milliseconds, as the OpenX deserializer reads a number in a timestamp column.
        (HiveType::Timestamp, Json::Number(n)) => Cell::Micros(n.as_i64()?.saturating_mul(1000)),
        (HiveType::Timestamp, Json::Str(s)) => Cell::Micros(openx_timestamp_micros(&s)?),
        (HiveType::Date, Json::Str(s)) => Cell::Days(i32::try_from(parse_date(&s)?).ok()?),
        _ => return None,
    })
}

fn mismatch(column: &Column, ty: &HiveType, value: &dyn fmt::Display) -> String {
    format!("value {value} of column {} is not a valid {}", column.name, ty.name())
}

/// Converts one transformed record by the general rules (the record parsed whole): the
/// reference the fast [`Converter`] agrees with, and its path for records it cannot borrow.
pub fn convert_record(table: &Table, record: &[u8]) -> Result<Vec<Cell<'static>>, String> {
    let value: Value = serde_json::from_slice(record).map_err(|e| format!("the record is not valid JSON: {e}"))?;
    let obj = value.as_object().ok_or("the record is not a JSON object")?;
    table
        .columns
        .iter()
        .map(|c| {
            let ty = c.hive_type();
            let v = obj.get(&c.name).unwrap_or(&Value::Null);
            cell(&ty, Json::of_value(v))
                .map(Cell::into_owned)
                .ok_or_else(|| mismatch(c, &ty, v))
        })
        .collect()
}

/// Record-format conversion for one table, fast: the column types are parsed once, a
/// record's members are found by the transform's validating scanner (keys unescaped, unknown
/// members skipped) and each value is read only as far as its column needs, borrowing
/// unescaped strings from the record. Invalid JSON or a record that is not an object takes [`convert_record`]'s path, so
/// results and messages are the same.
#[derive(Debug, Clone)]
pub struct Converter {
    table: Table,
    types: Vec<HiveType>,
}

impl Converter {
    /// A converter for `table`'s data columns.
    pub fn new(table: &Table) -> Result<Converter, LakeError> {
        arrow_schema(table)?;
        Ok(Converter {
            types: table.columns.iter().map(Column::hive_type).collect(),
            table: table.clone(),
        })
    }

    /// The table it converts to.
    pub fn table(&self) -> &Table {
        &self.table
    }

    /// Fills `row` (cleared first) with the cells of `record`, or says why it does not convert.
    pub fn convert<'r>(&self, record: &'r [u8], row: &mut Vec<Cell<'r>>) -> Result<(), String> {
        row.clear();
        // The transform's own validating scanner (SIMD string scanning): the record's
        // top-level members as spans of its text, the last of a repeated key winning, as
        // for a parsed object.
        let Ok(text) = simdutf8::basic::from_utf8(record) else {
            row.extend(convert_record(&self.table, record)?);
            return Ok(());
        };
        let mut slots: Vec<Option<Member>> = vec![None; self.types.len()];
        let columns = &self.table.columns;
        let scanned = json::scan_object::<()>(text, |m| {
            let name = json::string_text(&text[m.key.start..m.key.end], m.key.escaped);
            if let Some(i) = columns.iter().position(|c| c.name == name) {
                slots[i] = Some(m);
            }
            Ok(())
        });
        if scanned.is_err() {
            row.extend(convert_record(&self.table, record)?);
            return Ok(());
        }
        for ((column, ty), slot) in columns.iter().zip(&self.types).zip(slots) {
            let converted = match slot {
                None => Some(Cell::Null),
                Some(m) => Json::of_member(text, &m).and_then(|v| cell(ty, v)),
            };
            match converted {
                Some(c) => row.push(c),
                None => {
                    let raw = slot.map_or("null", |m| &text[m.value_start..m.value_end]);
                    let value: Value = serde_json::from_str(raw).map_err(|e| e.to_string())?;
                    return Err(mismatch(column, ty, &value));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> &'static Table {
        Table::embedded()
    }

    #[test]
    fn converts_an_ok_record_and_drops_keys_that_are_not_columns() {
        let record = br#"{"event_uuid":"u","event_name":"a:b","created_at":1710670500,"created_datetime":"2024-03-17T10:15:00Z","event_type":"a","event_subtype":"b","payload":"{}"}"#;
        let row = convert_record(table(), record).unwrap();
        assert_eq!(row[2], Cell::Int(1_710_670_500));
        assert_eq!(row[3], Cell::Micros(1_710_670_500_000_000));
        assert_eq!(row.len(), table().columns.len());
    }

    #[test]
    fn the_converter_agrees_with_the_general_rules() {
        let converter = Converter::new(table()).unwrap();
        let records: &[&str] = &[
            r#"{"event_uuid":"u","event_name":"a:b","created_at":1710670500,"created_datetime":"2024-03-17T10:15:00Z","event_type":"a","event_subtype":"b","payload":"{\"k\":\"v\\n\"}"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":-5,"created_datetime":"2024-02-29 10:15:00.25","event_subtype":null,"payload":"{}"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":9223372036854775808,"created_datetime":"2024-03-17T10:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1.5,"created_datetime":"2024-03-17T10:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":"2023-02-29T10:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":"2024-03-17T24:15:00Z"}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":1710670500000}"#,
            r#"{"event_uuid":"u","event_name":"a","created_at":1,"created_datetime":"2024-03-17T10:15:00+00:00"}"#,
            r#"{"event_uuid":7,"event_name":"a","created_at":1}"#,
            r#"{"event_uuid":"\u0075","event_name":"a","created_at":"1"}"#,
            r#"{"event_\u0075uid":"x","event_name":"a","created_at":1,"created_at":2}"#,
            r#"{"event_uuid":"u","created_at":1,"created_at":2}"#,
            r#"{"event_uuid":"u","created_at":[1],"payload":{"a":1}}"#,
            r#"{"event_uuid":"u","event_subtype":true}"#,
            r#"{"event_uuid":"u","created_at":-0}"#,
            r#"{"event_uuid":"u","created_at":-12,"created_datetime":-1}"#,
            r#"{"event_uuid":"u","created_at":1e3}"#,
            "{\"event_uuid\":\"\u{e9}\\u00e9\"}",
            " {\"event_uuid\":\"u\"}\n",
            "\u{feff}{\"event_uuid\":\"u\"}",
            r#"[1,2]"#,
            r#"{"event_uuid":"u""#,
            r#"{"event_uuid":"u"} x"#,
            "",
        ];
        let mut row = Vec::new();
        for record in records {
            let fast = converter.convert(record.as_bytes(), &mut row).map(|()| row.clone());
            assert_eq!(fast, convert_record(table(), record.as_bytes()), "{record}");
        }
    }

    #[test]
    fn unescaped_strings_are_borrowed_from_the_record() {
        let converter = Converter::new(table()).unwrap();
        let record = br#"{"event_uuid":"plain","event_name":"esc\"aped"}"#;
        let mut row = Vec::new();
        converter.convert(record, &mut row).unwrap();
        assert!(matches!(&row[0], Cell::Str(Cow::Borrowed("plain"))), "{:?}", row[0]);
        assert!(
            matches!(&row[1], Cell::Str(Cow::Owned(s)) if s == "esc\"aped"),
            "{:?}",
            row[1]
        );
    }

    #[test]
    fn a_type_mismatch_is_a_conversion_failure_naming_the_column() {
        let record = br#"{"event_uuid":"u","event_name":"a","created_at":"soon","created_datetime":"2024-03-17T10:15:00Z","payload":"{}"}"#;
        let err = convert_record(table(), record).unwrap_err();
        assert_eq!(err, r#"value "soon" of column created_at is not a valid bigint"#);
        let offset = br#"{"created_datetime":"2024-03-17T10:15:00+00:00"}"#;
        assert!(convert_record(table(), offset)
            .unwrap_err()
            .contains("created_datetime"));
    }

    #[test]
    fn integer_columns_refuse_values_out_of_their_range() {
        let ty = HiveType::TinyInt;
        let n = |t: &str| Json::Number(serde_json::from_str(t).unwrap());
        assert_eq!(cell(&ty, n("127")), Some(Cell::Int(127)));
        assert_eq!(cell(&ty, n("128")), None);
        assert_eq!(cell(&HiveType::Int, n("-2147483649")), None);
        assert_eq!(cell(&HiveType::Date, Json::Str("2024-02-30".into())), None);
        assert_eq!(
            cell(&HiveType::Date, Json::Str("1970-01-02".into())),
            Some(Cell::Days(1))
        );
    }

    #[test]
    fn decimal_and_array_columns_are_refused_with_their_column() {
        let mut t = table().clone();
        t.columns[5].type_name = "decimal(10,2)".into();
        let err = arrow_schema(&t).unwrap_err().to_string();
        assert_eq!(
            err,
            "column payload: the local lake does not write decimal(10,2) columns"
        );
    }
}
