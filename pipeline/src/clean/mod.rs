//! `clean`: deterministic text rules applied before sentence splitting.
//!
//! Rule set version [`RULES_VERSION`]. Each rule is off unless the recipe turns it on; the
//! `earlyberts` recipe turns none on, because the reference fed spaCy the text as published.
//! Rules run in the order of [`RULES`], and each counts the characters it removed or
//! replaced: `control_chars`, `invisible`, `nfc`, `whitespace_runs`, `blank_lines` (each
//! rule's file says what it does).
//!
//! **A new rule** is one entry of [`RULES`] and a file of its own with its pass; recipes
//! (`[text.clean]`), `store.json` and the manifests name it by its `name`. Bump
//! [`RULES_VERSION`] when an existing rule changes what it does: stores made under the old
//! definitions are then made again.

mod blank_lines;
mod control_chars;
mod invisible;
mod nfc;
mod whitespace_runs;

use std::fmt;

use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, MapAccess, Visitor},
    ser::SerializeMap,
};

/// Version of the rules' definitions; stores record it (`made_from.rules_version`) and
/// builds (`stages.store.clean`), so that a changed rule makes them again.
pub const RULES_VERSION: u32 = 1;

/// Rewrites raw corpus text by a fixed set of rules before sentence splitting.
pub trait Cleaner {
    /// Cleans `text` into `out` (cleared first) and returns what each rule changed.
    fn clean(&self, text: &str, out: &mut String) -> CleanCounts;
}

/// One rule: rewrites its input into `out` and returns how many characters it changed.
type Pass = fn(&str, &mut String) -> u64;

/// A cleaning rule: its name in recipes and manifests, and its pass.
pub struct Rule {
    pub name: &'static str,
    pass: Pass,
    /// Whether recipes and manifests name it even when it is off (or changed nothing). The
    /// rules of version 1 are; a rule added later is named only when on, so that every
    /// recipe and build made before it keeps its hash and its bytes.
    named_when_off: bool,
}

/// The rules, in the order they run: the one place a rule is added.
pub const RULES: [Rule; 5] = [
    Rule {
        name: "control_chars",
        pass: control_chars::pass,
        named_when_off: true,
    },
    Rule {
        name: "invisible",
        pass: invisible::pass,
        named_when_off: true,
    },
    Rule {
        name: "nfc",
        pass: nfc::pass,
        named_when_off: true,
    },
    Rule {
        name: "whitespace_runs",
        pass: whitespace_runs::pass,
        named_when_off: true,
    },
    Rule {
        name: "blank_lines",
        pass: blank_lines::pass,
        named_when_off: true,
    },
];

/// The index of the rule named `name`.
fn rule_index(name: &str) -> Option<usize> {
    RULES.iter().position(|r| r.name == name)
}

/// Which rules are on (a recipe's `[text.clean]`: `name = true`; a rule not named is off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanRules {
    on: [bool; RULES.len()],
}

impl CleanRules {
    /// Every rule on.
    pub fn all() -> CleanRules {
        CleanRules {
            on: [true; RULES.len()],
        }
    }

    /// Only the rule named `name` on (none if there is no such rule).
    pub fn only(name: &str) -> CleanRules {
        let mut rules = CleanRules::default();
        if let Some(i) = rule_index(name) {
            rules.on[i] = true;
        }
        rules
    }

    /// The rules named in `names` on, the others off.
    pub fn from_names(names: &[impl AsRef<str>]) -> Result<CleanRules, UnknownRule> {
        let mut rules = CleanRules::default();
        for name in names {
            let name = name.as_ref().trim();
            let i = rule_index(name).ok_or_else(|| UnknownRule { name: name.into() })?;
            rules.on[i] = true;
        }
        Ok(rules)
    }

    /// Whether the rule named `name` is on.
    pub fn is_on(&self, name: &str) -> bool {
        rule_index(name).is_some_and(|i| self.on[i])
    }
}

/// A rule name that is none of [`RULES`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown cleaning rule '{name}' (known: {})", RULES.map(|r| r.name).join(", "))]
pub struct UnknownRule {
    pub name: String,
}

/// Characters each rule of a [`Cleaner`] removed or replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanCounts {
    changed: [u64; RULES.len()],
}

impl CleanCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &CleanCounts) {
        for (sum, n) in self.changed.iter_mut().zip(other.changed) {
            *sum += n;
        }
    }

    /// What the rule named `name` changed (0 for no such rule).
    pub fn of(&self, name: &str) -> u64 {
        rule_index(name).map_or(0, |i| self.changed[i])
    }
}

/// The rule-based cleaner.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextCleaner {
    rules: CleanRules,
}

impl TextCleaner {
    pub fn new(rules: CleanRules) -> TextCleaner {
        TextCleaner { rules }
    }
}

