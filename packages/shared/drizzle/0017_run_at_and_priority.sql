DROP INDEX "jobs_agent_line_idx";--> statement-breakpoint
DROP INDEX "jobs_host_line_idx";--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "run_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "priority" integer DEFAULT 5 NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "run_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "priority" integer DEFAULT 5 NOT NULL;--> statement-breakpoint
CREATE INDEX "jobs_run_at_idx" ON "jobs" USING btree ("run_at","id") WHERE status = 'queued' and released_at is null and run_id is null;--> statement-breakpoint
CREATE INDEX "jobs_agent_line_idx" ON "jobs" USING btree ("agent_id","status",(-"priority"),"released_at","id") WHERE status in ('queued', 'running') and agent_id is not null;--> statement-breakpoint
CREATE INDEX "jobs_host_line_idx" ON "jobs" USING btree ("host_id","status",(-"priority"),"released_at","id") WHERE status in ('queued', 'running') and host_id is not null;