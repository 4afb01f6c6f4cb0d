#!/bin/bash
# The standby's entrypoint (run as `postgres`): on an empty data directory, a base backup of the
# primary streamed over its replication slot, with -R writing primary_conninfo and
# primary_slot_name so the server starts as a streaming hot standby; then the server itself.
# application_name=standby is the name the primary's synchronous_standby_names waits for.
set -euo pipefail
primary=${VMO_PG_PRIMARY_HOST:-postgres-primary} port=${VMO_PG_PRIMARY_PORT:-5432}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # The primary's first start initialises on a socket only: wait until it takes TCP connections.
  until pg_isready -q -h "$primary" -p "$port" -U replicator -d postgres; do sleep 1; done
  pg_basebackup -d "host=$primary port=$port user=replicator application_name=standby" \
    -D "$PGDATA" -R -X stream -S standby --checkpoint=fast
  # LOUD: the backup copies the primary's postgresql.auto.conf, synchronous_standby_names included.
  # Left in, this server once promoted would wait for a standby of its own that does not exist, and
  # every commit (every job submitted) would hang. A promoted standby runs asynchronously until you
  # give it one.
  sed -i '/^synchronous_standby_names/d' "$PGDATA/postgresql.auto.conf"
fi
exec postgres
