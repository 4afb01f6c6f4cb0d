CREATE TABLE "jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"status" text NOT NULL,
	"command" text NOT NULL,
	"target" jsonb NOT NULL,
	"agent_id" text,
	"env" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cwd" text,
	"timeout_ms" integer NOT NULL,
	"exit_code" integer,
	"signal" text,
	"error_code" text,
	"error_message" text,
	"output_bytes" bigint DEFAULT 0 NOT NULL,
	"output_truncated" boolean DEFAULT false NOT NULL,
	"cancel_reason" text,
	"cancel_grace_ms" integer,
	"cancel_requested_at" timestamp with time zone,
	"attempt" integer DEFAULT 0 NOT NULL,
	"worker_id" text,
	"accepted_at" timestamp with time zone,
	"created_by" text,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"parent_id" text,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "job_output" (
	"job_id" text NOT NULL,
	"seq" integer NOT NULL,
	"stream" smallint NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "job_output_job_id_seq_pk" PRIMARY KEY("job_id","seq")
);
--> statement-breakpoint
CREATE TABLE "agents" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"hostname" text,
	"version" text,
	"os" text,
	"arch" text,
	"last_seen_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"token_hash" text NOT NULL,
	"role" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE INDEX "jobs_created_idx" ON "jobs" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_status_created_idx" ON "jobs" USING btree ("status","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_agent_created_idx" ON "jobs" USING btree ("agent_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "jobs_active_idx" ON "jobs" USING btree ("status") WHERE status in ('queued', 'running');--> statement-breakpoint
CREATE UNIQUE INDEX "agents_name_live_idx" ON "agents" USING btree ("name") WHERE revoked_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "agents_token_hash_idx" ON "agents" USING btree ("token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "api_tokens_hash_idx" ON "api_tokens" USING btree ("token_hash");