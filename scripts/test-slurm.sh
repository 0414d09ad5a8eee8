#!/bin/bash
# The Slurm scripts on a real Slurm (slurm-wlm and munge from Debian): a one-node cluster is
# started in a state directory of the test's own, and two phases run on it.
#
# The spaCy stage: the parts run as a 1-based job array with two faults (a part's `pipeline`
# killed with SIGKILL mid-run and started again by the script; a task cancelled before it
# ran, so the assembly refuses and its part is re-run by hand), the store is assembled, and
# every file is compared with a one-process `prepare`.
#
# Training (scripts/slurm/train.sbatch, submit-train.sh): two seeds of `tiny` on the CPU as
# one array, the node declaring two GPUs (GRES), one for each task; seed 0 is sent SIGTERM
# mid-run (`scancel --batch --signal=TERM`, as a time limit's --signal or a preemption
# sends it), saves and requeues itself; seed 1's trainer is killed with SIGKILL mid-run and
# the seed submitted again. Both must end with checkpoints and a log identical to an
# uninterrupted run of the same seed (all but the wall-clock fields), each step logged once.
#
# What it checks are facts, not messages: jobs' states, restarts and exit codes (scontrol),
# the JSON of `pipeline prepare --parts-status`, the files. Only the daemons this test started
# are stopped, by their process ids.
#
#   scripts/test-slurm.sh            (make test-slurm; root, slurm-wlm + munge, spaCy)
#
# Skips, saying why, where Slurm is not installed, where it is neither root nor allowed
# sudo, or where the machine refuses to run the daemons; the spaCy phase also where spaCy is
# not installed. With EARLYBERTS_REQUIRE_SLURM=1 (CI) / EARLYBERTS_REQUIRE_SPACY=1 each of
# those is a failure, the daemons' logs shown. Environment: PIPELINE [target/debug/pipeline],
# TRAINER [target/debug/trainer], EARLYBERTS_SPACY_MODEL [en_core_web_sm] (a mirror is run
# with --allow-spacy-version), EARLYBERTS_PYTHON [python3], KEEP=1 keeps the state directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PIPELINE=$(realpath "${PIPELINE:-$ROOT/target/debug/pipeline}")
TRAINER=$(realpath "${TRAINER:-$ROOT/target/debug/trainer}")
MODEL=${EARLYBERTS_SPACY_MODEL:-en_core_web_sm}
PY=${EARLYBERTS_PYTHON:-python3}

skip() {
  echo "test-slurm: SKIPPED: $*"
  exit 0
}
need() {
  if [ "${!1:-}" = 1 ]; then
    echo "test-slurm: FAILED: $2 ($1=1)" >&2
    exit 1
  fi
  skip "$2"
}
fail() {
  echo "test-slurm: FAILED: $*" >&2
  exit 1
}

for tool in munged slurmctld slurmd sbatch squeue scontrol scancel; do
  command -v "$tool" >/dev/null ||
    need EARLYBERTS_REQUIRE_SLURM "no '$tool': apt install slurm-wlm munge"
done
SPACY=1
if ! "$PY" -c "import spacy, $MODEL" 2>/dev/null; then
  [ "${EARLYBERTS_REQUIRE_SPACY:-}" != 1 ] ||
    fail "'$PY' cannot load spaCy's $MODEL (EARLYBERTS_REQUIRE_SPACY=1)"
  SPACY=0
fi
if [ "$(id -u)" != 0 ]; then
  if sudo -n true 2>/dev/null; then
    exec sudo -n --preserve-env env "PATH=$PATH" "$0" "$@"
  fi
  need EARLYBERTS_REQUIRE_SLURM "starting Slurm's daemons needs root or sudo"
fi
[ -x "$PIPELINE" ] || fail "no pipeline binary at '$PIPELINE' (cargo build --bin pipeline)"
[ -x "$TRAINER" ] || fail "no trainer binary at '$TRAINER' (cargo build --bin trainer)"

STATE=$(mktemp -d "${TMPDIR:-/tmp}/earlyberts-slurm.XXXXXX")
STARTED=()
stop_daemons() {
  local pid
  for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  if [ "${KEEP:-}" = 1 ]; then echo "test-slurm: state kept in $STATE"; else rm -rf "$STATE"; fi
}
trap stop_daemons EXIT

