#!/usr/bin/env bash
# `synclab train` from the command line: a short run that must learn, and errors that exit
# non-zero with one line naming the problem. Usage: cli_train_test.sh SYNCLAB_BINARY
set -euo pipefail
bin=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error NEEDLE ARGS...: non-zero exit, exactly one stderr line, containing NEEDLE.
expect_error() {
  local needle=$1; shift
  if "$bin" "$@" >"$work/out" 2>"$work/err"; then fail "synclab $* succeeded"; fi
  [ "$(wc -l <"$work/err")" -eq 1 ] || { cat "$work/err" >&2; fail "synclab $*: expected one line on stderr"; }
  grep -qF -- "$needle" "$work/err" || { cat "$work/err" >&2; fail "synclab $*: expected '$needle'"; }
}

"$bin" train --help | grep -q -- "--set" || fail "train --help does not document --set"

cat >"$work/bad.yaml" <<'YAML'
model: softmax
cluster: {link: {bandwith: 10Gbps}}
YAML
expect_error "cluster.link.bandwith: unknown key" train "$work/bad.yaml"
expect_error "missing CONFIG" train
expect_error "no such config file" train "$work/absent.yaml"
expect_error "data.batch" train "$work/bad.yaml" --set cluster.link={} --set data.batch=0
expect_error "unrecognised option" train "$work/bad.yaml" --frobnicate
expect_error "no such file" train "$work/bad.yaml" --set cluster.link={} --set data.dataset=mnist --set data.dir="$work"
printf '# nothing but a comment\n\n' >"$work/empty.yaml"
expect_error "the config is empty" train "$work/empty.yaml"
printf 'model: softmax\ntrain: {seed: 1}\nmodel: mlp\n' >"$work/dup.yaml"
expect_error "model: given twice, on line 1 and line 3" train "$work/dup.yaml"
# A relative data.dir means the config's folder, whatever the working directory; --set's
# means the working directory.
mkdir -p "$work/cfg"
printf 'model: softmax\ndata: {dataset: mnist, dir: idx}\n' >"$work/cfg/rel.yaml"
(cd / && expect_error "$work/cfg/idx: no such directory" train "$work/cfg/rel.yaml")
(cd "$work" && expect_error "$work/other: no such directory" train "$work/cfg/rel.yaml" --set data.dir=other)

if [ -d /usr/share/datasets/fashion-mnist ]; then
  data="{dataset: fashion-mnist, batch: 50, train_limit: 6000, test_limit: 1000}"
else
  data="{dataset: synthetic, batch: 50, synthetic_train: 3000, synthetic_test: 500}"
fi
cat >"$work/ok.yaml" <<YAML
model: softmax
data: $data
train: {optimizer: {name: sgd, lr: 0.2}, stop: {updates: 200}, eval_every: 50}
YAML
"$bin" train "$work/ok.yaml" --set train.stop.updates=250 --out "$work/run" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; fail "train run failed"; }
grep -qx "$work/run" "$work/out" || fail "train does not print its run directory"
for f in config.yaml summary.json updates.csv evals.csv; do [ -s "$work/run/$f" ] || fail "missing $f"; done
[ "$(head -1 "$work/run/updates.csv")" = "time_s,update,worker,staleness,loss" ] || fail "updates.csv header"
[ "$(head -1 "$work/run/evals.csv")" = "time_s,update,samples,test_loss,test_accuracy" ] || fail "evals.csv header"
[ "$(wc -l <"$work/run/updates.csv")" -eq 251 ] || fail "updates.csv should hold 250 rows (--set applied)"
grep -q '"backend": "train"' "$work/run/summary.json" || fail "summary backend"
acc=$(sed -n 's/.*"final_test_accuracy": \([0-9.e-]*\).*/\1/p' "$work/run/summary.json")
awk -v a="$acc" 'BEGIN { exit !(a > 0.6) }' || fail "final test accuracy $acc is not well above chance"
grep -q "updates: 250" "$work/run/config.yaml" || fail "config.yaml is not the resolved config"

# A loss that becomes NaN/inf ends the run as diverged, with a summary and a failing exit.
if "$bin" train "$work/ok.yaml" --set train.optimizer.lr=1e300 --out "$work/div" >"$work/out" 2>"$work/err"; then
  fail "a diverged run exited 0"
fi
grep -q "diverged: the training loss became" "$work/err" || { cat "$work/err" >&2; fail "no divergence message"; }
grep -q '"stop_reason": "diverged"' "$work/div/summary.json" || fail "summary.json does not say diverged"
echo "ok: accuracy $acc"
