#!/bin/bash
# Runs once, when the postgres image initialises an empty data directory (docker-entrypoint-initdb.d),
# on the primary only: the role and the slot the standby streams with, and the pg_hba line letting
# it connect for replication (the image's POSTGRES_HOST_AUTH_METHOD line covers databases, not
# replication). The slot keeps every WAL segment the standby has not received, so a standby that was
# down catches up instead of needing a new base backup; LOUD: a standby gone for good leaves WAL
# piling up on the primary until its slot is dropped (SELECT pg_drop_replication_slot('standby')).
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN;
SELECT pg_create_physical_replication_slot('standby');
SQL
# trust on the compose network, like the root docker-compose.yml's databases; elsewhere give the
# role a password (scram-sha-256) and the standby a .pgpass.
echo 'host replication replicator all trust' >> "$PGDATA/pg_hba.conf"
# Synchronous replication: a commit returns once the standby has flushed it, so a job answered 201
# survives the primary's loss (README, High availability: the loss window). Set here, for the next
# start, not on the command line: the image's initialisation server gets the command line too, and
# its own commits would wait for a standby that cannot exist yet.
# LOUD: with one synchronous standby, the standby's loss stops every write on the primary until it
# is back (or this is reset: ALTER SYSTEM RESET synchronous_standby_names; SELECT pg_reload_conf()).
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "ALTER SYSTEM SET synchronous_standby_names = 'standby'"
