//! `eventlake generate`: synthetic traffic over the event catalog, one JSON event per line,
//! streaming (constant memory for any count), reproducible from a seed.

use std::collections::VecDeque;
use std::io::Write;

use eventlake_glue_schema::{Catalog, EventDef, HiveType, JsonKind};
use serde_json::json;

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same events on
/// every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// A random version-4 UUID, lower-case.
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        eventlake_lake::layout::uuid_v4(a, b)
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateOptions {
    /// Lines to write (duplicates and invalid lines included).
    pub events: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// Share of lines that repeat an earlier event exactly (at-least-once producers).
    pub duplicates: f64,
    /// Share of lines that break the contract (each with a known reason).
    pub invalid: f64,
    /// `created_at` of the first event, Unix seconds.
    pub start: u64,
    /// Seconds the traffic spans (events are spread evenly, with jitter).
    pub span_secs: u64,
    /// Live traffic: `created_at` is the clock at generation time (with the same jitter)
    /// instead of `start` + a share of `span_secs`. For `produce`, where events are generated
    /// as they are sent.
    pub live: bool,
    /// Schema drift to inject into valid events.
    pub drift: Drift,
}

/// Schema drift a producer might introduce, each a share of the valid events (0 to 1); an
/// event gets at most one kind. Events without catalog fields get none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Drift {
    /// One catalog field sent in another JSON kind than its type (a number as a string, a
    /// string as a number, …): what the transform counts as field drift.
    pub wrong_kind: f64,
    /// One catalog field renamed (`user_id` → `userId`).
    pub renamed: f64,
    /// A field the catalog does not have (`DRIFT_NEW_FIELD`).
    pub new_field: f64,
}

/// The name of the field [`Drift::new_field`] adds.
pub const DRIFT_NEW_FIELD: &str = "experiment_variant";

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            events: 1000,
            seed: 1,
            duplicates: 0.0,
            invalid: 0.0,
            start: 1_710_669_600,
            span_secs: 3600,
            live: false,
            drift: Drift::default(),
        }
    }
}

/// Counts of what was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenerateReport {
    /// Lines written.
    pub lines: u64,
    /// Of those, exact repeats of an earlier line.
    pub duplicates: u64,
    /// Of those, lines that break the contract.
    pub invalid: u64,
    /// Bytes written (newlines included).
    pub bytes: u64,
    /// Valid events with a catalog field in another JSON kind ([`Drift::wrong_kind`]).
    pub wrong_kind: u64,
    /// Valid events with a catalog field renamed ([`Drift::renamed`]).
    pub renamed: u64,
    /// Valid events with a field the catalog does not have ([`Drift::new_field`]).
    pub new_field: u64,
}

const WORDS: [&str; 24] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "lesson",
    "course",
    "payment",
    "video",
    "Zoë",
    "naïve",
    "東京",
    "müde",
    "smile 😀",
    "quote\"d",
    "tab\there",
    "back\\slash",
    "Ünal",
    "Ελλάδα",
    "résumé",
    "café",
    "Kraków",
    "São Paulo",
    "İstanbul",
    "ok",
];
const COUNTRIES: [&str; 8] = ["DE", "PL", "US", "JP", "BR", "FR", "IN", "GB"];
const CURRENCIES: [&str; 4] = ["EUR", "USD", "PLN", "GBP"];
const PLATFORMS: [&str; 3] = ["ios", "android", "web"];
const LOCALES: [&str; 6] = ["de-DE", "en-US", "pl-PL", "ja-JP", "pt-BR", "fr-FR"];

/// Streams synthetic events, one per `next()`.
#[derive(Debug, Clone)]
pub struct Generator<'c> {
    options: GenerateOptions,
    events: Vec<&'c EventDef>,
    rng: Rng,
    recent: VecDeque<String>,
    produced: u64,
    /// Counts so far.
    pub report: GenerateReport,
}

/// How many recent events duplicates are drawn from: far enough back to cross Firehose
/// batches (a 1 MiB batch holds ~1,300 events).
const RECENT: usize = 20_000;

