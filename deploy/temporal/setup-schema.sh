#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas up to this admin-tools release: what the
# retired temporalio/auto-setup image did inside the server. Safe to run on every `docker compose up`.
set -eu

sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) dir=/etc/temporal/schema/postgresql/v12/temporal/versioned ;;
    *) dir=/etc/temporal/schema/postgresql/v12/visibility/versioned ;;
  esac
  # setup-schema resets the recorded version to 0.0, so it runs only on a database this run created; an existing one
  # only takes the newer versioned scripts (Temporal's upgrade path).
  if sql --db "$db" create; then
    sql --db "$db" setup-schema -v 0.0
  fi
  sql --db "$db" update-schema -d "$dir"
done

# The orchestrator's own database; its processes create their tables themselves (src/store/migrations.ts).
sql --db payment_orchestrator create || true
