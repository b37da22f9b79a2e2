#!/usr/bin/env bash
# Real run of apps made by Kiln's offline generator: for each prompt, emit the app, serve it with
# the repo's wrangler (`wrangler dev`, local D1, assets, JWT_SECRET var), and drive it over HTTP
# with curl as a user would: register, login, me, create/list/read/update/delete rows of every
# entity, isolation between two users (404), validation and malformed-JSON errors (400), deleting
# a referenced row, the files API when the plan stores files, and the static front end
# (index.html, app.js, vendored Preact); then, when Chromium is installed, the front end itself in
# headless Chromium (ui-check.mjs).
#
#   tests/generated-app/run.sh                      # the reference prompts
#   tests/generated-app/run.sh "a habit tracker"    # any prompts
#   tests/generated-app/run.sh path/to/app          # apps already written (a directory with plan.json
#                                                   # and the generated and runtime files)
#   KEEP=1 tests/generated-app/run.sh …             # keep the temp dir (apps, logs, state)
#
# Needs: cargo, node_modules (npm ci), curl, jq; optional: chromium (CHROMIUM=/path, or CHROMIUM=
# to skip the browser check). Every wrangler runs in its own process group (setsid); exactly those
# groups are stopped at the end, also on failure or Ctrl-C. ui-check.mjs does the same for Chromium.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
source scripts/env.sh
WRANGLER="$ROOT/node_modules/.bin/wrangler"
[ -x "$WRANGLER" ] || { echo "wrangler is missing: run npm ci in $ROOT" >&2; exit 2; }
for tool in curl jq node; do
  command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 2; }
done

if [ "$#" -eq 0 ]; then
  set -- "a task manager with projects and tasks" "a recipe book with ingredients and ratings" \
    "a poetry blog with poems that visitors can read without signing in, in indigo" \
    "a team task board with projects and tasks shared with the team, dark and compact"
fi

# The runtime's own unit tests first: fast, and a clearer failure than an HTTP check.
node --test "$ROOT/tests/generated-app/runtime.test.mjs" >/dev/null 2>&1 ||
  { node --test "$ROOT/tests/generated-app/runtime.test.mjs" >&2; exit 1; }

CHROMIUM="${CHROMIUM-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"

EMIT="$ROOT/target/debug/examples/emit_app"
for arg in "$@"; do
  if [ ! -f "$arg/plan.json" ]; then
    cargo build -q -p scaffold --example emit_app
    break
  fi
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/kiln-generated-app-XXXXXX")"
GROUPS_STARTED=()

