CREATE TABLE "hosts" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"environment" text DEFAULT 'default' NOT NULL,
	"host" text NOT NULL,
	"user" text NOT NULL,
	"port" integer DEFAULT 22 NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"identity_file" text,
	"proxy_jump" text,
	"host_key_policy" text DEFAULT 'strict' NOT NULL,
	"pinned_host_keys" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "host_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "hosts_name_environment_idx" ON "hosts" USING btree ("name","environment");