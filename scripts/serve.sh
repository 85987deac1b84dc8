#!/usr/bin/env bash
# Serves the platform as `make run` does after `lms setup`: gunicorn (gunicorn.conf.py)
# and the background job worker, side by side, in the foreground.
#
#   Ctrl+C (SIGINT) or SIGTERM stops both, waits for them, and exits 130 (SIGINT) or 0.
#   If either stops on its own, the other is stopped and this exits non-zero.
#
# Environment: PORT (5000), HOST (127.0.0.1) or LMS_BIND, WEB_CONCURRENCY (2 web
# processes), LMS_JOB_WORKERS (1 job process), LMS_STOP_TIMEOUT (30 s before a
# process still running is killed), UV (how to call uv: "python3 -m uv").
#
# Each side runs in a session of its own (setsid), so a stop signal reaches every
# process of it (uv, gunicorn's master and workers, the job worker's processes) and
# nothing is left behind. (Started with `&` from another non-interactive shell, bash
# ignores SIGINT: stop it with SIGTERM then, as service managers do.)
set -u
cd "$(dirname "$0")/.."

PORT="${PORT:-5000}"
export PORT
UV="${UV:-python3 -m uv}"
STOP_TIMEOUT="${LMS_STOP_TIMEOUT:-30}"
read -r -a run <<<"$UV run --frozen --no-sync"

if [ -n "${LMS_BIND:-}" ]; then
  where="${LMS_BIND}"
else
  where="http://${HOST:-127.0.0.1}:${PORT}"
fi

setsid "${run[@]}" gunicorn -c gunicorn.conf.py wsgi:app &
web=$!
setsid "${run[@]}" flask --app wsgi lms jobs worker --workers "${LMS_JOB_WORKERS:-1}" &
worker=$!

echo "Serving on ${where} (gunicorn, ${WEB_CONCURRENCY:-2} web processes, pid ${web})" \
  "with the job worker beside it (pid ${worker}). Ctrl+C to stop."

stopping=""
# uv passes a signal on to the program it runs, so a stop signal goes to the first
# process of each side only (the whole session would get it twice: a second signal
# makes the job worker give up the jobs in hand). Sessions are swept at the end.
signal_leaders() {
  kill "-$1" "$web" 2>/dev/null
  kill "-$1" "$worker" 2>/dev/null
}
signal_sessions() {
  kill "-$1" -- "-${web}" 2>/dev/null
  kill "-$1" -- "-${worker}" 2>/dev/null
}
on_signal() {
  if [ -n "$stopping" ]; then
    echo "Second signal: stopping at once." >&2
    signal_sessions KILL
    return
  fi
  stopping="$1"
  echo "Stopping (SIG$1): web server and job worker..." >&2
  signal_leaders "$1"
}
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'signal_sessions KILL' EXIT

# Any process left in a side's session (or its first process, while it starts).
alive() { kill -0 -- "-$1" 2>/dev/null || kill -0 "$1" 2>/dev/null; }

status=0
failed=""
# wait returns when a child exits, or early when a trapped signal arrives.
while :; do
  wait -n "$web" "$worker" 2>/dev/null
  code=$?
  [ -n "$stopping" ] && break
  if ! kill -0 "$web" 2>/dev/null; then
    failed="web server"
  elif ! kill -0 "$worker" 2>/dev/null; then
    failed="job worker"
  else
    continue
  fi
  status=$code
  [ "$status" -eq 0 ] && status=1
  echo "The ${failed} stopped (exit ${code}); stopping the other." >&2
  signal_leaders TERM
  break
done

# Wait for both sides to end; then sweep their sessions; kill what is left after the timeout.
deadline=$((SECONDS + STOP_TIMEOUT))
swept=""
while alive "$web" || alive "$worker"; do
  if [ -z "$swept" ] && ! kill -0 "$web" 2>/dev/null && ! kill -0 "$worker" 2>/dev/null; then
    # Both first processes are gone: anything still in their sessions is left over.
    swept=1
    signal_sessions TERM
    deadline=$((SECONDS + 5))
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "Still running after the stop timeout: killing." >&2
    signal_sessions KILL
    break
  fi
  sleep 0.1
done
wait 2>/dev/null
trap - EXIT INT TERM

if [ -n "$failed" ]; then
  exit "$status"
fi
echo "Stopped." >&2
[ "$stopping" = INT ] && exit 130
exit 0
