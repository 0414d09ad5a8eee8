//! `trainer publish RUN_DIR --repo DIR`: a run's checkpoints as a git repository laid out
//! the way the EarlyBERTs / MultiBERTs repositories on the Hugging Face Hub are: one branch
//! per checkpoint (`step10`, …, `step40000`), each holding that step's model files and the
//! model card, and `main` holding the last step. After `git remote add origin
//! https://huggingface.co/USER/NAME && git push --all origin`,
//! `AutoModel.from_pretrained("USER/NAME", revision="step7000")` loads step 7,000.
//!
//! Commits carry a fixed author and the date 2000-01-01, so publishing the same checkpoints
//! twice gives the same commit ids. `*.safetensors` is marked for Git LFS in
//! `.gitattributes` (the Hub requires LFS for large files): with `git lfs install` done
//! beforehand, the weights are committed as LFS objects.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    Error, Result,
    state::{STATE_FILE, TrainingState},
};

/// Files of a checkpoint directory that go into the repository (not the optimizer state).
const MODEL_FILES: [&str; 6] = [
    "config.json",
    "model.safetensors",
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    STATE_FILE,
];

/// The `stepK` checkpoint directories of a run, by step.
pub fn checkpoints(run: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let unreadable = |e| Error::io("read", run, e);
    let entries = fs::read_dir(run).map_err(unreadable)?;
    let mut steps = Vec::new();
    for entry in entries {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        let Some(step) = name
            .to_str()
            .and_then(|n| n.strip_prefix("step"))
            .and_then(|k| k.parse::<u64>().ok())
        else {
            continue;
        };
        if entry.path().join("model.safetensors").is_file() {
            steps.push((step, entry.path()));
        }
    }
    steps.sort();
    if steps.is_empty() {
        return Err(Error::NoCheckpoints {
            path: run.to_path_buf(),
        });
    }
    Ok(steps)
}

fn git(repo: &Path, args: &[&str]) -> Result<String> {
    let failed = |reason: String| Error::Git {
        args: args.join(" "),
        repo: repo.to_path_buf(),
        reason,
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "-c",
            "user.name=earlyberts",
            "-c",
            "user.email=earlyberts@localhost",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2000-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2000-01-01T00:00:00Z")
        .output()
        .map_err(|e| failed(format!("cannot run git ({e}): is it installed?")))?;
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().into()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The model card (README.md with Hub metadata).
pub fn model_card(name: &str, steps: &[u64], state: Option<&TrainingState>) -> String {
    let mut card = String::from(
        "---\nlanguage: en\nlicense: apache-2.0\nlibrary_name: transformers\ntags:\n- bert\n- earlyberts\n- pretraining\ndatasets:\n- wikipedia\n- bookcorpus\n---\n\n",
    );
    card += &format!(
        "# {name}\n\nBERT-style masked-language-model and next-sentence-prediction checkpoints \
         trained with [earlyberts](https://github.com/earlyberts) on English Wikipedia \
         (20220301.en) and BookCorpus, following the EarlyBERTs / MultiBERTs procedure.\n\n"
    );
    if let Some(s) = state {
        card += &format!(
            "| | |\n|---|---|\n| architecture | {} layers, hidden {}, {} heads |\n\
             | data | recipe `{}`, seed {}, {} examples, build root hash `{}` |\n\
             | batch | {} sequences per step |\n\
             | optimiser | AdamW (β {}/{}, ε {}, weight decay {}), peak lr {} after {} warm-up steps, linear decay to {} at step {} |\n\n",
            s.model.num_hidden_layers,
            s.model.hidden_size,
            s.model.num_attention_heads,
            s.build.recipe,
            s.build.seed,
            s.build.examples,
            s.build.root_hash,
            s.train.batch_size,
            s.train.beta_1,
            s.train.beta_2,
            s.train.epsilon,
            s.train.weight_decay,
            s.train.schedule.peak,
            s.train.schedule.warmup,
            s.train.schedule.end,
            s.train.schedule.total,
        );
    }
    card += "## Checkpoints\n\nEach checkpoint is a branch named after its step:\n\n";
    card += &steps
        .iter()
        .map(|s| format!("`step{s}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let example = steps[steps.len() / 2];
    card += &format!(
        ".\n\n`main` holds step {}.\n\n## Use\n\n```python\nfrom transformers import AutoModel, AutoTokenizer\n\n\
         tokenizer = AutoTokenizer.from_pretrained(\"USER/{name}\", revision=\"step{example}\")\n\
         model = AutoModel.from_pretrained(\"USER/{name}\", revision=\"step{example}\")\n```\n\n\
         `BertForPreTraining` loads both pre-training heads. Dropout is set to 0.1 in \
         `config.json` for fine-tuning; pre-training ran with the dropout recorded in \
         `trainer_state.json`.\n",
        steps[steps.len() - 1]
    );
    card
}

/// Lays out the checkpoints of `run` as a new git repository at `repo`.
pub fn publish(run: &Path, repo: &Path) -> Result<Vec<u64>> {
    let checkpoints = checkpoints(run)?;
    let unwritable = |e| Error::io("write into", repo, e);
    if repo.exists() && fs::read_dir(repo).map_err(unwritable)?.next().is_some() {
        return Err(Error::NotEmpty {
            path: repo.to_path_buf(),
        });
    }
    fs::create_dir_all(repo).map_err(|e| Error::io("create", repo, e))?;
    let steps: Vec<u64> = checkpoints.iter().map(|(s, _)| *s).collect();
    let last = &checkpoints[checkpoints.len() - 1].1;
    let state = fs::read_to_string(last.join(STATE_FILE))
        .ok()
        .and_then(|t| serde_json::from_str::<TrainingState>(&t).ok());
    let name = run
        .canonicalize()
        .map_err(|e| Error::io("read", run, e))?
        .file_name()
        .map(|n| format!("earlyberts-{}", n.to_string_lossy()))
        .unwrap_or_else(|| "earlyberts".into());
    git(repo, &["init", "-q"])?;
    fs::write(
        repo.join("README.md"),
        model_card(&name, &steps, state.as_ref()),
    )
    .map_err(unwritable)?;
    fs::write(
        repo.join(".gitattributes"),
        "*.safetensors filter=lfs diff=lfs merge=lfs -text\n*.bin filter=lfs diff=lfs merge=lfs -text\n",
    )
    .map_err(unwritable)?;
    git(repo, &["add", "README.md", ".gitattributes"])?;
    git(repo, &["commit", "-q", "-m", "Model card"])?;
    let base = git(repo, &["rev-parse", "HEAD"])?.trim().to_string();
    for (step, dir) in &checkpoints {
        git(
            repo,
            &["checkout", "-q", "-B", &format!("step{step}"), &base],
        )?;
        copy_model_files(dir, repo)?;
        git(repo, &["add", "--all"])?;
        git(
            repo,
            &["commit", "-q", "-m", &format!("Checkpoint at step {step}")],
        )?;
    }
    let last_branch = format!("step{}", steps[steps.len() - 1]);
    git(repo, &["checkout", "-q", "-B", "main", &last_branch])?;
    Ok(steps)
}

fn copy_model_files(from: &Path, repo: &Path) -> Result<()> {
    for name in MODEL_FILES {
        let src = from.join(name);
        if src.exists() {
            fs::copy(&src, repo.join(name)).map_err(|e| Error::io("copy", &src, e))?;
        } else if name != STATE_FILE {
            return Err(Error::Incomplete { path: src });
        }
    }
    Ok(())
}
