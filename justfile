# eventlake task runner. `just` lists the recipes; `just test` runs everything CI runs.
set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes
default:
    @just --list --unsorted

# Everything: format check, lint, docs check, all tests (Rust, then the CDK app), one summary line
test: fmt-check lint docs-check sql-check test-rust test-cdk
    @awk '/^test result:/ { p += $4; f += $6 } /^ℹ pass / { p += $3 } /^ℹ fail / { f += $3 } END { printf "tests: %d passed, %d failed\n", p, f }' target/test-output.log target/cdk-test-output.log

# All Rust tests: unit, fixtures, properties, CLI, the Lambda binary against the Runtime API,
# replay into S3 against moto's S3 server, produce against kinesalite (both on loopback)
test-rust: rust-test-deps
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p target
    cargo test --workspace --locked 2>&1 | tee target/test-output.log
    echo "the transform's tests again with the portable code an arm64 Lambda runs (no x86-64 SIMD):"
    cargo test --locked -p eventlake-transform -p eventlake-tests --no-default-features 2>&1 | tee -a target/test-output.log
    echo "the demo and the wheel engine in the build just demo makes (no DataFusion linked in):"
    cargo test --locked -p eventlake --no-default-features --test engines 2>&1 | tee -a target/test-output.log
    awk '/^test result:/ { p += $4; f += $6 } END { printf "rust tests: %d passed, %d failed\n", p, f }' target/test-output.log

# CDK app, offline: typecheck, assertion and cdk-nag tests, synth of every stage with the real Rust build, cfn-lint
test-cdk: cdk-deps
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p target
    cd infra-cdk
    npx tsc --noEmit
    node --import tsx --test --test-reporter=spec test/*.test.ts 2>&1 | tee ../target/cdk-test-output.log
    cd ..
    just synth
    just cfn-lint

# Install what the Rust tests need beyond cargo: moto's S3 server and kinesalite (real S3 and
# Kinesis protocol peers; kinesalite from cli/tests/kinesalite's lock file)
rust-test-deps: wheel-engine
    command -v moto_server >/dev/null || pip install --quiet "moto[server]==5.2.5"
    cd cli/tests/kinesalite && npm ci --no-audit --no-fund --loglevel=error

# Install what the CDK app needs: node modules (from the lock file), cargo-lambda, cfn-lint
cdk-deps:
    command -v cargo-lambda >/dev/null || pip install --quiet cargo-lambda==1.9.2
    cfn-lint --version 2>/dev/null | grep -q '1.58.0' || pip install --quiet cfn-lint==1.58.0
    cd infra-cdk && npm ci --no-audit --no-fund --loglevel=error

# Synthesize the stack of one stage, or all (dev, staging, prod) into infra-cdk/cdk.out/<stage>; builds the Lambda with cargo-lambda
synth stage="all": cdk-deps
    #!/usr/bin/env bash
    set -euo pipefail
    cd infra-cdk
    stages="{{stage}}"; [ "$stages" = all ] && stages="dev staging prod"
    for s in $stages; do
      CDK_DISABLE_CLI_TELEMETRY=true npm_config_update_notifier=false \
        npx cdk synth --no-notices --quiet -c stage="$s" -o "cdk.out/$s" >/dev/null
      echo "synth: infra-cdk/cdk.out/$s/eventlake-$s.template.json"
    done

# cfn-lint on the synthesized templates: errors fail. Ignored warnings: W3005 (CDK's explicit
# DependsOn next to a Ref) and W7001 (the Firehose L2's unused CIDR-block mapping; acknowledged in the stack)
cfn-lint:
    cfn-lint --non-zero-exit-code error --ignore-checks W3005 W7001 -- infra-cdk/cdk.out/*/eventlake-*.template.json
    @echo "cfn-lint: no errors"

# Deploy one stage to the current AWS account (needs credentials and `cdk bootstrap`; see docs/deploy.md)
deploy stage="dev": cdk-deps
    cd infra-cdk && npx cdk deploy --no-notices -c stage={{stage}} --require-approval broadening

# After a deploy: put events on the stage's stream, wait for them in Athena and under errors/ (AWS CLI v2)
smoke stage="dev":
    infra-cdk/scripts/smoke.sh {{stage}}

# Benchmarks (release build): transform vs the Python baseline, replay of 1M events next to
# DuckDB on the same input, whole-process invoke vs the Python blueprint, produce against
# kinesalite vs a one-call-at-a-time baseline, the wheel engine vs the in-process one; see
# docs/performance.md
bench events="1000000": rust-test-deps
    python3 -c 'import duckdb, sys; sys.exit(duckdb.__version__ != "1.4.2")' 2>/dev/null || pip install --quiet duckdb==1.4.2
    cargo bench --locked -p eventlake-transform --bench transform
    cargo bench --locked -p eventlake-transform --bench transform --no-default-features
    cargo build --locked --release -p eventlake
    python3 bench/replay_bench.py target/release/eventlake {{events}}
    python3 bench/invoke_bench.py target/release/eventlake
    python3 bench/produce_bench.py target/release/eventlake 100000
    python3 bench/typed_bench.py target/release/eventlake 400000
    python3 bench/engine_bench.py target/release/eventlake {{events}}

