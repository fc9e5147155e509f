//! The event catalog: `glue-schema/catalog.json`, every known `event_name` with its payload
//! fields. It drives the `event_type` partition projection, the typed Athena views, the
//! synthetic generator and `docs/events.md`.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::{is_event_type, is_hive_identifier, HiveType};

/// The text of `glue-schema/catalog.json`, as compiled into this crate.
pub const CATALOG_JSON: &str = include_str!("../catalog.json");

/// Columns every typed view has, in order, with the payload fields between `created_date` and
/// `payload` (the last); a field may not reuse these names.
pub const VIEW_COMMON_COLUMNS: [&str; 8] = [
    "event_uuid",
    "event_name",
    "created_at",
    "created_datetime",
    "event_type",
    "event_subtype",
    "created_date",
    "payload",
];

/// Everything that can be wrong with the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The text is not JSON of the expected shape.
    #[error("catalog is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    /// An event type name cannot be a partition value.
    #[error("event type `{0}` does not match ^[a-z0-9][a-z0-9_-]{{0,63}}$")]
    InvalidEventType(String),
    /// An event type appears twice.
    #[error("event type `{0}` is defined twice")]
    DuplicateEventType(String),
    /// An event name is not `type:segment…` with non-empty segments under its type.
    #[error("event `{name}` must be `{event_type}:…` with non-empty segments separated by ':'")]
    InvalidEventName {
        /// The event name.
        name: String,
        /// The type it is listed under.
        event_type: String,
    },
    /// An event name appears twice.
    #[error("event `{0}` is defined twice")]
    DuplicateEvent(String),
    /// Two event names map to the same Athena view name.
    #[error("events `{first}` and `{second}` both make the view name `{view}`")]
    ViewNameClash {
        /// The view name.
        view: String,
        /// The first event.
        first: String,
        /// The second event.
        second: String,
    },
    /// A view name is not a valid lower-case identifier.
    #[error("event `{event}` makes the view name `{view}`, which is not a lower-case identifier")]
    InvalidViewName {
        /// The event.
        event: String,
        /// The view name.
        view: String,
    },
    /// A field name is not a lower-case Hive identifier, or is reserved.
    #[error("field `{field}` of `{event}` must be a lower-case identifier other than {VIEW_COMMON_COLUMNS:?}")]
    InvalidFieldName {
        /// The event.
        event: String,
        /// The field.
        field: String,
    },
    /// A field appears twice in one event.
    #[error("field `{field}` of `{event}` is defined twice")]
    DuplicateField {
        /// The event.
        event: String,
        /// The field.
        field: String,
    },
    /// A field name has another type in another event: the curated table gives each field
    /// name one typed column (issue #19), so one name has one type across the catalog.
    #[error("field `{field}` of `{event}` is `{ty}`, but `{first_event}` has it as `{first_ty}`: one field name has one type across the catalog (rename one of them)")]
    FieldTypeClash {
        /// The later event.
        event: String,
        /// The field.
        field: String,
        /// Its type there.
        ty: String,
        /// The first event with the field.
        first_event: String,
        /// Its type there.
        first_ty: String,
    },
    /// A field type is not one Athena reads from JSON.
    #[error("field `{field}` of `{event}` has type `{ty}`; use string, bigint, int, smallint, tinyint, double, float, boolean, timestamp, date, decimal(p,s) or array<…> of those")]
    UnsupportedType {
        /// The event.
        event: String,
        /// The field.
        field: String,
        /// The type as written.
        ty: String,
    },
    /// A description is empty.
    #[error("`{0}` has no description")]
    MissingDescription(String),
}

/// A payload field of an event.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct FieldDef {
    /// JSON key in the payload, also the view column name.
    pub name: String,
    /// Hive type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// What it means.
    pub description: String,
}

impl FieldDef {
    /// The parsed type; `Catalog::validate` guarantees it parses.
    pub fn hive_type(&self) -> HiveType {
        HiveType::parse(&self.type_name).unwrap_or(HiveType::String)
    }
}

/// One known `event_name`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct EventDef {
    /// The full event name, e.g. `payment:order:completed`.
    pub name: String,
    /// What it records.
    pub description: String,
    /// Its payload fields.
    pub fields: Vec<FieldDef>,
}

