//! [`differences`]: where two records of what an output was made from disagree, leaf by
//! leaf (`inputs[1].sha256`, `clean.nfc`), so that `pipeline build` can say why it makes a
//! store or a build again rather than only that it does.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

/// One field in which two records differ: its path and both values (compact JSON; `none`
/// where a record does not have the field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub field: String,
    pub was: String,
    pub now: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}, now {}", self.field, self.was, self.now)
    }
}

/// The leaves in which `now` differs from `was` (both serialised as JSON), in the order of
/// their paths; empty when the two are the same.
pub fn differences(was: &impl Serialize, now: &impl Serialize) -> Vec<Difference> {
    let was = serde_json::to_value(was).expect("a record serialises");
    let now = serde_json::to_value(now).expect("a record serialises");
    let mut out = Vec::new();
    walk(String::new(), Some(&was), Some(&now), &mut out);
    out
}

/// `it was made with other A: …, now …; B: …, now …`: why an output is not current.
pub fn made_otherwise(changed: &[Difference]) -> String {
    let fields: Vec<String> = changed.iter().map(Difference::to_string).collect();
    format!("it was made with other {}", fields.join("; "))
}

fn walk(path: String, was: Option<&Value>, now: Option<&Value>, out: &mut Vec<Difference>) {
    if was == now {
        return;
    }
    match (was, now) {
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(inner, a.get(key), b.get(key), out);
            }
        }
        (Some(Value::Array(a)), Some(Value::Array(b))) => {
            for i in 0..a.len().max(b.len()) {
                walk(format!("{path}[{i}]"), a.get(i), b.get(i), out);
            }
        }
        _ => out.push(Difference {
            field: path,
            was: was.map_or("none".into(), Value::to_string),
            now: now.map_or("none".into(), Value::to_string),
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn leaves_are_named_by_their_path() {
        let was = json!({"inputs": [{"path": "a", "sha256": "11"}, {"path": "b", "sha256": "22"}],
                         "clean": {"nfc": false}, "spacy": {"max_length": 1}});
        let now = json!({"inputs": [{"path": "a", "sha256": "11"}, {"path": "b", "sha256": "33"},
                                    {"path": "c", "sha256": "44"}],
                         "clean": {"nfc": true}, "rules_version": 2});
        let said: Vec<String> = differences(&was, &now)
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(
            said,
            [
                "clean.nfc: false, now true",
                r#"inputs[1].sha256: "22", now "33""#,
                r#"inputs[2]: none, now {"path":"c","sha256":"44"}"#,
                "rules_version: none, now 2",
                r#"spacy: {"max_length":1}, now none"#,
            ]
        );
        assert!(differences(&was, &was).is_empty());
    }
}
