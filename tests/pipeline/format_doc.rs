//! The Python reader in docs/FORMAT.md, run on a real shard, prints exactly what the Rust
//! reader prints. Skipped (with a message) where python3 with numpy and zstandard is
//! missing, unless EARLYBERTS_REQUIRE_PYTHON=1 (set by CI) makes that a failure.

use std::{fs, path::Path, process::Command};

use serde_json::Value;

use crate::util::{Fixture, pipeline_run, run};

fn python_snippet() -> String {
    let doc = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/FORMAT.md"))
        .unwrap();
    let after = doc
        .split("<!-- python-reader -->")
        .nth(1)
        .expect("FORMAT.md marks its Python reader");
    let code = after
        .split("```python\n")
        .nth(1)
        .expect("a python block follows the marker");
    code.split("\n```").next().unwrap().to_string()
}

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import numpy, zstandard"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("EARLYBERTS_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "EARLYBERTS_REQUIRE_PYTHON=1 but python3 with numpy and zstandard is not available"
        );
        eprintln!("skipping: python3 with numpy and zstandard is not available");
    }
    ok
}

#[test]
fn python_reader_in_format_doc_matches_rust() {
    if !python_ready() {
        return;
    }
    let fx = Fixture::new();
    let script = fx.root.path().join("read_shard.py");
    fs::write(&script, python_snippet()).unwrap();
    for shard in [1, 3] {
        let py = run(Command::new("python3").arg(&script).arg(fx.shard(shard))).expect_code(0);
        let (start, end) = (32 * shard, (32 * shard + 32).min(100));
        let rust = pipeline_run([
            "inspect".as_ref(),
            fx.build().as_os_str(),
            "--examples".as_ref(),
            format!("{start}..{end}").as_ref(),
            "--format".as_ref(),
            "jsonl".as_ref(),
        ])
        .expect_code(0);
        let parse = |text: &str| {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        };
        let (py_examples, rust_examples) = (parse(&py.stdout), parse(&rust.stdout));
        assert_eq!(py_examples.len(), end - start);
        assert_eq!(py_examples, rust_examples);
    }
}
