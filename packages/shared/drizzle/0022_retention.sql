ALTER TABLE "jobs" ADD COLUMN "retain_days" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "output_expired_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "retain_days" integer;--> statement-breakpoint
CREATE INDEX "jobs_retention_idx" ON "jobs" USING btree ("finished_at","id") WHERE retain_days is null and status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped');--> statement-breakpoint
CREATE INDEX "jobs_retention_own_idx" ON "jobs" USING btree ("retain_days","finished_at","id") WHERE retain_days is not null and status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped');--> statement-breakpoint
CREATE INDEX "jobs_output_retention_idx" ON "jobs" USING btree ("finished_at","id") WHERE retain_days is null and output_expired_at is null and status in ('succeeded', 'failed', 'canceled', 'timed_out', 'lost', 'skipped');--> statement-breakpoint
CREATE INDEX "runs_retention_idx" ON "runs" USING btree ("finished_at","id") WHERE retain_days is null and status in ('succeeded', 'failed', 'canceled');--> statement-breakpoint
CREATE INDEX "runs_retention_own_idx" ON "runs" USING btree ("retain_days","finished_at","id") WHERE retain_days is not null and status in ('succeeded', 'failed', 'canceled');--> statement-breakpoint
CREATE INDEX "schedule_fires_settled_at_idx" ON "schedule_fires" USING btree ("at") WHERE "schedule_fires"."settled";