//! Property-test support (feature `props`): the shared [`config`] and the
//! input strategies the "never a panic, always an error or a value" tests
//! feed to parsers and decoders.
//!
//! - [`any_json`]: any JSON value (nested, odd numbers, odd strings).
//! - [`keyed`]: objects whose keys are the ones a type expects (see
//!   [`fields_of`]) and whose values are anything: right keys, wrong types.
//! - [`mutated_json`]: a valid seed with a few nodes replaced, removed or
//!   retyped, so input reaches past the first check.
//! - [`mutated_text`]: a valid seed text with a few splices (pieces of the
//!   format, deletions, duplications), on char boundaries.

use proptest::prelude::*;
use proptest::test_runner::Config;
use serde::de::{self, DeserializeOwned, Visitor};
use serde_json::{Map, Number, Value};

/// The configuration every property test uses: `cases` cases and no
/// failure-persistence file written into the source tree (a failing case is
/// printed; keep it as an ordinary unit test).
pub fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Strings a parser finds awkward: empty, unicode, control characters,
/// template and path punctuation, huge numbers as text.
fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,24}",
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("{{".to_owned()),
        Just("${".to_owned()),
        Just("../..".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-1".to_owned()),
        Just("1e309".to_owned()),
        Just("00000000-0000-0000-0000-000000000000".to_owned()),
        Just("2026-12-06T00:00:00Z".to_owned()),
        Just("é\u{301}\u{200d}".to_owned()),
    ]
}

fn any_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(Value::from(0)),
        Just(Value::from(-1)),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
    ]
}

/// Any JSON value, nested up to a few levels.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any_number(),
        odd_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((odd_string(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Objects with a subset of `keys`, each mapped to any JSON value (and now
/// and then one key that is not in the list).
pub fn keyed(keys: &'static [&'static str]) -> BoxedStrategy<Value> {
    if keys.is_empty() {
        return any_json().boxed();
    }
    let entry = (0..keys.len(), any_json()).prop_map(move |(i, v)| (keys[i].to_owned(), v));
    (
        prop::collection::vec(entry, 0..keys.len().min(12) + 1),
        prop::option::weighted(0.1, (odd_string(), any_json())),
    )
        .prop_map(|(entries, extra)| {
            let mut m: Map<String, Value> = entries.into_iter().collect();
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            Value::Object(m)
        })
        .boxed()
}

/// The input a decoder of `T` is fed: any JSON, objects with `T`'s keys and
/// wrong values, and arrays of those (list answers).
pub fn shaped<T: DeserializeOwned>() -> BoxedStrategy<Value> {
    let keys = fields_of::<T>();
    prop_oneof![
        1 => any_json(),
        3 => keyed(keys),
        1 => prop::collection::vec(keyed(keys), 0..3).prop_map(Value::Array),
    ]
    .boxed()
}

/// The bytes of a response body: [`shaped`] JSON as text, arbitrary bytes,
/// or a JSON text cut short.
pub fn body_of<T: DeserializeOwned>() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        3 => shaped::<T>().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => (shaped::<T>(), any::<prop::sample::Index>()).prop_map(|(v, cut)| {
            let text = v.to_string().into_bytes();
            let at = cut.index(text.len() + 1);
            text[..at].to_vec()
        }),
    ]
    .boxed()
}

/// The field names a derived `Deserialize` of `T` asks for (after serde's
/// renames), or the variant names of an enum; empty for maps, flattened
/// structs and hand-written impls that ask for neither.
pub fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut probe = Probe(&[]);
    let _ = T::deserialize(&mut probe);
    probe.0
}

/// A deserializer that answers nothing and records what was asked for.
struct Probe(&'static [&'static str]);