impl Cleaner for TextCleaner {
    fn clean(&self, text: &str, out: &mut String) -> CleanCounts {
        let mut counts = CleanCounts::default();
        out.clear();
        out.push_str(text);
        let mut scratch = String::with_capacity(text.len());
        for (i, rule) in RULES.iter().enumerate() {
            if self.rules.on[i] {
                scratch.clear();
                counts.changed[i] += (rule.pass)(out, &mut scratch);
                std::mem::swap(out, &mut scratch);
            }
        }
        counts
    }
}

/// Serialises one value per rule as a map by name, in [`RULES`] order; a rule that is not
/// `named_when_off` only where `shown(value)`.
fn serialize_by_rule<S: Serializer, T: Serialize + Copy>(
    values: &[T; RULES.len()],
    shown: impl Fn(T) -> bool,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(None)?;
    for (rule, &value) in RULES.iter().zip(values) {
        if rule.named_when_off || shown(value) {
            map.serialize_entry(rule.name, &value)?;
        }
    }
    map.end()
}

/// Reads a map by rule name into one value per rule (default where not named); an unknown
/// name is an error that lists the rules.
fn deserialize_by_rule<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default + Copy>(
    deserializer: D,
) -> Result<[T; RULES.len()], D::Error> {
    struct ByRule<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de> + Default + Copy> Visitor<'de> for ByRule<T> {
        type Value = [T; RULES.len()];
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a map from cleaning rule names")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut values = [T::default(); RULES.len()];
            while let Some(name) = map.next_key::<String>()? {
                let Some(i) = rule_index(&name) else {
                    return Err(de::Error::custom(UnknownRule { name }));
                };
                values[i] = map.next_value()?;
            }
            Ok(values)
        }
    }
    deserializer.deserialize_map(ByRule(std::marker::PhantomData))
}

impl Serialize for CleanRules {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_by_rule(&self.on, |on| on, serializer)
    }
}

impl<'de> Deserialize<'de> for CleanRules {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(CleanRules {
            on: deserialize_by_rule(deserializer)?,
        })
    }
}

impl Serialize for CleanCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_by_rule(&self.changed, |n| n > 0, serializer)
    }
}

impl<'de> Deserialize<'de> for CleanCounts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(CleanCounts {
            changed: deserialize_by_rule(deserializer)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(rules: CleanRules, text: &str) -> (String, CleanCounts) {
        let mut out = String::new();
        let counts = TextCleaner::new(rules).clean(text, &mut out);
        (out, counts)
    }

    #[test]
    fn no_rules_keeps_text_as_published() {
        let text = "a\u{200B}b\r\n  c\u{7}\n\n\n";
        assert_eq!(
            clean(CleanRules::default(), text),
            (text.to_string(), CleanCounts::default())
        );
    }

    #[test]
    fn each_rule_does_one_thing() {
        let cases = [
            (
                "control_chars",
                "a\u{7}b\r\nc\rd\u{85}e\tf",
                "ab\nc\nde\tf",
                4,
            ),
            (
                "invisible",
                "co\u{AD}op\u{200B}erate\u{FEFF}",
                "cooperate",
                3,
            ),
            ("nfc", "Cafe\u{301} caf\u{e9}", "Caf\u{e9} caf\u{e9}", 1),
            ("whitespace_runs", "a  b\t\u{a0}c \nd ", "a b c\nd", 5),
            ("blank_lines", "a\n \n\n\t\nb\n", "a\n\nb\n", 4),
        ];
        assert_eq!(cases.len(), RULES.len(), "a case for every rule");
        for (name, input, cleaned, changed) in cases {
            let (text, counts) = clean(CleanRules::only(name), input);
            assert_eq!(
                (text.as_str(), counts.of(name)),
                (cleaned, changed),
                "{name}"
            );
            let others: u64 = RULES
                .iter()
                .filter(|r| r.name != name)
                .map(|r| counts.of(r.name))
                .sum();
            assert_eq!(others, 0, "{name}");
        }
    }

    #[test]
    fn rules_and_counts_serialise_by_name_in_order() {
        let rules: CleanRules = serde_json::from_str(r#"{"nfc": true}"#).unwrap();
        assert!(rules.is_on("nfc") && !rules.is_on("control_chars"));
        assert_eq!(
            serde_json::to_string(&rules).unwrap(),
            r#"{"control_chars":false,"invisible":false,"nfc":true,"whitespace_runs":false,"blank_lines":false}"#
        );
        let error = serde_json::from_str::<CleanRules>(r#"{"nfkc": true}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown cleaning rule 'nfkc'"),
            "{error}"
        );
        let mut counts = CleanCounts::default();
        counts.add(&clean(CleanRules::all(), "a\u{200B}b  c").1);
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            r#"{"control_chars":0,"invisible":1,"nfc":0,"whitespace_runs":1,"blank_lines":0}"#
        );
        let back: CleanCounts =
            serde_json::from_str(&serde_json::to_string(&counts).unwrap()).unwrap();
        assert_eq!(back, counts);
        assert!(serde_json::from_str::<CleanCounts>(r#"{"nfkc": 1}"#).is_err());
    }
}
