CREATE TABLE "template_versions" (
	"template_id" text NOT NULL,
	"version" integer NOT NULL,
	"provider" text NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"params" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"default_ttl_ms" bigint,
	"activity_bump_ms" bigint,
	"idle_timeout_ms" bigint,
	"failure_ttl_ms" bigint,
	"time_til_dormant_ms" bigint,
	"time_til_dormant_autodelete_ms" bigint,
	"max_deadline_ms" bigint,
	"agent_connect_timeout_ms" bigint DEFAULT 120000 NOT NULL,
	"cost_per_hour" numeric(12, 4),
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	CONSTRAINT "template_versions_template_id_version_pk" PRIMARY KEY("template_id","version")
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"current_version" integer DEFAULT 1 NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "workspace_operation_logs" (
	"operation_id" text NOT NULL,
	"seq" bigserial NOT NULL,
	"at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"line" text NOT NULL,
	CONSTRAINT "workspace_operation_logs_operation_id_seq_pk" PRIMARY KEY("operation_id","seq")
);
--> statement-breakpoint
CREATE TABLE "workspace_operations" (
	"id" text PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"type" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"reason" text DEFAULT 'user' NOT NULL,
	"actor_id" text,
	"actor_name" text,
	"template_version" integer,
	"input" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error_code" text,
	"error_message" text,
	"claimed_by" text,
	"progress_at" timestamp with time zone,
	"cancel_requested_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "workspace_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"start_at" timestamp with time zone NOT NULL,
	"duration_ms" bigint NOT NULL,
	"prepare_lead_ms" bigint DEFAULT 300000 NOT NULL,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"canceled_at" timestamp with time zone,
	"start_operation_id" text,
	"stop_operation_id" text
);
--> statement-breakpoint
CREATE TABLE "workspace_snapshots" (
	"id" text PRIMARY KEY NOT NULL,
	"workspace_id" text NOT NULL,
	"name" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"provider_ref" jsonb,
	"size_bytes" bigint,
	"operation_id" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workspaces" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"owner_id" text,
	"owner_name" text NOT NULL,
	"template_id" text NOT NULL,
	"template_version" integer NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"ttl_ms" bigint,
	"idle_timeout_ms" bigint,
	"autostart_cron" text,
	"autostart_timezone" text DEFAULT 'UTC' NOT NULL,
	"autostart_next_at" timestamp with time zone,
	"agent_id" text,
	"provider_state" jsonb,
	"deadline_at" timestamp with time zone,
	"max_deadline_at" timestamp with time zone,
	"last_active_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"dormant_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "template_versions" ADD CONSTRAINT "template_versions_template_id_templates_id_fk" FOREIGN KEY ("template_id") REFERENCES "public"."templates"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_operations" ADD CONSTRAINT "workspace_operations_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_sessions" ADD CONSTRAINT "workspace_sessions_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "workspace_snapshots" ADD CONSTRAINT "workspace_snapshots_workspace_id_workspaces_id_fk" FOREIGN KEY ("workspace_id") REFERENCES "public"."workspaces"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "templates_name_live_idx" ON "templates" USING btree ("name") WHERE deleted_at is null;--> statement-breakpoint
CREATE UNIQUE INDEX "workspace_operations_one_active_idx" ON "workspace_operations" USING btree ("workspace_id") WHERE status in ('pending', 'running', 'canceling');--> statement-breakpoint
CREATE INDEX "workspace_operations_workspace_idx" ON "workspace_operations" USING btree ("workspace_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "workspace_operations_active_idx" ON "workspace_operations" USING btree ("created_at") WHERE status in ('pending', 'running', 'canceling');--> statement-breakpoint
CREATE INDEX "workspace_sessions_workspace_idx" ON "workspace_sessions" USING btree ("workspace_id","start_at");--> statement-breakpoint
CREATE INDEX "workspace_sessions_due_idx" ON "workspace_sessions" USING btree ("start_at") WHERE status in ('scheduled', 'preparing', 'active');--> statement-breakpoint
CREATE UNIQUE INDEX "workspace_snapshots_name_idx" ON "workspace_snapshots" USING btree ("workspace_id","name");--> statement-breakpoint
CREATE INDEX "workspace_snapshots_workspace_idx" ON "workspace_snapshots" USING btree ("workspace_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE UNIQUE INDEX "workspaces_owner_name_live_idx" ON "workspaces" USING btree (coalesce("owner_id", ''),"name") WHERE deleted_at is null;--> statement-breakpoint
CREATE INDEX "workspaces_created_idx" ON "workspaces" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "workspaces_owner_idx" ON "workspaces" USING btree ("owner_id","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "workspaces_agent_idx" ON "workspaces" USING btree ("agent_id");