impl<'de> de::Deserializer<'de> for &mut Probe {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("probe"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(de::Error::custom("probe"))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = variants;
        Err(de::Error::custom("probe"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map identifier ignored_any
    }
}

/// One change to a JSON tree, at the node of pre-order index `at` (modulo
/// the node count).
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    Stringify(usize),
    Wrap(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let at = any::<usize>();
    prop_oneof![
        3 => (at, any_json()).prop_map(|(i, v)| Edit::Replace(i, v)),
        2 => at.prop_map(Edit::Remove),
        1 => at.prop_map(Edit::Stringify),
        1 => at.prop_map(Edit::Wrap),
    ]
}

/// `seed` with one to four nodes replaced by any JSON, removed (object
/// keys, array items), turned into their JSON text, or wrapped in an array.
pub fn mutated_json(seed: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec(edit(), 1..5).prop_map(move |edits| {
        let mut v = seed.clone();
        for e in edits {
            apply(&mut v, e);
        }
        v
    })
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

fn apply(root: &mut Value, e: Edit) {
    let n = count(root);
    let (Edit::Replace(i, _) | Edit::Remove(i) | Edit::Stringify(i) | Edit::Wrap(i)) = &e;
    let mut target = i % n;
    if target == 0 {
        // The root itself: only replace, retype or wrap it.
        if !matches!(e, Edit::Remove(_)) {
            edit_node(root, e);
        }
        return;
    }
    target -= 1;
    visit(root, &mut target, e);
}

/// Walks the children of `v` in pre-order; applies `e` to the child whose
/// index reaches 0. Returns `None` once done.
fn visit(v: &mut Value, left: &mut usize, e: Edit) -> Option<Edit> {
    let mut e = Some(e);
    match v {
        Value::Array(items) => {
            let mut i = 0;
            while i < items.len() {
                if *left == 0 {
                    match e.take()? {
                        Edit::Remove(_) => {
                            items.remove(i);
                        }
                        other => edit_node(&mut items[i], other),
                    }
                    return None;
                }
                *left -= 1;
                e = visit(&mut items[i], left, e?);
                e.as_ref()?;
                i += 1;
            }
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if *left == 0 {
                    match e.take()? {
                        Edit::Remove(_) => {
                            map.remove(&k);
                        }
                        other => edit_node(map.get_mut(&k)?, other),
                    }
                    return None;
                }
                *left -= 1;
                e = visit(map.get_mut(&k)?, left, e?);
                e.as_ref()?;
            }
        }
        _ => {}
    }
    e
}

fn edit_node(node: &mut Value, e: Edit) {
    match e {
        Edit::Replace(_, v) => *node = v,
        Edit::Remove(_) => *node = Value::Null,
        Edit::Stringify(_) => *node = Value::String(node.to_string()),
        Edit::Wrap(_) => *node = Value::Array(vec![node.take()]),
    }
}

/// One splice of a text, at char position `at` (modulo the length).
#[derive(Debug, Clone)]
enum Splice {
    Insert(usize, String),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

/// `seed` with one to six splices: a piece of `pieces` (or random text)
/// inserted, a run of up to 16 chars deleted, or a run duplicated.
pub fn mutated_text(
    seed: String,
    pieces: &'static [&'static str],
) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(pieces).prop_map(str::to_owned),
        1 => ".{0,8}",
    ];
    let splice = prop_oneof![
        (any::<usize>(), piece).prop_map(|(at, s)| Splice::Insert(at, s)),
        (any::<usize>(), 1..16usize).prop_map(|(at, n)| Splice::Delete(at, n)),
        (any::<usize>(), 1..32usize).prop_map(|(at, n)| Splice::Duplicate(at, n)),
    ];
    prop::collection::vec(splice, 1..7).prop_map(move |splices| {
        let mut text: Vec<char> = seed.chars().collect();
        for s in splices {
            let len = text.len();
            match s {
                Splice::Insert(at, piece) => {
                    let at = at % (len + 1);
                    text.splice(at..at, piece.chars());
                }
                Splice::Delete(at, n) if len > 0 => {
                    let at = at % len;
                    text.drain(at..(at + n).min(len));
                }
                Splice::Duplicate(at, n) if len > 0 => {
                    let at = at % len;
                    let run: Vec<char> = text[at..(at + n).min(len)].to_vec();
                    text.splice(at..at, run);
                }
                Splice::Delete(..) | Splice::Duplicate(..) => {}
            }
        }
        text.into_iter().collect()
    })
}

/// A response header value as a server could send it (`Retry-After`,
/// dates): any visible bytes, numbers too large or negative, dates at the
/// edges.
pub fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..40),
        Just(b"120".to_vec()),
        Just(b"-1".to_vec()),
        Just(b"99999999999999999999".to_vec()),
        Just(b"Thu, 01 Jan 1970 00:00:00 GMT".to_vec()),
        Just(b"Fri, 31 Dec 9999 23:59:59 GMT".to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use serde_json::json;

    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Shape {
        first_name: String,
        age: u8,
    }

    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    enum Kind {
        A,
        B,
    }

    #[test]
    fn fields_of_reads_derived_names_and_variants() {
        assert_eq!(fields_of::<Shape>(), ["firstName", "age"]);
        assert_eq!(fields_of::<Kind>(), ["A", "B"]);
        assert!(fields_of::<Vec<u8>>().is_empty());
    }

    #[test]
    fn mutations_change_the_seed_and_stay_json() {
        let seed = json!({"a": [1, {"b": "c"}], "d": true});
        let mut runner = TestRunner::deterministic();
        let strategy = mutated_json(seed.clone());
        let changed = (0..64)
            .filter(|_| strategy.new_tree(&mut runner).expect("tree").current() != seed)
            .count();
        assert!(
            changed > 32,
            "only {changed} of 64 mutations changed the seed"
        );
        let texts = mutated_text("source {}".to_owned(), &["{", "}"]);
        let changed = (0..64)
            .filter(|_| texts.new_tree(&mut runner).expect("tree").current() != "source {}")
            .count();
        assert!(
            changed > 32,
            "only {changed} of 64 splices changed the seed"
        );
    }

    #[test]
    fn every_node_can_be_reached() {
        let seed = json!({"a": [1, 2], "b": {"c": 3}});
        let n = count(&seed);
        assert_eq!(n, 6);
        let removed: Vec<Value> = (1..n)
            .map(|i| {
                let mut v = seed.clone();
                apply(&mut v, Edit::Remove(i));
                v
            })
            .collect();
        assert_eq!(removed[0], json!({"b": {"c": 3}}));
        assert_eq!(removed[1], json!({"a": [2], "b": {"c": 3}}));
        assert_eq!(removed[2], json!({"a": [1], "b": {"c": 3}}));
        assert_eq!(removed[3], json!({"a": [1, 2]}));
        assert_eq!(removed[4], json!({"a": [1, 2], "b": {}}));
    }
}