# The cluster: munge with a key of its own, and one node declared as the small node the
# scripts' defaults are made for (4 CPUs, 8 GB; `config_overrides` lets a 2-core machine be
# it: the parts then run their 4 workers on fewer cores, as slowly as that is).
start_cluster() {
  mkdir -p "$STATE/ctld" "$STATE/spool"
  head -c 1024 /dev/urandom >"$STATE/munge.key"
  chmod 600 "$STATE/munge.key"
  munged --foreground --force --key-file="$STATE/munge.key" --socket="$STATE/munge.sock" \
    --pid-file="$STATE/munged.pid" --seed-file="$STATE/munged.seed" \
    --log-file="$STATE/munged.log" >"$STATE/munged.out" 2>&1 &
  STARTED+=($!)
  local node ports
  node=$(hostname -s)
  ports=$("$PY" -c 'import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
  cat >"$STATE/slurm.conf" <<EOF
ClusterName=earlyberts-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${ports% *}
SlurmdPort=${ports#* }
AuthType=auth/munge
AuthInfo=socket=$STATE/munge.sock
CredType=cred/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MinJobAge=3600
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName=$node NodeAddr=127.0.0.1 CPUs=4 RealMemory=8000 Gres=gpu:2 State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
  # Two GPUs the node declares but does not have, their devices /dev/null and /dev/zero
  # (Slurm 22.05 drops a GPU without a device file): the training tasks ask for one each as
  # on a cluster, and train on the CPU.
  printf 'NodeName=%s Name=gpu File=%s\n' "$node" /dev/null "$node" /dev/zero >"$STATE/gres.conf"
  export SLURM_CONF=$STATE/slurm.conf
  for _ in $(seq 50); do [ -S "$STATE/munge.sock" ] && break; sleep 0.1; done
  slurmctld -D -f "$SLURM_CONF" >"$STATE/slurmctld.out" 2>&1 &
  STARTED+=($!)
  slurmd -D -f "$SLURM_CONF" >"$STATE/slurmd.out" 2>&1 &
  STARTED+=($!)
  for _ in $(seq 120); do
    [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && return 0
    sleep 0.5
  done
  echo "--- the daemons' logs"
  tail -n 5 "$STATE"/*.out "$STATE"/*.log 2>/dev/null || true
  need EARLYBERTS_REQUIRE_SLURM "this machine did not run Slurm's daemons (no idle node after 60 s; logs above)"
}

# Field $2 of job $1 (JobState, ExitCode: code:signal) as scontrol shows it; an array's
# tasks' values, each once.
field() {
  scontrol show job "$1" 2>/dev/null | tr -s ' ' '\n' | sed -n "s/^$2=//p" | sort -u
}

# The state of job $1 once it has ended (within 600 s).
ended() {
  local state
  for _ in $(seq 1200); do
    state=$(field "$1" JobState)
    case $state in "" | *PENDING* | *RUNNING* | *CONFIGURING* | *COMPLETING* | *REQUEUE*) ;; *)
      echo "$state"
      return
      ;;
    esac
    sleep 0.5
  done
  fail "job $1 did not end within 600 s"
}

# 2,600 short articles: three chunks of the reader (1,024 each), one per part.
make_inputs() {
  mkdir -p "$STATE/corpus"
  "$PY" - "$ROOT/tests/fixtures/corpus/wikipedia.txt" "$STATE/corpus/wikipedia.txt" <<'EOF'
import sys
paragraphs = [l for l in open(sys.argv[1], encoding="utf-8").read().splitlines()
              if not l.startswith("###") and len(l) > 60]
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for i in range(2600):
        out.write(f"### {i} Article {i}\n{paragraphs[i % len(paragraphs)]}\n\n")
EOF
  cp "$ROOT/tests/fixtures/corpus/bookcorpus.txt" "$STATE/corpus/"
  "$PIPELINE" --quiet fixture --corpus "$STATE/corpus" --out "$STATE/inputs" >/dev/null
}

# The spaCy stage's parts, faults, re-run and assembly, against a one-process store.
spacy_phase() {
  make_inputs
  export PIPELINE WIKI="$STATE/inputs/wikipedia/*.parquet"
  export BOOKS="$STATE/inputs/bookcorpus/bookcorpus.tar.bz2" LOGS="$STATE/logs"
  export SPACY_FLAGS="--python $(command -v "$PY") --spacy-model $MODEL"
  [ "$MODEL" = en_core_web_sm ] || SPACY_FLAGS+=" --allow-spacy-version"

  # shellcheck disable=SC2086 # SPACY_FLAGS holds several flags
  "$PIPELINE" --quiet -j 2 prepare --recipe "$ROOT/manifests/recipes/earlyberts.toml" \
    --out "$STATE/one" --wiki "$WIKI" --books "$BOOKS" $SPACY_FLAGS 2>/dev/null

  # Where the spaCy work of the store `parts` stands, as `pipeline prepare --parts-status`
  # reports it (JSON); fails unless it exits $1 (0: every chunk split, 1: chunks missing).
  parts_status() {
    local code=0 json
    json=$("$PIPELINE" --quiet prepare --recipe "$ROOT/manifests/recipes/earlyberts.toml" \
      --out "$STATE/parts" --wiki "$WIKI" --books "$BOOKS" --parts-status 2>/dev/null) || code=$?
    [ "$code" = "$1" ] || fail "--parts-status exited $code, not $1: $json"
    echo "$json"
  }
  # Fails unless the JSON $1 makes the Python expression $2 (over `s`, the object) true.
  expect() {
    "$PY" -c 'import json, sys
s = json.loads(sys.argv[1])
sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" || fail "not $2: $1"
  }

  # The parts as a 1-based array (tasks 1, 2, 3 are parts 1, 2, 0), with the scripts' own
  # resources, submitted from another directory. The jobs are found by their names: this
  # cluster runs nothing else.
  (cd "$STATE" && STORE=parts ARRAY=1-3 PARTS=3 "$ROOT/scripts/slurm/submit-spacy.sh") ||
    fail "submit-spacy.sh exited $?"
  parts=$(squeue -h --states=all --name=earlyberts-spacy -o %F | sort -u)
  assembly=$(squeue -h --states=all --name=earlyberts-assemble -o %i)
  [[ $parts =~ ^[0-9]+$ && $assembly =~ ^[0-9]+$ ]] ||
    fail "submit-spacy.sh did not submit one array and one assembly: '$parts', '$assembly'"
  # Fault 1: task 3 (part 0) is cancelled before it runs (one part at a time fits the node).
  scancel "${parts}_3"
  # Fault 2: part 1's `pipeline` is killed with SIGKILL once its spaCy workers run; they must
  # go with it.
  ours="--out $STATE/parts .*--part"
  workers=""
  for _ in $(seq 1200); do
    victim=$(pgrep -f -- "$ours 1/3" | head -n 1 || true)
    [ -n "$victim" ] && workers=$(pgrep -P "$victim" || true)
    [ -n "$workers" ] && break
    sleep 0.1
  done
  [ -n "$workers" ] || fail "part 1 never started its spaCy workers"
  kill -9 "$victim" || fail "part 1 ended before it could be killed"
  for _ in $(seq 50); do
    alive=$(for w in $workers; do [ -d "/proc/$w" ] && ! grep -q '^State:.*Z' "/proc/$w/status" && echo "$w"; done || true)
    [ -z "$alive" ] && break
    sleep 0.1
  done
  [ -z "$alive" ] || fail "the killed part's spaCy workers ($alive) outlived it by 5 s"

  # The assembly refuses with part 0 missing: exit status 1 (not 2: the status said so before
  # `prepare` could refuse, or start spaCy's work), and no store.
  state=$(ended "$assembly")
  log=$LOGS/earlyberts-assemble-$assembly.out
  [ "$state,$(field "$assembly" ExitCode)" = FAILED,1:0 ] ||
    fail "the assembly with part 0 missing ended $state, $(field "$assembly" ExitCode), not FAILED, 1:0: $(cat "$log")"
  [ ! -e "$STATE/parts/store.json" ] || fail "a store was assembled without part 0"
  # Part 1 completed though its `pipeline` was killed: the script started it again (without
  # that its task ends 137:0, FAILED). Task 3, cancelled while pending, never ran.
  [ "$(field "${parts}_1" JobState),$(field "${parts}_1" ExitCode)" = COMPLETED,0:0 ] ||
    fail "part 1 was not started again after SIGKILL: $(cat "$LOGS/earlyberts-spacy-${parts}_1.out")"
  ran=$(squeue -h --states=all --job="$parts" -o %K | sort | xargs)
  [ "$ran" = "1 2" ] || fail "the array's tasks $ran ran, not 1 2 (task 3 was cancelled)"
  # What is missing is part 0's chunk, 1 of 3, with a cost, in the parts' setup.
  status=$(parts_status 1)
  expect "$status" 's["parts"] == 3 and s["chunks"] == 3 and s["chunks_missing"] == 1'
  expect "$status" 's["parts_missing"] == [0] and s["core_hours_missing"] > 0 and not s["complete"]'
  expect "$status" "s['setup']['loaded'] == '$MODEL'"
  echo "test-slurm: faults seen: the assembly refused (exit 1; --parts-status: 1 of 3 chunks missing, part 0's); part 1 killed, its workers gone with it, started again and completed"

  # Part 0 re-run by hand as the single task 3, with sbatch and a relative path from another
  # directory (the script finds its checkout through Slurm), then the assembly after it.
  mkdir -p "$STATE/elsewhere"
  script=$(realpath --relative-to="$STATE/elsewhere" "$ROOT/scripts/slurm/prepare-spacy.sbatch")
  rerun=$(cd "$STATE/elsewhere" && STORE=../parts PARTS=3 sbatch --parsable --array=3 \
    --output="$LOGS/rerun-%A_%a.out" "$script")
  again=$(cd "$STATE/elsewhere" && STORE=../parts sbatch --parsable \
    --dependency="afterok:${rerun%%;*}" --output="$LOGS/assemble-again-%j.out" "$script")
  state=$(ended "${again%%;*}")
  [ "$state,$(field "${again%%;*}" ExitCode)" = COMPLETED,0:0 ] ||
    fail "the assembly after the re-run ended $state: $(cat "$LOGS"/rerun-* "$LOGS"/assemble-again-*)"
  status=$(parts_status 0)
  expect "$status" 's["chunks_missing"] == 0 and s["parts_missing"] == [] and s["complete"]'

  # Every file as the one-process run made it, but the parts' own record.
  files() { (cd "$1" && find . -type f ! -path ./rows/parts.json -print0 | sort -z | xargs -0 sha256sum); }
  diff <(files "$STATE/one") <(files "$STATE/parts") || fail "the assembled store differs from the one-process store"
  [ -z "$(pgrep -f -- "$ours [0-9]/3" || true)" ] || fail "a part's pipeline is still running"
  echo "test-slurm: passed: $(files "$STATE/one" | wc -l) files identical to the one-process store"
}

# Training: two seeds of `tiny` on the CPU, STEPS steps each, a checkpoint every 10.
STEPS=120
train_phase() {
  local recipe=$ROOT/manifests/recipes/earlyberts-keyed.toml
  "$PIPELINE" --quiet fixture --out "$STATE/train-inputs" >/dev/null
  for seed in 0 1; do
    "$PIPELINE" --quiet build --recipe "$recipe" --seed "$seed" --store "$STATE/train-store" \
      --out "$STATE/data/builds/wikibooks-earlyberts-keyed-seed$seed" \
      --wiki "$STATE/train-inputs/wikipedia/*.parquet" \
      --books "$STATE/train-inputs/bookcorpus/bookcorpus.tar.bz2" >/dev/null 2>&1 ||
      fail "the build of seed $seed failed"
  done
  export TRAINER DATA=$STATE/data RECIPE=$recipe DEVICE=cpu GRES=gpu:1
  export INIT_FLAGS="--init random --config tiny"
  TRAIN_FLAGS="--batch-size 8 --override-batch-size --micro-batch 4 --lr 1e-3 --warmup 10"
  export TRAIN_FLAGS="$TRAIN_FLAGS --max-steps $STEPS --checkpoints $(seq -s, 10 10 "$STEPS")"
  # The uninterrupted runs, one after another on this machine (`make train`); run again,
  # it has nothing left to do.
  local straight=(make --no-print-directory -C "$ROOT" train SEEDS="0 1" BUILD_TRAINER=true
    TRAINER="$TRAINER" DATA="$DATA" RECIPE="$recipe" RUNS="$STATE/straight" DEVICE=cpu
    INIT_FLAGS="$INIT_FLAGS" TRAIN_FLAGS="$TRAIN_FLAGS")
  "${straight[@]}" >"$STATE/straight.out" 2>&1 || fail "make train failed: $(cat "$STATE/straight.out")"
  "${straight[@]}" 2>&1 | grep -c "already at step $STEPS (--max-steps $STEPS): nothing to do" |
    grep -qx 2 ||
    fail "make train run again did not find both seeds done"
  refusals

  # The array, from another directory, the scripts' resources cut to the test node's.
  mkdir -p "$STATE/submit"
  (cd "$STATE/submit" && RUNS=runs LOGS=logs SEEDS=0-1 \
    "$ROOT/scripts/slurm/submit-train.sh" --cpus-per-task=1 --mem=1G) ||
    fail "submit-train.sh exited $?"
  local job again state term kill runs=$STATE/submit/runs logs=$STATE/submit/logs
  job=$(squeue -h --states=all --name=earlyberts-train -o %F | sort -u)
  [[ $job =~ ^[0-9]+$ ]] || fail "submit-train.sh did not submit one array: '$job'"
  [[ $(field "${job}_0" TresPerNode) == *gpu:1 ]] ||
    fail "the tasks did not ask for the GPU: '$(field "${job}_0" TresPerNode)'"
  logged "$runs/seed0" 1
  logged "$runs/seed1" 1
  # SIGTERM goes to the task whose own job id is the array's (requeueing that id would
  # requeue the whole array), SIGKILL to the other.
  term=$(squeue -h --states=all --job="$job" -o "%A %K" | awk -v j="$job" '$1 == j {print $2}')
  [[ $term =~ ^[01]$ ]] || fail "no task of array $job has its id: '$term'"
  kill=$((1 - term))
  # The one: SIGTERM to the batch script after step 15; it must save, requeue and resume.
  logged "$runs/seed$term" 15
  scancel --batch --signal=TERM "${job}_$term"
  # The other: its trainer killed with SIGKILL after step 25.
  logged "$runs/seed$kill" 25
  pkill -9 -f -- "seed$kill --out $runs |--resume $runs/seed$kill " ||
    fail "seed $kill's trainer was not running to be killed"
  # Requeued, a task waits Slurm's requeue delay (minutes) before it may start: waived here,
  # a few seconds after the requeue (a launch in the same second is refused).
  for _ in $(seq 600); do
    [ "$(field "${job}_$term" Restarts),$(field "${job}_$term" JobState)" = 1,PENDING ] && break
    sleep 0.1
  done
  sleep 2
  scontrol update JobId="${job}_$term" StartTime=now ||
    fail "seed $term was not requeued after SIGTERM: $(field "${job}_$term" JobState)"
  state=$(ended "${job}_$kill")
  [ "$state,$(field "${job}_$kill" ExitCode),$(field "${job}_$kill" Restarts)" = FAILED,137:0,0 ] ||
    fail "seed $kill after SIGKILL ended $state, $(field "${job}_$kill" ExitCode), restarted $(field "${job}_$kill" Restarts) times, not FAILED, 137:0, 0"
  state=$(ended "${job}_$term")
  [ "$state" = COMPLETED ] || fail "seed $term ended $state: $(cat "$logs/earlyberts-train-seed$term.out")"
  [ "$(field "${job}_$term" Restarts)" = 1 ] ||
    fail "seed $term was not requeued once: Restarts=$(field "${job}_$term" Restarts)"
  grep -q "stopped on SIGTERM (trainer exit 130), requeued to resume" "$logs/earlyberts-train-seed$term.out" ||
    fail "seed $term's log does not say it saved and requeued: $(cat "$logs/earlyberts-train-seed$term.out")"
  # The killed seed submitted again: it resumes from its newest checkpoint.
  (cd "$STATE/submit" && RUNS=runs LOGS=logs SEEDS=$kill \
    "$ROOT/scripts/slurm/submit-train.sh" --cpus-per-task=1 --mem=1G >/dev/null) ||
    fail "submit-train.sh for seed $kill again exited $?"
  again=$(squeue -h --states=all --name=earlyberts-train -o %F | sort -u | grep -vx "$job")
  state=$(ended "${again}_$kill")
  [ "$state" = COMPLETED ] || fail "seed $kill submitted again ended $state: $(cat "$logs/earlyberts-train-seed$kill.out")"
  grep -q "seed $kill resumes from its newest checkpoint" "$logs/earlyberts-train-seed$kill.out" ||
    fail "seed $kill did not resume: $(cat "$logs/earlyberts-train-seed$kill.out")"
  cancelled
  for seed in 0 1; do same_run "$STATE/straight/seed$seed" "$runs/seed$seed"; done
  echo "test-slurm: training passed: seed $term stopped by SIGTERM, saved, requeued and resumed; seed $kill killed with SIGKILL and submitted again; both equal to uninterrupted runs; a task cancelled outright stayed cancelled"
}

# A task cancelled outright (plain `scancel`) saves, but is not requeued.
cancelled() {
  local job state
  (cd "$STATE/submit" && RUNS=cancelled LOGS=logs SEEDS=0 \
    "$ROOT/scripts/slurm/submit-train.sh" --cpus-per-task=1 --mem=1G --job-name=earlyberts-cancelled \
    >/dev/null) || fail "submit-train.sh for the cancelled task exited $?"
  job=$(squeue -h --states=all --name=earlyberts-cancelled -o %F | sort -u)
  logged "$STATE/submit/cancelled/seed0" 5
  scancel "$job"
  state=$(ended "${job}_0")
  [ "$state,$(field "${job}_0" Restarts)" = CANCELLED,0 ] ||
    fail "a task cancelled outright ended $state, restarted $(field "${job}_0" Restarts) times: $(cat "$STATE/submit/logs/earlyberts-cancelled-seed0.out")"
}

# Waits until run $1's log has $2 lines.
logged() {
  for _ in $(seq 2400); do
    [ "$(cat "$1/log.jsonl" 2>/dev/null | wc -l)" -ge "$2" ] && return
    sleep 0.05
  done
  fail "'$1' never logged $2 steps"
}

# Run $2 has the checkpoints and log of run $1: the weights and optimizer state byte for
# byte; the training state and each log line but their wall-clock fields; each step once.
same_run() {
  local step file
  for step in $(seq 10 10 "$STEPS"); do
    for file in model.safetensors optimizer.bin config.json vocab.txt; do
      cmp -s "$1/step$step/$file" "$2/step$step/$file" ||
        fail "step$step/$file differs between '$1' and '$2'"
    done
  done
  "$PY" -c '
import json, sys
a, b, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
clock = {"elapsed_s", "examples_per_s", "tokens_per_s"}
def lines(run):
    return [{k: v for k, v in json.loads(l).items() if k not in clock}
            for l in open(run + "/log.jsonl")]
la, lb = lines(a), lines(b)
assert [l["step"] for l in lb] == list(range(1, steps + 1)), [l["step"] for l in lb]
assert la == lb, next((x, y) for x, y in zip(la, lb) if x != y)
for step in range(10, steps + 1, 10):
    sa, sb = (json.load(open(f"{r}/step{step}/trainer_state.json")) for r in (a, b))
    sa.pop("elapsed_s"), sb.pop("elapsed_s")
    assert sa == sb, step
' "$1" "$2" "$STEPS" || fail "'$2' differs from the uninterrupted '$1' (above)"
}

# A seed without its build is refused before anything is queued, and a build that does not
# verify by the trainer, each in one line.
refusals() {
  local out code=0 damaged=$DATA/builds/wikibooks-earlyberts-keyed-seed5
  out=$(cd "$STATE" && SEEDS=0,7 "$ROOT/scripts/slurm/submit-train.sh" 2>&1) || code=$?
  [ "$code" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && [[ $out == *"seed 7 has no build"* ]] ||
    fail "submit-train.sh with seed 7 unbuilt: exit $code, '$out'"
  cp -r "$DATA/builds/wikibooks-earlyberts-keyed-seed0" "$damaged"
  printf '\377' | dd of="$damaged/shards/000000.ebs.zst" bs=1 seek=100 conv=notrunc 2>/dev/null
  code=0
  out=$(RUNS=$STATE/refused "$ROOT/scripts/train-seed.sh" 5 2>&1 >/dev/null) || code=$?
  [ "$code" = 2 ] && [ "$(wc -l <<<"$out")" = 1 ] && [[ $out == *"does not verify"* ]] ||
    fail "a damaged build: exit $code, '$out'"
  rm -rf "$damaged"
}

start_cluster
echo "test-slurm: a one-node cluster (4 CPUs and 2 GPUs declared, $(nproc) CPUs here) in $STATE"
if [ "$SPACY" = 1 ]; then
  spacy_phase
else
  echo "test-slurm: the spaCy phase SKIPPED: '$PY' cannot load spaCy's $MODEL"
fi
train_phase