# Load-test a deployed stream, e.g. just produce eventlake-staging-events "--rate 300 --duration 600" (see docs/operations.md)
produce stream args="--rate 300 --duration 60":
    cargo build --locked --release -p eventlake
    target/release/eventlake produce --stream {{stream}} {{args}}

# The whole pipeline on this machine, no AWS: generate an hour of traffic (1M events), replay it
# through the transform into ./demo-lake as Parquet, run analyst queries. The command is built
# without DataFusion, the AWS SDK and the S3 client: its SQL runs on DataFusion's Python wheel
demo events="1000000" lake="demo-lake": wheel-engine
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x target/release/eventlake ]; then
      echo "demo: first build of the eventlake command (release; the SQL engine comes prebuilt from PyPI, so DataFusion is not compiled)."
      echo "demo: measured on a fresh clone of a 2-core machine: about 5 minutes, downloads included (docs/performance.md#first-build); later runs start in seconds."
    fi
    cargo build --locked --release -p eventlake --no-default-features
    target/release/eventlake demo --events {{events}} --lake {{lake}}

# The wheel engine's Python packages (DataFusion's wheel and pyarrow, pinned in
# cli/src/engine/requirements.txt): what `eventlake query` runs on in a build without the
# feature `engine`, as `just demo`'s is
wheel-engine:
    python3 -m pip install --quiet --disable-pip-version-check -r cli/src/engine/requirements.txt

# SQL over the local lake, e.g. just query "SELECT count(*) FROM events_unique"
query sql lake="demo-lake":
    target/release/eventlake query --lake {{lake}} "{{sql}}"

# Build the Lambda for arm64 (default) and x86_64 with cargo-lambda (installs it from PyPI if missing)
build:
    command -v cargo-lambda >/dev/null || pip install --quiet cargo-lambda==1.9.2
    cargo lambda build --release --arm64 --bin eventlake-transform --lambda-dir target/lambda/arm64
    cargo lambda build --release --bin eventlake-transform --lambda-dir target/lambda/x86_64
    ls -l target/lambda/*/eventlake-transform/bootstrap

# Run the transform on a Firehose event file (e.g. one saved from the console); the same
# build as `just demo`'s (invoke needs no SQL engine), so neither rebuilds the other's
invoke file="transform/fixtures/kinesis-source-basic/input.json":
    cargo run --quiet --locked --release -p eventlake --no-default-features -- invoke --decode {{file}}

# Regenerate the Athena SQL (glue-schema/athena/) and docs/events.md from table.json and catalog.json
schema:
    cargo run --quiet -p eventlake -- schema generate

# Regenerate the fixture inputs (and the large batch's expected output) from transform/fixtures/make_inputs.py
fixtures:
    python3 transform/fixtures/make_inputs.py

# Fuzz the record handler (needs nightly and cargo-fuzz); seconds=600 for the release check
fuzz target="record" seconds="60":
    command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
    cd fuzz && cargo +nightly fuzz run {{target}} -- -max_total_time={{seconds}} -max_len=4096

# Format the code
fmt:
    cargo fmt --all

# Docs stay true: relative links and anchors resolve, docs/cost.md equals bench/cost_model.py's output
docs-check:
    python3 bench/check_docs.py

# Every generated Athena statement (glue-schema/athena/, and the CDK's curated-job CREATE TABLE,
# ADD COLUMNS, MERGE and UPDATE) parses with sqlglot's Athena dialect
sql-check: cdk-deps
    python3 -c 'import sqlglot, sys; sys.exit(sqlglot.__version__ != "30.31.0")' 2>/dev/null || pip install --quiet sqlglot==30.31.0
    cd infra-cdk && node --import tsx scripts/curated-sql.ts ../target/curated-job
    python3 glue-schema/check_athena_sql.py target/curated-job/*.sql

# Check formatting
fmt-check:
    cargo fmt --all -- --check

# Lint: clippy with warnings as errors, also for the builds without default features (the
# transform's portable code, and the command `just demo` builds: no AWS SDK, no S3 client)
lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo clippy --locked -p eventlake-transform -p eventlake-tests --all-targets --no-default-features -- -D warnings
    cargo clippy --locked -p eventlake -p eventlake-lake --all-targets --no-default-features -- -D warnings

# What CI runs
ci: test
