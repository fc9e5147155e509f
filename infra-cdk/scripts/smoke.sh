#!/usr/bin/env bash
# Smoke test of a deployed stage (`just smoke stage=dev`): puts two events on the stream — one
# valid, one with created_at in milliseconds — then waits until the valid one can be queried
# in Athena (the raw table, events_unique and its typed view session_heartbeat, which the deploy
# created) and the bad one is under errors/processing-failed/. Needs the AWS CLI v2 and
# credentials for the stage's account (the same ones `cdk deploy` used).
#
# How long it waits comes from the deployed delivery stream's own buffer settings: the
# transform's buffer interval, then 1.5 x the S3 buffer interval (dynamic partitioning's
# multi-stage buffering, https://docs.aws.amazon.com/firehose/latest/dev/buffering.html), plus
# 5 minutes for conversion and Athena. SMOKE_TIMEOUT_SECONDS overrides it.
set -euo pipefail

stage="${1:-dev}"
stack="eventlake-${stage}"

die() { echo "smoke: $*" >&2; exit 1; }
command -v aws >/dev/null || die "the AWS CLI v2 is needed: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
aws sts get-caller-identity >/dev/null 2>&1 || die "no AWS credentials: set AWS_PROFILE or run 'aws sso login'"

output() {
  aws cloudformation describe-stacks --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
stream="$(output StreamName)" || die "stack $stack not found: run 'just deploy stage=$stage' first"
bucket="$(output LakeBucketName)"
workgroup="$(output WorkGroupName)"
database="$(output GlueDatabase)"
[ -n "$stream" ] && [ "$stream" != "None" ] || die "stack $stack has no StreamName output"
delivery="$(output DeliveryStreamName)"

# The wait, from what is deployed (not a constant).
s3_interval="$(aws firehose describe-delivery-stream --delivery-stream-name "$delivery" \
  --query 'DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.BufferingHints.IntervalInSeconds' --output text)"
lambda_interval="$(aws firehose describe-delivery-stream --delivery-stream-name "$delivery" \
  --query "DeliveryStreamDescription.Destinations[0].ExtendedS3DestinationDescription.ProcessingConfiguration.Processors[?Type=='Lambda'].Parameters[] | [?ParameterName=='BufferIntervalInSeconds'].ParameterValue | [0]" --output text)"
case "$s3_interval" in ''|None|*[!0-9]*) die "cannot read the S3 buffer interval of $delivery" ;; esac
case "$lambda_interval" in ''|None|*[!0-9]*) lambda_interval=60 ;; esac # Firehose's default
timeout_s="${SMOKE_TIMEOUT_SECONDS:-$(( lambda_interval + (s3_interval * 3 + 1) / 2 + 300 ))}"

uuid="$(python3 -c 'import uuid; print(uuid.uuid4())')"
bad_uuid="$(python3 -c 'import uuid; print(uuid.uuid4())')"
now="$(date -u +%s)"
day="$(date -u -d "@$now" +%Y-%m-%d)"
good="{\"event_uuid\":\"$uuid\",\"event_name\":\"session:heartbeat\",\"created_at\":$now,\"session_id\":\"smoke-$stage\"}"
bad="{\"event_uuid\":\"$bad_uuid\",\"event_name\":\"session:heartbeat\",\"created_at\":${now}000,\"session_id\":\"smoke-$stage\"}"

echo "smoke: putting event $uuid (valid) and $bad_uuid (created_at in ms) on $stream"
for event in "$good" "$bad"; do
  aws kinesis put-record --stream-name "$stream" --partition-key "$uuid" \
    --cli-binary-format raw-in-base64-out --data "$event" >/dev/null
done

query() {
  local id state
  id="$(aws athena start-query-execution --work-group "$workgroup" \
    --query-execution-context "Database=$database" --query-string "$1" \
    --query QueryExecutionId --output text)"
  while :; do
    state="$(aws athena get-query-execution --query-execution-id "$id" --query QueryExecution.Status.State --output text)"
    case "$state" in
      SUCCEEDED) break ;;
      FAILED|CANCELLED)
        die "Athena query $state: $(aws athena get-query-execution --query-execution-id "$id" \
          --query QueryExecution.Status.StateChangeReason --output text)" ;;
    esac
    sleep 2
  done
  aws athena get-query-results --query-execution-id "$id" --query 'ResultSet.Rows[1].Data[0].VarCharValue' --output text
}

deadline=$(( $(date +%s) + timeout_s ))
found_row=0
found_error=0
echo "smoke: waiting for delivery (transform buffer ${lambda_interval}s, 1.5 x S3 buffer ${s3_interval}s, + 300s: up to ${timeout_s}s)"
while [ "$(date +%s)" -lt "$deadline" ]; do
  if [ "$found_row" = 0 ]; then
    n="$(query "SELECT count(*) FROM events WHERE created_date = '$day' AND event_type = 'session' AND event_uuid = '$uuid'")"
    if [ "$n" = "1" ]; then
      found_row=1
      echo "smoke: event $uuid is in Athena ($database.events, created_date=$day)"
      # The views exist because the deploy ran them; a missing view fails the query.
      [ "$(query "SELECT count(*) FROM events_unique WHERE created_date = '$day' AND event_uuid = '$uuid'")" = 1 ] \
        || die "$database.events_unique does not show event $uuid"
      [ "$(query "SELECT count(*) FROM session_heartbeat WHERE created_date = '$day' AND event_uuid = '$uuid' AND session_id = 'smoke-$stage'")" = 1 ] \
        || die "the typed view $database.session_heartbeat does not show event $uuid"
      echo "smoke: events_unique and the typed view session_heartbeat answer"
    fi
  fi
  if [ "$found_error" = 0 ]; then
    keys="$(aws s3api list-objects-v2 --bucket "$bucket" --prefix "errors/processing-failed/" \
      --query 'length(Contents || `[]`)' --output text)"
    [ "${keys:-0}" != "0" ] && found_error=1 && echo "smoke: the rejected event is under s3://$bucket/errors/processing-failed/"
  fi
  [ "$found_row" = 1 ] && [ "$found_error" = 1 ] && { echo "smoke: ok"; exit 0; }
  sleep 30
done
[ "$found_row" = 1 ] || echo "smoke: event $uuid did not reach Athena in ${timeout_s}s" >&2
[ "$found_error" = 1 ] || echo "smoke: no object under errors/processing-failed/ after ${timeout_s}s" >&2
die "failed: see the dashboard $stack-pipeline and docs/deploy.md#when-the-smoke-test-fails"
