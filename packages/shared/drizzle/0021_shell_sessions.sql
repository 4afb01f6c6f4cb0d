CREATE TABLE "shell_output" (
	"session_id" text NOT NULL,
	"stream" smallint NOT NULL,
	"offset" bigint NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "shell_output_session_id_stream_offset_pk" PRIMARY KEY("session_id","stream","offset")
);
--> statement-breakpoint
CREATE TABLE "shell_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"target_kind" text NOT NULL,
	"target_id" text NOT NULL,
	"target_name" text NOT NULL,
	"user_id" text,
	"user_name" text NOT NULL,
	"command" text,
	"cols" integer NOT NULL,
	"rows" integer NOT NULL,
	"opened_at" timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
	"ended_at" timestamp with time zone,
	"exit_code" integer,
	"signal" text,
	"recorded_bytes" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX "shell_sessions_opened_idx" ON "shell_sessions" USING btree ("opened_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "shell_sessions_target_idx" ON "shell_sessions" USING btree ("target_id","opened_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "shell_sessions_user_idx" ON "shell_sessions" USING btree ("user_id","opened_at" DESC NULLS LAST);