stop_group() {
  local pgid="$1"
  kill -TERM -- "-$pgid" 2>/dev/null || return 0
  # Wait (bounded) for the whole group to exit, then make sure.
  for _ in $(seq 1 100); do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pgid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  for pgid in "${GROUPS_STARTED[@]}"; do stop_group "$pgid"; done
  if [ "${KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    echo "kept $WORK (apps, wrangler logs, local state)"
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# ---- HTTP helpers: req METHOD PATH [BODY] [TOKEN] sets STATUS and BODY ---------------------------
BASE=""
STATUS=""
BODY=""
CHECKS=0

req() {
  local method="$1" path="$2" data="${3-}" token="${4-}"
  local args=(-sS -o "$WORK/body" -w '%{http_code}' -X "$method" "$BASE$path")
  [ -n "$data" ] && args+=(-H 'content-type: application/json' --data-binary "$data")
  [ -n "$token" ] && args+=(-H "authorization: Bearer $token")
  STATUS="$(curl "${args[@]}")"
  BODY="$(cat "$WORK/body")"
}

fail() {
  echo "FAIL: $*" >&2
  echo "  last response: $STATUS $BODY" | head -c 2000 >&2
  echo >&2
  if [ -n "${LOG:-}" ]; then
    echo "---- last 40 lines of $LOG ----" >&2
    tail -n 40 "$LOG" >&2
  fi
  exit 1
}

expect_status() {
  CHECKS=$((CHECKS + 1))
  [ "$STATUS" = "$1" ] || fail "$2: expected HTTP $1, got $STATUS"
}

expect_jq() {
  CHECKS=$((CHECKS + 1))
  echo "$BODY" | jq -e "$1" >/dev/null 2>&1 || fail "$2: response does not satisfy $1"
}

expect_error() {
  expect_status "$1" "$3"
  expect_jq ".error.code == \"$2\" and (.error.message | type == \"string\" and length > 0)" "$3"
}

# ---- one app -------------------------------------------------------------------------------------
run_app() {
  local prompt="$1" n="$2"
  local dir="$WORK/app-$n"
  if [ -f "$prompt/plan.json" ]; then
    mkdir -p "$dir"
    cp -R "$prompt/." "$dir"
    echo "== $(jq -r .app_name "$dir/plan.json") ($prompt)"
  else
    echo "== $prompt"
    "$EMIT" "$dir" "$prompt" >/dev/null
  fi
  local plan="$dir/plan.json"
  echo "   entities: $(jq -r '[.entities[].name] | join(", ")' "$plan")"

  local secret
  secret="$(node -e 'console.log(require("crypto").randomBytes(32).toString("hex"))')"
  cat >"$dir/wrangler.toml" <<TOML
name = "kiln-generated-app-$n"
main = "worker.js"
compatibility_date = "2026-04-01"

[assets]
directory = "public"
binding = "ASSETS"
run_worker_first = true
not_found_handling = "single-page-application"

[[d1_databases]]
binding = "DB"
database_name = "app"
database_id = "00000000-0000-4000-8000-0000000000a$n"
migrations_dir = "migrations"

[[r2_buckets]]
binding = "STORAGE"
bucket_name = "app-files-$n"

[vars]
JWT_SECRET = "$secret"
TOML

  local state="$dir/.state"
  LOG="$dir/wrangler.log"
  (cd "$dir" && "$WRANGLER" d1 migrations apply DB --local --persist-to "$state" >"$dir/migrate.log" 2>&1) ||
    { cat "$dir/migrate.log" >&2; fail "migrations did not apply"; }

  local port inspector
  port="$(free_port)"
  inspector="$(free_port)"
  (cd "$dir" && exec setsid "$WRANGLER" dev --ip 127.0.0.1 --port "$port" --inspector-port "$inspector" \
    --persist-to "$state" --log-level warn --show-interactive-dev-session=false </dev/null >"$LOG" 2>&1) &
  local pid=$!
  GROUPS_STARTED+=("$pid")
  # setsid made wrangler the leader of a new process group whose id is its pid.
  BASE="http://127.0.0.1:$port"

  # Ready when the API answers (401 for /api/auth/me without a token).
  local deadline=$((SECONDS + 120))
  while :; do
    kill -0 "$pid" 2>/dev/null || fail "wrangler dev exited early"
    STATUS="$(curl -s -o /dev/null -w '%{http_code}' "$BASE/api/auth/me" || true)"
    [ "$STATUS" = 401 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "wrangler dev was not ready within 120s"
    sleep 0.2
  done
  [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ] || fail "wrangler is not the leader of its own process group"

  # Static front end, served by the app itself.
  req GET /
  expect_status 200 "GET /"
  CHECKS=$((CHECKS + 1))
  grep -q '<script type="module" src="/app.js"></script>' <<<"$BODY" || fail "GET / is not the app's index.html"
  grep -qF "<title>$(jq -r .app_name "$plan")</title>" <<<"$BODY" || fail "index.html has the wrong title"
  req GET /app.js
  expect_status 200 "GET /app.js"
  CHECKS=$((CHECKS + 1))
  grep -q '/_kiln/vendor/preact.mjs' <<<"$BODY" || fail "app.js does not import the vendored preact"
  for lib in preact hooks htm; do
    local type
    type="$(curl -sS -o /dev/null -w '%{http_code} %{content_type}' "$BASE/_kiln/vendor/$lib.mjs")"
    CHECKS=$((CHECKS + 1))
    [[ "$type" == "200 "*javascript* ]] || fail "/_kiln/vendor/$lib.mjs: got '$type'"
  done
  local first_page
  first_page="$(jq -r '.pages[0].path' "$plan")"
  STATUS="$(curl -sS -o "$WORK/body" -w '%{http_code}' -H 'accept: text/html' -H 'sec-fetch-mode: navigate' "$BASE$first_page")"
  BODY="$(cat "$WORK/body")"
  expect_status 200 "front-end route $first_page (SPA fallback)"
  CHECKS=$((CHECKS + 1))
  grep -q 'src="/app.js"' <<<"$BODY" || fail "front-end route $first_page did not serve index.html"
  req GET /_kiln/runtime.js
  CHECKS=$((CHECKS + 1))
  grep -q 'PBKDF2' <<<"$BODY" && fail "the worker runtime module is served as a static file"

  # Accounts.
  local a_email="ada-$n@example.com" b_email="bob-$n@example.com" password="correct horse battery"
  req POST /api/auth/register "{\"email\":\"$a_email\",\"password\":\"$password\"}"
  expect_status 201 "register A"
  expect_jq ".user.email == \"$a_email\" and (.token | split(\".\") | length == 3) and (.user | has(\"password_hash\") | not)" "register A answers {token, user}"
  expect_jq ".user.admin == true" "the first account is the admin"
  local a_id
  a_id="$(jq -r .user.id <<<"$BODY")"
  req POST /api/auth/register "{\"email\":\"$a_email\",\"password\":\"$password\"}"
  expect_error 409 email_taken "register A twice"
  req POST /api/auth/register '{"email":"not-an-email","password":"long enough"}'
  expect_error 400 invalid_email "register with a bad email"
  req POST /api/auth/register '{"email":"short@example.com","password":"short"}'
  expect_error 400 invalid_password "register with a short password"
  req POST /api/auth/register '{"email": "x@example.com", "password":'
  expect_error 400 invalid_json "register with malformed JSON"
  req POST /api/auth/login "{\"email\":\"$a_email\",\"password\":\"wrong password\"}"
  expect_error 401 unauthorized "login with a wrong password"
  req POST /api/auth/login "{\"email\":\"$(tr a-z A-Z <<<"$a_email")\",\"password\":\"$password\"}"
  expect_status 200 "login A (email case-insensitive)"
  expect_jq ".user.email == \"$a_email\"" "login answers {token, user}"
  local a
  a="$(jq -r .token <<<"$BODY")"
  req GET /api/auth/me "" "$a"
  expect_status 200 "me A"
  expect_jq ".user.email == \"$a_email\"" "me A"
  req GET /api/auth/me
  expect_error 401 unauthorized "me without a token"
  local head_payload="${a%.*}" signature="${a##*.}" flipped=A
  [ "${signature:0:1}" = A ] && flipped=B
  req GET /api/auth/me "" "$head_payload.$flipped${signature:1}"
  expect_error 401 unauthorized "me with a tampered signature"
  local none_token
  none_token="$(node -e '
    const b = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const [, payload] = process.argv[1].split(".");
    console.log(b({ alg: "none", typ: "JWT" }) + "." + payload + ".");' "$a")"
  req GET /api/auth/me "" "$none_token"
  expect_error 401 unauthorized "me with an alg=none token"
  req POST /api/auth/register "{\"email\":\"$b_email\",\"password\":\"$password\"}"
  expect_status 201 "register B"
  expect_jq ".user.admin == false" "a later account is not the admin"
  local b b_id
  b="$(jq -r .token <<<"$BODY")"
  b_id="$(jq -r .user.id <<<"$BODY")"

  # Entities, parents first (the plan lists referenced tables before the tables that use them).
  declare -A ids=()
  local tables
  tables="$(jq -r '.entities[].name' "$plan")"
  for t in $tables; do
    local entity sample
    entity="$(jq -c --arg t "$t" '.entities[] | select(.name == $t)' "$plan")"
    sample="$(sample_body "$entity")"
    local vis
    vis="$(jq -r '.visibility // "private"' <<<"$entity")"
    echo "   $t: $vis"
    req GET "/api/$t"
    if [ "$vis" = public ]; then
      expect_status 200 "list public $t without a token"
    else
      expect_error 401 unauthorized "list $vis $t without a token"
    fi
    req POST "/api/$t" "$sample"
    expect_error 401 unauthorized "create $t without a token"
    req POST "/api/$t" "$sample" "$a"
    expect_status 201 "create $t"
    expect_jq "(.id | type == \"number\") and (.user_id == $a_id) and (.created_at | type == \"string\")" "create $t answers the row with its author"
    check_fields "$entity" "$sample" "create $t"
    local id
    id="$(jq -r .id <<<"$BODY")"
    ids[$t]="$id"
    req GET "/api/$t" "" "$a"
    expect_status 200 "list $t"
    expect_jq "type == \"array\" and length == 1 and .[0].id == $id" "list $t has the row"
    req GET "/api/$t/$id" "" "$a"
    expect_status 200 "read $t/$id"
    check_fields "$entity" "$sample" "read $t/$id"
    local change
    change="$(jq -c '(.fields | map(select(.kind == "text")) | first) as $f | if $f then {($f.name): "Changed"} else {} end' <<<"$entity")"
    req PUT "/api/$t/$id" "$change" "$a"
    expect_status 200 "update $t/$id"
    expect_jq ". as \$row | $change | to_entries | all(\$row[.key] == .value)" "update $t/$id changes the field"
    check_fields "$entity" "$(jq -c --argjson c "$change" '. + $c' <<<"$sample")" "update $t/$id keeps the other fields"

    if [ "$vis" = private ]; then
      # Another user sees nothing and can touch nothing.
      req GET "/api/$t" "" "$b"
      expect_status 200 "list $t as B"
      expect_jq 'length == 0' "B does not see A's $t"
      req GET "/api/$t/$id" "" "$b"
      expect_error 404 not_found "B reads A's $t/$id"
      req PUT "/api/$t/$id" "$change" "$b"
      expect_error 404 not_found "B updates A's $t/$id"
      req DELETE "/api/$t/$id" "" "$b"
      expect_error 404 not_found "B deletes A's $t/$id"
    else
      # Another user reads A's row but may not change it (403), and a visitor reads public rows.
      req GET "/api/$t" "" "$b"
      expect_jq "length == 1 and .[0].id == $id" "B sees A's $vis $t"
      req GET "/api/$t/$id" "" "$b"
      expect_status 200 "B reads A's $vis $t/$id"
      req PUT "/api/$t/$id" "$change" "$b"
      expect_error 403 forbidden "B updates A's $t/$id"
      req DELETE "/api/$t/$id" "" "$b"
      expect_error 403 forbidden "B deletes A's $t/$id"
      req GET "/api/$t/$id"
      if [ "$vis" = public ]; then
        expect_status 200 "a visitor reads public $t/$id"
        req PUT "/api/$t/$id" "$change"
        expect_error 401 unauthorized "a visitor updates $t/$id"
      else
        expect_error 401 unauthorized "a visitor reads shared $t/$id"
      fi
      # A, the first account, is the admin: it moderates B's rows; B cannot do the same to A's.
      req POST "/api/$t" "$sample" "$b"
      expect_status 201 "B creates a $t"
      local bid
      bid="$(jq -r .id <<<"$BODY")"
      req PUT "/api/$t/$bid" "$change" "$a"
      expect_status 200 "the admin edits B's $t/$bid"
      expect_jq ".user_id == $b_id" "moderation keeps B as the author"
      req DELETE "/api/$t/$bid" "" "$a"
      expect_status 200 "the admin deletes B's $t/$bid"
    fi
    req GET "/api/$t/$id" "" "$a"
    expect_status 200 "A's $t/$id is untouched"

    # Search, filters and sort; bad parameters are a 400 naming what is allowed.
    local text_field bool_field
    text_field="$(jq -r '[.fields[] | select(.kind == "text") | .name] | first // empty' <<<"$entity")"
    if [ -n "$text_field" ]; then
      req GET "/api/$t?q=$(jq -r --arg f "$text_field" '.[$f] | @uri' <<<"$change")" "" "$a"
      expect_jq "length == 1 and .[0].id == $id" "search $t finds the row"
      req GET "/api/$t?q=zz-no-such-text" "" "$a"
      expect_jq 'length == 0' "search $t for missing text"
      req GET "/api/$t?sort=-$text_field" "" "$a"
      expect_status 200 "sort $t by $text_field"
    fi
    bool_field="$(jq -r '[.fields[] | select(.kind == "boolean") | .name] | first // empty' <<<"$entity")"
    if [ -n "$bool_field" ]; then
      req GET "/api/$t?$bool_field=true" "" "$a"
      expect_jq 'length == 1' "filter $t by $bool_field=true"
      req GET "/api/$t?$bool_field=false" "" "$a"
      expect_jq 'length == 0' "filter $t by $bool_field=false"
      req GET "/api/$t?$bool_field=maybe" "" "$a"
      expect_error 400 invalid_query "filter $t by $bool_field=maybe"
    fi
    req GET "/api/$t?sort=id%3BDROP%20TABLE%20users" "" "$a"
    expect_error 400 invalid_query "sort $t by an injection"
    req GET "/api/$t?no_such_filter=1" "" "$a"
    expect_error 400 invalid_query "filter $t by an unknown field"

    # Validation: JSON errors with a code and a message.
    req POST "/api/$t" '{"broken": ' "$a"
    expect_error 400 invalid_json "create $t with malformed JSON"
    req POST "/api/$t" '[1, 2]' "$a"
    expect_error 400 invalid_json "create $t with a JSON array"
    req POST "/api/$t" "$(jq -c '. + {"no_such_field": 1}' <<<"$sample")" "$a"
    expect_error 400 invalid_field "create $t with an unknown field"
    local required
    required="$(jq -r '[.fields[] | select(.required and .kind != "boolean") | .name] | first // empty' <<<"$entity")"
    if [ -n "$required" ]; then
      req POST "/api/$t" "$(jq -c --arg f "$required" 'del(.[$f])' <<<"$sample")" "$a"
      expect_error 400 invalid_field "create $t without required $required"
    fi
    local bad
    while read -r bad; do
      [ -n "$bad" ] || continue
      req POST "/api/$t" "$(jq -c --argjson bad "$bad" '. + $bad' <<<"$sample")" "$a"
      expect_error 400 invalid_field "create $t with $bad"
    done < <(jq -c '.fields[] |
      if .kind == "integer" then {(.name): 1.5}
      elif .kind == "number" then {(.name): "many"}
      elif .kind == "rating" then {(.name): 6}
      elif .kind == "date" then {(.name): "2025-02-30"}
      elif .kind == "boolean" then {(.name): "yes"}
      elif .kind == "text" then {(.name): ("x" * 501)}
      elif (.kind | type) == "object" then {(.name): 999999}
      else empty end' <<<"$entity")
    req GET "/api/$t/abc" "" "$a"
    expect_error 404 not_found "read $t with a non-numeric id"
    req PATCH "/api/$t/$id" "$change" "$a"
    expect_error 405 method_not_allowed "PATCH $t/$id"
  done

  # References: another user's row cannot be referenced; deleting a parent clears (optional) or
  # deletes (required) the rows pointing at it.
  local refs
  refs="$(jq -c '.entities[] as $e | $e.fields[] | select((.kind | type) == "object") | {table: $e.name, field: .name, parent: .kind.reference, required}' "$plan")"
  local ref
  while read -r ref; do
    [ -n "$ref" ] || continue
    local ct cf pt preq centity
    ct="$(jq -r .table <<<"$ref")"
    cf="$(jq -r .field <<<"$ref")"
    pt="$(jq -r .parent <<<"$ref")"
    preq="$(jq -r .required <<<"$ref")"
    centity="$(jq -c --arg t "$ct" '.entities[] | select(.name == $t)' "$plan")"
    req POST "/api/$ct" "$(sample_body "$centity" | jq -c --arg f "$cf" --argjson p "${ids[$pt]}" '.[$f] = $p')" "$b"
    if [ "$(jq -r --arg t "$pt" '.entities[] | select(.name == $t) | .visibility // "private"' "$plan")" = private ]; then
      expect_error 400 invalid_field "B references A's private $pt in $ct.$cf"
    else
      expect_status 201 "B references A's readable $pt in $ct.$cf"
      req DELETE "/api/$ct/$(jq -r .id <<<"$BODY")" "" "$b"
      expect_status 200 "B deletes its $ct"
    fi
    local pentity pid2 cid
    pentity="$(jq -c --arg t "$pt" '.entities[] | select(.name == $t)' "$plan")"
    req POST "/api/$pt" "$(sample_body "$pentity")" "$a"
    expect_status 201 "create a second $pt"
    pid2="$(jq -r .id <<<"$BODY")"
    req POST "/api/$ct" "$(sample_body "$centity" | jq -c --arg f "$cf" --argjson p "$pid2" '.[$f] = $p')" "$a"
    expect_status 201 "create a $ct pointing at $pt/$pid2"
    cid="$(jq -r .id <<<"$BODY")"
    req DELETE "/api/$pt/$pid2" "" "$a"
    expect_status 200 "delete $pt/$pid2"
    req GET "/api/$ct/$cid" "" "$a"
    if [ "$preq" = true ]; then
      expect_error 404 not_found "deleting $pt/$pid2 deleted $ct/$cid (required reference)"
    else
      expect_status 200 "$ct/$cid survives deleting $pt/$pid2"
      expect_jq ".$cf == null" "deleting $pt/$pid2 cleared $ct/$cid.$cf"
      req DELETE "/api/$ct/$cid" "" "$a"
      expect_status 200 "delete $ct/$cid"
    fi
  done <<<"$refs"

  # Delete A's rows, children first.
  for t in $(tac <<<"$tables"); do
    req DELETE "/api/$t/${ids[$t]}" "" "$a"
    expect_status 200 "delete $t/${ids[$t]}"
    expect_jq '.deleted == true' "delete $t answers {deleted: true}"
    req GET "/api/$t/${ids[$t]}" "" "$a"
    expect_error 404 not_found "$t/${ids[$t]} is gone"
    req DELETE "/api/$t/${ids[$t]}" "" "$a"
    expect_error 404 not_found "delete $t/${ids[$t]} twice"
  done
  req GET /api/nothing-here "" "$a"
  expect_error 404 not_found "unknown API route"

  if [ "$(jq -r .file_storage "$plan")" = true ]; then check_files "$a" "$b"; fi

  # The front end in a real browser, when one is installed.
  if [ -n "$CHROMIUM" ]; then
    node "$ROOT/tests/generated-app/ui-check.mjs" "$BASE" "$plan" "$CHROMIUM" | sed 's/^/   /'
    [ "${PIPESTATUS[0]}" = 0 ] || fail "the front end check failed"
    CHECKS=$((CHECKS + 1))
  else
    echo "   (no chromium: front-end check skipped)"
  fi

  stop_group "$pid"
  local still=()
  for g in "${GROUPS_STARTED[@]}"; do [ "$g" = "$pid" ] || still+=("$g"); done
  GROUPS_STARTED=("${still[@]}")
  LOG=""
  echo "   ok"
}

# The files API: upload, list, download (as an attachment), isolation, name and size limits.
check_files() {
  local a="$1" b="$2"
  printf 'hello from a file\n' >"$WORK/upload.txt"
  STATUS="$(curl -sS -o "$WORK/body" -w '%{http_code}' -X PUT -H "authorization: Bearer $a" \
    -H 'content-type: text/plain' --data-binary @"$WORK/upload.txt" "$BASE/api/files/notes.txt")"
  BODY="$(cat "$WORK/body")"
  expect_status 201 "upload a file"
  expect_jq '.name == "notes.txt" and .size == 18' "upload answers {name, size}"
  req GET /api/files "" "$a"
  expect_status 200 "list files"
  expect_jq 'length == 1 and .[0].name == "notes.txt" and .[0].size == 18' "the file is listed"
  local headers
  headers="$(curl -sS -D - -o "$WORK/body" -H "authorization: Bearer $a" "$BASE/api/files/notes.txt")"
  CHECKS=$((CHECKS + 1))
  cmp -s "$WORK/body" "$WORK/upload.txt" || fail "the downloaded file differs from the upload"
  grep -qi '^content-disposition: attachment' <<<"$headers" || fail "files are not served as attachments"
  req GET /api/files "" "$b"
  expect_jq 'length == 0' "B does not see A's files"
  req GET /api/files/notes.txt "" "$b"
  expect_error 404 not_found "B downloads A's file"
  req DELETE /api/files/notes.txt "" "$b"
  expect_error 404 not_found "B deletes A's file"
  req GET /api/files/..%2Fx "" "$a"
  expect_error 400 invalid_file_name "a file name with a path"
  head -c $((5 * 1024 * 1024 + 1)) /dev/zero >"$WORK/big.bin"
  STATUS="$(curl -sS -o "$WORK/body" -w '%{http_code}' -X PUT -H "authorization: Bearer $a" \
    --data-binary @"$WORK/big.bin" "$BASE/api/files/big.bin")"
  BODY="$(cat "$WORK/body")"
  expect_error 413 payload_too_large "a file over 5 MiB"
  req DELETE /api/files/notes.txt "" "$a"
  expect_status 200 "delete the file"
  req GET /api/files/notes.txt "" "$a"
  expect_error 404 not_found "the file is gone"
  req GET /api/files
  expect_error 401 unauthorized "list files without a token"
}

# A valid JSON body for an entity (uses ids[] for references).
sample_body() {
  local refs="{}"
  for t in "${!ids[@]}"; do refs="$(jq -c --arg t "$t" --argjson id "${ids[$t]}" '. + {($t): $id}' <<<"$refs")"; done
  jq -c --argjson ids "$refs" '[.fields[] | {key: .name, value: (
      if .kind == "text" then "Sample \(.name)"
      elif .kind == "long_text" then "First line\nsecond line with \"quotes\" and émoji 🍞"
      elif .kind == "integer" then 3
      elif .kind == "number" then 2.5
      elif .kind == "boolean" then true
      elif .kind == "date" then "2025-03-14"
      elif .kind == "rating" then 4
      else ($ids[.kind.reference] // null) end)}] | from_entries' <<<"$1"
}

# The response row has the sent values (booleans as true/false).
check_fields() {
  local entity="$1" sent="$2" what="$3"
  CHECKS=$((CHECKS + 1))
  jq -e --argjson sent "$sent" '. as $row | $sent | to_entries | all(.value == $row[.key])' <<<"$BODY" >/dev/null ||
    fail "$what: the row does not hold the values sent ($sent)"
}

n=0
for prompt in "$@"; do
  n=$((n + 1))
  run_app "$prompt" "$n"
done
echo "generated-app check passed: $n app(s), $CHECKS checks"