impl<'c> Generator<'c> {
    /// A generator over every event of `catalog`.
    pub fn new(catalog: &'c Catalog, options: GenerateOptions) -> Generator<'c> {
        let rng = Rng::new(options.seed);
        Generator {
            events: catalog.events().collect(),
            options,
            rng,
            recent: VecDeque::new(),
            produced: 0,
            report: GenerateReport::default(),
        }
    }

    fn words(&mut self, min: u64, max: u64) -> String {
        let n = min + self.rng.below(max - min + 1);
        (0..n).map(|_| *self.rng.pick(&WORDS)).collect::<Vec<_>>().join(" ")
    }

    fn field_value(&mut self, name: &str, ty: &HiveType, created_at: u64) -> serde_json::Value {
        let rng = &mut self.rng;
        match ty {
            HiveType::String if name.contains("country") => json!(rng.pick(&COUNTRIES)),
            HiveType::String if name.contains("currency") => json!(rng.pick(&CURRENCIES)),
            HiveType::String if name == "platform" => json!(rng.pick(&PLATFORMS)),
            HiveType::String if name.contains("url") || name == "referrer" => {
                json!(format!(
                    "https://example.com/courses/{}?utm_source=news",
                    rng.below(5000)
                ))
            }
            HiveType::String if name.ends_with("_id") => {
                json!(format!("{}-{:x}", name.trim_end_matches("_id"), rng.next_u64()))
            }
            HiveType::String => json!(self.words(1, 4)),
            HiveType::BigInt => json!(1 + rng.below(1_000_000_000)),
            HiveType::Int => json!(rng.below(10_000)),
            HiveType::SmallInt => json!(rng.below(30_000)),
            HiveType::TinyInt => json!(rng.below(100)),
            HiveType::Double | HiveType::Float => json!((rng.below(100_000) as f64) / 1000.0),
            HiveType::Decimal { .. } => {
                serde_json::from_str(&format!("{}.{:02}", rng.below(500), rng.below(100))).unwrap_or(json!(0))
            }
            HiveType::Boolean => json!(rng.below(2) == 1),
            HiveType::Timestamp => {
                let t = created_at.saturating_sub(rng.below(86_400));
                let (datetime, _) = eventlake_transform::event::utc_datetime(t);
                json!(String::from_utf8_lossy(&datetime))
            }
            HiveType::Date => {
                let (_, date) = eventlake_transform::event::utc_datetime(created_at);
                json!(String::from_utf8_lossy(&date))
            }
            HiveType::Array(_) => {
                let n = rng.below(4);
                json!((0..n).map(|_| *rng.pick(&WORDS)).collect::<Vec<_>>())
            }
        }
    }

    /// A valid event; `drifted`: with the options' drift injected (and counted).
    fn valid_event(&mut self, drifted: bool) -> String {
        let i = self.produced;
        let event = *self.rng.pick(&self.events);
        let o = &self.options;
        let jitter = self.rng.below(61) as i64 - 30;
        let base = if o.live {
            chrono::Utc::now().timestamp().max(0) as u64
        } else {
            o.start + i * o.span_secs / o.events.max(1)
        };
        let created_at = (base as i64 + jitter).max(0) as u64;
        let mut obj = serde_json::Map::new();
        obj.insert("event_uuid".into(), json!(self.rng.uuid()));
        obj.insert("event_name".into(), json!(event.name));
        obj.insert("created_at".into(), json!(created_at));
        for f in &event.fields {
            let v = self.field_value(&f.name, &f.hive_type(), created_at);
            obj.insert(f.name.clone(), v);
        }
        let app = format!(
            "{}.{}.{}",
            1 + self.rng.below(9),
            self.rng.below(20),
            self.rng.below(50)
        );
        obj.insert(
            "client".into(),
            json!({
                "app_version": app,
                "os": self.rng.pick(&PLATFORMS),
                "locale": self.rng.pick(&LOCALES),
                "ip": format!("203.0.113.{}", self.rng.below(255)),
                "user_agent": format!("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{}.0.{}.{} Mobile Safari/537.36 eventlake/{app}", 100 + self.rng.below(30), self.rng.below(9999), self.rng.below(200)),
            }),
        );
        obj.insert(
            "trace_id".into(),
            json!(format!("{:016x}{:016x}", self.rng.next_u64(), self.rng.next_u64())),
        );
        obj.insert("note".into(), json!(self.words(8, 30)));
        if drifted {
            self.drift(event, &mut obj);
        }
        serde_json::Value::Object(obj).to_string()
    }

    /// Injects at most one kind of drift into a valid event, counting it.
    fn drift(&mut self, event: &EventDef, obj: &mut serde_json::Map<String, serde_json::Value>) {
        let d = self.options.drift;
        if d == Drift::default() || event.fields.is_empty() {
            return;
        }
        let field = self.rng.pick(&event.fields);
        if self.rng.chance(d.wrong_kind) {
            let other = match field.hive_type().json_kind() {
                JsonKind::String => json!(42),
                JsonKind::Integer | JsonKind::Number => json!(obj[&field.name].to_string()),
                JsonKind::Boolean => json!("true"),
                JsonKind::Array => json!("a"),
            };
            obj.insert(field.name.clone(), other);
            self.report.wrong_kind += 1;
        } else if self.rng.chance(d.renamed) {
            let value = obj.remove(&field.name).unwrap_or_default();
            obj.insert(renamed(&field.name), value);
            self.report.renamed += 1;
        } else if self.rng.chance(d.new_field) {
            obj.insert(DRIFT_NEW_FIELD.into(), json!(*self.rng.pick(&["A", "B"])));
            self.report.new_field += 1;
        }
    }

    /// A line that breaks one rule of the contract, each kind with a known rejection reason.
    fn invalid_event(&mut self) -> String {
        // Not drifted: the drift counts are of valid events only.
        let good = self.valid_event(false);
        let mut v: serde_json::Value = serde_json::from_str(&good).unwrap_or_default();
        let obj = v.as_object_mut().expect("generated events are objects");
        match self.rng.below(7) {
            0 => {
                let ms = obj["created_at"].as_u64().unwrap_or(0) * 1000 + 123;
                obj.insert("created_at".into(), json!(ms));
            }
            1 => {
                obj.remove("event_uuid");
            }
            2 => {
                let name = format!("Bad{}", obj["event_name"].as_str().unwrap_or_default());
                obj.insert("event_name".into(), json!(name));
            }
            3 => {
                // Cut in half, on a character boundary (the line stays UTF-8; its JSON breaks).
                let cut = (0..=good.len() / 2)
                    .rev()
                    .find(|&i| good.is_char_boundary(i))
                    .unwrap_or(0);
                return good[..cut].to_string();
            }
            4 => {
                obj.insert("event_uuid".into(), json!("not-a-uuid"));
            }
            5 => {
                let text = obj["created_at"].to_string();
                obj.insert("created_at".into(), json!(text));
            }
            _ => return format!("[{good}]"),
        }
        v.to_string()
    }
}

impl Iterator for Generator<'_> {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        if self.produced >= self.options.events {
            return None;
        }
        let line = if !self.recent.is_empty() && self.rng.chance(self.options.duplicates) {
            self.report.duplicates += 1;
            let at = self.rng.below(self.recent.len() as u64) as usize;
            self.recent[at].clone()
        } else if self.rng.chance(self.options.invalid) {
            self.report.invalid += 1;
            self.invalid_event()
        } else {
            let line = self.valid_event(true);
            if self.options.duplicates > 0.0 {
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(line.clone());
            }
            line
        };
        self.produced += 1;
        self.report.lines += 1;
        self.report.bytes += line.len() as u64 + 1;
        Some(line)
    }
}

