CREATE TABLE "command_versions" (
	"name" text NOT NULL,
	"version" integer NOT NULL,
	"description" text,
	"script" text NOT NULL,
	"params" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"default_target" jsonb,
	"timeout_ms" integer,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"author_id" text,
	"created_by" text,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	CONSTRAINT "command_versions_name_version_pk" PRIMARY KEY("name","version")
);
--> statement-breakpoint
CREATE TABLE "commands" (
	"name" text PRIMARY KEY NOT NULL,
	"latest_version" integer NOT NULL,
	"owner_id" text,
	"created_by" text,
	"deleted_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "command_name" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "command_version" integer;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "command_name" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "command_version" integer;--> statement-breakpoint
ALTER TABLE "command_versions" ADD CONSTRAINT "command_versions_name_fk" FOREIGN KEY ("name") REFERENCES "public"."commands"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "commands_live_name_idx" ON "commands" USING btree ("name") WHERE deleted_at is null;