CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"command" text NOT NULL,
	"env" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cwd" text,
	"timeout_ms" integer NOT NULL,
	"targets" jsonb NOT NULL,
	"strategy_input" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"strategy" jsonb NOT NULL,
	"offline" text DEFAULT 'wait' NOT NULL,
	"dispatch_timeout_ms" integer,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text,
	"total" integer NOT NULL,
	"error_code" text,
	"error_message" text,
	"canary_passed_at" timestamp with time zone,
	"cancel_requested_at" timestamp with time zone,
	"cancel_grace_ms" integer,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"status_xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "run_id" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "run_index" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "target_name" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "target_kind" text;--> statement-breakpoint
-- Edited by hand: `ADD COLUMN … DEFAULT clock_timestamp()` (volatile) would rewrite the whole jobs
-- table under ACCESS EXCLUSIVE. Added without a default (a catalog change only), then only the
-- queued jobs are released (the ones the reconciler and the start look at; a job already started or
-- ended has no use for it), then the default the schema declares, for the rows inserted from now on.
ALTER TABLE "jobs" ADD COLUMN "released_at" timestamp with time zone;--> statement-breakpoint
UPDATE "jobs" SET "released_at" = "created_at" WHERE "status" = 'queued';--> statement-breakpoint
ALTER TABLE "jobs" ALTER COLUMN "released_at" SET DEFAULT clock_timestamp();--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "dispatch_timeout_ms" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "offline" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "status_xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
ALTER TABLE "job_output" ADD COLUMN "xid" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "max_concurrent_jobs" integer;--> statement-breakpoint
ALTER TABLE "hosts" ADD COLUMN "max_concurrent_jobs" integer;--> statement-breakpoint
CREATE INDEX "runs_created_idx" ON "runs" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_status_created_idx" ON "runs" USING btree ("status","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "runs_active_idx" ON "runs" USING btree ("status") WHERE status in ('queued', 'running');--> statement-breakpoint
CREATE INDEX "jobs_run_idx" ON "jobs" USING btree ("run_id","run_index") WHERE run_id is not null;--> statement-breakpoint
-- Written by hand (drizzle-kit does not model triggers): every status change stamps the
-- transaction that made it, in one place whatever statement made it, so a run stream can ask
-- "which children changed after the snapshot I last read at" (see db/schema/xid8.ts).
CREATE FUNCTION "vmo_stamp_status_xid"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.status_xid := pg_current_xact_id();
  RETURN NEW;
END $$;--> statement-breakpoint
CREATE TRIGGER "jobs_status_xid" BEFORE UPDATE OF "status" ON "jobs" FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION "vmo_stamp_status_xid"();--> statement-breakpoint
CREATE TRIGGER "runs_status_xid" BEFORE UPDATE OF "status" ON "runs" FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION "vmo_stamp_status_xid"();