/// How [`Drift::renamed`] renames a field: camelCase (`user_id` → `userId`), or `<name>V2`
/// for a name without `_`.
pub fn renamed(name: &str) -> String {
    if !name.contains('_') {
        return format!("{name}V2");
    }
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

/// Writes `options.events` lines to `out`.
pub fn write_events(
    catalog: &Catalog,
    options: GenerateOptions,
    out: &mut impl Write,
) -> std::io::Result<GenerateReport> {
    let mut generator = Generator::new(catalog, options);
    for line in generator.by_ref() {
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(generator.report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventlake_transform::enrich;

    #[test]
    fn valid_events_pass_the_transform_and_cover_the_catalog() {
        let catalog = Catalog::embedded();
        let options = GenerateOptions {
            events: 3000,
            ..GenerateOptions::default()
        };
        let mut names = std::collections::BTreeSet::new();
        let mut bytes = 0;
        for line in Generator::new(catalog, options) {
            let (_, info) = enrich(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert!(eventlake_transform::firehose::is_known_event_type(
                &info.partition_keys.event_type
            ));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            names.insert(v["event_name"].as_str().unwrap().to_string());
            bytes += line.len();
        }
        assert_eq!(names.len(), 100, "every catalog event appears");
        let mean = bytes / 3000;
        assert!((600..=1000).contains(&mean), "realistic ~0.8 KB events, got {mean} B");
    }

    #[test]
    fn injected_drift_is_what_the_transform_counts_and_names() {
        let catalog = Catalog::embedded();
        let o = GenerateOptions {
            events: 5000,
            drift: Drift {
                wrong_kind: 0.03,
                renamed: 0.02,
                new_field: 0.01,
            },
            ..GenerateOptions::default()
        };
        let mut g = Generator::new(catalog, o);
        let lines: Vec<String> = g.by_ref().collect();
        let r = g.report.clone();
        assert!((100..200).contains(&r.wrong_kind), "{r:?}");
        assert!((50..160).contains(&r.renamed), "{r:?}");
        assert!((20..90).contains(&r.new_field), "{r:?}");
        // The transform, as the Lambda runs it, over the same events: every wrong kind counted.
        let mut drift = eventlake_transform::drift::DriftReport::default();
        let (mut renamed_seen, mut new_field) = (0, 0);
        let mut enricher = eventlake_transform::Enricher::new();
        for line in &lines {
            let mut out = Vec::new();
            enricher
                .enrich(line.as_bytes(), &mut out)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            enricher.field_drift(line.as_bytes(), &mut drift);
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let event = catalog.event(v["event_name"].as_str().unwrap()).unwrap();
            renamed_seen += usize::from(event.fields.iter().any(|f| v.get(renamed(&f.name)).is_some()));
            new_field += usize::from(v.get(DRIFT_NEW_FIELD).is_some());
        }
        assert_eq!(
            drift.records as u64, r.wrong_kind,
            "the transform counts exactly the wrong kinds"
        );
        assert_eq!((renamed_seen as u64, new_field as u64), (r.renamed, r.new_field));
    }

    #[test]
    fn renamed_fields_are_camel_case() {
        assert_eq!(renamed("user_id"), "userId");
        assert_eq!(renamed("marketing_opt_in"), "marketingOptIn");
        assert_eq!(renamed("amount"), "amountV2");
    }

    #[test]
    fn the_seed_decides_everything() {
        let catalog = Catalog::embedded();
        let o = GenerateOptions {
            events: 200,
            seed: 7,
            duplicates: 0.1,
            invalid: 0.1,
            ..GenerateOptions::default()
        };
        let a: Vec<String> = Generator::new(catalog, o.clone()).collect();
        let b: Vec<String> = Generator::new(catalog, o.clone()).collect();
        assert_eq!(a, b);
        let c: Vec<String> = Generator::new(catalog, GenerateOptions { seed: 8, ..o }).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn cut_off_lines_end_on_a_character_boundary() {
        // Every line invalid: a seventh of them cut in half, many inside a multi-byte word.
        let o = GenerateOptions {
            events: 3000,
            invalid: 1.0,
            ..GenerateOptions::default()
        };
        let lines: Vec<String> = Generator::new(Catalog::embedded(), o).collect();
        assert_eq!(lines.len(), 3000);
    }

    #[test]
    fn duplicates_and_invalid_lines_come_in_the_asked_shares() {
        let catalog = Catalog::embedded();
        let o = GenerateOptions {
            events: 20_000,
            duplicates: 0.05,
            invalid: 0.02,
            ..GenerateOptions::default()
        };
        let mut g = Generator::new(catalog, o);
        let mut rejected = 0;
        for line in g.by_ref() {
            if enrich(line.as_bytes()).is_err() {
                rejected += 1;
            }
        }
        let r = g.report;
        assert_eq!(r.lines, 20_000);
        assert!((800..1200).contains(&r.duplicates), "{r:?}");
        assert!((300..500).contains(&r.invalid), "{r:?}");
        // Every invalid line is rejected by the transform (duplicates of valid lines are valid).
        assert_eq!(rejected, r.invalid, "{r:?}");
    }
}
