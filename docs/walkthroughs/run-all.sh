#!/usr/bin/env bash
# Runs every walkthrough against one server started here on a fresh data dir (embedded PostgreSQL),
# printing one line per script: "walkthrough ok <name>" or "walkthrough FAILED <name>" (then its output).
# Exits non-zero when any failed. Needs a build (dist/). CI: bash docs/walkthroughs/run-all.sh
source "$(dirname "$0")/lib.sh"
SCRIPTS=(tour his-integration record-room disputes-office policy operations)
T0=$(date +%s)
cw_start
export CW_BASE="$BASE" CHARTWARDEN_DATA_DIR WALKTHROUGH_QUIET=1
echo "walkthroughs: server on $BASE, data dir $CHARTWARDEN_DATA_DIR (up in $(( $(date +%s) - T0 )) s)"
FAILED=0
for name in "${SCRIPTS[@]}"; do
  t=$(date +%s)
  WORK=$(mktemp -d /tmp/chartwarden-walkthrough-out-XXXXXX)
  if (cd "$WORK" && bash "$OLDPWD/docs/walkthroughs/$name.sh") >"$WORK/output" 2>&1; then
    echo "walkthrough ok     $name ($(( $(date +%s) - t )) s)"
  else
    echo "walkthrough FAILED $name ($(( $(date +%s) - t )) s)"
    sed 's/^/    /' "$WORK/output" | tail -n 40
    FAILED=$((FAILED + 1))
  fi
  rm -rf "$WORK"
done
echo "walkthroughs: $(( ${#SCRIPTS[@]} - FAILED )) passed, $FAILED failed in $(( $(date +%s) - T0 )) s"
[ "$FAILED" -eq 0 ]
