CREATE TABLE "schedule_fires" (
	"schedule_id" text NOT NULL,
	"kind" text NOT NULL,
	"at" timestamp with time zone NOT NULL,
	"outcome" text NOT NULL,
	"reason_code" text,
	"reason_message" text,
	"job_id" text,
	"run_id" text,
	"fired_at" timestamp with time zone,
	"claimed_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"settled" boolean DEFAULT false NOT NULL,
	CONSTRAINT "schedule_fires_schedule_id_kind_at_pk" PRIMARY KEY("schedule_id","kind","at")
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"cron" text NOT NULL,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"job" jsonb,
	"run" jsonb,
	"overlap" text DEFAULT 'skip' NOT NULL,
	"catch_up" text DEFAULT 'none' NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"owner_id" text,
	"created_by" text,
	"next_tick_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "schedule_fires" ADD CONSTRAINT "schedule_fires_schedule_id_schedules_id_fk" FOREIGN KEY ("schedule_id") REFERENCES "public"."schedules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "schedule_fires_recent_idx" ON "schedule_fires" USING btree ("schedule_id","at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "schedule_fires_open_idx" ON "schedule_fires" USING btree ("schedule_id") WHERE not "schedule_fires"."settled";--> statement-breakpoint
CREATE INDEX "schedule_fires_pending_idx" ON "schedule_fires" USING btree ("claimed_at") WHERE "schedule_fires"."outcome" = 'pending';--> statement-breakpoint
CREATE UNIQUE INDEX "schedules_owner_name_idx" ON "schedules" USING btree (coalesce("owner_id", ''),"name");--> statement-breakpoint
CREATE INDEX "schedules_due_idx" ON "schedules" USING btree ("next_tick_at") WHERE not "schedules"."paused";--> statement-breakpoint
CREATE INDEX "schedules_created_idx" ON "schedules" USING btree ("created_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "schedules_owner_created_idx" ON "schedules" USING btree ("owner_id","created_at" DESC NULLS LAST,"id" DESC NULLS LAST);