impl EventDef {
    /// The Athena view name: the event name with `:` and `-` replaced by `_`.
    pub fn view_name(&self) -> String {
        self.name.replace([':', '-'], "_")
    }

    /// The second segment of the name, if any.
    pub fn subtype(&self) -> Option<&str> {
        self.name.split(':').nth(1)
    }
}

/// One event type (first segment of `event_name`): a partition of the lake.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct EventTypeDef {
    /// The type, e.g. `payment`.
    pub name: String,
    /// What it covers.
    pub description: String,
    /// Its events.
    pub events: Vec<EventDef>,
}

/// The event catalog.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Catalog {
    /// Event types in catalog order.
    pub event_types: Vec<EventTypeDef>,
}

impl Catalog {
    /// Parses and validates a catalog.
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog = serde_json::from_str(text)?;
        catalog.validate()?;
        Ok(catalog)
    }

    /// The embedded `glue-schema/catalog.json`, validated by this crate's tests.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| match Catalog::from_json(CATALOG_JSON) {
            Ok(c) => c,
            Err(e) => panic!("glue-schema/catalog.json is invalid: {e}"),
        })
    }

    /// Checks names, uniqueness, view names and field types.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut types = BTreeSet::new();
        let mut events = BTreeSet::new();
        let mut views = std::collections::BTreeMap::new();
        // Each field name's first (event, type), to hold one type per name.
        let mut field_types: std::collections::BTreeMap<&str, (&str, HiveType)> = std::collections::BTreeMap::new();
        for t in &self.event_types {
            if !is_event_type(&t.name) {
                return Err(CatalogError::InvalidEventType(t.name.clone()));
            }
            if !types.insert(t.name.as_str()) {
                return Err(CatalogError::DuplicateEventType(t.name.clone()));
            }
            if t.description.trim().is_empty() {
                return Err(CatalogError::MissingDescription(t.name.clone()));
            }
            for e in &t.events {
                let mut segments = e.name.split(':');
                if segments.next() != Some(t.name.as_str()) || e.name.split(':').any(str::is_empty) {
                    return Err(CatalogError::InvalidEventName {
                        name: e.name.clone(),
                        event_type: t.name.clone(),
                    });
                }
                if !events.insert(e.name.as_str()) {
                    return Err(CatalogError::DuplicateEvent(e.name.clone()));
                }
                if e.description.trim().is_empty() {
                    return Err(CatalogError::MissingDescription(e.name.clone()));
                }
                let view = e.view_name();
                if !is_hive_identifier(&view) {
                    return Err(CatalogError::InvalidViewName {
                        event: e.name.clone(),
                        view,
                    });
                }
                if let Some(first) = views.insert(view.clone(), e.name.as_str()) {
                    return Err(CatalogError::ViewNameClash {
                        view,
                        first: first.to_string(),
                        second: e.name.clone(),
                    });
                }
                let mut fields = BTreeSet::new();
                for f in &e.fields {
                    if !is_hive_identifier(&f.name) || VIEW_COMMON_COLUMNS.contains(&f.name.as_str()) {
                        return Err(CatalogError::InvalidFieldName {
                            event: e.name.clone(),
                            field: f.name.clone(),
                        });
                    }
                    if !fields.insert(f.name.as_str()) {
                        return Err(CatalogError::DuplicateField {
                            event: e.name.clone(),
                            field: f.name.clone(),
                        });
                    }
                    let Some(ty) = HiveType::parse(&f.type_name) else {
                        return Err(CatalogError::UnsupportedType {
                            event: e.name.clone(),
                            field: f.name.clone(),
                            ty: f.type_name.clone(),
                        });
                    };
                    let (first_event, first_ty) = field_types
                        .entry(f.name.as_str())
                        .or_insert((e.name.as_str(), ty.clone()));
                    if *first_ty != ty {
                        return Err(CatalogError::FieldTypeClash {
                            event: e.name.clone(),
                            field: f.name.clone(),
                            ty: f.type_name.clone(),
                            first_event: first_event.to_string(),
                            first_ty: first_ty.name(),
                        });
                    }
                    if f.description.trim().is_empty() {
                        return Err(CatalogError::MissingDescription(format!("{}.{}", e.name, f.name)));
                    }
                }
            }
        }
        Ok(())
    }

    /// The event type names: the values of the `event_type` partition projection.
    pub fn event_type_names(&self) -> Vec<&str> {
        self.event_types.iter().map(|t| t.name.as_str()).collect()
    }

    /// Every event, in catalog order.
    pub fn events(&self) -> impl Iterator<Item = &EventDef> {
        self.event_types.iter().flat_map(|t| t.events.iter())
    }

    /// The event with this name, if known.
    pub fn event(&self, name: &str) -> Option<&EventDef> {
        self.events().find(|e| e.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_has_100_valid_events() {
        let c = Catalog::from_json(CATALOG_JSON).expect("valid catalog");
        assert_eq!(c.events().count(), 100);
        assert!(c.event_types.len() >= 20, "{}", c.event_types.len());
        assert!(c.event("payment:order:completed").is_some());
        assert_eq!(
            c.event("payment:order:completed").unwrap().view_name(),
            "payment_order_completed"
        );
        assert_eq!(c.event("payment:order:completed").unwrap().subtype(), Some("order"));
    }

    #[test]
    fn rejects_what_would_break_the_lake_or_the_views() {
        let bad = |from: &str, to: &str| Catalog::from_json(&CATALOG_JSON.replacen(from, to, 1)).unwrap_err();
        assert!(matches!(
            bad("\"name\": \"account\"", "\"name\": \"Account\""),
            CatalogError::InvalidEventType(_)
        ));
        assert!(matches!(
            bad("\"name\": \"lesson\"", "\"name\": \"account\""),
            CatalogError::DuplicateEventType(_)
        ));
        assert!(matches!(
            bad("\"account:updated\"", "\"account:created\""),
            CatalogError::DuplicateEvent(_)
        ));
        assert!(matches!(
            bad("\"account:updated\"", "\"lesson:updated\""),
            CatalogError::InvalidEventName { .. }
        ));
        assert!(matches!(
            bad("\"account:updated\"", "\"account::updated\""),
            CatalogError::InvalidEventName { .. }
        ));
        assert!(matches!(
            bad("\"name\": \"plan\"", "\"name\": \"Plan\""),
            CatalogError::InvalidFieldName { .. }
        ));
        assert!(matches!(
            bad("\"name\": \"plan\"", "\"name\": \"payload\""),
            CatalogError::InvalidFieldName { .. }
        ));
        assert!(matches!(
            bad("\"name\": \"plan\"", "\"name\": \"user_id\""),
            CatalogError::DuplicateField { .. }
        ));
        assert!(matches!(
            bad("\"type\": \"boolean\"", "\"type\": \"varchar\""),
            CatalogError::UnsupportedType { .. }
        ));
    }

    #[test]
    fn one_field_name_has_one_type_across_the_catalog() {
        let c = Catalog::embedded();
        let mut types = std::collections::BTreeMap::new();
        for f in c.events().flat_map(|e| &e.fields) {
            types
                .entry(f.name.as_str())
                .or_insert_with(BTreeSet::new)
                .insert(f.hive_type().name());
        }
        assert!(types.values().all(|t| t.len() == 1), "{types:?}");
        // Today's catalog: 97 distinct names for its fields (issue #19).
        assert_eq!(types.len(), 97);
        // The same name with another type in a later event is refused, naming both.
        let text = r#"{"event_types":[{"name":"a","description":"d","events":[
            {"name":"a:b","description":"d","fields":[{"name":"amount","type":"decimal(12,2)","description":"d"}]},
            {"name":"a:c","description":"d","fields":[{"name":"amount","type":"double","description":"d"}]}]}]}"#;
        let err = Catalog::from_json(text).unwrap_err();
        assert!(
            matches!(&err, CatalogError::FieldTypeClash { field, first_event, .. } if field == "amount" && first_event == "a:b")
        );
        assert!(err.to_string().contains("`decimal(12,2)`"), "{err}");
        // The same type written differently is one type.
        let same = text.replace(r#""type":"double""#, r#""type":"DECIMAL(12, 2)""#);
        assert!(Catalog::from_json(&same).is_ok());
    }

    #[test]
    fn view_names_clash_when_separators_differ() {
        let text = r#"{"event_types":[{"name":"a","description":"d","events":[
            {"name":"a:b_c","description":"d","fields":[]},{"name":"a:b:c","description":"d","fields":[]}]}]}"#;
        assert!(matches!(
            Catalog::from_json(text),
            Err(CatalogError::ViewNameClash { .. })
        ));
    }
}
